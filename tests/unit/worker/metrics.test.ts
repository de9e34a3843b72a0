// Metrics batching: at most one batch per interval, no step ever dropped, runs never mixed,
// phase timings carried along; step timing arithmetic with two steps in flight.
import { describe, expect, it } from 'vitest';
import { MetricsBatcher, batchTransferables, stepTimings } from '../../../src/worker/metrics.ts';
import type { StepRecord } from '../../../src/worker/protocol.ts';

const record = (step: number, runId = 1): StepRecord => ({ runId, step, loss: 1 / step, lr: step * 1e-4, stepMs: 10 + step, imagesPerSec: 100 + step, wallMs: step * 20 });

describe('MetricsBatcher', () => {
  it('sends at most one batch per interval and never drops a step', () => {
    const b = new MetricsBatcher(250);
    const sent: number[] = [];
    let now = 0;
    for (let step = 1; step <= 100; step++) {
      now += 20; // a step every 20 ms: 50 steps per second
      b.push(record(step));
      const batch = b.take(now);
      if (batch) sent.push(...batch.step);
      if (batch) expect(batch.count).toBe(batch.step.length);
    }
    const rest = b.take(now, true);
    if (rest) sent.push(...rest.step);
    expect(sent).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
    // 100 steps over 2 s at ≤ 4 batches/s: the first flush is immediate, then one per 250 ms.
    expect(b.take(now, true)).toBeNull();
  });

  it('holds rows until the interval has passed, then reports when it will be due', () => {
    const b = new MetricsBatcher(250);
    b.push(record(1));
    expect(b.take(1000)?.count).toBe(1);
    b.push(record(2));
    expect(b.take(1100)).toBeNull();
    expect(b.delayUntilDue(1100)).toBe(150);
    const batch = b.take(1250)!;
    expect([...batch.step]).toEqual([2]);
    expect(batch.loss[0]).toBeCloseTo(0.5, 7);
    expect(batch.lr[0]).toBeCloseTo(2e-4, 10);
    expect(batch.wallMs[0]).toBe(40);
  });

  it('starts a new batch when the run changes (a reset never mixes two runs)', () => {
    const b = new MetricsBatcher(250);
    b.push(record(5, 1));
    b.push(record(1, 2));
    const batch = b.take(0, true)!;
    expect(batch.runId).toBe(2);
    expect([...batch.step]).toEqual([1]);
  });

  it('carries phase timings of profiled steps as a (steps, phases) matrix', () => {
    const b = new MetricsBatcher(250);
    b.push(record(1));
    b.pushPhases(1, ['stem', 'loss'], Float32Array.of(1.5, 2.5));
    b.pushPhases(11, ['stem', 'loss'], Float32Array.of(3, 4));
    const batch = b.take(0, true)!;
    expect(batch.phases!.names).toEqual(['stem', 'loss']);
    expect([...batch.phases!.step]).toEqual([1, 11]);
    expect([...batch.phases!.ms]).toEqual([1.5, 2.5, 3, 4]);
    expect(() => b.pushPhases(2, ['a'], Float32Array.of(1, 2))).toThrow(/2 values for 1 phases/);
    // Every column's buffer is transferable and distinct.
    const buffers = batchTransferables(batch);
    expect(new Set(buffers).size).toBe(8);
  });
});

describe('stepTimings', () => {
  it('measures a pipelined step from its predecessor’s end, images/s from the completion gap', () => {
    // step submitted at 100 while the previous one ran until 150; done at 190
    expect(stepTimings({ submittedAt: 100, doneAt: 190, previousDoneAt: 150, batchSize: 8 })).toEqual({ stepMs: 40, imagesPerSec: 200 });
    // idle GPU: submitted after the previous one ended
    expect(stepTimings({ submittedAt: 200, doneAt: 250, previousDoneAt: 150, batchSize: 4 })).toEqual({ stepMs: 50, imagesPerSec: 40 });
    // first step of a run
    expect(stepTimings({ submittedAt: 0, doneAt: 80, previousDoneAt: null, batchSize: 2 })).toEqual({ stepMs: 80, imagesPerSec: 25 });
  });
});
