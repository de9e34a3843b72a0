// Loop scheduling helpers: macrotask yield, the GPU mutex, and throttle detection with
// hysteresis (the in-flight window: tests/unit/train/step-loop.test.ts).
import { describe, expect, it } from 'vitest';
import { Mutex, ThrottleDetector, sleep, yieldToEventLoop } from '../../../src/worker/scheduling.ts';

describe('yieldToEventLoop', () => {
  it('resolves on a later macrotask: microtasks queued before it run first, in FIFO order', async () => {
    const order: string[] = [];
    const a = yieldToEventLoop().then(() => order.push('yield 1'));
    const b = yieldToEventLoop().then(() => order.push('yield 2'));
    void Promise.resolve().then(() => order.push('microtask'));
    await Promise.all([a, b]);
    expect(order).toEqual(['microtask', 'yield 1', 'yield 2']);
  });
});

describe('Mutex', () => {
  it('runs holders one at a time in call order, even across awaits', async () => {
    const m = new Mutex();
    const log: string[] = [];
    let inside = 0;
    let maxInside = 0;
    const job = (name: string, ms: number) =>
      m.run(async () => {
        inside++;
        maxInside = Math.max(maxInside, inside);
        log.push(`${name}+`);
        await sleep(ms);
        log.push(`${name}-`);
        inside--;
        return name;
      });
    const results = await Promise.all([job('a', 15), job('b', 1), job('c', 5)]);
    expect(results).toEqual(['a', 'b', 'c']);
    expect(log).toEqual(['a+', 'a-', 'b+', 'b-', 'c+', 'c-']);
    expect(maxInside).toBe(1);
    // A failing holder releases the lock.
    await expect(m.run(async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(await m.run(() => 7)).toBe(7);
    expect(m.locked).toBe(false);
  });
});

describe('ThrottleDetector', () => {
  it('stays quiet while gaps match step time (GPU-bound) or data wait (decode-bound)', () => {
    const d = new ThrottleDetector();
    for (let i = 0; i < 50; i++) expect(d.add({ gapMs: 105, stepMs: 100, dataWaitMs: 0 })).toBe(false);
    for (let i = 0; i < 50; i++) expect(d.add({ gapMs: 900, stepMs: 100, dataWaitMs: 800 })).toBe(false);
    expect(d.throttled).toBe(false);
    expect(d.factor).toBeLessThan(1.1);
  });

  it('flags steps arriving far later than explained, and clears with hysteresis', () => {
    const d = new ThrottleDetector();
    for (let i = 0; i < 5; i++) d.add({ gapMs: 50, stepMs: 50, dataWaitMs: 0 });
    // A background tab: a step every second for 50 ms of GPU work.
    const flips: number[] = [];
    for (let i = 0; i < 10; i++) if (d.add({ gapMs: 1000, stepMs: 50, dataWaitMs: 0 })) flips.push(i);
    expect(d.throttled).toBe(true);
    expect(flips.length).toBe(1);
    expect(flips[0]).toBeLessThanOrEqual(3);
    expect(d.factor).toBeGreaterThan(3);
    // Back to normal: stays flagged until the smoothed ratio is under 1.5, then clears once.
    let cleared = -1;
    for (let i = 0; i < 30; i++) if (d.add({ gapMs: 50, stepMs: 50, dataWaitMs: 0 })) cleared = i;
    expect(d.throttled).toBe(false);
    expect(cleared).toBeGreaterThan(1);
  });

  it('ignores small absolute stalls on fast steps (ratio high, excess under 250 ms)', () => {
    const d = new ThrottleDetector();
    for (let i = 0; i < 20; i++) d.add({ gapMs: 40, stepMs: 5, dataWaitMs: 0 });
    expect(d.factor).toBeGreaterThan(3);
    expect(d.throttled).toBe(false);
  });
});
