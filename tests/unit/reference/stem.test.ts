// The stem references against PyTorch (tests/reference/gen_stem_loss.py: conv2d on the full
// image, masked by the upsampled mask, autograd for dWeight / dBias), the im2col + matmul
// formulation against the direct conv, and a finite-difference check of the backward.
import { describe, expect, it } from 'vitest';
import { layoutFromMask, stageRows, type MaskLayout } from '../../../src/ops/sparse-layout.ts';
import { denseToRows } from '../../../src/reference/layout.ts';
import { matmulRef } from '../../../src/reference/matmul.ts';
import { stemBackwardRef, stemConvDenseRef, stemForwardRef, stemIm2colRef } from '../../../src/reference/stem.ts';
import { Random } from '../../../src/util/random.ts';
import { expectAllClose } from '../../helpers/allclose.ts';
import { loadFixture } from '../../helpers/fixtures.ts';

interface StemCase {
  name: string;
  N: number;
  H: number;
  W: number;
  d0: number;
  ratio: number;
}

const fixture = loadFixture('ops/stem');
const cases = fixture.meta.cases as StemCase[];
// Both sides are float64 sums of 48 products: only rounding differs.
const F64 = { atol: 1e-12, rtol: 1e-12 };

function caseData(c: StemCase) {
  const t = (k: string) => fixture.get(`${c.name}.${k}`).data;
  const layout = layoutFromMask(t('mask'), c.N, c.H / 32, c.W / 32);
  return { image: t('image'), weight: t('weight'), bias: t('bias'), y: t('y'), dY: t('dY'), dWeight: t('dWeight'), dBias: t('dBias'), layout };
}

describe('stem reference vs PyTorch fixture', () => {
  it('fixture has the expected cases', () => {
    expect(cases.map((c) => c.name)).toEqual(['c0', 'c1', 'c2']);
  });

  for (const c of cases) {
    const label = `${c.name} N=${c.N} ${c.H}×${c.W} d0=${c.d0} ratio=${c.ratio}`;
    it(`dense conv masked by (1 − mask) equals torch: ${label}`, () => {
      const { image, weight, bias, y, layout } = caseData(c);
      const dense = stemConvDenseRef(image, weight, bias, c.N, c.H, c.W, c.d0);
      const Ho = c.H / 4;
      const Wo = c.W / 4;
      for (let n = 0; n < c.N; n++)
        for (let o = 0; o < c.d0; o++)
          for (let yy = 0; yy < Ho; yy++)
            for (let xx = 0; xx < Wo; xx++) {
              const p = Math.floor(yy / 8) * layout.gridW + Math.floor(xx / 8);
              if (layout.mask[n * layout.L + p] === 1) dense[((n * c.d0 + o) * Ho + yy) * Wo + xx] = 0;
            }
      expectAllClose(dense, y, { ...F64, label: `dense stem ${label}`, shape: [c.N, c.d0, Ho, Wo] });
    });

    it(`sparse stem rows equal torch's visible sites: ${label}`, () => {
      const { image, weight, bias, y, layout } = caseData(c);
      const rows = stageRows(layout, 8);
      const got = stemForwardRef(image, weight, bias, layout, c.d0);
      expectAllClose(got, denseToRows(y, layout, 8, c.d0), { ...F64, label: `stem rows ${label}`, shape: [rows, c.d0] });
      // im2col · Wᵀ + b is the same conv (the GPU path).
      const cols = stemIm2colRef(image, layout);
      const viaMatmul = matmulRef(cols, weight, { M: rows, N: c.d0, K: 48, transB: true, bias });
      expectAllClose(viaMatmul, got, { ...F64, label: `im2col matmul ${label}`, shape: [rows, c.d0] });
    });

    it(`dWeight and dBias equal torch autograd: ${label}`, () => {
      const { image, dY, dWeight, dBias, layout } = caseData(c);
      const rows = stageRows(layout, 8);
      const g = stemBackwardRef(stemIm2colRef(image, layout), denseToRows(dY, layout, 8, c.d0), rows, c.d0);
      expectAllClose(g.dWeight, dWeight, { ...F64, label: `dWeight ${label}`, shape: [c.d0, 48] });
      expectAllClose(g.dBias, dBias, { ...F64, label: `dBias ${label}` });
    });
  }
});

describe('stem reference backward vs finite differences', () => {
  it('central differences of Σ dY·stem(W, b) match dWeight and dBias', () => {
    const rng = new Random(7);
    const N = 2;
    const d0 = 3;
    // 2×2 grid, one patch masked per sample.
    const layout: MaskLayout = layoutFromMask([0, 1, 0, 0, 1, 0, 0, 0], N, 2, 2);
    const image = rng.uniformArray(N * 3 * 64 * 64);
    const weight = Float64Array.from(rng.uniformArray(d0 * 48));
    const bias = Float64Array.from(rng.uniformArray(d0));
    const rows = stageRows(layout, 8);
    const dY = rng.uniformArray(rows * d0);
    const objective = () => {
      const y = stemForwardRef(image, weight, bias, layout, d0);
      let s = 0;
      for (let i = 0; i < y.length; i++) s += y[i]! * dY[i]!;
      return s;
    };
    const g = stemBackwardRef(stemIm2colRef(image, layout), dY, rows, d0);
    const h = 1e-4;
    const fd = (arr: Float64Array, i: number) => {
      const v = arr[i]!;
      arr[i] = v + h;
      const up = objective();
      arr[i] = v - h;
      const down = objective();
      arr[i] = v;
      return (up - down) / (2 * h);
    };
    const probes = [0, 17, 47, 48 + 5, 2 * 48 + 31, 3 * 48 - 1];
    // The objective is linear in W and b: central differences are exact up to rounding of
    // sums of ~1e3 terms of size ~1 divided by 2h.
    const tol = { atol: 1e-7, rtol: 1e-7 };
    expectAllClose(probes.map((i) => fd(weight, i)), probes.map((i) => g.dWeight[i]!), { ...tol, label: 'FD dWeight' });
    expectAllClose([0, 1, 2].map((i) => fd(bias, i)), [...g.dBias], { ...tol, label: 'FD dBias' });
  });
});
