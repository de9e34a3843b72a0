// Cancellation ids across the worker boundary: a cancel that arrives before its call, during
// it, or after it; the page-side id source wired to a real AbortController.
import { describe, expect, it } from 'vitest';
import { CancelIdSource, CancelRegistry, raceCancellation, throwIfCancelled } from '../../../src/worker/cancellation.ts';
import { isWorkerError } from '../../../src/worker/protocol.ts';
import { sleep } from '../../../src/worker/scheduling.ts';

async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error('expected a rejection');
}

describe('CancelRegistry', () => {
  it('aborts the signal of a running call, and forgets the id afterwards', async () => {
    const reg = new CancelRegistry();
    const seen: boolean[] = [];
    const run = reg.run(7, async (signal) => {
      seen.push(signal.aborted);
      await sleep(10);
      seen.push(signal.aborted);
      throwIfCancelled(signal, 'loading');
      return 1;
    });
    expect(reg.live).toBe(1);
    reg.cancel(7);
    const e = await rejection(run);
    expect(isWorkerError(e)).toBe(true);
    expect((e as { kind: string }).kind).toBe('cancelled');
    expect((e as Error).message).toBe('loading was cancelled');
    expect(seen).toEqual([false, true]);
    expect(reg.live).toBe(0);
  });

  it('honours a cancel that raced ahead of its call (messages can arrive in that order)', async () => {
    const reg = new CancelRegistry();
    reg.cancel(3);
    const signal = reg.signal(3);
    expect(signal.aborted).toBe(true);
    reg.release(3);
    // Calls without an id are never aborted; other ids are unaffected.
    expect(reg.signal(undefined).aborted).toBe(false);
    expect(reg.signal(4).aborted).toBe(false);
  });

  it('a cancel after the call settled changes nothing', async () => {
    const reg = new CancelRegistry();
    expect(await reg.run(9, async () => 'done')).toBe('done');
    reg.cancel(9); // remembered as early, harmless: ids are never reused
    expect(reg.live).toBe(0);
  });
});

describe('raceCancellation', () => {
  it('rejects as soon as the signal aborts and drops the late result', async () => {
    const c = new AbortController();
    let settled = false;
    const slow = sleep(50).then(() => {
      settled = true;
      return 'late';
    });
    const raced = raceCancellation(slow, c.signal, 'reconstruct');
    setTimeout(() => c.abort(), 5);
    const e = await rejection(raced);
    expect((e as { kind: string }).kind).toBe('cancelled');
    expect(settled).toBe(false);
    await slow;
    expect(await raceCancellation(Promise.resolve(5), new AbortController().signal, 'x')).toBe(5);
    await expect(raceCancellation(Promise.reject(new Error('inner')), undefined, 'x')).rejects.toThrow('inner');
  });
});

describe('CancelIdSource', () => {
  it('gives each signalled call its own id and forwards the abort once', () => {
    const cancelled: number[] = [];
    const src = new CancelIdSource((id) => cancelled.push(id));
    const a = new AbortController();
    const b = new AbortController();
    const ca = src.bind(a.signal);
    const cb = src.bind(b.signal);
    expect(ca.cancelId).not.toBe(cb.cancelId);
    expect(src.bind(undefined).cancelId).toBeUndefined();
    b.abort();
    a.abort();
    a.abort();
    expect(cancelled).toEqual([cb.cancelId, ca.cancelId]);
    // A disposed binding no longer forwards; an already-aborted signal forwards at once.
    const c = new AbortController();
    src.bind(c.signal).dispose();
    c.abort();
    const d = new AbortController();
    d.abort();
    const cd = src.bind(d.signal);
    expect(cancelled).toEqual([cb.cancelId, ca.cancelId, cd.cancelId]);
  });
});
