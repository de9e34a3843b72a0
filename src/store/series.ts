// The chart data path: training metrics live in typed arrays outside React state, smoothed
// with TensorBoard's debiased exponential moving average, and handed to the charts at most
// once per animation frame.
//
// A series has a fixed capacity. When it fills up it halves its resolution (neighbouring pairs
// merged by their mean, steps kept at the later one) instead of dropping the oldest points, so
// a long run still shows from its first step; `stride` says how many steps one stored point
// now covers. Smoothing then uses weight smoothing^stride per stored point, which keeps the
// EMA's time constant in steps (exact while stride is 1).

export const DEFAULT_SERIES_CAPACITY = 1 << 14;

export class SeriesError extends Error {
  override readonly name = 'SeriesError';
}

/**
 * Steps (x) and one or more value columns, append-only, in Float64Arrays of fixed capacity.
 */
export class MetricSeries<Column extends string = string> {
  private readonly capacity: number;
  private readonly xs: Float64Array; // (capacity) step of each point
  private readonly cols: Map<Column, Float64Array>; // (capacity) per column
  private n = 0;
  /** Raw steps merged into the last point so far (0 when the last point is complete). */
  private partial = 0;
  /** Steps per stored point (1, 2, 4, ...). */
  stride = 1;
  /** Bumped on every change (charts redraw when it moved). */
  version = 0;
  /** Bumped when stored points are rewritten (decimation, clear): caches must restart. */
  epoch = 0;

  constructor(
    readonly columns: readonly Column[],
    capacity = DEFAULT_SERIES_CAPACITY,
  ) {
    if (!Number.isInteger(capacity) || capacity < 4 || capacity % 2 !== 0) throw new SeriesError(`series capacity ${capacity} must be an even integer ≥ 4`);
    if (columns.length === 0) throw new SeriesError('a series needs at least one value column');
    this.capacity = capacity;
    this.xs = new Float64Array(capacity);
    this.cols = new Map(columns.map((c) => [c, new Float64Array(capacity)]));
  }

  get length(): number {
    return this.n;
  }

  /** Append one step's values (in `columns` order, or by name). Steps must increase. */
  push(step: number, values: readonly number[] | Readonly<Record<Column, number>>): void {
    if (this.n > 0 && !(step > this.xs[this.n - 1]!)) throw new SeriesError(`step ${step} is not after the last step ${this.xs[this.n - 1]}`);
    const get = Array.isArray(values) ? (i: number) => (values as readonly number[])[i]! : (i: number) => (values as Record<Column, number>)[this.columns[i]!];
    if (this.partial > 0) {
      // merge into the provisional last point: running mean of its raw steps
      const i = this.n - 1;
      const k = this.partial;
      this.xs[i] = step;
      this.columns.forEach((c, j) => {
        const col = this.cols.get(c)!;
        col[i] = (col[i]! * k + get(j)) / (k + 1);
      });
      this.partial = k + 1 === this.stride ? 0 : k + 1;
    } else {
      if (this.n === this.capacity) this.decimate();
      const i = this.n++;
      this.xs[i] = step;
      this.columns.forEach((c, j) => {
        this.cols.get(c)![i] = get(j);
      });
      this.partial = this.stride > 1 ? 1 : 0;
    }
    this.version++;
  }

  /** Halve the resolution: pairs (2i, 2i+1) → point i. */
  private decimate(): void {
    const half = this.n / 2;
    for (let i = 0; i < half; i++) {
      this.xs[i] = this.xs[2 * i + 1]!;
      for (const col of this.cols.values()) col[i] = (col[2 * i]! + col[2 * i + 1]!) / 2;
    }
    this.n = half;
    this.stride *= 2;
    this.epoch++;
  }

  /** Steps of the stored points (a view, valid until the next push). */
  x(): Float64Array {
    return this.xs.subarray(0, this.n);
  }

  column(name: Column): Float64Array {
    const col = this.cols.get(name);
    if (!col) throw new SeriesError(`no column '${name}' (columns: ${this.columns.join(', ')})`);
    return col.subarray(0, this.n);
  }

  /** The last stored value of a column, or NaN when empty. */
  last(name: Column): number {
    return this.n > 0 ? this.column(name)[this.n - 1]! : NaN;
  }

  /**
   * Drop the points after `step` (weights were restored to it after a run error). On a
   * decimated series a kept point may still average in a few dropped raw steps.
   */
  truncateAfter(step: number): void {
    let n = this.n;
    while (n > 0 && this.xs[n - 1]! > step) n--;
    if (n === this.n) return;
    this.n = n;
    this.partial = 0;
    this.version++;
    this.epoch++;
  }

  clear(): void {
    this.n = 0;
    this.partial = 0;
    this.stride = 1;
    this.version++;
    this.epoch++;
  }

  /** Plain arrays for export (copies). */
  toJSON(): { step: number[] } & Record<Column, number[]> {
    const out: Record<string, number[]> = { step: Array.from(this.x()) };
    for (const c of this.columns) out[c] = Array.from(this.column(c));
    return out as { step: number[] } & Record<Column, number[]>;
  }
}

/**
 * TensorBoard's debiased EMA: last = last·w + (1 − w)·v, shown as last / (1 − w^k) after k
 * finite values. Non-finite values pass through unsmoothed and do not enter the average.
 */
export function debiasedEma(values: ArrayLike<number>, smoothing: number, out: Float64Array = new Float64Array(values.length)): Float64Array {
  if (!(smoothing >= 0 && smoothing < 1)) throw new SeriesError(`smoothing ${smoothing} must be in [0, 1)`);
  const state = { last: 0, debias: 1 };
  for (let i = 0; i < values.length; i++) out[i] = emaStep(state, values[i]!, smoothing);
  return out;
}

/**
 * The first step (1-based index into `losses`) at which the debiased EMA of the loss is `fall`
 * (a fraction) below the first loss, or null if it never gets there: how soon a run visibly
 * learns (scripts/quick-look-steps.ts, README "Defaults that visibly learn").
 */
export function stepsToFall(losses: ArrayLike<number>, fall: number, smoothing = 0.9): number | null {
  if (losses.length === 0) return null;
  const smooth = debiasedEma(losses, smoothing);
  const target = losses[0]! * (1 - fall);
  const i = smooth.findIndex((v) => v <= target);
  return i < 0 ? null : i + 1;
}

interface EmaState {
  last: number;
  /** Product of the weights so far: the debiasing divisor is 1 − this. */
  debias: number;
}

function emaStep(s: EmaState, v: number, w: number): number {
  if (!Number.isFinite(v)) return v;
  s.last = s.last * w + (1 - w) * v;
  s.debias *= w;
  // w = 0 gives debias 0 and the raw value, as it should
  return s.last / (1 - s.debias);
}

/**
 * An incrementally maintained smoothed copy of one column: `update()` costs O(new points),
 * and a full recompute happens only when smoothing changes or the series was decimated.
 */
export class SmoothedColumn<Column extends string> {
  private out = new Float64Array(16);
  /** Points [0, committed) are final and folded into `state`; the last point may still change. */
  private committed = 0;
  private state: EmaState = { last: 0, debias: 1 };
  private epoch = -1;
  private smoothing = NaN;

  constructor(
    readonly series: MetricSeries<Column>,
    readonly column: Column,
  ) {}

  /** Smoothed values for the series' current points (a view, valid until the next update). */
  update(smoothing: number): Float64Array {
    if (!(smoothing >= 0 && smoothing < 1)) throw new SeriesError(`smoothing ${smoothing} must be in [0, 1)`);
    const s = this.series;
    const n = s.length;
    if (this.epoch !== s.epoch || this.smoothing !== smoothing) {
      this.committed = 0;
      this.state = { last: 0, debias: 1 };
      this.epoch = s.epoch;
      this.smoothing = smoothing;
    }
    if (n === 0) return this.out.subarray(0, 0);
    if (this.out.length < n) {
      const grown = new Float64Array(Math.max(n, this.out.length * 2));
      grown.set(this.out.subarray(0, this.committed));
      this.out = grown;
    }
    const values = s.column(this.column);
    const w = smoothing ** s.stride;
    // Every point but the last is final (only the last merges further raw steps).
    for (let i = this.committed; i < n - 1; i++) this.out[i] = emaStep(this.state, values[i]!, w);
    this.committed = n - 1;
    this.out[n - 1] = emaStep({ ...this.state }, values[n - 1]!, w);
    return this.out.subarray(0, n);
  }
}

/** Runs a callback at most once per animation frame, however often it is requested. */
export class FrameScheduler {
  private pending = false;

  constructor(
    private readonly callback: () => void,
    private readonly requestFrame: (cb: () => void) => unknown = (cb) => requestAnimationFrame(() => cb()),
  ) {}

  request(): void {
    if (this.pending) return;
    this.pending = true;
    this.requestFrame(() => {
      this.pending = false;
      this.callback();
    });
  }
}
