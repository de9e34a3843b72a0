// The float64 sparse dwconv reference (src/reference/dwconv.ts) against: PyTorch
// (tests/fixtures/ops/dwconv.json, conv2d groups=C on the masked dense tensor), the dense
// equivalent built from the repo's own dense conv on random masks, and central differences.
import { describe, expect, it } from 'vitest';
import { layoutFromMask, stageRows, type MaskLayout } from '../../../src/ops/sparse-layout.ts';
import { depthwiseConv7Dense, dwconvBackwardRef, dwconvForwardRef } from '../../../src/reference/dwconv.ts';
import { denseToRows, rowsToDense } from '../../../src/reference/layout.ts';
import { Random } from '../../../src/util/random.ts';
import { expectAllClose } from '../../helpers/allclose.ts';
import { loadFixture } from '../../helpers/fixtures.ts';

/** PyTorch (C, 1, 7, 7) → tap-major (49, C). */
function tapMajor(w: ArrayLike<number>, C: number): Float64Array {
  const out = new Float64Array(49 * C);
  for (let c = 0; c < C; c++) for (let t = 0; t < 49; t++) out[t * C + c] = w[c * 49 + t]!;
  return out;
}

/** A random (N, L) mask keeping V patches per sample. */
function randomLayout(rng: Random, N: number, gridH: number, gridW: number, V: number): MaskLayout {
  const L = gridH * gridW;
  const mask: number[] = [];
  for (let n = 0; n < N; n++) {
    const order = Array.from({ length: L }, (_, i) => i);
    for (let i = L - 1; i > 0; i--) {
      const j = rng.int(i + 1);
      [order[i], order[j]] = [order[j]!, order[i]!];
    }
    const visible = new Set(order.slice(0, V));
    for (let p = 0; p < L; p++) mask.push(visible.has(p) ? 0 : 1);
  }
  return layoutFromMask(mask, N, gridH, gridW);
}

describe('dwconv reference vs PyTorch', () => {
  const fx = loadFixture('ops/dwconv');
  const cases = fx.meta.cases as { name: string; N: number; C: number; gridH: number; gridW: number; r: number }[];
  for (const c of cases) {
    it(c.name, () => {
      const t = (k: string) => fx.get(`${c.name}.${k}`).data;
      const layout = layoutFromMask(t('mask'), c.N, c.gridH, c.gridW);
      const { r, C } = c;
      const rows = (d: Float64Array) => denseToRows(d, layout, r, C);
      const weight = tapMajor(t('weight'), C);
      const x = rows(t('x'));
      const y = dwconvForwardRef(x, weight, t('bias'), layout, r, C);
      const g = dwconvBackwardRef(x, weight, rows(t('dy')), layout, r, C);
      // Both sides are float64 sums of ≤ 49 (forward) or ≤ rows·49 (dWeight) terms: rounding only.
      const tol = { atol: 1e-12, rtol: 1e-12 };
      const n = stageRows(layout, r);
      expectAllClose(y, rows(t('y')), { ...tol, label: `${c.name} y`, shape: [n, C] });
      expectAllClose(g.dX, rows(t('dx')), { ...tol, label: `${c.name} dX`, shape: [n, C] });
      expectAllClose(g.dWeight, tapMajor(t('dweight'), C), { ...tol, label: `${c.name} dWeight`, shape: [49, C] });
      expectAllClose(g.dBias, t('dbias'), { ...tol, label: `${c.name} dBias`, shape: [C] });
      // PyTorch's dx at masked sites is 0 (x is masked before the conv): nothing is lost in rows.
      const dxDense = t('dx');
      const back = rowsToDense(g.dX, layout, r, C);
      expectAllClose(back, dxDense, { ...tol, label: `${c.name} dX scattered back to dense` });
    });
  }
});

describe('dwconv reference vs the dense equivalent (spec §4.4)', () => {
  const configs = [
    { N: 2, gridH: 3, gridW: 3, r: 1, V: 4, C: 3 },
    { N: 1, gridH: 2, gridW: 3, r: 2, V: 2, C: 2 },
    { N: 2, gridH: 4, gridW: 4, r: 2, V: 4, C: 1 },
    { N: 1, gridH: 3, gridW: 2, r: 4, V: 3, C: 2 },
    { N: 2, gridH: 2, gridW: 2, r: 8, V: 1, C: 2 },
    { N: 1, gridH: 2, gridW: 2, r: 4, V: 4, C: 2 },
  ];
  configs.forEach((cfg, i) => {
    it(`N=${cfg.N} ${cfg.gridH}×${cfg.gridW} r=${cfg.r} V=${cfg.V} C=${cfg.C}`, () => {
      const rng = new Random(100 + i);
      const { N, r, C } = cfg;
      const layout = randomLayout(rng, N, cfg.gridH, cfg.gridW, cfg.V);
      const H = cfg.gridH * r;
      const W = cfg.gridW * r;
      const n = stageRows(layout, r);
      const x = rng.uniformArray(n * C);
      const dY = rng.uniformArray(n * C);
      const weight = rng.uniformArray(49 * C);
      const bias = rng.uniformArray(C);
      // rowsToDense zeroes masked sites; denseToRows keeps visible ones (= zeroing after).
      const yDense = depthwiseConv7Dense(rowsToDense(x, layout, r, C), weight, bias, N, C, H, W);
      const tol = { atol: 1e-12, rtol: 1e-12 }; // float64 on both sides, same terms
      expectAllClose(dwconvForwardRef(x, weight, bias, layout, r, C), denseToRows(yDense, layout, r, C), {
        ...tol,
        label: 'y vs dense equivalent',
        shape: [n, C],
      });
      // dX = the dense conv with the flipped kernel applied to the masked dY.
      const flipped = new Float64Array(49 * C);
      for (let t = 0; t < 49; t++) for (let c = 0; c < C; c++) flipped[t * C + c] = weight[(48 - t) * C + c]!;
      const dXDense = depthwiseConv7Dense(rowsToDense(dY, layout, r, C), flipped, null, N, C, H, W);
      expectAllClose(dwconvBackwardRef(x, weight, dY, layout, r, C).dX, denseToRows(dXDense, layout, r, C), {
        ...tol,
        label: 'dX vs flipped dense conv',
        shape: [n, C],
      });
    });
  });
});

describe('dwconv reference backward vs central differences', () => {
  it('x, weight and bias gradients of Σ y·dY (N=2, 2×2 grid, r=2, 3 visible, C=2)', () => {
    const rng = new Random(5);
    const C = 2;
    const r = 2;
    const layout = layoutFromMask([0, 1, 0, 0, /* n=1 */ 1, 0, 0, 0], 2, 2, 2);
    const n = stageRows(layout, r);
    const x = Float64Array.from(rng.uniformArray(n * C));
    const weight = Float64Array.from(rng.uniformArray(49 * C));
    const bias = Float64Array.from(rng.uniformArray(C));
    const dY = Float64Array.from(rng.uniformArray(n * C));
    const loss = () => dwconvForwardRef(x, weight, bias, layout, r, C).reduce((s, v, i) => s + v * dY[i]!, 0);
    const numeric = (a: Float64Array) => {
      const eps = 1e-6;
      return a.map((v, i) => {
        a[i] = v + eps;
        const plus = loss();
        a[i] = v - eps;
        const minus = loss();
        a[i] = v;
        return (plus - minus) / (2 * eps);
      });
    };
    const g = dwconvBackwardRef(x, weight, dY, layout, r, C);
    // The loss is linear in each argument: central differences are exact up to rounding
    // (~1e-16·|loss|/eps ≈ 1e-9).
    const tol = { atol: 1e-7, rtol: 1e-7 };
    expectAllClose(g.dX, numeric(x), { ...tol, label: 'dX', shape: [n, C] });
    expectAllClose(g.dWeight, numeric(weight), { ...tol, label: 'dWeight', shape: [49, C] });
    expectAllClose(g.dBias, numeric(bias), { ...tol, label: 'dBias', shape: [C] });
    expect(g.dX.some((v) => v !== 0)).toBe(true);
  });
});
