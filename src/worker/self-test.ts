// The GPU self-test the page runs once the device is up: one matmul on the device against the
// float64 reference, with the time it took.
import { BufferArena } from '../gpu/buffers.ts';
import { submitDispatches } from '../gpu/dispatch.ts';
import type { Engine } from '../gpu/engine.ts';
import { matmulDispatches } from '../ops/matmul.ts';
import { matmulRef } from '../reference/matmul.ts';
import { Random } from '../util/random.ts';
import type { SelfTestResult } from './protocol.ts';

export async function matmulSelfTest(engine: Engine, M: number, N: number, K: number, seed = 1): Promise<SelfTestResult> {
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
