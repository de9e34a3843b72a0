// Step metrics collected in the worker and sent to the page in batches: one message per
// `intervalMs` at most (a step on a real GPU can take 20 ms; one comlink message per step would
// flood the page), as columns of typed arrays whose buffers are transferred. The batcher never
// drops a step: rows wait until the next flush. Phase timings (timestamp queries) travel in the
// same batch for the steps that were profiled. Pure: the worker supplies the clock.
import type { MetricsBatch, PhaseTimings, StepRecord } from './protocol.ts';

export const DEFAULT_METRICS_INTERVAL_MS = 250;

export class MetricsBatcher {
  private rows: StepRecord[] = [];
  private phaseNames: string[] | null = null;
  private phaseRows: { step: number; ms: Float32Array }[] = [];
  private lastFlush = -Infinity;

  constructor(readonly intervalMs = DEFAULT_METRICS_INTERVAL_MS) {}

  push(record: StepRecord): void {
    // A new run starts a new batch: rows of two runs never share one.
    if (this.rows.length && this.rows[0]!.runId !== record.runId) this.rows = [];
    this.rows.push(record);
  }

  /** GPU ms per phase of a profiled step (names fixed until the next set of names). */
  pushPhases(step: number, names: string[], ms: Float32Array): void {
    if (ms.length !== names.length) throw new RangeError(`phase timings: ${ms.length} values for ${names.length} phases`);
    if (!this.phaseNames || this.phaseNames.join('\n') !== names.join('\n')) {
      this.phaseNames = [...names];
      this.phaseRows = [];
    }
    this.phaseRows.push({ step, ms });
  }

  get pending(): number {
    return this.rows.length;
  }

  /** Milliseconds until a flush is allowed (0 = now). */
  delayUntilDue(now: number): number {
    return Math.max(0, this.lastFlush + this.intervalMs - now);
  }

  /** A batch when rows are waiting and the interval has passed (or `force`), else null. */
  take(now: number, force = false): MetricsBatch | null {
    if (this.rows.length === 0) return null;
    if (!force && now - this.lastFlush < this.intervalMs) return null;
    this.lastFlush = now;
    const rows = this.rows;
    this.rows = [];
    const n = rows.length;
    const batch: MetricsBatch = {
      runId: rows[0]!.runId,
      count: n,
      step: new Uint32Array(n),
      loss: new Float32Array(n),
      lr: new Float32Array(n),
      imagesPerSec: new Float32Array(n),
      stepMs: new Float32Array(n),
      wallMs: new Float64Array(n),
      phases: null,
    };
    rows.forEach((r, i) => {
      batch.step[i] = r.step;
      batch.loss[i] = r.loss;
      batch.lr[i] = r.lr;
      batch.imagesPerSec[i] = r.imagesPerSec;
      batch.stepMs[i] = r.stepMs;
      batch.wallMs[i] = r.wallMs;
    });
    if (this.phaseNames && this.phaseRows.length) {
      const P = this.phaseNames.length;
      const phases: PhaseTimings = { names: [...this.phaseNames], step: new Uint32Array(this.phaseRows.length), ms: new Float32Array(this.phaseRows.length * P) };
      this.phaseRows.forEach((r, i) => {
        phases.step[i] = r.step;
        phases.ms.set(r.ms, i * P);
      });
      batch.phases = phases;
      this.phaseRows = [];
    }
    return batch;
  }
}

/** The buffers of a batch, for Comlink.transfer. */
export function batchTransferables(b: MetricsBatch): ArrayBuffer[] {
  const arrays: ArrayBufferView[] = [b.step, b.loss, b.lr, b.imagesPerSec, b.stepMs, b.wallMs];
  if (b.phases) arrays.push(b.phases.step, b.phases.ms);
  return arrays.map((a) => a.buffer as ArrayBuffer);
}

/**
 * Per-step timing figures from wall-clock marks: the GPU-bound time of step k is measured from
 * the later of its submission and the previous step's completion (with two steps in flight a
 * step waits for its predecessor), and images/s from the gap between completions.
 */
export function stepTimings(m: { submittedAt: number; doneAt: number; previousDoneAt: number | null; batchSize: number }): { stepMs: number; imagesPerSec: number } {
  const start = m.previousDoneAt === null ? m.submittedAt : Math.max(m.submittedAt, m.previousDoneAt);
  const stepMs = Math.max(0, m.doneAt - start);
  const gap = m.previousDoneAt === null ? m.doneAt - m.submittedAt : m.doneAt - m.previousDoneAt;
  return { stepMs, imagesPerSec: gap > 0 ? (m.batchSize * 1000) / gap : 0 };
}
