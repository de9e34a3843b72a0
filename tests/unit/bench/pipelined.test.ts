// The pipelined throughput measurement (src/bench/pipelined.ts) driven by a fake GPU queue: each
// submitted step runs after the previous one finished (one queue, FIFO), for a few ms. Checks
// that every depth really keeps that many steps in flight, the burst and round counts, the
// depth-1 baseline added, the images/s arithmetic, failures, and the depth validation the
// bench's --in-flight relies on. (How much a deeper window gains is a benchmark's figure, not
// asserted here.)
import { describe, expect, it } from 'vitest';
import { checkInFlightDepths, measurePipelined, MAX_IN_FLIGHT_DEPTH } from '../../../src/bench/pipelined.ts';
import type { QueuedStep } from '../../../src/train/step-loop.ts';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** A single FIFO queue: a step starts when the one before it finished. */
function fakeQueue(gpuMs = 2, failAt = -1) {
  let tail: Promise<unknown> = Promise.resolve();
  const state = { submitted: 0, inFlight: 0, maxInFlight: 0, maxByBurst: [] as number[] };
  const submit = (): QueuedStep<number> => {
    const n = ++state.submitted;
    state.inFlight++;
    state.maxInFlight = Math.max(state.maxInFlight, state.inFlight);
    const result = tail.then(async () => {
      await sleep(gpuMs);
      state.inFlight--;
      if (n === failAt) throw new Error(`step ${n} failed`);
      return n;
    });
    tail = result.catch(() => {});
    return { result };
  };
  return { state, submit };
}

describe('measurePipelined', () => {
  it('keeps `depth` steps in flight, runs steps + 1 per burst and rounds × depths bursts, depth 1 first', async () => {
    const q = fakeQueue();
    const maxima: number[] = [];
    let lastSubmitted = 0;
    const log: string[] = [];
    const results = await measurePipelined([2, 3], {
      steps: 4,
      rounds: 2,
      batchSize: 8,
      submit: () => q.submit(),
      take: () => {},
      log: (line) => {
        // one line per burst: record the burst's deepest window and reset
        log.push(line);
        maxima.push(q.state.maxInFlight);
        q.state.maxInFlight = 0;
        expect(q.state.submitted - lastSubmitted).toBe(5);
        lastSubmitted = q.state.submitted;
      },
    });
    expect(results.map((r) => r.depth)).toEqual([1, 2, 3]);
    // bursts in rounds, depths alternating: 1, 2, 3, 1, 2, 3
    expect(maxima).toEqual([1, 2, 3, 1, 2, 3]);
    expect(log).toHaveLength(6);
    expect(q.state.submitted).toBe(2 * 3 * 5);
    for (const r of results) {
      expect(r.stepMs.n).toBe(2);
      expect(r.stepMs.median).toBeGreaterThan(0);
      expect(r.imagesPerSecond).toBeCloseTo((8 * 1000) / r.stepMs.median, 9);
    }
  });

  it('does not add depth 1 twice, and throws the first failure of a burst', async () => {
    const ok = await measurePipelined([1, 2], { steps: 1, rounds: 1, batchSize: 1, submit: fakeQueue(1).submit });
    expect(ok.map((r) => r.depth)).toEqual([1, 2]);
    await expect(measurePipelined([2], { steps: 3, rounds: 1, batchSize: 1, submit: fakeQueue(1, 3).submit })).rejects.toThrow('step 3 failed');
    await expect(measurePipelined([2], { steps: 0, rounds: 1, batchSize: 1, submit: fakeQueue(1).submit })).rejects.toThrow(/steps = 0/);
  });

  it('checkInFlightDepths: integers 1..MAX_IN_FLIGHT_DEPTH, no repeats', () => {
    expect(checkInFlightDepths([2, 3])).toEqual([2, 3]);
    expect(() => checkInFlightDepths([0])).toThrow(/in-flight depth 0/);
    expect(() => checkInFlightDepths([2.5])).toThrow(/in-flight depth 2.5/);
    expect(() => checkInFlightDepths([MAX_IN_FLIGHT_DEPTH + 1])).toThrow(new RegExp(`from 1 to ${MAX_IN_FLIGHT_DEPTH}`));
    expect(() => checkInFlightDepths([2, 2])).toThrow(/repeated/);
  });
});
