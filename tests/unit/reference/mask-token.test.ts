// The decoder-input reference: the spec's dense formula x·(1 − m) + mask_token·m on the
// proj output scattered to the grid, and a finite-difference check of its backward.
import { describe, it } from 'vitest';
import { layoutFromMask } from '../../../src/ops/sparse-layout.ts';
import { rowsToDense } from '../../../src/reference/layout.ts';
import { maskTokenFillBackwardRef, maskTokenFillForwardRef } from '../../../src/reference/mask-token.ts';
import { Random } from '../../../src/util/random.ts';
import { expectAllClose } from '../../helpers/allclose.ts';

const N = 2;
const D = 5;
// 2×3 grid, 2 masked patches per sample
const layout = layoutFromMask([1, 0, 0, 1, 0, 0, /* n=1 */ 0, 0, 1, 0, 1, 0], N, 2, 3);
const { L, V } = layout;

describe('mask-token fill reference', () => {
  it('equals proj·(1 − m) + mask_token·m on the dense grid (spec §4)', () => {
    const rng = new Random(3);
    const P = rng.uniformArray(N * V * D);
    const token = rng.uniformArray(D);
    const dense = rowsToDense(P, layout, 1, D); // (N, D, gridH, gridW), zeros at masked patches
    const want = new Float64Array(N * L * D);
    for (let n = 0; n < N; n++)
      for (let p = 0; p < L; p++) {
        const m = layout.mask[n * L + p]!;
        for (let c = 0; c < D; c++) want[(n * L + p) * D + c] = dense[(n * D + c) * L + p]! * (1 - m) + token[c]! * m;
      }
    // Pure selection: exact.
    expectAllClose(maskTokenFillForwardRef(P, token, layout, D), want, { atol: 0, rtol: 0, label: 'fill', shape: [N * L, D] });
  });

  it('backward matches central differences of Σ G·X', () => {
    const rng = new Random(5);
    const P = Float64Array.from(rng.uniformArray(N * V * D));
    const token = Float64Array.from(rng.uniformArray(D));
    const G = rng.uniformArray(N * L * D);
    const objective = () => {
      const x = maskTokenFillForwardRef(P, token, layout, D);
      let s = 0;
      for (let i = 0; i < x.length; i++) s += x[i]! * G[i]!;
      return s;
    };
    const h = 1e-4;
    const fd = (arr: Float64Array) =>
      Array.from(arr, (v, i) => {
        arr[i] = v + h;
        const up = objective();
        arr[i] = v - h;
        const down = objective();
        arr[i] = v;
        return (up - down) / (2 * h);
      });
    const g = maskTokenFillBackwardRef(G, layout, D);
    // Linear objective: central differences exact up to rounding (~1e-16·30/1e-4).
    expectAllClose(fd(P), g.dP, { atol: 1e-9, rtol: 1e-9, label: 'FD dP', shape: [N * V, D] });
    expectAllClose(fd(token), g.dMaskToken, { atol: 1e-9, rtol: 1e-9, label: 'FD dMaskToken' });
  });
});
