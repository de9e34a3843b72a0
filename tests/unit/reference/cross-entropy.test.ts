// The float64 cross-entropy reference (src/reference/cross-entropy.ts) against PyTorch
// (F.cross_entropy with label_smoothing, tests/reference/gen_cross_entropy.py: loss,
// reduction='none' and the autograd gradient), against central differences, and the
// documented handling of labels outside [0, K).
import { describe, expect, it } from 'vitest';
import { crossEntropyRef } from '../../../src/reference/cross-entropy.ts';
import { Random } from '../../../src/util/random.ts';
import { expectAllClose } from '../../helpers/allclose.ts';
import { loadFixture } from '../../helpers/fixtures.ts';

interface Case {
  name: string;
  N: number;
  K: number;
  smoothing: number;
}

const fixture = loadFixture('ops/cross_entropy');
const cases = fixture.meta.cases as Case[];

describe('cross-entropy reference vs PyTorch fixture', () => {
  it('fixture covers ε = 0, 0.1, 0.2 and K = 1, 3, 7, 1000', () => {
    expect(new Set(cases.map((c) => c.smoothing))).toEqual(new Set([0, 0.1, 0.2]));
    expect(new Set(cases.map((c) => c.K))).toEqual(new Set([1, 3, 7, 1000]));
  });

  for (const c of cases) {
    it(`${c.name}: N=${c.N} K=${c.K} ε=${c.smoothing}`, () => {
      const t = (k: string) => fixture.get(`${c.name}.${k}`).data;
      const got = crossEntropyRef(t('logits'), t('labels'), c.N, c.K, c.smoothing);
      // float64 both sides; logits reach ~600, so the lse's last bits are ~1e-13 absolute.
      expectAllClose([got.loss], t('loss'), { atol: 1e-12, rtol: 1e-12, label: `loss ${c.name}` });
      expectAllClose(got.perSample, t('perSample'), { atol: 1e-12, rtol: 1e-12, label: `perSample ${c.name}` });
      expectAllClose(got.dLogits, t('dLogits'), { atol: 1e-15, rtol: 1e-10, label: `dLogits ${c.name}`, shape: [c.N, c.K] });
    });
  }
});

describe('cross-entropy reference gradient vs central differences', () => {
  for (const [N, K, smoothing] of [
    [3, 5, 0.2],
    [2, 40, 0],
  ] as const) {
    it(`N=${N} K=${K} ε=${smoothing}, with a gradient scale`, () => {
      const rng = new Random(N * 100 + K);
      const logits = Float64Array.from(rng.uniformArray(N * K, -3, 3));
      const labels = Array.from({ length: N }, () => rng.int(K));
      const scale = 0.5;
      const { dLogits } = crossEntropyRef(logits, labels, N, K, smoothing, scale);
      const h = 1e-5;
      const fd = new Float64Array(N * K);
      for (let i = 0; i < N * K; i++) {
        const v = logits[i]!;
        logits[i] = v + h;
        const up = crossEntropyRef(logits, labels, N, K, smoothing).loss;
        logits[i] = v - h;
        const down = crossEntropyRef(logits, labels, N, K, smoothing).loss;
        logits[i] = v;
        fd[i] = (scale * (up - down)) / (2 * h);
      }
      // Central differences: O(h²) truncation and ~1e-16/h rounding.
      expectAllClose(dLogits, fd, { atol: 1e-9, rtol: 1e-6, label: 'dLogits vs finite differences', shape: [N, K] });
    });
  }
});

describe('cross-entropy reference edge cases', () => {
  it('K = 1: loss 0 and gradient 0 for any ε', () => {
    const r = crossEntropyRef([3, -2], [0, 0], 2, 1, 0.2);
    expect(r.loss).toBe(0);
    expect([...r.perSample]).toEqual([0, 0]);
    for (const d of r.dLogits) expect(Math.abs(d)).toBeLessThan(1e-16);
  });

  it('a label outside [0, K) contributes loss 0 and a zero gradient row, the others keep 1/N', () => {
    const logits = [1, 2, 3, /* n=1 */ 0.5, -1, 2, /* n=2 */ 4, 0, 0];
    const good = crossEntropyRef(logits.slice(0, 3), [2], 1, 3, 0.1);
    const r = crossEntropyRef(logits, [2, -1, 3], 3, 3, 0.1);
    expect(r.perSample[0]).toBeCloseTo(good.perSample[0]!, 14);
    expect([r.perSample[1], r.perSample[2]]).toEqual([0, 0]);
    expect(r.loss).toBeCloseTo(good.loss / 3, 14);
    expectAllClose(r.dLogits.slice(0, 3), good.dLogits.map((d) => d / 3), { atol: 1e-16, rtol: 1e-14, label: 'valid row' });
    expect([...r.dLogits.slice(3)]).toEqual([0, 0, 0, 0, 0, 0]);
  });

  it('rejects smoothing outside [0, 1)', () => {
    expect(() => crossEntropyRef([0, 0], [0], 1, 2, 1)).toThrow(/smoothing 1/);
    expect(() => crossEntropyRef([0, 0], [0], 1, 2, -0.1)).toThrow(/smoothing -0.1/);
  });
});
