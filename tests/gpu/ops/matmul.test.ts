// Both matmul kernels (matmul.wgsl tiled, matmul-direct.wgsl barrier-free) against the float64
// reference: every layout, bias, GELU epilogues, accumulate, split-K, and shapes that are not
// multiples of the tiles (64×64×16 and 32×32); the fused row sums of op(A) (a bias gradient
// computed with its weight gradient) unsplit, split and accumulated; the residual addend and
// the stored pre-GELU values.
import { describe, expect, it } from 'vitest';
import { chooseSplitK, matmulDispatches, matmulKernelFor, type MatmulKernel, type MatmulOptions } from '../../../src/ops/matmul.ts';
import { matmulRef } from '../../../src/reference/matmul.ts';
import { Random } from '../../../src/util/random.ts';
import { expectAllClose } from '../../helpers/allclose.ts';
import { readF32, run, testArena, testEngine } from '../../helpers/gpu.ts';

interface Case extends Omit<MatmulOptions, 'bias' | 'rowSums'> {
  bias?: boolean;
  /** Also check rowSums[m] (+)= Σ_k op(A)[m, k] against float64. */
  rowSums?: boolean;
}

/** Σ_k op(A)[m, k] in float64 (+ the starting values when accumulating). */
function rowSumsRef(a: Float32Array, c: Case, start?: Float32Array): Float64Array {
  const out = new Float64Array(c.M);
  for (let m = 0; m < c.M; m++) {
    let s = start ? start[m]! : 0;
    for (let k = 0; k < c.K; k++) s += a[c.transA ? k * c.M + m : m * c.K + k]!;
    out[m] = s;
  }
  return out;
}

async function checkWith(c: Case, seed = 1): Promise<number> {
  const engine = await testEngine();
  const arena = testArena(engine);
  const rng = new Random(seed);
  const a = rng.uniformArray(c.M * c.K);
  const b = rng.uniformArray(c.K * c.N);
  const bias = c.bias ? rng.uniformArray(c.N) : undefined;
  const c0 = c.accumulate ? rng.uniformArray(c.M * c.N) : new Float32Array(c.M * c.N);
  const A = arena.fromData('a', a);
  const B = arena.fromData('b', b);
  const C = arena.fromData('c', c0);
  const r0 = c.rowSums ? (c.accumulate ? rng.uniformArray(c.M) : new Float32Array(c.M).fill(Number.NaN)) : null;
  const R = r0 ? arena.fromData('row-sums', r0) : undefined;
  const dispatches = await matmulDispatches(engine, arena, 'mm', A, B, C, {
    ...c,
    bias: bias ? arena.fromData('bias', bias) : undefined,
    rowSums: R,
  });
  await run(engine, dispatches);
  const got = await readF32(engine, C, c.M * c.N);
  if (R && r0) {
    const gotSums = await readF32(engine, R, c.M);
    expectAllClose(gotSums, rowSumsRef(a, c, c.accumulate ? r0 : undefined), { atol: 2e-6 * Math.sqrt(c.K) * 4, rtol: 1e-5, label: `matmul row sums ${JSON.stringify(c)}`, shape: [c.M] });
  }
  const want = matmulRef(a, b, {
    ...c,
    bias,
    gelu: c.epilogue === 'gelu-erf' ? 'erf' : c.epilogue === 'gelu-tanh' ? 'tanh' : undefined,
    accumulateInto: c.accumulate ? c0 : undefined,
  });
  arena.destroy();
  // f32 accumulation of K products of values in [-1, 1]: error grows ~ sqrt(K)·eps·|terms|.
  return expectAllClose(got, want, { atol: 2e-6 * Math.sqrt(c.K) * 4, rtol: 1e-5, label: `matmul ${JSON.stringify(c)}`, shape: [c.M, c.N] });
}

/**
 * C = GELU?(op(A)·op(B) + bias) + addend, and pre = op(A)·op(B) + bias when a GELU epilogue is
 * on: the pwconv1 (GELU fused, h kept) and pwconv2 (residual input added) forms of a block.
 */
async function checkExtras(c: Case, o: { pre?: boolean } = {}, seed = 3): Promise<void> {
  const engine = await testEngine();
  const arena = testArena(engine);
  const rng = new Random(seed);
  const a = rng.uniformArray(c.M * c.K);
  const b = rng.uniformArray(c.K * c.N);
  const bias = rng.uniformArray(c.N);
  const addend = rng.uniformArray(c.M * c.N);
  const withPre = (o.pre ?? true) && c.epilogue !== undefined && c.epilogue !== 'none';
  const C = arena.f32('c', c.M * c.N);
  const Pre = withPre ? arena.f32('pre', c.M * c.N) : undefined;
  const withAddend = !withPre; // the model uses one or the other; each alone here
  await run(engine, await matmulDispatches(engine, arena, 'mm', arena.fromData('a', a), arena.fromData('b', b), C, {
    ...c,
    rowSums: undefined,
    bias: arena.fromData('bias', bias),
    addend: withAddend ? arena.fromData('addend', addend) : undefined,
    preActivation: Pre,
  }));
  const gelu = c.epilogue === 'gelu-erf' ? 'erf' : c.epilogue === 'gelu-tanh' ? 'tanh' : undefined;
  const want = matmulRef(a, b, { ...c, bias, gelu, accumulateInto: withAddend ? addend : undefined });
  const tol = { atol: 2e-6 * Math.sqrt(c.K) * 4, rtol: 1e-5 };
  expectAllClose(await readF32(engine, C, c.M * c.N), want, { ...tol, label: `matmul extras C ${JSON.stringify(c)}`, shape: [c.M, c.N] });
  if (Pre) {
    const wantPre = matmulRef(a, b, { ...c, bias });
    expectAllClose(await readF32(engine, Pre, c.M * c.N), wantPre, { ...tol, label: `matmul extras pre ${JSON.stringify(c)}`, shape: [c.M, c.N] });
  }
  arena.destroy();
}

for (const kernel of ['tiled', 'direct'] as MatmulKernel[]) describe(`matmul kernel '${kernel}' vs float64 reference`, () => {
  const check = (c: Case, seed = 1) => checkWith({ ...c, kernel }, seed);
  const shapes: [number, number, number][] = [
    [1, 1, 1],
    [64, 64, 16],
    [37, 53, 29],
    [130, 70, 200],
    [5, 300, 3],
    [19, 1280, 320], // stage-3 pointwise layer at mask ratio 0.6: thin M
  ];
  for (const [M, N, K] of shapes) {
    for (const transA of [false, true]) {
      for (const transB of [false, true]) {
        it(`M=${M} N=${N} K=${K} transA=${transA} transB=${transB}`, async () => {
          await check({ M, N, K, transA, transB, splitK: 1 });
        });
      }
    }
  }

  it('fused bias', async () => {
    await check({ M: 70, N: 45, K: 33, transB: true, bias: true });
  });
  it('fused bias + exact GELU', async () => {
    await check({ M: 66, N: 160, K: 40, transB: true, bias: true, epilogue: 'gelu-erf' });
  });
  it('fused bias + tanh GELU', async () => {
    await check({ M: 66, N: 160, K: 40, transB: true, bias: true, epilogue: 'gelu-tanh' });
  });
  it('accumulate into C', async () => {
    await check({ M: 50, N: 20, K: 30, accumulate: true });
  });
  it('split-K (weight-gradient shape: transA, long K) equals unsplit', async () => {
    await check({ M: 40, N: 24, K: 3001, transA: true, splitK: 7 });
  });
  it('split-K with bias, GELU and accumulate in the reduce pass', async () => {
    await check({ M: 33, N: 17, K: 1000, splitK: 4, bias: true, epilogue: 'gelu-erf', accumulate: true });
  });
  for (const [M, N, K, splitK] of [[37, 53, 29, 1], [130, 70, 200, 1], [40, 24, 3001, 7], [19, 130, 1000, 4]] as const) {
    for (const transA of [false, true]) {
      it(`fused row sums of op(A): M=${M} N=${N} K=${K} transA=${transA} split ${splitK}`, async () => {
        await check({ M, N, K, transA, transB: true, splitK, rowSums: true });
      });
    }
  }
  it('fused row sums accumulate with C (unsplit and split)', async () => {
    await check({ M: 50, N: 20, K: 30, transA: true, accumulate: true, rowSums: true });
    await check({ M: 33, N: 17, K: 1000, transA: true, splitK: 4, accumulate: true, rowSums: true, bias: true });
  });
  for (const splitK of [1, 4]) {
    it(`addend after the epilogue, and the pre-GELU values stored (split ${splitK})`, async () => {
      await checkExtras({ M: 45, N: 70, K: 1000, transB: true, bias: true, epilogue: 'gelu-erf', splitK, kernel });
      await checkExtras({ M: 33, N: 17, K: 600, transB: true, bias: true, epilogue: 'gelu-tanh', splitK, kernel });
      await checkExtras({ M: 70, N: 45, K: 300, transB: true, bias: true, splitK, kernel }, { pre: false });
    });
  }
  it('auto split-K splits thin, long products and leaves large ones alone', () => {
    expect(chooseSplitK(160, 40, 25088, kernel)).toBeGreaterThan(1);
    expect(chooseSplitK(1024, 1024, 1024, kernel)).toBe(1);
    expect(chooseSplitK(40, 40, 100, kernel)).toBe(1);
  });
});

describe('matmul kernel choice', () => {
  it('uses the barrier-free kernel on a software adapter and the tiled one on a GPU', async () => {
    const engine = await testEngine();
    expect(matmulKernelFor(engine)).toBe(engine.ctx.adapter.isSoftware ? 'direct' : 'tiled');
  });
});
