// Header: adapter name and the limits that decide which models fit, the kernel self-test, or
// a specific reason WebGPU is unusable and what to do about it.
import { formatBytes } from '../train/estimates.ts';
import { useAppStore } from '../store/store.ts';

export function GpuHeader() {
  const gpu = useAppStore((s) => s.gpu);
  const selfTest = useAppStore((s) => s.selfTest);
  return (
    <header className="gpu-header">
      <h1>ConvNeXt V2 · FCMAE playground</h1>
      <p className="tagline">Masked-image pretraining of a ConvNeXt V2 on your GPU, with hand-written WGSL kernels: mask patches, train, watch the reconstructions.</p>
      {gpu === null && <p role="status">Looking for a WebGPU adapter…</p>}
      {gpu?.ok === true && (
        <div role="status" aria-label="WebGPU status" data-testid="gpu-ok" className="gpu-ok">
          <span>Adapter: {gpu.label}</span>
          <span>
            {' '}
            · WebGPU ready · max buffer {formatBytes(Math.min(gpu.adapter.limits.maxBufferSize, gpu.adapter.limits.maxStorageBufferBindingSize))} · workgroup memory{' '}
            {gpu.adapter.limits.maxComputeWorkgroupStorageSize / 1024} KiB
            {gpu.adapter.features.includes('timestamp-query') ? ' · timestamps' : ''}
          </span>
          {selfTest && (
            <span data-testid="self-test">
              {' '}
              · kernel self-test {selfTest.ok ? 'passed' : 'FAILED'} (max diff {selfTest.maxDiff.toExponential(1)})
            </span>
          )}
          {gpu.adapter.isSoftware && <span className="hint"> · software renderer: training is slow here and timings say nothing about a real GPU</span>}
        </div>
      )}
      {gpu?.ok === false && (
        <div role="alert" className="gpu-error" data-testid="gpu-unavailable" data-reason={gpu.reason}>
          <strong>WebGPU is not available.</strong> <span>{gpu.message}</span> <span className="advice">{gpu.advice}</span>
          <p className="hint">You can still explore the settings: model sizes, parameter counts and FLOPs below are computed without a GPU.</p>
        </div>
      )}
    </header>
  );
}
