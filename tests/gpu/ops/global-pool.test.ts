// The classifier's global average pool (shaders/global-pool.wgsl) against the float64
// reference (src/reference/global-pool.ts): scalar (C % 4 ≠ 0) and vec4 paths, P from 1 to
// 4096, N = 1 … 5, output counts not a multiple of the workgroup; the backward overwrites dX.
import { describe, expect, it } from 'vitest';
import { meanPoolBackward, meanPoolForward } from '../../../src/ops/global-pool.ts';
import { meanPoolBackwardRef, meanPoolForwardRef } from '../../../src/reference/global-pool.ts';
import { Random } from '../../../src/util/random.ts';
import { expectAllClose } from '../../helpers/allclose.ts';
import { readF32, run, testArena, testEngine } from '../../helpers/gpu.ts';

describe('meanPoolForward / meanPoolBackward vs float64 reference', () => {
  for (const [N, P, C] of [
    [1, 1, 1],
    [2, 7, 3],
    [3, 49, 40],
    [5, 64, 13],
    [4, 3, 1001],
    [2, 4096, 6],
    [1, 4096, 8],
  ] as const) {
    it(`N=${N} P=${P} C=${C} (${C % 4 === 0 ? 'vec4' : 'scalar'})`, async () => {
      const engine = await testEngine();
      const arena = testArena(engine);
      const rng = new Random(N * 1000 + P + C);
      const x = rng.uniformArray(N * P * C, -1, 3); // a positive mean, as after GELU/GRN
      const dY = rng.uniformArray(N * C);
      const y = arena.fromData('y', new Float32Array(N * C).fill(123)); // must be overwritten
      const dX = arena.fromData('dX', new Float32Array(N * P * C).fill(123)); // must be overwritten
      const shape = { N, P, C };
      await run(engine, [
        ...(await meanPoolForward(engine, arena, 'pool', { x: arena.fromData('x', x), y }, shape)),
        ...(await meanPoolBackward(engine, arena, 'pool-bwd', { dY: arena.fromData('dY', dY), dX }, shape)),
      ]);
      const gotY = await readF32(engine, y, N * C);
      const gotDX = await readF32(engine, dX, N * P * C);
      arena.destroy();
      // f32 sums of P values ≤ 3 in blocks of 64, then divided by P: ~(64 + P/64)·6e-8·mean.
      expectAllClose(gotY, meanPoolForwardRef(x, N, P, C), { atol: 1e-6, rtol: 1e-5, label: `y N=${N} P=${P} C=${C}`, shape: [N, C] });
      // One f32 division (≤ 2.5 ulp).
      expectAllClose(gotDX, meanPoolBackwardRef(dY, N, P, C), { atol: 1e-12, rtol: 4e-7, label: `dX N=${N} P=${P} C=${C}`, shape: [N * P, C] });
    });
  }

  it('rejects short buffers and bad shapes, naming the op, buffer and sizes', async () => {
    const engine = await testEngine();
    const arena = testArena(engine);
    const b = (n: number): GPUBuffer => arena.f32('b', n);
    await expect(meanPoolForward(engine, arena, 'head/pool', { x: b(2 * 3 * 4 - 1), y: b(8) }, { N: 2, P: 3, C: 4 })).rejects.toThrow(
      /head\/pool: buffer 'x' holds 23 elements but \(N·P, C\) = \(6, 4\) needs 24/,
    );
    await expect(meanPoolBackward(engine, arena, 'head/pool-bwd', { dY: b(8), dX: b(24) }, { N: 2, P: 0, C: 4 })).rejects.toThrow(/head\/pool-bwd: P = 0 must be an integer ≥ 1/);
    arena.destroy();
  });
});
