// Notices an engine worker that died: a worker that crashed (out of memory, a bug in the
// browser) or was killed sends no event at all, so the page asks it for its status every few
// seconds and declares it dead when no answer came for a long while (longer than any single
// blocking step of the worker, e.g. drawing the weights of the largest model) or when the worker
// reports an error event. Silence is measured from a ping sent, never from the last answer: a
// background tab's timers may run once a minute, which must not read as a dead worker. It fires
// once; the bridge restarts the worker and restores the run (worker-restart.ts restartEngine),
// then watches the new one.

export interface WatchdogOptions {
  /** Time between pings, ms. */
  everyMs: number;
  /** No answer for this long: the worker is dead, ms. */
  deadAfterMs: number;
}

export const WATCHDOG_DEFAULTS: WatchdogOptions = { everyMs: 2000, deadAfterMs: 30_000 };

export class WorkerWatchdog {
  private timer: ReturnType<typeof setInterval> | null = null;
  /** When the ping still unanswered was sent (null: none outstanding). */
  private pendingSince: number | null = null;
  private fired = false;
  private detach: (() => void) | null = null;

  constructor(
    private readonly ping: () => Promise<unknown>,
    private readonly onDead: (why: string) => void,
    private readonly options: WatchdogOptions = WATCHDOG_DEFAULTS,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Starts watching (and listens for the worker's error events when given one). */
  start(worker?: Pick<Worker, 'addEventListener' | 'removeEventListener'>): void {
    this.stop();
    this.fired = false;
    this.pendingSince = null;
    if (worker) {
      const onError = (e: Event) => this.dead(`it reported an error: ${(e as ErrorEvent).message || 'no message'}`);
      worker.addEventListener('error', onError);
      this.detach = () => worker.removeEventListener('error', onError);
    }
    this.timer = setInterval(() => this.check(), this.options.everyMs);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.detach?.();
    this.detach = null;
  }

  /** One round: fire when a ping went unanswered too long, else ping (unless one is outstanding). */
  check(): void {
    if (this.fired) return;
    if (this.pendingSince !== null) {
      const silent = this.now() - this.pendingSince;
      if (silent > this.options.deadAfterMs) this.dead(`it did not answer for ${Math.round(silent / 1000)} s`);
      return;
    }
    const sent = this.now();
    this.pendingSince = sent;
    // a rejection is an answer too (comlink rejects with the worker's reply)
    const answered = () => {
      if (this.pendingSince === sent) this.pendingSince = null;
    };
    void this.ping().then(answered, answered);
  }

  private dead(why: string): void {
    if (this.fired) return;
    this.fired = true;
    this.stop();
    this.onDead(why);
  }
}
