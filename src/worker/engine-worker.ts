// The dedicated worker that owns the GPU device. This is the only place that calls
// comlink.expose; the page drives it through EngineWorkerApi.
import * as Comlink from 'comlink';
import { BufferArena } from '../gpu/buffers.ts';
import { acquireGpu, adapterLabel } from '../gpu/device.ts';
import { submitDispatches } from '../gpu/dispatch.ts';
import { createEngine, type Engine } from '../gpu/engine.ts';
import { WebGpuUnavailableError } from '../gpu/errors.ts';
import { bundledShaders } from '../gpu/shader-library-vite.ts';
import { matmulDispatches } from '../ops/matmul.ts';
import { matmulRef } from '../reference/matmul.ts';
import { Random } from '../util/random.ts';
import type { EngineWorkerApi, GpuStatus, SelfTestResult } from './protocol.ts';

let engine: Engine | null = null;

async function init(): Promise<GpuStatus> {
  try {
    if (!engine) {
      const ctx = await acquireGpu((self.navigator as Navigator & { gpu?: GPU }).gpu);
      engine = createEngine(ctx, bundledShaders);
    }
    return { ok: true, adapter: engine.ctx.adapter, label: adapterLabel(engine.ctx.adapter) };
  } catch (e) {
    if (e instanceof WebGpuUnavailableError) return { ok: false, reason: e.reason, message: e.message, advice: e.advice };
    return { ok: false, reason: 'error', message: (e as Error).message, advice: 'Reload the page; if it persists, restart the browser.' };
  }
}

async function matmulSelfTest(M: number, N: number, K: number, seed = 1): Promise<SelfTestResult> {
  if (!engine) throw new Error('GPU not initialised: call init() first');
  const arena = new BufferArena(engine.ctx.device, 'self-test');
  try {
    const rng = new Random(seed);
    const a = rng.uniformArray(M * K);
    const b = rng.uniformArray(K * N);
    const A = arena.fromData('a', a);
    const B = arena.fromData('b', b);
    const C = arena.f32('c', M * N);
    const t0 = performance.now();
    submitDispatches(engine, await matmulDispatches(engine, arena, 'self-test', A, B, C, { M, N, K }));
    const got = await engine.readback.readF32(C, M * N);
    const ms = performance.now() - t0;
    const want = matmulRef(a, b, { M, N, K });
    let maxDiff = 0;
    for (let i = 0; i < want.length; i++) maxDiff = Math.max(maxDiff, Math.abs(got[i]! - want[i]!));
    // f32 accumulation over K terms in [-1, 1]: a few ulps times sqrt(K) is the expected error.
    return { ok: maxDiff <= 1e-5 * Math.sqrt(K) * 4, maxDiff, M, N, K, ms };
  } finally {
    arena.destroy();
  }
}

const api: EngineWorkerApi = { init, matmulSelfTest };
Comlink.expose(api);
