// Row gather (shaders/rows.wgsl) and the multi-pass column sum
// (shaders/column-sum.wgsl) against the float64 references of src/reference/rows.ts.
import { describe, it } from 'vitest';
import { columnSum, gatherRows } from '../../../src/ops/rows.ts';
import { columnSumRef, gatherRowsRef } from '../../../src/reference/rows.ts';
import { Random } from '../../../src/util/random.ts';
import { expectAllClose } from '../../helpers/allclose.ts';
import { readF32, run, testArena, testEngine } from '../../helpers/gpu.ts';

/** `count` distinct rows of [0, S) in random order. */
function distinctRows(rng: Random, S: number, count: number): Int32Array {
  const all = Array.from({ length: S }, (_, i) => i);
  for (let i = S - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [all[i], all[j]] = [all[j]!, all[i]!];
  }
  return Int32Array.from(all.slice(0, count));
}

describe('gatherRows vs float64 reference', () => {
  for (const [S, M, C] of [
    [12, 5, 7],
    [300, 130, 33],
    [18, 18, 3072],
  ] as const) {
    it(`gather S=${S} M=${M} C=${C} (with out-of-range indices → zero rows)`, async () => {
      const engine = await testEngine();
      const arena = testArena(engine);
      const rng = new Random(S + M + C);
      const src = rng.uniformArray(S * C);
      const indices = distinctRows(rng, S, M);
      indices[0] = -1;
      if (M > 2) indices[M - 1] = S; // one past the end
      const dst = arena.f32('dst', M * C);
      await run(engine, await gatherRows(engine, arena, 'gather', { src: arena.fromData('src', src), indices: arena.fromData('idx', indices), dst }, { rows: M, C }));
      const got = await readF32(engine, dst, M * C);
      arena.destroy();
      // Copies: exact.
      expectAllClose(got, gatherRowsRef(src, indices, S, C), { atol: 0, rtol: 0, label: 'gather', shape: [M, C] });
    });
  }
});

for (const plan of ['shared', 'direct'] as const) describe(`columnSum (${plan}) vs float64 reference`, () => {
  // shared: rows ≤ 1024 one pass, 3000 partials then final, 300000 two partial levels;
  // direct: the same with 256 in place of 1024.
  for (const [rows, C, accumulate] of [
    [1, 1, false],
    [37, 5, false],
    [1024, 40, true],
    [3000, 37, false],
    [300000, 3, true],
    [70, 3072, false],
    [257, 9, true],
  ] as const) {
    it(`rows=${rows} C=${C} accumulate=${accumulate}`, async () => {
      const engine = await testEngine();
      const arena = testArena(engine);
      const rng = new Random(rows * 7 + C);
      const x = rng.uniformArray(rows * C);
      const out0 = rng.uniformArray(C);
      const out = arena.fromData('out', out0);
      await run(engine, await columnSum(engine, arena, 'colsum', { x: arena.fromData('x', x), out }, { rows, C, accumulate, plan }));
      const got = await readF32(engine, out, C);
      arena.destroy();
      // f32 tree sums of rows values in [-1, 1]: error ~ sqrt(rows)·eps·(partial magnitudes).
      expectAllClose(got, columnSumRef(x, rows, C, accumulate ? out0 : undefined), {
        atol: 2e-6 * Math.sqrt(rows) * 4,
        rtol: 1e-5,
        label: `columnSum ${plan} rows=${rows} C=${C}`,
      });
    });
  }
});
