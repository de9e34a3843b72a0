// The float64 global average pool reference (src/reference/global-pool.ts): a hand-computed
// case, and the backward as the exact adjoint of the forward (⟨dY, pool(x)⟩ = ⟨pool'(dY), x⟩).
import { describe, expect, it } from 'vitest';
import { meanPoolBackwardRef, meanPoolForwardRef } from '../../../src/reference/global-pool.ts';
import { Random } from '../../../src/util/random.ts';

describe('meanPool reference', () => {
  it('averages each sample’s rows (N=2, P=3, C=2)', () => {
    // sample 0 rows (1,10) (2,20) (3,30); sample 1 rows (−1,0) (0,0) (4,6)
    const x = [1, 10, 2, 20, 3, 30, -1, 0, 0, 0, 4, 6];
    expect([...meanPoolForwardRef(x, 2, 3, 2)]).toEqual([2, 20, 1, 2]);
  });

  it('backward spreads dY / P over each sample’s rows', () => {
    expect([...meanPoolBackwardRef([3, -6, 9, 0], 2, 3, 2)]).toEqual([1, -2, 1, -2, 1, -2, 3, 0, 3, 0, 3, 0]);
  });

  it('backward is the adjoint of the forward', () => {
    const rng = new Random(5);
    const [N, P, C] = [3, 7, 5];
    const x = rng.uniformArray(N * P * C);
    const dY = rng.uniformArray(N * C);
    const y = meanPoolForwardRef(x, N, P, C);
    const dX = meanPoolBackwardRef(dY, N, P, C);
    let lhs = 0;
    let rhs = 0;
    for (let i = 0; i < N * C; i++) lhs += dY[i]! * y[i]!;
    for (let i = 0; i < N * P * C; i++) rhs += dX[i]! * x[i]!;
    expect(Math.abs(lhs - rhs)).toBeLessThan(1e-13);
  });

  it('rejects a short input', () => {
    expect(() => meanPoolForwardRef([1, 2, 3], 1, 2, 2)).toThrow(/needs 4/);
  });
});
