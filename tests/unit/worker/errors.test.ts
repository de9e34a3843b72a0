// Every failure the worker can meet becomes a WorkerError with the right kind and a suggestion,
// and survives the trip through comlink's error serialiser with its fields.
import { describe, expect, it } from 'vitest';
import { GpuDeviceLostError, GpuRuntimeError, ShaderCompileError, WebGpuUnavailableError } from '../../../src/gpu/errors.ts';
import { NonFiniteLossError } from '../../../src/train/trainer.ts';
import { CheckpointError } from '../../../src/io/zip.ts';
import { DecodeStormError, EmptyDatasetError } from '../../../src/data/browser-dataset.ts';
import { runErrorOf, serialisableError, toWorkerError } from '../../../src/worker/errors.ts';
import { WorkerError, isWorkerError } from '../../../src/worker/protocol.ts';

describe('toWorkerError', () => {
  it('maps each failure to its kind, keeping the message and adding a suggestion', () => {
    const cases: [unknown, string, RegExp][] = [
      [new GpuDeviceLostError('destroyed', 'gone'), 'device-lost', /re-create the GPU device/],
      [new GpuRuntimeError('out-of-memory', 'alloc failed', 'step 3'), 'out-of-memory', /batch size/],
      [new GpuRuntimeError('validation', 'bad bind group'), 'gpu-error', /bug in a kernel/],
      [new ShaderCompileError('grn.wgsl', 'main', ['x']), 'gpu-error', /rejected a shader/],
      [new WebGpuUnavailableError('no-adapter', 'none', 'enable it'), 'no-gpu', /enable it/],
      [new NonFiniteLossError(12, Number.NaN), 'non-finite-loss', /Lower the learning rate/],
      [new DecodeStormError(12, 20, 'a/b.jpg', 'bad'), 'decode-storm', /skipped-files list/],
      [new EmptyDatasetError('x', 'nothing'), 'no-dataset', /Load the demo set/],
      [new CheckpointError('w.pt', 'truncated', 'cut short'), 'bad-checkpoint', /unchanged/],
      [new TypeError('x is undefined'), 'internal', /report/],
      ['a string', 'internal', /report/],
    ];
    for (const [error, kind, suggestion] of cases) {
      const w = toWorkerError(error);
      expect(w.kind, String(error)).toBe(kind);
      expect(w.suggestion).toMatch(suggestion);
      if (error instanceof Error) expect(w.message).toContain(error.message);
    }
    const already = new WorkerError('busy', 'running', 'pause');
    expect(toWorkerError(already)).toBe(already);
  });

  it('builds run errors that say where the weights are and whether to continue', () => {
    const r = runErrorOf(new NonFiniteLossError(14, Number.POSITIVE_INFINITY), 14, 10);
    expect(r).toMatchObject({ kind: 'non-finite-loss', step: 14, restoredStep: 10, canContinue: true });
    expect(r.message).toContain('Infinity');
    expect(runErrorOf(new EmptyDatasetError('d', 'none'), 3, 2).canContinue).toBe(false);
  });

  it('keeps kind, suggestion and details through serialisation, as the page receives them', () => {
    const sent = serialisableError(new GpuRuntimeError('out-of-memory', 'no room', 'building the training plan'));
    const received = structuredClone({ ...sent, message: sent.message, name: sent.name }) as unknown as Error;
    const asPageSees = Object.assign(new Error(received.message), received);
    expect(isWorkerError(asPageSees)).toBe(true);
    expect(asPageSees).toMatchObject({ name: 'WorkerError', kind: 'out-of-memory', details: { during: 'building the training plan' } });
    expect((asPageSees as unknown as { suggestion: string }).suggestion).toMatch(/batch size/);
  });
});
