// The float64 GRN reference (src/reference/grn.ts) against PyTorch autograd fixtures
// (tests/reference/gen_grn.py), and its backward against central finite differences.
import { describe, expect, it } from 'vitest';
import { GRN_MAX_CHUNKS, grnChunking, grnFlops, type GrnMode, type GrnShape } from '../../../src/ops/grn.ts';
import { grnBackwardRef, grnForwardRef } from '../../../src/reference/grn.ts';
import { Random } from '../../../src/util/random.ts';
import { expectAllClose } from '../../helpers/allclose.ts';
import { loadFixture } from '../../helpers/fixtures.ts';

interface CaseMeta {
  name: string;
  N: number;
  rowsPerSample: number;
  C: number;
  mode: GrnMode;
  sqrt_form_nan: boolean;
}

describe('GRN reference vs PyTorch (float64 autograd)', () => {
  const fx = loadFixture('ops/grn');
  const cases = fx.meta.cases as CaseMeta[];
  it('fixture holds the expected cases', () => {
    expect(cases.length).toBe(8);
    // The sqrt(Σx²) formulation gives NaN gradients on all-zero channels; torch.norm (used
    // by the official code and the fixture) gives 0 there, like our 0/0 := 0 rule.
    expect(cases.filter((c) => c.sqrt_form_nan).map((c) => c.name)).toEqual([
      'per-sample zero channel',
      'batch zero channel everywhere',
    ]);
  });
  cases.forEach((meta, i) => {
    it(meta.name, () => {
      const t = (k: string) => fx.get(`case${i}.${k}`).data;
      const shape: GrnShape = { N: meta.N, rowsPerSample: meta.rowsPerSample, C: meta.C, mode: meta.mode };
      const rows = meta.N * meta.rowsPerSample;
      const groups = meta.mode === 'batch' ? 1 : meta.N;
      const fwd = grnForwardRef({ x: t('x'), gamma: t('gamma'), beta: t('beta') }, shape);
      const bwd = grnBackwardRef(
        { x: t('x'), gamma: t('gamma'), norm: fwd.norm, gnorm: fwd.gnorm, dY: t('dY') },
        shape,
      );
      // float64 on both sides; only summation order differs.
      const tol = { atol: 1e-12, rtol: 1e-10 };
      expectAllClose(fwd.y, t('y'), { ...tol, label: `${meta.name} y`, shape: [rows, meta.C] });
      expectAllClose(fwd.norm, t('norm'), { ...tol, label: `${meta.name} norm`, shape: [groups, meta.C] });
      expectAllClose(fwd.gnorm, t('gnorm'), { ...tol, label: `${meta.name} gnorm`, shape: [groups, meta.C] });
      expectAllClose(bwd.dX, t('dX'), { ...tol, label: `${meta.name} dX`, shape: [rows, meta.C] });
      expectAllClose(bwd.dGamma, t('dGamma'), { ...tol, label: `${meta.name} dGamma` });
      expectAllClose(bwd.dBeta, t('dBeta'), { ...tol, label: `${meta.name} dBeta` });
    });
  });
});

/** L = Σ Y·W for central differences. */
function loss(x: ArrayLike<number>, gamma: ArrayLike<number>, beta: ArrayLike<number>, w: ArrayLike<number>, shape: GrnShape): number {
  const { y } = grnForwardRef({ x, gamma, beta }, shape);
  let s = 0;
  for (let i = 0; i < y.length; i++) s += y[i]! * w[i]!;
  return s;
}

function finiteDifferences(values: Float64Array, f: () => number, h: number): Float64Array {
  const out = new Float64Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    values[i] = v + h;
    const up = f();
    values[i] = v - h;
    const down = f();
    values[i] = v;
    out[i] = (up - down) / (2 * h);
  }
  return out;
}

describe('GRN reference backward vs central finite differences', () => {
  const configs: { shape: GrnShape; zeroChannel?: [number, number] }[] = [
    { shape: { N: 2, rowsPerSample: 3, C: 4, mode: 'per-sample' } },
    { shape: { N: 2, rowsPerSample: 3, C: 4, mode: 'batch' } },
    { shape: { N: 1, rowsPerSample: 1, C: 3, mode: 'per-sample' } },
    { shape: { N: 3, rowsPerSample: 2, C: 1, mode: 'per-sample' } },
    // an all-zero channel: G = |perturbation| is even, so central differences see exactly the
    // 0/0 := 0 rule's value there
    { shape: { N: 2, rowsPerSample: 3, C: 4, mode: 'per-sample' }, zeroChannel: [1, 2] },
  ];
  configs.forEach(({ shape, zeroChannel }, k) => {
    it(`${JSON.stringify(shape)}${zeroChannel ? ` zero channel ${zeroChannel[1]} in sample ${zeroChannel[0]}` : ''}`, () => {
      const rng = new Random(100 + k);
      const rows = shape.N * shape.rowsPerSample;
      const { C } = shape;
      const x = Float64Array.from(rng.uniformArray(rows * C));
      if (zeroChannel) {
        const [n, c] = zeroChannel;
        for (let s = 0; s < shape.rowsPerSample; s++) x[(n * shape.rowsPerSample + s) * C + c] = 0;
      }
      const gamma = Float64Array.from(rng.uniformArray(C));
      const beta = Float64Array.from(rng.uniformArray(C));
      const w = Float64Array.from(rng.uniformArray(rows * C));
      const fwd = grnForwardRef({ x, gamma, beta }, shape);
      const bwd = grnBackwardRef({ x, gamma, norm: fwd.norm, gnorm: fwd.gnorm, dY: w }, shape);
      const f = () => loss(x, gamma, beta, w, shape);
      const h = 1e-6;
      // central differences: truncation O(h²) ≈ 1e-12, rounding ~1e-16·|L|/h ≈ 1e-9
      const tol = { atol: 1e-7, rtol: 1e-6 };
      expectAllClose(bwd.dX, finiteDifferences(x, f, h), { ...tol, label: 'dX', shape: [rows, C] });
      expectAllClose(bwd.dGamma, finiteDifferences(gamma, f, h), { ...tol, label: 'dGamma' });
      expectAllClose(bwd.dBeta, finiteDifferences(beta, f, h), { ...tol, label: 'dBeta' });
      for (const v of bwd.dX) expect(Number.isFinite(v)).toBe(true);
    });
  });
});

describe('GRN chunking and FLOP count', () => {
  it('chunks cover every row of a group, at most GRN_MAX_CHUNKS of them', () => {
    for (const groupRows of [1, 7, 16, 17, 64, 3000, 9000, 25088, 25088 * 8]) {
      const { chunkRows, chunks } = grnChunking(groupRows);
      expect(chunks).toBeLessThanOrEqual(GRN_MAX_CHUNKS);
      expect(chunks * chunkRows).toBeGreaterThanOrEqual(groupRows);
      expect((chunks - 1) * chunkRows).toBeLessThan(groupRows);
    }
  });
  it('FLOPs scale with rows·C', () => {
    const s: GrnShape = { N: 2, rowsPerSample: 100, C: 160, mode: 'per-sample' };
    expect(grnFlops(s, 'forward')).toBe(6 * 2 * 100 * 160 + 4 * 2 * 160);
    expect(grnFlops(s, 'backward')).toBe(9 * 2 * 100 * 160 + 8 * 2 * 160);
  });
});
