// The float64 drop-path references (src/reference/drop-path.ts): per-sample factors on the
// right rows, and scaleRows as the branch gradient of addScaledRows (its adjoint).
import { describe, expect, it } from 'vitest';
import { addScaledRowsRef, scaleRowsRef } from '../../../src/reference/drop-path.ts';
import { Random } from '../../../src/util/random.ts';

describe('drop-path references', () => {
  it('addScaledRows: sample n’s rows get scale[n] (rows=4, C=2, 2 rows per sample)', () => {
    const x = [1, 1, 1, 1, 2, 2, 2, 2];
    const branch = [1, 2, 3, 4, 5, 6, 7, 8];
    expect([...addScaledRowsRef(x, branch, [0, 2], 4, 2, 2)]).toEqual([1, 1, 1, 1, 12, 14, 16, 18]);
  });

  it('scaleRows: dst = scale[n]·src (rows=3, C=1, 1 row per sample)', () => {
    expect([...scaleRowsRef([1, 2, 3], [1.25, 0, -1], 3, 1, 1)]).toEqual([1.25, 0, -3]);
  });

  it('scaleRows is the branch gradient of addScaledRows', () => {
    const rng = new Random(9);
    const [rows, C, rowsPerSample] = [6, 3, 2];
    const scale = [1 / 0.9, 0, 1 / 0.9];
    const x = rng.uniformArray(rows * C);
    const branch = rng.uniformArray(rows * C);
    const dOut = rng.uniformArray(rows * C);
    const dBranch = scaleRowsRef(dOut, scale, rows, C, rowsPerSample);
    // out is affine in branch: ⟨dOut, out(branch) − out(0)⟩ = ⟨dBranch, branch⟩.
    const out = addScaledRowsRef(x, branch, scale, rows, C, rowsPerSample);
    let lhs = 0;
    let rhs = 0;
    for (let i = 0; i < rows * C; i++) {
      lhs += dOut[i]! * (out[i]! - x[i]!);
      rhs += dBranch[i]! * branch[i]!;
    }
    expect(Math.abs(lhs - rhs)).toBeLessThan(1e-6); // out − x loses bits of x (f32 inputs ~1)
  });
});
