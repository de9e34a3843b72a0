// adamw.wgsl against the float64 reference over several steps: vec4 and scalar paths, a
// decay boundary inside a vec4 group, per-step lr and bias corrections rewritten into the
// scalars buffer between steps while the dispatch stays the same (as the trainer does); one
// element per invocation (the GPU plan) and several (the software plan's 8, and 3: a last
// workgroup only partly inside the buffer).
import { describe, expect, it } from 'vitest';
import { upload } from '../../../src/gpu/buffers.ts';
import { ADAMW_DEFAULTS, ADAMW_SCALARS_LENGTH, AdamWConfigError, adamwStepScalars, adamwUpdate, type AdamWConfig } from '../../../src/ops/adamw.ts';
import { adamwStepRef } from '../../../src/reference/adamw.ts';
import { Random } from '../../../src/util/random.ts';
import { expectAllClose } from '../../helpers/allclose.ts';
import { readF32, run, testArena, testEngine } from '../../helpers/gpu.ts';

interface Case {
  count: number;
  decayCount: number;
  steps: number;
  cfg: AdamWConfig;
  /** Learning rate at step t (1-based), varied so a stale scalars buffer would show. */
  lrAt: (t: number) => number;
  /** Elements per invocation (default: the adapter's plan). */
  perThread?: number;
}

async function check(c: Case, seed: number): Promise<void> {
  const engine = await testEngine();
  const arena = testArena(engine);
  const rng = new Random(seed);
  const p0 = rng.uniformArray(c.count); // (count)
  const paramsBuf = arena.fromData('params', p0);
  const gradsBuf = arena.f32('grads', c.count);
  const mBuf = arena.f32('m', c.count);
  const vBuf = arena.f32('v', c.count);
  const scalarsBuf = arena.f32('scalars', ADAMW_SCALARS_LENGTH);
  const dispatches = await adamwUpdate(engine, arena, 'adamw', { params: paramsBuf, grads: gradsBuf, m: mBuf, v: vBuf, scalars: scalarsBuf }, {
    count: c.count,
    decayCount: c.decayCount,
    ...c.cfg,
    perThread: c.perThread,
  });
  const ref = { params: Float64Array.from(p0), m: new Float64Array(c.count), v: new Float64Array(c.count) };
  // The same run on |g|: its m is Σ|terms| of m, the scale of m's f32 rounding error, since m
  // can cancel to near 0 while its terms stay large.
  const refAbs = { params: Float64Array.from(p0), m: new Float64Array(c.count), v: new Float64Array(c.count) };
  for (let t = 1; t <= c.steps; t++) {
    // Gradients over several magnitudes, some exactly 0 and some tiny (where eps matters).
    const grads = rng.uniformArray(c.count);
    for (let i = 0; i < c.count; i++) {
      if (i % 7 === 3) grads[i] = 0;
      else if (i % 11 === 5) grads[i]! *= 1e-8;
      else if (i % 13 === 2) grads[i]! *= 100;
    }
    const lr = c.lrAt(t);
    upload(engine.ctx.device, gradsBuf, grads);
    upload(engine.ctx.device, scalarsBuf, adamwStepScalars(t, lr, c.cfg));
    await run(engine, dispatches);
    adamwStepRef(ref, grads, { step: t, lr, decayCount: c.decayCount, ...c.cfg });
    adamwStepRef(refAbs, grads.map(Math.abs), { step: t, lr, decayCount: c.decayCount, ...c.cfg });
  }
  const params = await readF32(engine, paramsBuf, c.count);
  const m = await readF32(engine, mBuf, c.count);
  const v = await readF32(engine, vBuf, c.count);
  arena.destroy();
  const tag = `count=${c.count} decayCount=${c.decayCount} perThread=${c.perThread ?? 'plan'} after ${c.steps} steps`;
  // m divided by the size of its terms: f32 rounding of a few multiply-adds per step.
  const mScale = refAbs.m.map((x) => Math.max(x, 1e-30));
  expectAllClose(
    m.map((x, i) => x / mScale[i]!),
    ref.m.map((x, i) => x / mScale[i]!),
    { atol: 1e-6, rtol: 0, label: `m / Σ|terms| ${tag}` },
  );
  // v has only positive terms: f32 rounding relative to its own size.
  expectAllClose(v, ref.v, { atol: 1e-16, rtol: 1e-5, label: `v ${tag}` });
  // params ~1 are rounded to f32 each step (~6e-8) and each update (≤ ~lr) carries a few
  // ulps; a wrong decay (lr·wd ≈ 5e-4·|p| per step) or bias correction is far above this.
  expectAllClose(params, ref.params, { atol: 3e-7 * c.steps, rtol: 1e-6, label: `params ${tag}` });
}

describe('AdamW kernel vs float64 reference', () => {
  const lrAt = (t: number): number => 1e-2 * (1 + 0.5 * Math.sin(t));

  it.each([1, 3, 8])('vec4 path, decay boundary inside a vec4 group, 5 steps, %i element(s) per invocation', async (perThread) => {
    await check({ count: 4000, decayCount: 2501, steps: 5, cfg: { ...ADAMW_DEFAULTS }, lrAt, perThread }, 1);
  });

  it.each([1, 3, 8])('scalar path (count not a multiple of 4), 4 steps, %i element(s) per invocation', async (perThread) => {
    await check({ count: 1003, decayCount: 700, steps: 4, cfg: { ...ADAMW_DEFAULTS }, lrAt, perThread }, 2);
  });

  it('other hyperparameters, strong decay, all-decay and no-decay extremes', async () => {
    const cfg = { beta1: 0.8, beta2: 0.99, eps: 1e-6, weightDecay: 0.3 };
    await check({ count: 64, decayCount: 63, steps: 3, cfg, lrAt }, 3);
    await check({ count: 20, decayCount: 20, steps: 3, cfg, lrAt }, 4);
    await check({ count: 21, decayCount: 0, steps: 3, cfg, lrAt }, 5);
  });

  it('decay applies exactly to [0, decayCount): zero gradients leave only the decay', async () => {
    const engine = await testEngine();
    const arena = testArena(engine);
    const count = 16;
    const decayCount = 6; // inside the second vec4 group
    const p0 = Float32Array.from({ length: count }, (_, i) => 1 + i);
    const paramsBuf = arena.fromData('params', p0);
    const scalarsBuf = arena.fromData('scalars', adamwStepScalars(1, 0.1, ADAMW_DEFAULTS));
    const dispatches = await adamwUpdate(
      engine,
      arena,
      'adamw-decay',
      { params: paramsBuf, grads: arena.f32('grads', count), m: arena.f32('m', count), v: arena.f32('v', count), scalars: scalarsBuf },
      { count, decayCount, weightDecay: 0.5 },
    );
    await run(engine, dispatches);
    const got = await readF32(engine, paramsBuf, count);
    arena.destroy();
    const want = Array.from(p0, (x, i) => (i < decayCount ? x * (1 - 0.1 * 0.5) : x));
    // One f32 multiply per element.
    expectAllClose(got, want, { atol: 0, rtol: 2e-7, label: 'decay-only step' });
  });

  it('rejects bad shapes and buffers with specific errors', async () => {
    const engine = await testEngine();
    const arena = testArena(engine);
    const b = (n: number): GPUBuffer => arena.f32('b', n);
    const io = { params: b(10), grads: b(10), m: b(10), v: b(9), scalars: b(ADAMW_SCALARS_LENGTH) };
    await expect(adamwUpdate(engine, arena, 'opt', io, { count: 10, decayCount: 11 })).rejects.toThrow(/decayCount = 11 .*count = 10/);
    await expect(adamwUpdate(engine, arena, 'opt', io, { count: 10, decayCount: 4 })).rejects.toThrow(/buffer 'v' holds 36 bytes but count = 10 needs 40/);
    await expect(adamwUpdate(engine, arena, 'opt', { ...io, v: b(10), scalars: b(4) }, { count: 10, decayCount: 4 })).rejects.toThrow(/scalars buffer holds 16 bytes/);
    await expect(adamwUpdate(engine, arena, 'opt', { ...io, v: b(10) }, { count: 10, decayCount: 4, beta2: 1 })).rejects.toThrow(AdamWConfigError);
    await expect(adamwUpdate(engine, arena, 'opt', { ...io, v: b(10) }, { count: 10, decayCount: 4, perThread: 0 })).rejects.toThrow(/perThread = 0 must be a positive integer/);
    arena.destroy();
  });
});

describe('adamwStepScalars', () => {
  it('bias corrections in float64, rounded once', () => {
    const s = adamwStepScalars(3, 2e-3, { beta1: 0.9, beta2: 0.95 });
    const bc1 = 1 - 0.9 ** 3;
    const bc2 = 1 - 0.95 ** 3;
    expect(Array.from(s)).toEqual(Array.from(Float32Array.of(2e-3, bc1, bc2, 2e-3 / bc1, Math.sqrt(bc2), 3, 0, 0)));
    expect(() => adamwStepScalars(0, 1e-3)).toThrow(/step = 0 must be an integer ≥ 1/);
    expect(() => adamwStepScalars(1, -1)).toThrow(/lr = -1/);
  });
});
