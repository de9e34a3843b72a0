// The float64 LayerNorm reference against PyTorch (F.layer_norm + autograd, float64 fixtures
// from tests/reference/gen_layernorm.py), and its backward against central differences.
import { describe, expect, it } from 'vitest';
import { LN_EPS } from '../../../src/ops/layernorm.ts';
import { layerNormBackwardRef, layerNormForwardRef } from '../../../src/reference/layernorm.ts';
import { Random } from '../../../src/util/random.ts';
import { expectAllClose } from '../../helpers/allclose.ts';
import { loadFixture } from '../../helpers/fixtures.ts';

describe('LayerNorm reference vs PyTorch float64', () => {
  const fx = loadFixture('ops/layernorm');
  const cases = fx.meta.cases as { rows: number; C: number; offset: number }[];
  it('fixture uses the spec eps', () => {
    expect(fx.meta.eps).toBe(LN_EPS);
    expect(cases.length).toBeGreaterThan(0);
  });
  cases.forEach(({ rows, C, offset }, i) => {
    it(`case ${i}: rows=${rows} C=${C} offset=${offset}`, () => {
      const t = (name: string) => fx.get(`case${i}/${name}`).data;
      const label = `layernorm case ${i} (rows=${rows} C=${C})`;
      const f = layerNormForwardRef(t('x'), t('weight'), t('bias'), { rows, C });
      // float64 both sides, differing in summation order (~1e-16 relative), amplified by rstd
      // (1000 at C = 1) and by subtracting a large mean (|x| ≈ 50): seen ≤ 1.2e-13.
      const tol = { atol: 1e-12, rtol: 1e-12 };
      expectAllClose(f.y, t('y'), { ...tol, label: `${label}: y`, shape: [rows, C] });
      expectAllClose(f.mean, t('mean'), { ...tol, label: `${label}: mean` });
      expectAllClose(f.rstd, t('rstd'), { ...tol, label: `${label}: rstd` });
      const b = layerNormBackwardRef(t('x'), t('weight'), f.mean, f.rstd, t('dY'), { rows, C });
      expectAllClose(b.dX, t('dX'), { ...tol, label: `${label}: dX`, shape: [rows, C] });
      expectAllClose(b.dWeight, t('dWeight'), { ...tol, label: `${label}: dWeight` });
      expectAllClose(b.dBias, t('dBias'), { ...tol, label: `${label}: dBias` });
    });
  });
});

describe('LayerNorm reference backward vs central differences', () => {
  // Loss L = Σ dY·y, so ∂L/∂θ is what backward returns for upstream gradient dY.
  function loss(x: ArrayLike<number>, w: ArrayLike<number>, b: ArrayLike<number>, dY: ArrayLike<number>, rows: number, C: number): number {
    const { y } = layerNormForwardRef(x, w, b, { rows, C });
    let s = 0;
    for (let i = 0; i < y.length; i++) s += y[i]! * dY[i]!;
    return s;
  }

  function numericGrad(f: (v: Float64Array) => number, v: Float64Array): Float64Array {
    const h = 1e-5;
    const g = new Float64Array(v.length);
    for (let i = 0; i < v.length; i++) {
      const keep = v[i]!;
      v[i] = keep + h;
      const up = f(v);
      v[i] = keep - h;
      const down = f(v);
      v[i] = keep;
      g[i] = (up - down) / (2 * h);
    }
    return g;
  }

  for (const [rows, C] of [
    [1, 2],
    [3, 5],
    [4, 9],
  ] as const) {
    it(`rows=${rows} C=${C}`, () => {
      const rng = new Random(rows * 100 + C);
      const x = Float64Array.from(rng.uniformArray(rows * C));
      const w = Float64Array.from(rng.uniformArray(C, 0.5, 1.5));
      const b = Float64Array.from(rng.uniformArray(C));
      const dY = Float64Array.from(rng.uniformArray(rows * C));
      const f = layerNormForwardRef(x, w, b, { rows, C });
      const g = layerNormBackwardRef(x, w, f.mean, f.rstd, dY, { rows, C });
      // Central differences with h = 1e-5: truncation ~h²·|f'''| ≈ 1e-10·rstd³, rounding ~1e-16/h.
      const tol = { atol: 1e-7, rtol: 1e-6 };
      expectAllClose(g.dX, numericGrad((v) => loss(v, w, b, dY, rows, C), x), { ...tol, label: 'dX', shape: [rows, C] });
      expectAllClose(g.dWeight, numericGrad((v) => loss(x, v, b, dY, rows, C), w), { ...tol, label: 'dWeight' });
      expectAllClose(g.dBias, numericGrad((v) => loss(x, w, v, dY, rows, C), b), { ...tol, label: 'dBias' });
    });
  }

  it('accumulateDXInto adds to dX and leaves the parameter gradients alone', () => {
    const rng = new Random(3);
    const [rows, C] = [2, 4];
    const x = rng.uniformArray(rows * C);
    const w = rng.uniformArray(C);
    const dY = rng.uniformArray(rows * C);
    const prior = rng.uniformArray(rows * C);
    const f = layerNormForwardRef(x, w, w, { rows, C });
    const plain = layerNormBackwardRef(x, w, f.mean, f.rstd, dY, { rows, C });
    const acc = layerNormBackwardRef(x, w, f.mean, f.rstd, dY, { rows, C, accumulateDXInto: prior });
    expectAllClose(acc.dX, plain.dX.map((v, i) => v + prior[i]!), { atol: 1e-15, rtol: 0, label: 'dX accumulated' });
    expectAllClose(acc.dWeight, plain.dWeight, { atol: 0, rtol: 0, label: 'dWeight' });
  });
});
