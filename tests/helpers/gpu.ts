// GPU fixtures for kernel tests in Node (Dawn): one engine per test file, plus helpers to
// upload host arrays, run dispatches and read results.
import { afterAll } from 'vitest';
import { BufferArena } from '../../src/gpu/buffers.ts';
import { submitDispatches, type Dispatch } from '../../src/gpu/dispatch.ts';
import { createEngine, destroyEngine, type Engine } from '../../src/gpu/engine.ts';
import { throwIfFailed } from '../../src/gpu/device.ts';
import { acquireNodeGpu } from '../../src/gpu/node-device.ts';
import { loadShadersFromDisk } from '../../src/gpu/shader-library-node.ts';

let enginePromise: Promise<Engine> | null = null;

/** The engine shared by the tests of one file (destroyed after the file). */
export function testEngine(): Promise<Engine> {
  if (!enginePromise) {
    enginePromise = acquireNodeGpu().then((ctx) => createEngine(ctx, loadShadersFromDisk()));
    afterAll(async () => {
      const engine = await enginePromise;
      enginePromise = null;
      if (engine) destroyEngine(engine);
    });
  }
  return enginePromise;
}

export function testArena(engine: Engine, label = 'test'): BufferArena {
  return new BufferArena(engine.ctx.device, label);
}

/** Submit, wait for the queue, and fail on any uncaptured GPU error. */
export async function run(engine: Engine, dispatches: readonly Dispatch[]): Promise<void> {
  submitDispatches(engine, dispatches, 'test');
  await engine.ctx.device.queue.onSubmittedWorkDone();
  throwIfFailed(engine.ctx, 'test dispatch');
}

export async function readF32(engine: Engine, buffer: GPUBuffer, count?: number): Promise<Float32Array> {
  return engine.readback.readF32(buffer, count);
}
