// Stem im2col + matmul (shaders/stem.wgsl, src/ops/stem.ts) against the float64 reference
// (itself checked against PyTorch in tests/unit/reference/stem.test.ts): the cols gather,
// the forward at visible sites, and dWeight / dBias, over square and non-square inputs,
// batch 1 and 2, mask ratios 0 (dense), 0.5 and 0.75.
import { describe, it } from 'vitest';
import { stageRows } from '../../../src/ops/sparse-layout.ts';
import { stemBackward, stemForward, STEM_COLS } from '../../../src/ops/stem.ts';
import { stemBackwardRef, stemForwardRef, stemIm2colRef } from '../../../src/reference/stem.ts';
import { Random } from '../../../src/util/random.ts';
import { expectAllClose } from '../../helpers/allclose.ts';
import { readF32, run, testArena, testEngine } from '../../helpers/gpu.ts';
import { randomLayout } from '../../helpers/masks.ts';


interface Case {
  N: number;
  H: number;
  W: number;
  ratio: number;
  d0: number;
  accumulate?: boolean;
}

async function check(c: Case, seed: number): Promise<void> {
  const engine = await testEngine();
  const arena = testArena(engine);
  const rng = new Random(seed);
  const layout = randomLayout(rng, c.N, c.H / 32, c.W / 32, c.ratio);
  const rows = stageRows(layout, 8);
  const image = rng.uniformArray(c.N * 3 * c.H * c.W, -2, 2.5);
  const weight = rng.uniformArray(c.d0 * STEM_COLS);
  const bias = rng.uniformArray(c.d0);
  const dY = rng.uniformArray(rows * c.d0);
  const dWeight0 = c.accumulate ? rng.uniformArray(c.d0 * STEM_COLS) : new Float32Array(c.d0 * STEM_COLS);
  const dBias0 = c.accumulate ? rng.uniformArray(c.d0) : new Float32Array(c.d0);

  const io = {
    image: arena.fromData('image', image),
    visiblePatches: arena.fromData('visible', layout.visiblePatches),
    cols: arena.f32('cols', rows * STEM_COLS),
    weight: arena.fromData('weight', weight),
    bias: arena.fromData('bias', bias),
    y: arena.f32('y', rows * c.d0),
  };
  const dYBuf = arena.fromData('dY', dY);
  const dWeightBuf = arena.fromData('dWeight', dWeight0);
  const dBiasBuf = arena.fromData('dBias', dBias0);
  const shape = { N: c.N, V: layout.V, gridH: layout.gridH, gridW: layout.gridW, d0: c.d0 };
  const dispatches = [
    ...(await stemForward(engine, arena, 'stem', io, shape)),
    ...(await stemBackward(engine, arena, 'stem-bwd', { cols: io.cols, dY: dYBuf, dWeight: dWeightBuf, dBias: dBiasBuf }, { ...shape, accumulate: c.accumulate })),
  ];
  await run(engine, dispatches);
  const cols = await readF32(engine, io.cols, rows * STEM_COLS);
  const y = await readF32(engine, io.y, rows * c.d0);
  const dWeight = await readF32(engine, dWeightBuf, c.d0 * STEM_COLS);
  const dBias = await readF32(engine, dBiasBuf, c.d0);
  arena.destroy();

  const label = JSON.stringify(c);
  const colsRef = stemIm2colRef(image, layout);
  // im2col copies values: exact.
  expectAllClose(cols, colsRef, { atol: 0, rtol: 0, label: `cols ${label}`, shape: [rows, STEM_COLS] });
  // f32 sum of 48 products of |values| ≤ 2.5: a few ulps of ~10.
  expectAllClose(y, stemForwardRef(image, weight, bias, layout, c.d0), { atol: 2e-5, rtol: 1e-5, label: `y ${label}`, shape: [rows, c.d0] });
  const g = stemBackwardRef(colsRef, dY, rows, c.d0);
  const dWeightRef = c.accumulate ? g.dWeight.map((v, i) => v + dWeight0[i]!) : g.dWeight;
  const dBiasRef = c.accumulate ? g.dBias.map((v, i) => v + dBias0[i]!) : g.dBias;
  // f32 sums over all rows (split-K / column-sum partials): error ~ sqrt(rows)·eps·|terms|.
  const tol = { atol: 4e-6 * Math.sqrt(rows) * 2.5, rtol: 1e-5 };
  expectAllClose(dWeight, dWeightRef, { ...tol, label: `dWeight ${label}`, shape: [c.d0, STEM_COLS] });
  expectAllClose(dBias, dBiasRef, { ...tol, label: `dBias ${label}` });
}

describe('stem kernel (im2col + matmul) vs float64 reference', () => {
  const cases: Case[] = [
    { N: 1, H: 32, W: 32, ratio: 0, d0: 8 },
    { N: 2, H: 64, W: 64, ratio: 0.5, d0: 40 },
    { N: 1, H: 96, W: 96, ratio: 0.75, d0: 24 },
    { N: 2, H: 96, W: 96, ratio: 0, d0: 40 },
    { N: 2, H: 64, W: 96, ratio: 0, d0: 16 },
    { N: 2, H: 64, W: 96, ratio: 0.75, d0: 40, accumulate: true },
    { N: 1, H: 96, W: 64, ratio: 0.5, d0: 5 },
  ];
  cases.forEach((c, i) => {
    it(`N=${c.N} ${c.H}×${c.W} ratio=${c.ratio} d0=${c.d0}${c.accumulate ? ' accumulate' : ''}`, async () => {
      await check(c, 100 + i);
    });
  });
});
