// Summary statistics of benchmark samples: the median is the figure we report (robust to the
// odd slow repetition a shared machine produces), the spread says how far to trust it.
// Quantiles use linear interpolation between order statistics (numpy's default 'linear'),
// so the median of an even count is the mean of the two middle samples.

export interface Summary {
  /** Samples summarised. */
  n: number;
  median: number;
  mean: number;
  min: number;
  max: number;
  /** 10th and 90th percentiles. */
  p10: number;
  p90: number;
  /** Sample standard deviation (n − 1); 0 for a single sample. */
  stdev: number;
  /** Median absolute deviation from the median (unscaled). */
  mad: number;
  /** (p90 − p10) / median: the relative spread printed next to a median; 0 when the median is 0. */
  relSpread: number;
}

export class EmptySampleError extends Error {
  override readonly name = 'EmptySampleError';
}

function checked(samples: readonly number[], what: string): number[] {
  if (samples.length === 0) throw new EmptySampleError(`${what}: no samples`);
  samples.forEach((v, i) => {
    if (!Number.isFinite(v)) throw new RangeError(`${what}: sample ${i} is ${v}`);
  });
  return [...samples].sort((a, b) => a - b);
}

/** The q-quantile (0 ≤ q ≤ 1) of ascending `sorted`, linear interpolation. */
function quantileSorted(sorted: readonly number[], q: number): number {
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  const a = sorted[lo]!;
  const b = sorted[hi]!;
  return a + (b - a) * (pos - lo);
}

export function quantile(samples: readonly number[], q: number): number {
  if (!(q >= 0 && q <= 1)) throw new RangeError(`quantile: q = ${q} must be in [0, 1]`);
  return quantileSorted(checked(samples, 'quantile'), q);
}

export function median(samples: readonly number[]): number {
  return quantileSorted(checked(samples, 'median'), 0.5);
}

export function summarize(samples: readonly number[]): Summary {
  const sorted = checked(samples, 'summarize');
  const n = sorted.length;
  const med = quantileSorted(sorted, 0.5);
  const mean = sorted.reduce((a, b) => a + b, 0) / n;
  const variance = n > 1 ? sorted.reduce((a, v) => a + (v - mean) ** 2, 0) / (n - 1) : 0;
  const deviations = sorted.map((v) => Math.abs(v - med)).sort((a, b) => a - b);
  const p10 = quantileSorted(sorted, 0.1);
  const p90 = quantileSorted(sorted, 0.9);
  return {
    n,
    median: med,
    mean,
    min: sorted[0]!,
    max: sorted[n - 1]!,
    p10,
    p90,
    stdev: Math.sqrt(variance),
    mad: quantileSorted(deviations, 0.5),
    relSpread: med === 0 ? 0 : (p90 - p10) / med,
  };
}

/**
 * Repetitions to time after a first measurement of `firstMs`: enough to fill `budgetMs`, at
 * least `min` and at most `max` (a kernel of 5 µs on a real GPU gets many, a 4-s SwiftShader
 * matmul the minimum).
 */
export function repetitionsFor(firstMs: number, budgetMs: number, min: number, max: number): number {
  if (!(min >= 1 && max >= min)) throw new RangeError(`repetitionsFor: need 1 ≤ min ≤ max (got ${min}, ${max})`);
  if (!(firstMs > 0) || !Number.isFinite(firstMs)) return max;
  return Math.max(min, Math.min(max, Math.floor(budgetMs / firstMs)));
}

/** Throughput in units per second from a count of units and a time in ms, scaled by 1e9 (GFLOP/s, GB/s). */
export function gigaPerSecond(units: number, ms: number): number {
  return ms > 0 ? units / ms / 1e6 : 0;
}
