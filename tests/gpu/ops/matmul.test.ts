// Both matmul kernels (matmul.wgsl tiled, matmul-direct.wgsl barrier-free) against the float64
// reference: every layout, bias, GELU epilogues, accumulate, split-K, and shapes that are not
// multiples of the tiles (64×64×16 and 32×32).
import { describe, expect, it } from 'vitest';
import { chooseSplitK, matmulDispatches, matmulKernelFor, type MatmulKernel, type MatmulOptions } from '../../../src/ops/matmul.ts';
import { matmulRef } from '../../../src/reference/matmul.ts';
import { Random } from '../../../src/util/random.ts';
import { expectAllClose } from '../../helpers/allclose.ts';
import { readF32, run, testArena, testEngine } from '../../helpers/gpu.ts';

interface Case extends Omit<MatmulOptions, 'bias'> {
  bias?: boolean;
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
  const dispatches = await matmulDispatches(engine, arena, 'mm', A, B, C, {
    ...c,
    bias: bias ? arena.fromData('bias', bias) : undefined,
  });
  await run(engine, dispatches);
  const got = await readF32(engine, C, c.M * c.N);
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
