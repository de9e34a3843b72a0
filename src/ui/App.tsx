// The playground shell: header with the GPU status, then the panels.
import { useEffect } from 'react';
import { diagnoseMissingWebGpu } from '../gpu/device.ts';
import { useAppStore } from '../store/store.ts';
import { startEngineWorker } from '../worker/client.ts';
import type { EngineWorkerApi } from '../worker/protocol.ts';
import type { Remote } from 'comlink';
import { GpuHeader } from './GpuHeader.tsx';

let engineApi: Remote<EngineWorkerApi> | null = null;

/** Start the worker once per page (StrictMode runs effects twice in development). */
async function connect(): Promise<void> {
  const { setGpu, setSelfTest } = useAppStore.getState();
  if (!('gpu' in navigator) || !navigator.gpu) {
    const e = diagnoseMissingWebGpu();
    setGpu({ ok: false, reason: e.reason, message: e.message, advice: e.advice });
    return;
  }
  if (engineApi) return;
  engineApi = startEngineWorker().api;
  const status = await engineApi.init();
  setGpu(status);
  if (status.ok) setSelfTest(await engineApi.matmulSelfTest(67, 45, 129));
}

export function App() {
  useEffect(() => {
    void connect();
  }, []);
  return (
    <div className="app">
      <GpuHeader />
      <main>
        <p className="intro">
          Train a ConvNeXt V2 with FCMAE masked-image pretraining on your own GPU, with hand-written WGSL kernels.
        </p>
      </main>
    </div>
  );
}
