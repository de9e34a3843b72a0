// Known-good weights of the run, to fall back on when a step fails (a non-finite loss, a GPU
// error, a lost device). The weights after step k are captured inside step k's submission and
// become "good" only once step k + 1's loss comes back finite: a snapshot is promoted by the
// run's progress, never by its own arrival. A reset (new run, restore) discards captures still
// in flight, so a late read-back of an old run can never become the new run's fallback.
import type { TrainerState } from '../train/trainer.ts';

/** A capture encoded in a step's submission, filled once its read-back arrives. */
export interface PendingSnapshot {
  step: number;
  generation: number;
  data: TrainerState | null;
}

function allFinite(a: Float32Array | null): boolean {
  if (!a) return true;
  for (let i = 0; i < a.length; i++) if (!Number.isFinite(a[i]!)) return false;
  return true;
}

export class SnapshotStore {
  private goodState: TrainerState | null = null;
  private pending: PendingSnapshot[] = [];
  private generation = 0;

  /** The latest weights known to give a finite loss (null before the first run). */
  get good(): TrainerState | null {
    return this.goodState;
  }

  /** A new run (or a restore) starts from `state`: captures in flight are forgotten. */
  reset(state: TrainerState | null): void {
    this.generation++;
    this.goodState = state;
    this.pending = [];
  }

  /** Whether step `step`'s weights are good or being captured. */
  has(step: number): boolean {
    return this.goodState?.step === step || this.pending.some((s) => s.step === step);
  }

  /** Registers a capture of the weights after step `step` (encoded in that step's submission). */
  expect(step: number): PendingSnapshot {
    const entry: PendingSnapshot = { step, generation: this.generation, data: null };
    this.pending.push(entry);
    return entry;
  }

  /** The capture's read-back arrived; ignored when the run was reset meanwhile. */
  fulfil(entry: PendingSnapshot, state: TrainerState, completed: number): void {
    if (entry.generation !== this.generation) return;
    entry.data = { ...state, step: entry.step };
    this.promote(completed);
  }

  /** The capture's read-back failed: forget it. */
  drop(entry: PendingSnapshot): void {
    this.pending = this.pending.filter((s) => s !== entry);
  }

  /**
   * Steps up to `completed` have finite losses: the newest capture before that becomes good
   * (when its own values are finite); older ones are dropped.
   */
  promote(completed: number): void {
    let best: PendingSnapshot | null = null;
    for (const s of this.pending) if (s.data && completed > s.step && (!best || s.step > best.step)) best = s;
    if (!best) return;
    this.pending = this.pending.filter((s) => s.step > best.step);
    const d = best.data!;
    if (allFinite(d.params) && allFinite(d.m) && allFinite(d.v)) this.goodState = d;
  }

  /** After a failure: promote what the finished steps vouch for, then forget the rest. */
  settle(completed: number): void {
    this.promote(completed);
    this.pending = [];
  }
}
