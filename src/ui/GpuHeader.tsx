// Header: adapter name, key limits, self-test result, or a specific reason WebGPU is unusable.
import { useAppStore } from '../store/store.ts';

function formatBytes(n: number): string {
  return n >= 2 ** 30 ? `${(n / 2 ** 30).toFixed(1)} GiB` : `${(n / 2 ** 20).toFixed(0)} MiB`;
}

export function GpuHeader() {
  const gpu = useAppStore((s) => s.gpu);
  const selfTest = useAppStore((s) => s.selfTest);
  return (
    <header className="gpu-header">
      <h1>ConvNeXt V2 · FCMAE playground</h1>
      {gpu === null && <p role="status">Looking for a WebGPU adapter…</p>}
      {gpu?.ok === true && (
        <div role="status" aria-label="WebGPU status" data-testid="gpu-ok">
          <span>Adapter: {gpu.label}</span>
          <span>
            {' '}
            · max storage binding {formatBytes(gpu.adapter.limits.maxStorageBufferBindingSize)} · workgroup memory{' '}
            {gpu.adapter.limits.maxComputeWorkgroupStorageSize / 1024} KiB
            {gpu.adapter.features.includes('timestamp-query') ? ' · timestamps' : ''}
          </span>
          {selfTest && (
            <span data-testid="self-test">
              {' '}
              · kernel self-test {selfTest.ok ? 'passed' : 'FAILED'} (max diff {selfTest.maxDiff.toExponential(1)})
            </span>
          )}
        </div>
      )}
      {gpu?.ok === false && (
        <div role="alert" className="gpu-error" data-testid="gpu-unavailable" data-reason={gpu.reason}>
          <strong>WebGPU is not available.</strong> <span>{gpu.message}</span>
        </div>
      )}
    </header>
  );
}
