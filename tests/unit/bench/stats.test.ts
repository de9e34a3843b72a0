// Benchmark statistics against numpy (np.median, np.percentile with its default linear
// interpolation, np.std(ddof=1)); values computed once with numpy 1.24 and written here.
import { describe, expect, it } from 'vitest';
import { EmptySampleError, gigaPerSecond, median, quantile, repetitionsFor, summarize } from '../../../src/bench/stats.ts';
import { expectAllClose } from '../../helpers/allclose.ts';

// Float64 arithmetic on a handful of samples: only rounding of the last bits can differ.
const TOL = { atol: 1e-12, rtol: 1e-12 };

describe('summarize', () => {
  it('matches numpy on an odd count with an outlier', () => {
    const s = summarize([7.5, 1.25, 3.0, 9.0, 4.5, 2.0, 100.0]);
    const got = [s.median, s.mean, s.p10, s.p90, s.stdev, s.mad, s.min, s.max, s.n];
    const want = [4.5, 18.178571428571427, 1.7000000000000002, 45.400000000000034, 36.191249600131904, 3.0, 1.25, 100, 7];
    expectAllClose(got, want, { ...TOL, label: 'median,mean,p10,p90,stdev,mad,min,max,n' });
    expect(s.relSpread).toBeCloseTo((45.400000000000034 - 1.7000000000000002) / 4.5, 12);
  });

  it('interpolates the median and quantiles of an even count like numpy', () => {
    const y = [4, 1, 3, 2];
    expectAllClose([median(y), quantile(y, 0.1), quantile(y, 0.9), quantile(y, 0.25)], [2.5, 1.3, 3.7, 1.75], { ...TOL, label: 'median,p10,p90,q25' });
  });

  it('gives zero spread for one sample and leaves the input unsorted', () => {
    const one = [3.25];
    const s = summarize(one);
    expect([s.median, s.p10, s.p90, s.stdev, s.mad, s.relSpread]).toEqual([3.25, 3.25, 3.25, 0, 0, 0]);
    const xs = [3, 1, 2];
    summarize(xs);
    expect(xs).toEqual([3, 1, 2]);
  });

  it('rejects empty and non-finite samples by name', () => {
    expect(() => summarize([])).toThrow(EmptySampleError);
    expect(() => median([1, Number.NaN])).toThrow(/sample 1 is NaN/);
    expect(() => quantile([1, 2], 1.5)).toThrow(/q = 1.5/);
  });
});

describe('repetitionsFor', () => {
  it('fills the budget within [min, max]', () => {
    expect(repetitionsFor(10, 1000, 3, 30)).toBe(30); // 100 would fit: capped
    expect(repetitionsFor(100, 1000, 3, 30)).toBe(10);
    expect(repetitionsFor(4000, 1000, 3, 30)).toBe(3); // a slow call still gets the minimum
    expect(repetitionsFor(0, 1000, 3, 30)).toBe(30);
    expect(() => repetitionsFor(1, 1, 0, 3)).toThrow(/min/);
  });
});

describe('gigaPerSecond', () => {
  it('turns a count per ms into giga-units per second', () => {
    // 2·1024³ FLOPs in 4295 ms is 0.5 GFLOP/s
    expect(gigaPerSecond(2 * 1024 ** 3, 4294.967296)).toBeCloseTo(0.5, 12);
    expect(gigaPerSecond(1e9, 0)).toBe(0);
  });
});
