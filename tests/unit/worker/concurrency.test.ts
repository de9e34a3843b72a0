// Bounded concurrency of the browser data path: never more than the limit at once, results in
// input order, a failure or an abort stops new work.
import { describe, expect, it } from 'vitest';
import { Semaphore, mapLimited } from '../../../src/data/browser-concurrency.ts';
import { sleep } from '../../../src/worker/scheduling.ts';

describe('mapLimited', () => {
  it('keeps at most `limit` calls running and returns results in input order', async () => {
    let running = 0;
    let peak = 0;
    const progress: number[] = [];
    const items = Array.from({ length: 23 }, (_, i) => i);
    const out = await mapLimited(
      items,
      4,
      async (x) => {
        running++;
        peak = Math.max(peak, running);
        await sleep((x * 7) % 5); // finish out of order
        running--;
        return x * x;
      },
      { onProgress: (done) => progress.push(done) },
    );
    expect(out).toEqual(items.map((x) => x * x));
    expect(peak).toBe(4);
    expect(progress).toEqual(items.map((_, i) => i + 1));
  });

  it('stops starting new calls after a failure or an abort', async () => {
    const started: number[] = [];
    await expect(
      mapLimited([0, 1, 2, 3, 4, 5, 6, 7], 2, async (x) => {
        started.push(x);
        await sleep(2);
        if (x === 1) throw new Error(`item ${x} failed`);
        return x;
      }),
    ).rejects.toThrow('item 1 failed');
    expect(started.length).toBeLessThanOrEqual(3);
    const c = new AbortController();
    const seen: number[] = [];
    const p = mapLimited(
      Array.from({ length: 50 }, (_, i) => i),
      1,
      async (x) => {
        seen.push(x);
        if (x === 2) c.abort(new Error('stop'));
        return x;
      },
      { signal: c.signal },
    );
    await expect(p).rejects.toThrow('stop');
    expect(seen).toEqual([0, 1, 2]);
    await expect(mapLimited([1], 0, async (x) => x)).rejects.toThrow(/limit 0/);
  });
});

describe('Semaphore', () => {
  it('hands slots over in FIFO order and never exceeds its limit', async () => {
    const s = new Semaphore(2);
    const order: string[] = [];
    const job = (name: string, ms: number) => s.run(async () => {
      order.push(name);
      expect(s.running).toBeLessThanOrEqual(2);
      await sleep(ms);
    });
    await Promise.all([job('a', 10), job('b', 10), job('c', 1), job('d', 1)]);
    expect(order).toEqual(['a', 'b', 'c', 'd']);
    expect(s.running).toBe(0);
    expect(s.waiting).toBe(0);
    const release = await s.acquire();
    release();
    release(); // a second release is ignored
    expect(s.running).toBe(0);
  });
});
