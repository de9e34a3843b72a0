// Live training metrics outside React: the worker's metric batches go into typed-array series
// here; once per animation frame the charts redraw from them (subscribers) and the store gets
// one summary (last step, smoothed loss, pace) for the transport bar and the status region.
import { FrameScheduler, MetricSeries, SmoothedColumn } from './series.ts';
import type { MetricsSummary } from './training-slice.ts';

export const METRIC_COLUMNS = ['loss', 'lr', 'imagesPerSec', 'stepMs', 'wallMs'] as const;
export type MetricColumn = (typeof METRIC_COLUMNS)[number];

export interface MetricPoint {
  step: number;
  loss: number;
  lr: number;
  imagesPerSec: number;
  stepMs: number;
  /** Milliseconds since the run's first step was submitted. */
  wallMs: number;
}

/** Points averaged for the pace shown (images/s, step time, ETA): steadier than the last step. */
const PACE_WINDOW = 20;

export interface LiveMetricsOptions {
  /** Receives one summary per frame in which new points arrived. */
  onSummary?: (s: MetricsSummary) => void;
  /** Smoothing used for the summary's smoothed loss. */
  smoothing?: () => number;
  requestFrame?: (cb: () => void) => unknown;
  capacity?: number;
}

export class LiveMetrics {
  readonly series: MetricSeries<MetricColumn>;
  private readonly smoothed: SmoothedColumn<MetricColumn>;
  private readonly listeners = new Set<() => void>();
  private readonly scheduler: FrameScheduler;
  private dirty = false;

  constructor(private readonly options: LiveMetricsOptions = {}) {
    this.series = new MetricSeries(METRIC_COLUMNS, options.capacity);
    this.smoothed = new SmoothedColumn(this.series, 'loss');
    this.scheduler = new FrameScheduler(() => this.frame(), options.requestFrame);
  }

  /** Append a batch of points (increasing steps); repaint is scheduled for the next frame. */
  push(points: readonly MetricPoint[]): void {
    if (points.length === 0) return;
    for (const p of points) this.series.push(p.step, [p.loss, p.lr, p.imagesPerSec, p.stepMs, p.wallMs]);
    this.dirty = true;
    this.scheduler.request();
  }

  /** Smoothed loss for the series' points (a view, valid until the next push). */
  smoothedLoss(smoothing: number): Float64Array {
    return this.smoothed.update(smoothing);
  }

  /** Called once per frame after new points (and after reset); returns the unsubscribe. */
  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Ask subscribers to redraw (e.g. the smoothing changed) on the next frame. */
  invalidate(): void {
    this.dirty = true;
    this.scheduler.request();
  }

  /** Forget the points after `step` (a run error restored older weights). */
  truncateAfter(step: number): void {
    const before = this.series.length;
    this.series.truncateAfter(step);
    if (this.series.length !== before) this.invalidate();
  }

  reset(): void {
    this.series.clear();
    this.invalidate();
  }

  /** The last step recorded (0 when empty). */
  get lastStep(): number {
    return this.series.length > 0 ? this.series.x()[this.series.length - 1]! : 0;
  }

  summary(smoothing: number): MetricsSummary | null {
    const n = this.series.length;
    if (n === 0) return null;
    const mean = (c: MetricColumn) => {
      const v = this.series.column(c);
      const from = Math.max(0, n - PACE_WINDOW);
      let s = 0;
      for (let i = from; i < n; i++) s += v[i]!;
      return s / (n - from);
    };
    const sm = this.smoothedLoss(smoothing);
    return {
      step: this.series.x()[n - 1]!,
      loss: this.series.last('loss'),
      smoothedLoss: sm[n - 1]!,
      lr: this.series.last('lr'),
      imagesPerSec: mean('imagesPerSec'),
      stepMs: mean('stepMs'),
    };
  }

  private frame(): void {
    if (!this.dirty) return;
    this.dirty = false;
    const s = this.summary(this.options.smoothing?.() ?? 0.9);
    if (s && this.options.onSummary) this.options.onSummary(s);
    for (const l of this.listeners) l();
  }
}
