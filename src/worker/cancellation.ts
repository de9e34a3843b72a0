// Cancellation across the worker boundary, squoosh style: an AbortSignal cannot be posted, so the
// page sends a numeric cancelId with a call and calls cancel(id) when its signal aborts; the
// worker keeps one AbortController per live id. Long operations check the signal between their
// await points (a GPU submission cannot be taken back, its result is simply discarded).
// Pure: usable on both sides and in unit tests.
import { WorkerError } from './protocol.ts';

export function cancelledError(what: string): WorkerError {
  return new WorkerError('cancelled', `${what} was cancelled`, 'Nothing changed; run it again when needed.');
}

/** Throws the 'cancelled' WorkerError when the signal has aborted. */
export function throwIfCancelled(signal: AbortSignal | undefined, what: string): void {
  if (signal?.aborted) throw cancelledError(what);
}

/**
 * Resolves/rejects with `promise`, or rejects with 'cancelled' as soon as `signal` aborts
 * (the underlying work keeps going; its result is dropped).
 */
export function raceCancellation<T>(promise: Promise<T>, signal: AbortSignal | undefined, what: string): Promise<T> {
  if (!signal) return promise;
  if (signal.aborted) {
    promise.catch(() => {});
    return Promise.reject(cancelledError(what));
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => {
      promise.catch(() => {});
      reject(cancelledError(what));
    };
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}

/** Worker side: cancelId → AbortController for the calls in progress. */
export class CancelRegistry {
  private controllers = new Map<number, AbortController>();
  /** Ids cancelled before their call registered (cancel raced ahead of the call). */
  private early = new Set<number>();

  /** The signal for a call (a fresh, never-aborting one when the call has no id). */
  signal(cancelId: number | undefined): AbortSignal {
    const controller = new AbortController();
    if (cancelId === undefined) return controller.signal;
    if (this.early.delete(cancelId)) controller.abort();
    this.controllers.set(cancelId, controller);
    return controller.signal;
  }

  cancel(cancelId: number): void {
    const c = this.controllers.get(cancelId);
    if (c) c.abort();
    else {
      this.early.add(cancelId);
      // Keep the early set bounded: ids are never reused, so old ones can go.
      if (this.early.size > 1024) this.early.delete(this.early.values().next().value!);
    }
  }

  release(cancelId: number | undefined): void {
    if (cancelId !== undefined) this.controllers.delete(cancelId);
  }

  get live(): number {
    return this.controllers.size;
  }

  /** Runs fn with the call's signal and forgets the id afterwards. */
  async run<T>(cancelId: number | undefined, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const signal = this.signal(cancelId);
    try {
      return await fn(signal);
    } finally {
      this.release(cancelId);
    }
  }
}

/** Page side: hands out ids and forwards aborts. */
export class CancelIdSource {
  private next = 1;

  constructor(private readonly cancel: (id: number) => unknown) {}

  /** An id for a call, wired to `signal` (undefined when there is no signal). */
  bind(signal: AbortSignal | undefined): { cancelId: number | undefined; dispose: () => void } {
    if (!signal) return { cancelId: undefined, dispose: () => {} };
    const id = this.next++;
    const onAbort = () => void this.cancel(id);
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
    return { cancelId: id, dispose: () => signal.removeEventListener('abort', onAbort) };
  }
}
