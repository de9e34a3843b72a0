// The FCMAE target and loss references against PyTorch (tests/reference/gen_stem_loss.py:
// the official forward_loss with patchify, unbiased-variance normalised pixels and the
// masked mean, dPred by autograd), maskedPatchRows and its inverse lossRowOfPatch, and a
// finite-difference gradient check.
import { describe, expect, it } from 'vitest';
import { lossRowOfPatch, maskedPatchRows, PATCH_VALUES } from '../../../src/ops/fcmae-loss.ts';
import { layoutFromMask } from '../../../src/ops/sparse-layout.ts';
import { fcmaeLossRef, patchifyTargetRef } from '../../../src/reference/fcmae-loss.ts';
import { Random } from '../../../src/util/random.ts';
import { expectAllClose } from '../../helpers/allclose.ts';
import { loadFixture } from '../../helpers/fixtures.ts';

interface LossCase {
  name: string;
  N: number;
  H: number;
  W: number;
  ratio: number;
  normPix: boolean;
}

const fixture = loadFixture('ops/fcmae-loss');
const cases = fixture.meta.cases as LossCase[];
// float64 on both sides; sums over 3072 values differ only in rounding order.
const F64 = { atol: 1e-12, rtol: 1e-10 };

describe('FCMAE target and loss reference vs PyTorch fixture', () => {
  it('fixture has a normalised-pixel and a plain-pixel case', () => {
    expect(cases.map((c) => c.normPix)).toEqual([true, false]);
  });

  for (const c of cases) {
    const label = `${c.name} N=${c.N} ${c.H}×${c.W} normPix=${c.normPix}`;
    const t = (k: string) => fixture.get(`${c.name}.${k}`).data;
    const gridH = c.H / 32;
    const gridW = c.W / 32;
    const L = gridH * gridW;

    it(`patchify order, per-patch mean / unbiased var, target: ${label}`, () => {
      const got = patchifyTargetRef(t('image'), c.N, gridH, gridW, c.normPix);
      expectAllClose(got.mean, t('mean'), { ...F64, label: `mean ${label}` });
      expectAllClose(got.variance, t('var'), { ...F64, label: `var ${label}` });
      expectAllClose(got.target, t('target'), { ...F64, label: `target ${label}`, shape: [c.N * L, PATCH_VALUES] });
    });

    it(`masked loss, per-sample loss and dPred: ${label}`, () => {
      const layout = layoutFromMask(t('mask'), c.N, gridH, gridW);
      const rows = maskedPatchRows(layout);
      const M = L - layout.V;
      expect(rows.length).toBe(c.N * M);
      const { target } = patchifyTargetRef(t('image'), c.N, gridH, gridW, c.normPix);
      const got = fcmaeLossRef(t('pred'), target, rows, c.N);
      expectAllClose([got.loss], t('loss'), { ...F64, label: `loss ${label}` });
      expectAllClose(got.sampleLoss, t('perSample'), { ...F64, label: `per-sample loss ${label}` });
      expectAllClose(got.dPred, t('dPred'), { atol: 1e-15, rtol: 1e-10, label: `dPred ${label}`, shape: [c.N * M, PATCH_VALUES] });
    });
  }
});

describe('maskedPatchRows', () => {
  it('lists n·L + p of masked patches, ascending per sample', () => {
    // N=2, 2×3 grid, 4 masked per sample
    const layout = layoutFromMask([1, 0, 1, 1, 0, 1, /* n=1 */ 0, 1, 1, 1, 1, 0], 2, 2, 3);
    expect([...maskedPatchRows(layout)]).toEqual([0, 2, 3, 5, 7, 8, 9, 10]);
  });
  it('lossRowOfPatch inverts it: the pred row of each grid row, −1 where the loss does not look', () => {
    const layout = layoutFromMask([1, 0, 1, 1, 0, 1, /* n=1 */ 0, 1, 1, 1, 1, 0], 2, 2, 3);
    expect([...lossRowOfPatch(maskedPatchRows(layout), 12)]).toEqual([0, -1, 1, 2, -1, 3, -1, 4, 5, 6, 7, -1]);
    expect(() => lossRowOfPatch(Int32Array.of(0, 12), 12)).toThrow(/row 12 of pred row 1 is outside the 12 grid rows/);
  });
  it('is empty at mask ratio 0, and the loss is then 0 (not 0/0)', () => {
    const layout = layoutFromMask(new Float32Array(4), 1, 2, 2);
    const rows = maskedPatchRows(layout);
    expect(rows.length).toBe(0);
    const r = fcmaeLossRef(new Float64Array(0), new Float64Array(4 * PATCH_VALUES), rows, 1);
    expect(r.loss).toBe(0);
    expect([...r.sampleLoss]).toEqual([0]);
  });
});

describe('FCMAE loss reference gradient vs finite differences', () => {
  it('central differences of the loss match dPred (with a gradient scale)', () => {
    const rng = new Random(11);
    const N = 2;
    const layout = layoutFromMask([1, 0, 1, 0, /* n=1 */ 0, 1, 1, 0], N, 2, 2);
    const rows = maskedPatchRows(layout);
    const target = rng.uniformArray(N * 4 * PATCH_VALUES);
    const pred = Float64Array.from(rng.uniformArray(rows.length * PATCH_VALUES));
    const scale = 0.5;
    const { dPred } = fcmaeLossRef(pred, target, rows, N, scale);
    const h = 1e-3;
    const probes = [0, 1, 3071, 3072 + 100, 2 * 3072 + 2047, 4 * 3072 - 1];
    const fd = probes.map((i) => {
      const v = pred[i]!;
      pred[i] = v + h;
      const up = fcmaeLossRef(pred, target, rows, N).loss;
      pred[i] = v - h;
      const down = fcmaeLossRef(pred, target, rows, N).loss;
      pred[i] = v;
      return (scale * (up - down)) / (2 * h);
    });
    // The loss is quadratic in pred, so central differences are exact up to rounding:
    // loss ~ 1 summed over 12288 terms, eps·1e4/(2h) ≈ 1e-9 absolute; dPred ~ 1e-4.
    expectAllClose(fd, probes.map((i) => dPred[i]!), { atol: 1e-9, rtol: 1e-6, label: 'FD dPred' });
  });
});
