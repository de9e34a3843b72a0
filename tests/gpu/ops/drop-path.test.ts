// Drop path (shaders/drop-path.wgsl) against the float64 references (src/reference/drop-path.ts):
// addScaledRows and scaleRows, out-of-place and in place, scalar (C % 4 ≠ 0) and vec4 paths,
// per-sample factors {0, 1/(1 − p)} and arbitrary ones, rows not a multiple of the workgroup.
import { describe, expect, it } from 'vitest';
import { addScaledRows, scaleRows } from '../../../src/ops/drop-path.ts';
import { addScaledRowsRef, scaleRowsRef } from '../../../src/reference/drop-path.ts';
import { Random } from '../../../src/util/random.ts';
import { expectAllClose } from '../../helpers/allclose.ts';
import { readF32, run, testArena, testEngine } from '../../helpers/gpu.ts';

/** Per-sample factors: kept (1/(1 − p)) or dropped (0), both present when N ≥ 2. */
function drawScale(rng: Random, N: number, p: number): Float32Array {
  const s = Float32Array.from({ length: N }, () => (rng.uniform() < p ? 0 : 1 / (1 - p)));
  if (N >= 2) {
    s[0] = 0;
    s[N - 1] = 1 / (1 - p);
  }
  return s;
}

// A product and a sum in f32 on values ≤ ~2.2: ≤ ~1.5 ulp of the larger term.
const TOL = { atol: 3e-7, rtol: 2e-7 };

describe('addScaledRows / scaleRows vs float64 reference', () => {
  for (const [N, rowsPerSample, C] of [
    [1, 1, 1],
    [5, 3, 7],
    [4, 49, 40],
    [2, 300, 3],
    [5, 1, 1001],
    [3, 4, 1000],
  ] as const) {
    const rows = N * rowsPerSample;
    for (const inPlace of [false, true]) {
      it(`N=${N} rowsPerSample=${rowsPerSample} C=${C}${inPlace ? ' in place' : ''} (${C % 4 === 0 ? 'vec4' : 'scalar'})`, async () => {
        const engine = await testEngine();
        const arena = testArena(engine);
        const rng = new Random(N * 31 + rowsPerSample * 7 + C + (inPlace ? 1 : 0));
        const x = rng.uniformArray(rows * C);
        const branch = rng.uniformArray(rows * C);
        const scale = N === 5 && C === 1001 ? Float32Array.of(0.5, -1, 2, 0, 1.25) : drawScale(rng, N, 0.1);
        const shape = { rows, C, rowsPerSample };
        const scaleBuf = arena.fromData('scale', scale);
        const xBuf = arena.fromData('x', x);
        const out = inPlace ? xBuf : arena.fromData('out', new Float32Array(rows * C).fill(123));
        const src = arena.fromData('src', branch);
        const dst = inPlace ? src : arena.fromData('dst', new Float32Array(rows * C).fill(123));
        await run(engine, [
          ...(await addScaledRows(engine, arena, 'drop-path', { x: xBuf, branch: arena.fromData('branch', branch), scale: scaleBuf, out }, shape)),
          ...(await scaleRows(engine, arena, 'drop-path-bwd', { src, scale: scaleBuf, dst }, shape)),
        ]);
        const gotOut = await readF32(engine, out, rows * C);
        const gotDst = await readF32(engine, dst, rows * C);
        arena.destroy();
        const tag = `N=${N} rowsPerSample=${rowsPerSample} C=${C} inPlace=${inPlace}`;
        expectAllClose(gotOut, addScaledRowsRef(x, branch, scale, rows, C, rowsPerSample), { ...TOL, label: `out ${tag}`, shape: [rows, C] });
        expectAllClose(gotDst, scaleRowsRef(branch, scale, rows, C, rowsPerSample), { ...TOL, label: `dst ${tag}`, shape: [rows, C] });
        // Dropped samples: the output is x exactly and the branch gradient exactly 0.
        for (let n = 0; n < N; n++) {
          if (scale[n] !== 0) continue;
          const lo = n * rowsPerSample * C;
          const hi = lo + rowsPerSample * C;
          expect(Array.from(gotOut.subarray(lo, hi))).toEqual(Array.from(x.subarray(lo, hi)));
          expect(gotDst.subarray(lo, hi).every((v) => v === 0)).toBe(true);
        }
      });
    }
  }

  it('rejects overlapping buffers, rows not a multiple of rowsPerSample and a short scale', async () => {
    const engine = await testEngine();
    const arena = testArena(engine);
    const b = (n: number): GPUBuffer => arena.f32('b', n);
    const shape = { rows: 6, C: 4, rowsPerSample: 3 };
    const x = b(24);
    const branch = b(24);
    const scale = b(2);
    await expect(addScaledRows(engine, arena, 'dp', { x, branch, scale, out: branch }, shape)).rejects.toThrow(/dp: buffer 'out' overlaps 'branch'/);
    const big = b(48);
    await expect(
      addScaledRows(engine, arena, 'dp', { x: { buffer: big, offset: 0, size: 96 }, branch, scale, out: { buffer: big, offset: 16, size: 96 } }, shape),
    ).rejects.toThrow(/dp: buffer 'out' overlaps 'x'/);
    await expect(scaleRows(engine, arena, 'dp-bwd', { src: x, scale, dst: scale }, { ...shape, C: 1, rows: 2, rowsPerSample: 1 })).rejects.toThrow(
      /dp-bwd: buffer 'dst' overlaps 'scale'/,
    );
    await expect(scaleRows(engine, arena, 'dp-bwd', { src: x, scale, dst: branch }, { ...shape, rows: 5 })).rejects.toThrow(
      /dp-bwd: rows = 5 is not a multiple of rowsPerSample = 3/,
    );
    await expect(scaleRows(engine, arena, 'dp-bwd', { src: x, scale: b(1), dst: branch }, shape)).rejects.toThrow(
      /dp-bwd: buffer 'scale' holds 1 elements but \(N\) = \(2\)/,
    );
    arena.destroy();
  });
});
