// The playground shell: the GPU header, banners (ignored URL parameters, a change that needs a
// reset, a refused setting), the control column (data, model, training) beside the views (run,
// reconstructions, curves), then experiments and checkpoints, then the encoder's evaluation.
// A checkpoint, zip or folder dropped anywhere on the page is taken.
import { useEffect, useState } from 'react';
import { diagnoseMissingWebGpu } from '../gpu/device.ts';
import { useAppStore } from '../store/store.ts';
import { EngineClient } from '../worker/client.ts';
import { BridgeContext, useBridge } from './bridge-context.ts';
import { CheckpointPanel } from './CheckpointPanel.tsx';
import { CurvesPanel } from './CurvesPanel.tsx';
import { DataPanel } from './DataPanel.tsx';
import { handleDrop } from './drop.ts';
import { EngineBridge } from './engine-bridge.ts';
import { EvaluationPanel } from './EvaluationPanel.tsx';
import { ExperimentsPanel } from './ExperimentsPanel.tsx';
import { GpuHeader } from './GpuHeader.tsx';
import { liveMetrics } from './live.ts';
import { ModelPanel } from './ModelPanel.tsx';
import { ReconstructionView } from './ReconstructionView.tsx';
import { TrainingPanel, TransportBar } from './TrainingPanel.tsx';
import { userChoices } from './user-choices.ts';

let connecting: Promise<EngineBridge | null> | null = null;

/**
 * Start the worker once per page (StrictMode runs effects twice in development). The bridge is
 * handed to the page as soon as the GPU is up; it then loads the demo set and builds the model.
 */
async function connect(): Promise<EngineBridge | null> {
  const { setGpu, setSelfTest } = useAppStore.getState();
  if (!('gpu' in navigator) || !navigator.gpu) {
    const e = diagnoseMissingWebGpu();
    setGpu({ ok: false, reason: e.reason, message: e.message, advice: e.advice });
    userChoices.fail(e.message);
    return null;
  }
  const client = EngineClient.start();
  const status = await client.init();
  setGpu(status);
  if (!status.ok) {
    userChoices.fail(status.message);
    return null;
  }
  setSelfTest(await client.matmulSelfTest(67, 45, 129));
  const bridge = new EngineBridge(client, useAppStore, liveMetrics);
  // what the user dropped meanwhile waits in userChoices until the settings are applied
  void bridge
    .connect(userChoices)
    .catch((e: unknown) => useAppStore.getState().setConfigError(`Starting the engine failed: ${(e as Error).message}`))
    // the start-up decided everything it decides on its own (tests wait on this mark)
    .finally(() => document.documentElement.setAttribute('data-startup', 'done'));
  return bridge;
}

function Banners() {
  const urlProblems = useAppStore((s) => s.urlProblems);
  const dismiss = useAppStore((s) => s.dismissUrlProblems);
  const pendingReset = useAppStore((s) => s.pendingReset);
  const configError = useAppStore((s) => s.configError);
  const bridge = useBridge();
  return (
    <>
      {urlProblems.length > 0 && (
        <div className="banner warning" role="alert" data-testid="url-problems">
          <strong>Some settings in the link were ignored:</strong>
          <ul>
            {urlProblems.map((p) => (
              <li key={p}>{p}</li>
            ))}
          </ul>
          <button type="button" onClick={dismiss}>
            Dismiss
          </button>
        </div>
      )}
      {pendingReset && (
        <div className="banner" role="alert" data-testid="pending-reset">
          <strong>This change starts a new run</strong> ({pendingReset.reasons.join('; ')}): the trained weights will be replaced.{' '}
          <button type="button" className="primary" onClick={() => void bridge?.confirmReset(true)}>
            Reset and apply
          </button>{' '}
          <button type="button" onClick={() => void bridge?.confirmReset(false)}>
            Keep the current run
          </button>
        </div>
      )}
      {configError && (
        <div className="banner warning" role="alert" data-testid="config-error">
          {configError}
        </div>
      )}
    </>
  );
}


export function App() {
  const [bridge, setBridge] = useState<EngineBridge | null>(null);
  useEffect(() => {
    connecting ??= connect().catch((e: unknown) => {
      useAppStore.getState().setGpu({ ok: false, reason: 'error', message: (e as Error).message, advice: 'Reload the page; if it persists, restart the browser.' });
      userChoices.fail((e as Error).message);
      return null;
    });
    let live = true;
    void connecting.then((b) => live && setBridge(b));
    return () => {
      live = false;
    };
  }, []);
  return (
    <BridgeContext.Provider value={bridge}>
      <div
        className="app"
        onDragOver={(e) => e.preventDefault()}
        onDrop={(e) => {
          e.preventDefault();
          // taken even before the engine is ready (queued, never replaced by the demo set)
          handleDrop(e.dataTransfer, userChoices);
        }}
      >
        <GpuHeader />
        <Banners />
        <main className="layout">
          <div className="col controls-col">
            <DataPanel />
            <ModelPanel />
            <TrainingPanel />
          </div>
          <div className="col views-col">
            <TransportBar />
            <ReconstructionView />
            <CurvesPanel />
          </div>
        </main>
        <div className="wide">
          <ExperimentsPanel />
          <CheckpointPanel />
        </div>
        <div className="evaluation-row">
          <EvaluationPanel />
        </div>
      </div>
    </BridgeContext.Provider>
  );
}
