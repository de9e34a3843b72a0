// FCMAE mask generation: exact kept counts, determinism per seed, stable argsort of the
// noise, validation messages, and that every patch is equally likely to stay visible.
import { describe, expect, it } from 'vitest';
import { MaskError } from '../../../src/ops/sparse-layout.ts';
import { generateMasks, keptCount, largestMaskRatio, maskRatioOf } from '../../../src/train/masking.ts';
import { Random } from '../../../src/util/random.ts';

/** A Random whose normal() replays fixed values: to test ties in the argsort. */
class ScriptedNormals extends Random {
  private i = 0;
  constructor(private readonly values: number[]) {
    super(0);
  }
  override normal(): number {
    const v = this.values[this.i % this.values.length]!;
    this.i++;
    return v;
  }
}

function visibleCounts(mask: Float32Array, N: number, L: number): number[] {
  return Array.from({ length: N }, (_, n) => mask.subarray(n * L, (n + 1) * L).reduce((s, x) => s + (x === 0 ? 1 : 0), 0));
}

/** Pearson statistic of how often each patch stays visible over N samples that each keep `keep`. */
function visibilityChiSquare(mask: Float32Array, N: number, L: number, keep: number): number {
  const expected = (N * keep) / L;
  let chi = 0;
  for (let l = 0; l < L; l++) {
    let kept = 0;
    for (let n = 0; n < N; n++) if (mask[n * L + l] === 0) kept++;
    chi += (kept - expected) ** 2 / expected;
  }
  return chi;
}

describe('keptCount', () => {
  it('floor(L·(1 − ratio)) as the official code', () => {
    expect(keptCount(49, 0.6)).toBe(19);
    expect(keptCount(49, 0)).toBe(49);
    expect(keptCount(4, 0.75)).toBe(1);
    expect(keptCount(196, 0.6)).toBe(78); // 78.4
    expect(keptCount(9, 0.5)).toBe(4); // 4.5
    // Double rounding kept as in Python: 5·(1 − 0.8) = 0.9999999999999998.
    expect(() => keptCount(5, 0.8)).toThrow(MaskError);
  });

  it('specific errors for unusable ratios and grids', () => {
    expect(() => keptCount(49, 1)).toThrow(/mask ratio 1 must be < 1.*largest usable ratio for L = 49 is 0\.9795 \(keeps 1 patch\)/);
    expect(() => keptCount(49, 0.99)).toThrow(/keeps floor\(49·\(1 − 0\.99\)\) = 0 of 49 patches.*largest usable ratio for L = 49 is 0\.9795/);
    expect(() => keptCount(49, -0.1)).toThrow(/mask ratio -0\.1 is out of range: the smallest usable ratio is 0/);
    expect(() => keptCount(49, Number.NaN)).toThrow(/mask ratio NaN/);
    expect(() => keptCount(1, 0.5)).toThrow(/L = 1 is 0.*only ratio 0 works: use a larger input/);
    expect(() => keptCount(0, 0.5)).toThrow(/patch count L = 0 must be a positive integer/);
    expect(() => keptCount(4.5, 0.5)).toThrow(/patch count L = 4.5/);
  });

  it('largestMaskRatio keeps exactly one patch, and 1e-4 more keeps none', () => {
    for (let L = 1; L <= 300; L++) {
      const r = largestMaskRatio(L);
      if (L === 1) {
        expect(r).toBe(0);
        continue;
      }
      expect(keptCount(L, r)).toBe(1);
      expect(() => keptCount(L, r + 1e-4)).toThrow(MaskError);
    }
    expect(largestMaskRatio(5)).toBe(0.7999);
  });
});

describe('generateMasks', () => {
  it('exactly the given visible count per sample, entries 0 or 1', () => {
    const N = 6;
    const L = 49;
    const mask = generateMasks(N, L, 19, new Random(1));
    expect(mask.length).toBe(N * L);
    expect(mask.every((x) => x === 0 || x === 1)).toBe(true);
    expect(visibleCounts(mask, N, L)).toEqual(Array(N).fill(19));
    const m2 = generateMasks(3, 12, 6, new Random(2));
    expect(visibleCounts(m2, 3, 12)).toEqual([6, 6, 6]);
  });

  it('same seed gives the same masks; samples and seeds differ', () => {
    const a = generateMasks(8, 49, 19, new Random(42));
    const b = generateMasks(8, 49, 19, new Random(42));
    const c = generateMasks(8, 49, 19, new Random(43));
    expect(Array.from(a)).toEqual(Array.from(b));
    expect(Array.from(a)).not.toEqual(Array.from(c));
    const rows = new Set(Array.from({ length: 8 }, (_, n) => a.subarray(n * 49, (n + 1) * 49).join('')));
    expect(rows.size).toBe(8); // C(49, 19) ≈ 2.9e12 choices: a repeat means samples share noise
  });

  it('V = L (ratio 0) keeps every patch visible', () => {
    const mask = generateMasks(3, 16, 16, new Random(5));
    expect(Array.from(mask)).toEqual(Array(48).fill(0));
  });

  it('keeps the patches with the smallest noise, ties broken by patch index (stable argsort)', () => {
    // noise per patch:   0    1    2    3    4    5
    const noise = [0.5, -1, 0.5, 2, -1, 0.5];
    // order: 1, 4 (−1 tie → index order), 0, 2, 5 (0.5 ties), 3.
    expect(Array.from(generateMasks(1, 6, 1, new ScriptedNormals(noise)))).toEqual([1, 0, 1, 1, 1, 1]); // keep 1
    expect(Array.from(generateMasks(1, 6, 2, new ScriptedNormals(noise)))).toEqual([1, 0, 1, 1, 0, 1]); // keep 2
    expect(Array.from(generateMasks(1, 6, 3, new ScriptedNormals(noise)))).toEqual([0, 0, 1, 1, 0, 1]); // keep 3
    expect(Array.from(generateMasks(1, 6, 4, new ScriptedNormals(noise)))).toEqual([0, 0, 0, 1, 0, 1]); // keep 4
    // Samples draw consecutive noise: sample 1 gets the next L values (keep 1 of 3 each).
    const two = generateMasks(2, 3, 1, new ScriptedNormals([3, 1, 2, 0, 5, 4]));
    expect(Array.from(two)).toEqual([1, 0, 1, 0, 1, 1]);
  });

  it('validates N and the visible count', () => {
    expect(() => generateMasks(0, 49, 19, new Random(1))).toThrow(/batch size N = 0 must be a positive integer/);
    expect(() => generateMasks(2.5, 49, 19, new Random(1))).toThrow(/batch size N = 2\.5/);
    for (const bad of [0, 50, 2.5, -1, NaN]) expect(() => generateMasks(2, 49, bad, new Random(1))).toThrow(/visible patches .* must be an integer in 1\.\.49/);
  });

  it('every count 1..L works, including counts whose ratio 1 − V/L does not round-trip through floor', () => {
    let lossy = 0;
    for (const L of [4, 9, 16, 25, 49]) {
      for (let V = 1; V <= L; V++) {
        expect(visibleCounts(generateMasks(2, L, V, new Random(V)), 2, L)).toEqual([V, V]);
        expect(maskRatioOf(L, V)).toBeCloseTo(1 - V / L, 15);
        if (Math.floor(L * (1 - maskRatioOf(L, V))) !== V) lossy++;
      }
    }
    expect(Math.floor(9 * (1 - maskRatioOf(9, 3)))).toBe(2); // the bug this key avoids
    expect(lossy).toBeGreaterThan(5);
  });

  it('every patch is equally likely to stay visible (chi-square over 4000 samples)', () => {
    const N = 4000;
    const L = 49;
    const keep = keptCount(L, 0.6);
    const chi = visibilityChiSquare(generateMasks(N, L, keep, new Random(7)), N, L, keep);
    // 48 degrees of freedom (slightly less spread: samples draw without replacement): mean
    // ≈ 48·(1 − keep/L), P(χ² > 100) < 1e-5. A bias toward early patches is far above.
    expect(chi).toBeLessThan(100);
    // The statistic has power: masks that keep the first patches in 1 sample of 25 fail it.
    const biased = generateMasks(N, L, keep, new Random(7));
    for (let n = 0; n < N; n += 25) biased.subarray(n * L, (n + 1) * L).forEach((_, l, row) => (row[l] = l < keep ? 0 : 1));
    expect(visibilityChiSquare(biased, N, L, keep)).toBeGreaterThan(100);
  });
});
