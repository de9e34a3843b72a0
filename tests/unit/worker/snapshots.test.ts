// The known-good weights: a capture becomes good only when a later step's loss came back finite,
// never with non-finite values, and never across a reset; which steps capture (SnapshotSchedule).
import { describe, expect, it } from 'vitest';
import { SnapshotSchedule, SnapshotStore } from '../../../src/worker/snapshots.ts';
import type { TrainerState } from '../../../src/train/trainer.ts';

const state = (step: number, value = step): TrainerState => ({ step, params: new Float32Array([value, value]), m: new Float32Array(2), v: new Float32Array(2) });

describe('SnapshotStore', () => {
  it('promotes a capture once a later step completed, the newest first', () => {
    const s = new SnapshotStore();
    s.reset(state(0));
    const a = s.expect(10);
    const b = s.expect(20);
    s.fulfil(a, state(10), 10); // step 10 itself completed: not yet vouched for
    expect(s.good!.step).toBe(0);
    s.promote(11);
    expect(s.good!.step).toBe(10);
    s.fulfil(b, state(20), 25);
    expect(s.good!.step).toBe(20);
    expect(s.has(20)).toBe(true);
    expect(s.has(10)).toBe(false); // dropped once a newer one was promoted
  });

  it('never keeps non-finite weights or moments', () => {
    const s = new SnapshotStore();
    s.reset(state(0));
    const e = s.expect(5);
    s.fulfil(e, { ...state(5), m: new Float32Array([0, Number.NaN]) }, 9);
    expect(s.good!.step).toBe(0);
    const f = s.expect(6);
    s.fulfil(f, state(6, Number.POSITIVE_INFINITY), 9);
    expect(s.good!.step).toBe(0);
  });

  it('a read-back of an earlier run, arriving after a reset, is ignored', () => {
    const s = new SnapshotStore();
    s.reset(state(0));
    const late = s.expect(10);
    s.reset(state(3, 7));
    s.fulfil(late, state(10), 100);
    expect(s.good).toEqual(state(3, 7));
  });

  it('after a failure: what finished steps vouch for is kept, the rest forgotten; failed reads are dropped', () => {
    const s = new SnapshotStore();
    s.reset(state(0));
    const a = s.expect(10);
    const b = s.expect(20);
    s.fulfil(b, state(20), 15); // step 20 not completed
    s.drop(a);
    s.settle(15);
    expect(s.good!.step).toBe(0);
    expect(s.has(20)).toBe(false);
    // the capture's step is the step it was taken after, whatever the read-back says
    const c = s.expect(30);
    s.fulfil(c, state(29), 31);
    expect(s.good!.step).toBe(30);
  });
});

describe('SnapshotSchedule', () => {
  it('captures the first step of a stretch, then every N steps or T ms, whichever comes first', () => {
    const s = new SnapshotSchedule(10, 10_000);
    const taken = (steps: number[], msPerStep: number, t0 = 0) => steps.filter((k, i) => s.take(k, t0 + i * msPerStep));
    // fast steps (100 ms): step 1, then the multiples of 10
    expect(taken([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 20, 21], 100)).toEqual([1, 10, 20]);
    // slow steps (4 s): every 10 s as well, so a crash never loses more than ~10 s of work
    s.reset();
    expect(taken([31, 32, 33, 34, 35, 36, 37], 4000)).toEqual([31, 34, 37]);
    // a restore starts a new stretch: its first step captures again
    s.reset();
    expect(s.take(6, 1e6)).toBe(true);
    expect(s.take(7, 1e6 + 1)).toBe(false);
  });
});
