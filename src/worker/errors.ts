// Turns whatever went wrong inside the worker into the typed WorkerError the page receives,
// with one suggestion the user can act on. The run loop uses runErrorOf for the errors that stop
// it (status.error); API calls rethrow toWorkerError. Pure: only error classes are inspected.
import { GpuDeviceLostError, GpuRuntimeError, ShaderCompileError, WebGpuUnavailableError } from '../gpu/errors.ts';
import { NonFiniteLossError } from '../train/trainer.ts';
import { CheckpointError } from '../io/zip.ts';
import { NativeCheckpointError } from '../io/native-checkpoint.ts';
import { SafetensorsError } from '../io/safetensors.ts';
import { DecodeStormError, EmptyDatasetError } from '../data/browser-dataset.ts';
import { WorkerError, type RunError } from './protocol.ts';

export function toWorkerError(e: unknown): WorkerError {
  if (e instanceof WorkerError) return e;
  if (e instanceof GpuDeviceLostError) {
    // 'unknown': the GPU process crashed or the driver reset; the worker re-creates the device by itself (run-controller.ts recoverDevice)
    const advice = e.reason === 'unknown' ? 'The GPU device is re-created with a new adapter by itself; press Start (or Resume) to continue from the last good weights.' : 'Press Start (or Resume) to re-create the GPU device and continue from the last good weights.';
    return new WorkerError('device-lost', e.message, advice, { reason: e.reason });
  }
  if (e instanceof GpuRuntimeError) {
    if (e.kind === 'out-of-memory') {
      return new WorkerError('out-of-memory', e.message, 'Lower the batch size, the input size or the model size, then continue.', { during: e.during ?? null });
    }
    return new WorkerError('gpu-error', e.message, 'This is likely a bug in a kernel: reload the page; if it repeats, report it with the message.', { kind: e.kind, during: e.during ?? null });
  }
  if (e instanceof ShaderCompileError) {
    return new WorkerError('gpu-error', e.message, 'This GPU or browser rejected a shader: update the browser or GPU driver and report the message.', { shader: e.shaderFile, entryPoint: e.entryPoint });
  }
  if (e instanceof WebGpuUnavailableError) return new WorkerError('no-gpu', e.message, e.advice, { reason: e.reason });
  if (e instanceof NonFiniteLossError) {
    return new WorkerError('non-finite-loss', e.message, 'Lower the learning rate (blr) or lengthen the warmup, then continue: the last good weights were restored.', { step: e.step, loss: String(e.loss) });
  }
  if (e instanceof DecodeStormError) {
    return new WorkerError('decode-storm', e.message, 'Check the skipped-files list: remove the broken files or load another folder, then continue.', { failures: e.failures, attempts: e.attempts, lastPath: e.lastPath });
  }
  if (e instanceof EmptyDatasetError) return new WorkerError('no-dataset', e.message, 'Load the demo set or a folder with decodable images.');
  if (e instanceof CheckpointError || e instanceof NativeCheckpointError || e instanceof SafetensorsError) {
    return new WorkerError('bad-checkpoint', e.message, 'The current model is unchanged. Choose a ConvNeXt V2 / FCMAE checkpoint (.pt, .pth, .safetensors).', { error: e.name });
  }
  const err = e instanceof Error ? e : new Error(String(e));
  return new WorkerError('internal', `${err.name}: ${err.message}`, 'Reload the page; if it repeats, report the message.', { stack: err.stack ?? '' });
}

/** The status.error for an error that stopped the loop at `step`, weights now at `restoredStep`. */
export function runErrorOf(e: unknown, step: number, restoredStep: number): RunError {
  const w = toWorkerError(e);
  return {
    kind: w.kind,
    message: w.message,
    suggestion: w.suggestion,
    step,
    restoredStep,
    canContinue: w.kind !== 'no-dataset' && w.kind !== 'disposed',
  };
}

/** Comlink's thrown-value serialiser drops everything but name/message/stack; keep ours too. */
export function serialisableError(e: unknown): Error {
  const w = e instanceof WorkerError ? e : toWorkerError(e);
  const plain = new Error(w.message);
  plain.name = 'WorkerError';
  plain.stack = w.stack;
  return Object.assign(plain, { kind: w.kind, suggestion: w.suggestion, details: w.details });
}
