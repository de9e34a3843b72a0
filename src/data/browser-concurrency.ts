// Bounded concurrency for the browser data path: reading file heads, decoding images. Decoders
// run off the main JS thread inside the browser, but each one holds a compressed file and a
// bitmap in memory, so thousands started at once would exhaust memory. Pure (no DOM).

/** At most `limit` holders at a time; acquire() waits in FIFO order. */
export class Semaphore {
  private active = 0;
  private queue: (() => void)[] = [];

  constructor(readonly limit: number) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`semaphore limit ${limit} must be an integer ≥ 1`);
  }

  get running(): number {
    return this.active;
  }

  get waiting(): number {
    return this.queue.length;
  }

  async acquire(): Promise<() => void> {
    if (this.active >= this.limit) await new Promise<void>((r) => this.queue.push(r));
    else this.active++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.queue.shift();
      // Hand the slot straight to the next waiter so `active` never overshoots.
      if (next) next();
      else this.active--;
    };
  }

  async run<T>(fn: () => Promise<T>): Promise<T> {
    const release = await this.acquire();
    try {
      return await fn();
    } finally {
      release();
    }
  }
}

/**
 * fn over items with at most `limit` running, results in input order. A rejection rejects the
 * whole map after the running calls settle (no new ones start); `signal` stops it the same way.
 */
export async function mapLimited<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
  options: { signal?: AbortSignal; onProgress?: (done: number, total: number) => void } = {},
): Promise<R[]> {
  if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`concurrency limit ${limit} must be an integer ≥ 1`);
  const out = new Array<R>(items.length);
  let next = 0;
  let done = 0;
  let failure: { error: unknown } | null = null;
  const worker = async (): Promise<void> => {
    while (failure === null && next < items.length) {
      if (options.signal?.aborted) {
        failure = { error: options.signal.reason ?? new Error('aborted') };
        return;
      }
      const i = next++;
      try {
        out[i] = await fn(items[i]!, i);
      } catch (e) {
        failure ??= { error: e };
        return;
      }
      done++;
      options.onProgress?.(done, items.length);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failure) throw (failure as { error: unknown }).error;
  return out;
}

/** Hands the thread back to the browser for a moment (rendering, input, timers run meanwhile). */
export function yieldToBrowser(): Promise<void> {
  const scheduler = (globalThis as { scheduler?: { yield?: () => Promise<void> } }).scheduler;
  if (typeof scheduler?.yield === 'function') return scheduler.yield();
  return new Promise((resolve) => setTimeout(resolve, 0));
}

/**
 * Cooperative time slicing for work that has to run on the page's main thread (walking a
 * dropped folder's entries): call `slice()` between small pieces of work; it returns at once
 * while the current slice is within `budgetMs`, else yields to the browser first, so no single
 * task runs much past the budget (the frame-gap bound of a big drop depends on it).
 */
export class TimeSlicer {
  private sliceStart: number;
  /** Times the work gave the thread back. */
  yields = 0;
  /** Longest slice seen so far, ms (work between two yields). */
  longestSliceMs = 0;

  constructor(
    readonly budgetMs = 12,
    private readonly now: () => number = () => performance.now(),
    private readonly yieldNow: () => Promise<void> = yieldToBrowser,
  ) {
    if (!(budgetMs > 0)) throw new RangeError(`time slice budget ${budgetMs} ms must be > 0`);
    this.sliceStart = now();
  }

  /** Whether the current slice has used its budget (the next slice() yields). */
  get due(): boolean {
    return this.now() - this.sliceStart >= this.budgetMs;
  }

  async slice(): Promise<void> {
    const elapsed = this.now() - this.sliceStart;
    if (elapsed < this.budgetMs) return;
    this.longestSliceMs = Math.max(this.longestSliceMs, elapsed);
    this.yields++;
    await this.yieldNow();
    this.sliceStart = this.now();
  }
}

/**
 * fn over items in bounded chunks of `chunkSize`, at most `limit` running inside a chunk, with
 * `between()` awaited after each chunk (a yield, a progress report): memory and the time between
 * two chances to yield stay bounded however long the list. Results in input order.
 */
export async function mapInChunks<T, R>(
  items: readonly T[],
  chunkSize: number,
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
  options: { signal?: AbortSignal; between?: (done: number, total: number) => Promise<void> | void } = {},
): Promise<R[]> {
  if (!Number.isInteger(chunkSize) || chunkSize < 1) throw new RangeError(`chunk size ${chunkSize} must be an integer ≥ 1`);
  const out: R[] = [];
  for (let start = 0; start < items.length; start += chunkSize) {
    const chunk = items.slice(start, start + chunkSize);
    const results = await mapLimited(chunk, limit, (item, i) => fn(item, start + i), { signal: options.signal });
    for (const r of results) out.push(r);
    await options.between?.(out.length, items.length);
  }
  return out;
}
