// layernorm.wgsl against the float64 reference: forward (y, mean, rstd) and backward (dX,
// dWeight, dBias) with the GPU plan (rows split over 1 … 256 threads, 16-lane gradient reduce)
// and the software plan (serial kernels), C = 1 … 1030, rows 1 … 2000, accumulateDX, a
// large-|mean| input that a one-pass variance would ruin, and enough rows to widen the
// gradient chunks; the one-pass parameter gradients of few rows, fused into the dX dispatch, on
// both plans; the GPU plan's row sums with and without subgroups.
import { describe, expect, it } from 'vitest';
import { layerNormBackward, layerNormForward, layerNormPlan } from '../../../src/ops/layernorm.ts';
import { layerNormBackwardRef, layerNormForwardRef } from '../../../src/reference/layernorm.ts';
import { Random } from '../../../src/util/random.ts';
import { expectAllClose } from '../../helpers/allclose.ts';
import { readF32, run, testArena, testEngine } from '../../helpers/gpu.ts';

interface Case {
  rows: number;
  C: number;
  accumulateDX?: boolean;
  /** Every x is offset + spread·u, u uniform in [-1, 1] (default: per-row offset in [-2, 2], spread 1). */
  offset?: number;
  spread?: number;
  /** Force a plan (default: the adapter's own, 'software' on SwiftShader). */
  plan?: 'gpu' | 'software';
  /** GPU plan: subgroup row sums on/off (default: on where the device has 'subgroups'). */
  subgroups?: boolean;
}

function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]!));
  return m;
}

/** max over columns of Σ_rows |dY·x̂| and of Σ_rows |dY|: the scale of the f32 rounding in the parameter sums. */
function absColumnSums(x: Float32Array, mean: Float32Array, rstd: Float32Array, dY: Float32Array, rows: number, C: number) {
  const w = new Float64Array(C);
  const b = new Float64Array(C);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < C; c++) {
      const i = r * C + c;
      w[c] += Math.abs(dY[i]! * (x[i]! - mean[r]!) * rstd[r]!);
      b[c] += Math.abs(dY[i]!);
    }
  }
  return { absW: maxAbs(w), absB: maxAbs(b) };
}

async function check(c: Case, seed = 7): Promise<void> {
  const { rows, C } = c;
  const engine = await testEngine();
  const arena = testArena(engine);
  const rng = new Random(seed + rows * 31 + C);
  const x = new Float32Array(rows * C); // (R, C)
  for (let r = 0; r < rows; r++) {
    const offset = c.offset ?? rng.range(-2, 2);
    for (let i = 0; i < C; i++) x[r * C + i] = offset + (c.spread ?? 1) * rng.range(-1, 1);
  }
  const weight = rng.uniformArray(C, 0.5, 1.5); // (C)
  const bias = rng.uniformArray(C); // (C)
  const dY = rng.uniformArray(rows * C); // (R, C)
  const dX0 = c.accumulateDX ? rng.uniformArray(rows * C) : new Float32Array(rows * C); // (R, C)

  const X = arena.fromData('x', x);
  const Y = arena.f32('y', rows * C);
  const mean = arena.f32('mean', rows);
  const rstd = arena.f32('rstd', rows);
  const dX = arena.fromData('dX', dX0);
  // Stale values in the gradients prove they are overwritten, not accumulated.
  const dWeight = arena.fromData('dWeight', new Float32Array(C).fill(123));
  const dBias = arena.fromData('dBias', new Float32Array(C).fill(-45));
  const W = arena.fromData('weight', weight);
  const io = { x: X, weight: W, mean, rstd };
  const { plan, subgroups } = c;
  const forward = await layerNormForward(engine, arena, 'ln', { ...io, bias: arena.fromData('bias', bias), y: Y }, { rows, C, plan, subgroups });
  const backward = await layerNormBackward(engine, arena, 'ln.back', { ...io, dY: arena.fromData('dY', dY), dX, dWeight, dBias }, {
    rows,
    C,
    plan,
    subgroups,
    accumulateDX: c.accumulateDX,
  });
  await run(engine, [...forward, ...backward]);
  const got = {
    y: await readF32(engine, Y, rows * C),
    mean: await readF32(engine, mean, rows),
    rstd: await readF32(engine, rstd, rows),
    dX: await readF32(engine, dX, rows * C),
    dWeight: await readF32(engine, dWeight, C),
    dBias: await readF32(engine, dBias, C),
  };
  arena.destroy();

  const label = `layernorm rows=${rows} C=${C} plan=${plan ?? 'adapter'}${subgroups === undefined ? '' : ` subgroups=${subgroups}`}${c.accumulateDX ? ' accumulateDX' : ''}${c.offset !== undefined ? ` offset=${c.offset}` : ''}`;
  const want = layerNormForwardRef(x, weight, bias, { rows, C });
  const rstdMax = maxAbs(want.rstd);
  // mean: f32 sums of values of size ≲ |offset| + spread, then the correction: a few ulps of that.
  const meanScale = maxAbs(want.mean) + (c.spread ?? 1);
  expectAllClose(got.mean, want.mean, { atol: 4e-7 * meanScale, rtol: 0, label: `${label}: mean`, shape: [rows] });
  // rstd: variance has relative error of a few f32 ulps (two-pass: no cancellation), inverseSqrt 2 ulp.
  expectAllClose(got.rstd, want.rstd, { atol: 0, rtol: 1e-6, label: `${label}: rstd`, shape: [rows] });
  // y = x̂·w + b: a few f32 roundings of values ≲ 4. The kernel's corrected mean keeps x̂ that
  // accurate even when |mean| ≫ std (an uncorrected f32 mean would move x̂ by rstd·ulp(mean)).
  expectAllClose(got.y, want.y, { atol: 1e-6, rtol: 2e-6, label: `${label}: y`, shape: [rows, C] });

  // Backward from the GPU's own f32 mean/rstd, so this checks backward alone.
  const wantB = layerNormBackwardRef(x, weight, got.mean, got.rstd, dY, { rows, C, accumulateDXInto: c.accumulateDX ? dX0 : undefined });
  // dX = rstd·(g − mean(g) − x̂·mean(g·x̂)): O(1) terms cancel, each carrying f32 error, then × rstd.
  expectAllClose(got.dX, wantB.dX, { atol: 2e-6 * rstdMax, rtol: 1e-5, label: `${label}: dX`, shape: [rows, C] });
  // Σ over R rows in f32 (32-row chunks, then 16 lanes over the chunks): each term and each
  // partial sum rounds, so the error stays within a few ulps (4e-7 ≈ 3.4 ulp) of Σ|terms|.
  const { absW, absB } = absColumnSums(x, got.mean, got.rstd, dY, rows, C);
  expectAllClose(got.dWeight, wantB.dWeight, { atol: 4e-7 * absW, rtol: 0, label: `${label}: dWeight`, shape: [C] });
  expectAllClose(got.dBias, wantB.dBias, { atol: 4e-7 * absB, rtol: 0, label: `${label}: dBias`, shape: [C] });
}

const gpuPlan = (rows: number, C: number) => layerNormPlan(rows, C, false);

describe('layernorm kernels vs float64 reference', () => {
  // What a real GPU runs (1 … 256 threads per row, 16-lane gradient reduce), forced here since
  // this adapter is SwiftShader, where it is slow (~1 µs per invocation of a kernel with a
  // barrier): above 80k such invocations the case runs the adapter's own plan instead.
  for (const C of [1, 3, 7, 40, 67, 320, 1030]) {
    for (const rows of [1, 5, 300, 2000]) {
      const tpr = gpuPlan(rows, C).tpr;
      const plan = rows * tpr <= 80_000 ? 'gpu' : undefined;
      it(`rows=${rows} C=${C}, ${plan ? `GPU plan: ${tpr} threads per row, workgroup-memory sums` : 'adapter plan'}`, async () => {
        await check({ rows, C, plan, subgroups: false });
      });
      if (plan && tpr > 1) {
        it(`rows=${rows} C=${C}, GPU plan: ${tpr} threads per row, subgroup sums`, async (ctx) => {
          const engine = await testEngine();
          if (!engine.ctx.device.features.has('subgroups')) ctx.skip();
          await check({ rows, C, plan, subgroups: true });
        });
      }
    }
  }

  it("the adapter's own plan (serial kernels on SwiftShader), every C at rows=300", async () => {
    for (const C of [1, 3, 7, 40, 67, 320, 1030]) await check({ rows: 300, C });
  });

  it('plans: ≥ 8 channels per thread on GPUs, serial kernels on software adapters', () => {
    expect([3, 8, 9, 40, 67, 320, 1030, 2816].map((C) => gpuPlan(100, C).tpr)).toEqual([1, 1, 2, 8, 16, 64, 256, 256]);
    expect(gpuPlan(100, 40)).toMatchObject({ rowsPerWorkgroup: 32, serialReduce: false });
    expect(layerNormPlan(100, 2816, true)).toMatchObject({ tpr: 1, serialReduce: true });
  });

  it('parameter gradients in one pass for few rows, partials + reduce otherwise (the cases above run both)', () => {
    expect([1, 5, 300, 2000].map((rows) => gpuPlan(rows, 40).onePassParams)).toEqual([true, true, false, false]);
    expect([1, 5, 300, 2000].map((rows) => layerNormPlan(rows, 40, true).onePassParams)).toEqual([true, true, true, false]);
  });

  it('few rows: dX and the parameter gradients are one dispatch', async () => {
    const engine = await testEngine();
    const arena = testArena(engine);
    const f = (n: number) => arena.f32(`b${n}`, n);
    const count = async (rows: number, plan: 'gpu' | 'software') =>
      (await layerNormBackward(engine, arena, 'ln.back', { x: f(rows * 40), weight: f(40), mean: f(rows), rstd: f(rows), dY: f(rows * 40), dX: f(rows * 40), dWeight: f(40), dBias: f(40) }, { rows, C: 40, plan })).length;
    expect([await count(5, 'gpu'), await count(300, 'gpu'), await count(300, 'software'), await count(2000, 'software')]).toEqual([1, 3, 1, 3]);
    arena.destroy();
  });

  it('accumulateDX adds to dX', async () => {
    await check({ rows: 300, C: 67, accumulateDX: true, plan: 'gpu', subgroups: false });
    await check({ rows: 5, C: 1030, accumulateDX: true, plan: 'gpu', subgroups: false });
    await check({ rows: 300, C: 67, accumulateDX: true, plan: 'gpu' });
    await check({ rows: 5, C: 1030, accumulateDX: true, plan: 'gpu' });
    await check({ rows: 300, C: 67, accumulateDX: true, plan: 'software' });
  });

  it('large |mean| relative to the spread: y stays accurate to f32 rounding', async () => {
    // mean 64, std ≈ 0.03, rstd ≈ 40. One-pass E[x²] − E[x]² in f32 would be off by
    // ~ulp(4096)/var ≈ 50%; a two-pass without the mean correction moves y by up to
    // rstd·(mean's f32 error) ≈ 3e-4. Both fail the y tolerance of check().
    await check({ rows: 50, C: 96, offset: 64, spread: 0.05, plan: 'gpu' });
    await check({ rows: 50, C: 96, offset: 64, spread: 0.05, plan: 'software' });
  });

  it('many rows: gradient chunks widen beyond 32 rows to keep K ≤ 4096', async () => {
    const plan = layerNormPlan(140_000, 3, false);
    expect(plan.rowsPerChunk).toBeGreaterThan(32);
    expect(plan.chunks).toBeLessThanOrEqual(4096);
    await check({ rows: 140_000, C: 3, plan: 'gpu' }); // tpr = 1: serial row kernels, 16-lane reduce
    await check({ rows: 140_000, C: 3, plan: 'software' });
  });

  it('rejects an undersized buffer, naming it', async () => {
    const engine = await testEngine();
    const arena = testArena(engine);
    const b = (n: number): GPUBuffer => arena.f32('b', n);
    await expect(
      layerNormForward(engine, arena, 'ln.bad', { x: b(20), weight: b(4), bias: b(4), y: b(20), mean: b(4), rstd: b(5) }, { rows: 5, C: 4 }),
    ).rejects.toThrow(/ln\.bad: buffer 'mean' holds 4 floats, needs 5/);
    arena.destroy();
  });
});
