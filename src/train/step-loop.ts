// The pipelined step loop that every driver runs its steps through: the browser worker's run
// controller, the CLI's `train`, the benchmarks' timed steps (and a fine-tuning driver alike).
// The driver says how to draw a step's input, how to submit it and what to do with its result;
// the loop owns the scheduling:
// - a window of at most `depth` steps submitted and not yet delivered (2: the GPU has the next
//   step queued while the host reads the previous result, and a NaN or a pause costs at most
//   one wasted step; 1: every step runs alone, as the benchmarks time them);
// - the next step's input drawn while the GPU works (`prefetch`: as soon as a step is
//   submitted), or else once the window has room for it;
// - results delivered strictly in step order, each as soon as it and every earlier one are back;
// - an end at the last step, on a stop request (the steps in flight finish and are delivered), or
//   at the first failure: the lowest-numbered failing step is the one reported, and no result of
//   a later step is delivered (those steps ran on broken weights);
// - pause points: after such a step the window drains, then the driver's pause runs
//   (checkpoints, evaluations see the weights after exactly that step).
// An input drawn and not submitted (the loop stopped first) is handed back, so a driver that
// pauses and resumes keeps it. Pure TypeScript, no GPU: tests/unit/train/step-loop.test.ts drives
// it with a fake submitter.

/** A submitted step: `result` settles once its outcome is back (Trainer.submit's SubmittedStep is one). */
export interface QueuedStep<R> {
  readonly result: Promise<R>;
}

/** What a driver plugs into the loop. Steps are numbered; the loop runs them in order. */
export interface StepDriver<I, R> {
  /**
   * Draws the input of step `step` (a batch): once per step, in step order, ahead of the GPU when
   * prefetching. Without it every input is undefined (a submit that draws its own).
   */
  prepare?(step: number): Promise<I>;
  /**
   * Queues step `step` on `input`; may wait before queueing (a lock), never for the result.
   * `inputWaitMs`: how long the loop waited for the input (0 when it was ready).
   */
  submit(step: number, input: I, inputWaitMs: number): QueuedStep<R> | Promise<QueuedStep<R>>;
  /** Takes each result in step order; a throw fails that step. Never called after a failure of an earlier step. */
  deliver(result: R, step: number): void;
  /** True for the steps after which the window drains and `pause` runs. */
  pauseAfter?(step: number): boolean;
  /** Runs with nothing in flight after a pause point (not after a failure); a throw fails that step. */
  pause?(step: number): Promise<void>;
}

export interface StepLoopOptions {
  /** The first step to submit. */
  first: number;
  /** Steps up to this one are submitted (inclusive); null: until stopped or failed. */
  last: number | null;
  /** Steps submitted and not yet delivered, at most (default 2). */
  depth?: number;
  /** Draw step k+1's input as soon as step k is submitted (never past `last`). */
  prefetch?: boolean;
  /** Aborting it stops the loop before its next step; the steps in flight finish and are delivered. */
  signal?: AbortSignal;
  /** Awaited after each submission (the worker hops to the event loop so messages get through). */
  betweenSteps?: () => Promise<void>;
}

export interface StepFailure {
  /** The step that failed: its input, its submission, its result, its delivery or its pause. */
  step: number;
  error: unknown;
}

export interface StepLoopEnd<I> {
  reason: 'last-step' | 'stopped' | 'failed';
  /** The last step submitted (first − 1 when none). */
  lastSubmitted: number;
  /** The last step whose result was delivered (first − 1 when none). */
  lastDelivered: number;
  failure: StepFailure | null;
  /** The input drawn (or being drawn) for step lastSubmitted + 1 and not submitted, to keep for later. */
  unused: { step: number; input: Promise<I> } | null;
}

/** At most `capacity` promises pending: a step leaves the window when its delivery settles (either way). */
export class InFlightWindow<T> {
  private items: Promise<T>[] = [];

  constructor(readonly capacity = 2) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`in-flight capacity ${capacity} must be an integer ≥ 1`);
  }

  get size(): number {
    return this.items.length;
  }

  get full(): boolean {
    return this.items.length >= this.capacity;
  }

  /** Adds a submitted step; it leaves the window when it settles (either way). */
  add(p: Promise<T>): void {
    if (this.full) throw new RangeError(`in-flight window full (${this.capacity} steps): wait for room first`);
    this.items.push(p);
    const remove = () => {
      const i = this.items.indexOf(p);
      if (i >= 0) this.items.splice(i, 1);
    };
    p.then(remove, remove);
  }

  /** Waits until fewer than `capacity` are in flight (rejections are the owner's business). */
  async waitForRoom(): Promise<void> {
    while (this.full) await Promise.race(this.items.map((p) => p.then(() => undefined, () => undefined)));
  }

  /** Waits until nothing is in flight. */
  async drain(): Promise<void> {
    while (this.items.length) await Promise.all(this.items.map((p) => p.then(() => undefined, () => undefined)));
  }
}

/** Runs steps first..last (or until stopped or failed) through `driver`; settles once nothing is in flight. */
export async function runStepLoop<I, R>(driver: StepDriver<I, R>, options: StepLoopOptions): Promise<StepLoopEnd<I>> {
  const { first, last, signal } = options;
  if (!Number.isInteger(first)) throw new RangeError(`step loop: first step ${first} must be an integer`);
  const window = new InFlightWindow<void>(options.depth ?? 2);
  let failure: StepFailure | null = null;
  // The lowest-numbered failure wins: a later step's input may fail while an earlier result is still on its way.
  const fail = (step: number, error: unknown) => {
    if (!failure || step < failure.step) failure = { step, error };
  };
  const failedBefore = (step: number) => failure !== null && failure.step < step;
  let next = first;
  let lastDelivered = first - 1;
  let delivered: Promise<void> = Promise.resolve();
  let ahead: { step: number; input: Promise<I> } | null = null;
  let unused: StepLoopEnd<I>['unused'] = null;
  const draw = (step: number): Promise<I> => {
    const p = (async () => (driver.prepare ? driver.prepare(step) : (undefined as I)))();
    p.catch(() => {}); // surfaced when taken
    return p;
  };
  const stopped = () => signal?.aborted === true;

  try {
    while (!failure && !stopped() && (last === null || next <= last)) {
      if (window.full) {
        await window.waitForRoom();
        continue;
      }
      const step = next;
      const waitStart = performance.now();
      const input = ahead?.step === step ? ahead.input : draw(step);
      ahead = null;
      let value: I;
      try {
        value = await input;
      } catch (e) {
        fail(step, e);
        break;
      }
      const inputWaitMs = performance.now() - waitStart;
      if (failure || stopped()) {
        unused = { step, input };
        break;
      }
      let queued: QueuedStep<R>;
      try {
        queued = await driver.submit(step, value, inputWaitMs);
      } catch (e) {
        fail(step, e);
        break;
      }
      next = step + 1;
      const { result } = queued;
      result.catch(() => {}); // handled in order below
      delivered = delivered.then(() =>
        result.then(
          (r) => {
            if (failedBefore(step)) return;
            try {
              driver.deliver(r, step);
              lastDelivered = step;
            } catch (e) {
              fail(step, e);
            }
          },
          (e: unknown) => fail(step, e),
        ),
      );
      window.add(delivered);
      if (options.prefetch && (last === null || next <= last)) ahead = { step: next, input: draw(next) };
      if (driver.pauseAfter?.(step)) {
        await window.drain();
        if (!failure && driver.pause) {
          try {
            await driver.pause(step);
          } catch (e) {
            fail(step, e);
          }
        }
      }
      await options.betweenSteps?.();
    }
  } finally {
    // Let queued steps finish before anything they use goes away.
    await window.drain();
  }
  unused ??= ahead;
  const reason = failure ? 'failed' : last !== null && next > last ? 'last-step' : 'stopped';
  return { reason, lastSubmitted: next - 1, lastDelivered, failure, unused };
}
