// Known-good weights of the run, to fall back on when a step fails (a non-finite loss, a GPU
// error, a lost device). The weights after step k are captured inside step k's submission and
// become "good" only once step k + 1's loss comes back finite: a snapshot is promoted by the
// run's progress, never by its own arrival. A reset (new run, restore) discards captures still
// in flight, so a late read-back of an old run can never become the new run's fallback.
// SnapshotSchedule says which steps capture: the first step of every stretch (so a loss at
// step 5 of a new or restored run falls back a few steps, never to step 0), then every N steps
// or T seconds, whichever comes first (a slow model still loses at most T seconds of work).
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

  /** `onGood` hears of every state that becomes the fallback (the page keeps the latest). */
  constructor(private readonly onGood?: (state: TrainerState) => void) {}

  /** The latest weights known to give a finite loss (null before the first run). */
  get good(): TrainerState | null {
    return this.goodState;
  }

  /** A new run (or a restore) starts from `state`: captures in flight are forgotten. */
  reset(state: TrainerState | null): void {
    this.generation++;
    this.goodState = state;
    this.pending = [];
    if (state) this.onGood?.(state);
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
    if (allFinite(d.params) && allFinite(d.m) && allFinite(d.v)) {
      this.goodState = d;
      this.onGood?.(d);
    }
  }

  /** After a failure: promote what the finished steps vouch for, then forget the rest. */
  settle(completed: number): void {
    this.promote(completed);
    this.pending = [];
  }
}

/** Which steps capture the weights: the first of each stretch, then every `everySteps` steps or `everyMs`. */
export class SnapshotSchedule {
  private lastAt: number | null = null;

  constructor(
    readonly everySteps: number,
    readonly everyMs: number,
  ) {}

  /** A new stretch (new run, restore, device rebuilt): its first step captures. */
  reset(): void {
    this.lastAt = null;
  }

  /** Whether step `step`, submitted at `now` (ms), captures; if so, counts it as taken. */
  take(step: number, now: number): boolean {
    const due = this.lastAt === null || step % this.everySteps === 0 || now - this.lastAt >= this.everyMs;
    if (due) this.lastAt = now;
    return due;
  }
}
