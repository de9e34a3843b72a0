// Scheduling pieces of the worker's training loop (the step loop itself, with its in-flight
// window, is src/train/step-loop.ts), pure so they are unit-tested:
// - yieldToEventLoop: a macrotask hop through a MessageChannel. The loop yields between steps so
//   comlink messages (pause, reconstruct, setConfig) are handled promptly. setTimeout(0) would
//   be clamped to ≥ 4 ms after nesting and throttled harder in background tabs;
//   requestAnimationFrame does not run in workers nor in hidden tabs.
// - Mutex: GPU mutations that span awaits (plan builds inside error scopes) exclude submissions.
// - ThrottleDetector: notices when steps arrive much later than their GPU time and data wait
//   explain (a background tab, a busy GPU), with hysteresis so the flag does not flicker.

let channel: MessageChannel | null = null;
const waiting: (() => void)[] = [];

/** Resolves on a fresh macrotask (after pending messages and I/O callbacks). */
export function yieldToEventLoop(): Promise<void> {
  if (typeof MessageChannel === 'undefined') return new Promise((r) => setTimeout(r, 0));
  if (!channel) {
    channel = new MessageChannel();
    channel.port1.onmessage = () => waiting.shift()?.();
    // Node keeps the process alive while a port is referenced; the loop must not.
    (channel.port1 as unknown as { unref?: () => void }).unref?.();
    (channel.port2 as unknown as { unref?: () => void }).unref?.();
  }
  return new Promise((resolve) => {
    waiting.push(resolve);
    channel!.port2.postMessage(0);
  });
}

/** Resolves after `ms` (a plain timer: used for waits where clamping does not matter). */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export class Mutex {
  private tail: Promise<void> = Promise.resolve();
  private held = 0;

  get locked(): boolean {
    return this.held > 0;
  }

  /** Runs fn when every earlier holder has finished. */
  async run<T>(fn: () => Promise<T> | T): Promise<T> {
    const previous = this.tail;
    let release!: () => void;
    this.tail = new Promise<void>((r) => (release = r));
    this.held++;
    try {
      await previous;
      return await fn();
    } finally {
      this.held--;
      release();
    }
  }
}

export interface ThrottleSample {
  /** Wall time between this step's completion and the previous one's, ms. */
  gapMs: number;
  /** GPU-bound time of the step, ms. */
  stepMs: number;
  /** Time the loop waited for data (decode) before submitting the step, ms. */
  dataWaitMs: number;
}

export interface ThrottleOptions {
  /** Smoothing of the gap/expected ratio (weight of the newest sample). */
  alpha: number;
  /** Ratio above which (with minExcessMs unexplained) steps count as throttled. */
  enterRatio: number;
  /** Ratio below which the throttled flag clears. */
  exitRatio: number;
  /** Unexplained gap (smoothed) needed before flagging: small stalls are not throttling. */
  minExcessMs: number;
}

export const DEFAULT_THROTTLE_OPTIONS: ThrottleOptions = { alpha: 0.3, enterRatio: 3, exitRatio: 1.5, minExcessMs: 250 };

export class ThrottleDetector {
  private ratio = 1;
  private excess = 0;
  private samples = 0;
  throttled = false;

  constructor(readonly options: ThrottleOptions = DEFAULT_THROTTLE_OPTIONS) {}

  /** Feeds one step; returns true when the throttled flag changed. */
  add(s: ThrottleSample): boolean {
    // A step cannot take less than its GPU time or its data wait; 1 ms floors clock noise.
    const expected = Math.max(1, s.stepMs + s.dataWaitMs);
    const ratio = Math.max(1, s.gapMs / expected);
    const excess = Math.max(0, s.gapMs - expected);
    const a = this.options.alpha;
    if (this.samples === 0) {
      this.ratio = ratio;
      this.excess = excess;
    } else {
      this.ratio = a * ratio + (1 - a) * this.ratio;
      this.excess = a * excess + (1 - a) * this.excess;
    }
    this.samples++;
    const before = this.throttled;
    if (!this.throttled && this.samples >= 2 && this.ratio > this.options.enterRatio && this.excess > this.options.minExcessMs) this.throttled = true;
    else if (this.throttled && this.ratio < this.options.exitRatio) this.throttled = false;
    return before !== this.throttled;
  }

  get factor(): number {
    return this.ratio;
  }

  /** Forget history (after a pause: the gap across it says nothing). */
  reset(): void {
    this.ratio = 1;
    this.excess = 0;
    this.samples = 0;
    this.throttled = false;
  }
}
