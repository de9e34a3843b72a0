// The pipelined step loop every driver runs (src/train/step-loop.ts), driven by a fake submitter:
// each step's "GPU work" is a timer of its own length, so steps finish out of order; every event
// (prepare, submit, done, deliver, pause) is logged in the order it happened. Checks delivery in
// step order, the window depth, the first failure, stop requests, the last step, draining at
// pause points and prefetch overlap.
import { describe, expect, it } from 'vitest';
import { InFlightWindow, runStepLoop, type StepDriver, type StepLoopOptions } from '../../../src/train/step-loop.ts';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

class StepFailed extends Error {
  constructor(readonly step: number) {
    super(`step ${step} failed`);
  }
}

interface FakeOptions {
  /** GPU time of step k, ms (default 2). */
  gpuMs?: (step: number) => number;
  /** Time drawing step k's input, ms (default 0). */
  prepareMs?: (step: number) => number;
  /** Steps whose result rejects (StepFailed). */
  failing?: number[];
  /** Steps whose input fails to draw. */
  badInput?: number[];
  /** Steps whose submission throws. */
  badSubmit?: number[];
  /** Steps whose delivery throws. */
  badDelivery?: number[];
  onPrepare?: (step: number) => void;
  onDeliver?: (step: number) => void;
  pauseAfter?: (step: number) => boolean;
  pause?: (step: number) => Promise<void>;
}

/** A fake run: results are step × 10; `state` tells what was submitted, delivered and in flight. */
function fakeRun(o: FakeOptions = {}) {
  const log: string[] = [];
  const state = { submitted: [] as number[], delivered: [] as number[], completed: [] as number[], inFlight: 0, maxInFlight: 0, inputWaitMs: new Map<number, number>() };
  const driver: StepDriver<string, number> = {
    prepare: async (step) => {
      log.push(`prepare ${step}`);
      o.onPrepare?.(step);
      await sleep(o.prepareMs?.(step) ?? 0);
      if (o.badInput?.includes(step)) throw new Error(`no input for step ${step}`);
      return `batch ${step}`;
    },
    submit: (step, input, inputWaitMs) => {
      if (o.badSubmit?.includes(step)) throw new Error(`cannot submit step ${step}`);
      expect(input).toBe(`batch ${step}`);
      log.push(`submit ${step}`);
      state.submitted.push(step);
      state.inputWaitMs.set(step, inputWaitMs);
      state.inFlight++;
      state.maxInFlight = Math.max(state.maxInFlight, state.inFlight);
      const result = sleep(o.gpuMs?.(step) ?? 2).then(() => {
        log.push(`done ${step}`);
        state.completed.push(step);
        if (o.failing?.includes(step)) throw new StepFailed(step);
        return step * 10;
      });
      // a failed step leaves the window too (it is never delivered)
      result.catch(() => state.inFlight--);
      return { result };
    },
    deliver: (result, step) => {
      expect(result).toBe(step * 10);
      log.push(`deliver ${step}`);
      state.inFlight--;
      state.delivered.push(step);
      o.onDeliver?.(step);
      if (o.badDelivery?.includes(step)) throw new Error(`cannot record step ${step}`);
    },
    pauseAfter: o.pauseAfter,
    pause: o.pause,
  };
  return { driver, log, state, run: (options: StepLoopOptions) => runStepLoop(driver, options) };
}

const range = (a: number, b: number) => Array.from({ length: b - a + 1 }, (_, i) => a + i);

describe('runStepLoop', () => {
  it('delivers results strictly in step order while the steps finish out of order', async () => {
    const gpu = [0, 30, 4, 18, 1, 12, 2, 8];
    const f = fakeRun({ gpuMs: (k) => gpu[k]! });
    const end = await f.run({ first: 1, last: 7, depth: 3 });
    expect(f.state.completed).not.toEqual(range(1, 7)); // really out of order
    expect(f.state.delivered).toEqual(range(1, 7));
    expect(end).toMatchObject({ reason: 'last-step', lastSubmitted: 7, lastDelivered: 7, failure: null, unused: null });
    // a step is delivered only once every earlier one is
    for (const k of range(2, 7)) expect(f.log.indexOf(`deliver ${k}`)).toBeGreaterThan(f.log.indexOf(`deliver ${k - 1}`));
  });

  it('keeps at most `depth` steps submitted and not delivered, and fills the window', async () => {
    for (const depth of [1, 2, 3, 5]) {
      const f = fakeRun({ gpuMs: () => 6 });
      await f.run({ first: 1, last: 12, depth, prefetch: true });
      expect(f.state.maxInFlight, `depth ${depth}`).toBe(depth);
      expect(f.state.delivered).toEqual(range(1, 12));
    }
    // depth 1: every step alone, submit and deliver alternate
    const one = fakeRun();
    await one.run({ first: 1, last: 3, depth: 1 });
    expect(one.log.filter((l) => !l.startsWith('prepare') && !l.startsWith('done'))).toEqual(['submit 1', 'deliver 1', 'submit 2', 'deliver 2', 'submit 3', 'deliver 3']);
    await expect(runStepLoop(one.driver, { first: 1, last: 3, depth: 0 })).rejects.toThrow(/capacity 0/);
  });

  it('stops at the first failure: the failure names its step, later results are dropped', async () => {
    const f = fakeRun({ failing: [3], gpuMs: (k) => (k === 3 ? 10 : 1) });
    const end = await f.run({ first: 1, last: 10, depth: 2, prefetch: true });
    expect(end.reason).toBe('failed');
    expect(end.failure?.step).toBe(3);
    expect(end.failure?.error).toBeInstanceOf(StepFailed);
    expect((end.failure?.error as StepFailed).step).toBe(3);
    expect(f.state.delivered).toEqual([1, 2]);
    expect(end.lastDelivered).toBe(2);
    // step 4 went out with step 3 in flight and came back fine: it ran on broken weights, not delivered
    expect(f.state.submitted).toEqual([1, 2, 3, 4]);
    expect(f.state.completed).toContain(4);
    expect(f.log).not.toContain('deliver 4');
    expect(f.state.inFlight).toBe(1); // step 4: finished, never delivered; nothing left running
  });

  it('the lowest failing step wins, and the steps before it are still delivered', async () => {
    // step 3's input fails at once while step 2 is still on the GPU: step 2 is delivered
    const late = fakeRun({ badInput: [3], gpuMs: (k) => (k === 2 ? 15 : 1) });
    const a = await late.run({ first: 1, last: 10, depth: 2, prefetch: true });
    expect(a.failure?.step).toBe(3);
    expect((a.failure?.error as Error).message).toBe('no input for step 3');
    expect(late.state.delivered).toEqual([1, 2]);
    // ... unless step 2 fails too, later: then step 2 is the failure
    const both = fakeRun({ badInput: [3], failing: [2], gpuMs: (k) => (k === 2 ? 15 : 1) });
    const b = await both.run({ first: 1, last: 10, depth: 2, prefetch: true });
    expect(b.failure?.step).toBe(2);
    expect(b.failure?.error).toBeInstanceOf(StepFailed);
    expect(both.state.delivered).toEqual([1]);
  });

  it('a submission or a delivery that throws fails its step', async () => {
    const s = fakeRun({ badSubmit: [4] });
    const a = await s.run({ first: 1, last: 10 });
    expect(a.failure?.step).toBe(4);
    expect((a.failure?.error as Error).message).toBe('cannot submit step 4');
    expect(s.state.delivered).toEqual([1, 2, 3]);
    expect(a.lastSubmitted).toBe(3);
    const d = fakeRun({ badDelivery: [2], gpuMs: () => 3 });
    const b = await d.run({ first: 1, last: 10 });
    expect(b.failure?.step).toBe(2);
    expect(b.lastDelivered).toBe(1);
    expect(d.state.delivered).toEqual([1, 2]); // called for 2, which threw
    expect(d.log.filter((l) => l.startsWith('deliver'))).toEqual(['deliver 1', 'deliver 2']);
  });

  it('a stop request ends the loop after the steps in flight, which are delivered; the drawn input is handed back', async () => {
    const stop = new AbortController();
    const f = fakeRun({
      gpuMs: () => 5,
      prepareMs: () => 1,
      onDeliver: (k) => {
        if (k !== 3) return;
        stop.abort();
        f.log.push('stop');
      },
    });
    const end = await f.run({ first: 1, last: null, depth: 2, prefetch: true, signal: stop.signal });
    expect(end.reason).toBe('stopped');
    expect(end.failure).toBeNull();
    // nothing submitted after the stop, everything submitted delivered (the window held 3 and maybe 4)
    expect(f.log.slice(f.log.indexOf('stop')).filter((l) => l.startsWith('submit'))).toEqual([]);
    expect(end.lastSubmitted).toBeGreaterThanOrEqual(3);
    expect(end.lastSubmitted).toBeLessThanOrEqual(4);
    expect(f.state.delivered).toEqual(range(1, end.lastSubmitted));
    expect(end.lastDelivered).toBe(end.lastSubmitted);
    // the prefetched input of the next step, for the next run of the loop
    expect(end.unused?.step).toBe(end.lastSubmitted + 1);
    expect(await end.unused?.input).toBe(`batch ${end.lastSubmitted + 1}`);

    // a stop while an input is being drawn: it is not submitted, and handed back
    const stop2 = new AbortController();
    const g = fakeRun({ prepareMs: (k) => (k === 3 ? 20 : 0), onPrepare: (k) => k === 3 && setTimeout(() => stop2.abort(), 5) });
    const end2 = await g.run({ first: 1, last: 10, depth: 2, signal: stop2.signal });
    expect(end2).toMatchObject({ reason: 'stopped', lastSubmitted: 2, lastDelivered: 2 });
    expect(end2.unused?.step).toBe(3);
    expect(await end2.unused?.input).toBe('batch 3');
    // already stopped: nothing runs
    const h = fakeRun();
    expect(await h.run({ first: 1, last: 10, signal: AbortSignal.abort() })).toMatchObject({ reason: 'stopped', lastSubmitted: 0, lastDelivered: 0, unused: null });
    expect(h.log).toEqual([]);
  });

  it('runs exactly the steps first..last, and prefetches nothing past the last', async () => {
    const f = fakeRun();
    const end = await f.run({ first: 4, last: 7, prefetch: true });
    expect(f.state.submitted).toEqual([4, 5, 6, 7]);
    expect(f.state.delivered).toEqual([4, 5, 6, 7]);
    expect(f.log.filter((l) => l.startsWith('prepare'))).toEqual(['prepare 4', 'prepare 5', 'prepare 6', 'prepare 7']);
    expect(end).toMatchObject({ reason: 'last-step', lastSubmitted: 7, lastDelivered: 7, unused: null });
    const none = fakeRun();
    expect(await none.run({ first: 5, last: 4 })).toMatchObject({ reason: 'last-step', lastSubmitted: 4, lastDelivered: 4 });
    expect(none.log).toEqual([]);
  });

  it('drains the window at pause points: the pause sees every step up to its own and none after', async () => {
    const seen: { step: number; delivered: number[]; submitted: number[] }[] = [];
    const f = fakeRun({
      gpuMs: (k) => (k % 2 ? 8 : 2),
      pauseAfter: (k) => k % 3 === 0,
      pause: async (k) => {
        seen.push({ step: k, delivered: [...f.state.delivered], submitted: [...f.state.submitted] });
        f.log.push(`pause ${k}`);
        await sleep(5);
        f.log.push(`resume ${k}`);
      },
    });
    const end = await f.run({ first: 1, last: 8, depth: 2, prefetch: true });
    expect(end.reason).toBe('last-step');
    expect(seen).toEqual([
      { step: 3, delivered: range(1, 3), submitted: range(1, 3) },
      { step: 6, delivered: range(1, 6), submitted: range(1, 6) },
    ]);
    expect(f.log.indexOf('submit 4')).toBeGreaterThan(f.log.indexOf('resume 3'));
    // no pause after a failure (a checkpoint would hold broken weights); a pause that throws fails its step
    const pauses: number[] = [];
    const failed = fakeRun({ failing: [3], pauseAfter: () => true, pause: async (k) => void pauses.push(k) });
    expect((await failed.run({ first: 1, last: 8 })).failure?.step).toBe(3);
    expect(pauses).toEqual([1, 2]);
    const broken = fakeRun({ pauseAfter: (k) => k === 2, pause: async () => Promise.reject(new Error('disk full')) });
    const end3 = await broken.run({ first: 1, last: 8 });
    expect(end3.failure?.step).toBe(2);
    expect((end3.failure?.error as Error).message).toBe('disk full');
    expect(broken.state.submitted).toEqual([1, 2]);
  });

  it('prefetch draws step k+1 while step k is on the GPU; without it the input is drawn once there is room', async () => {
    const gpuMs = () => 40;
    const prepareMs = () => 15;
    const ahead = fakeRun({ gpuMs, prepareMs });
    await ahead.run({ first: 1, last: 4, depth: 1, prefetch: true });
    const behind = fakeRun({ gpuMs, prepareMs });
    await behind.run({ first: 1, last: 4, depth: 1 });
    for (const k of [1, 2, 3]) {
      expect(ahead.log.indexOf(`prepare ${k + 1}`), ahead.log.join(', ')).toBeLessThan(ahead.log.indexOf(`done ${k}`));
      expect(behind.log.indexOf(`prepare ${k + 1}`), behind.log.join(', ')).toBeGreaterThan(behind.log.indexOf(`deliver ${k}`));
      // the prefetched input was ready long before the GPU was free; the other one was drawn then
      expect(ahead.state.inputWaitMs.get(k + 1)).toBeLessThan(10);
      expect(behind.state.inputWaitMs.get(k + 1)).toBeGreaterThanOrEqual(10);
    }
    // with a window of 2 and no prefetch, step 3 is drawn only once step 1 is delivered
    const two = fakeRun({ gpuMs: () => 10 });
    await two.run({ first: 1, last: 3, depth: 2 });
    expect(two.log.indexOf('prepare 3')).toBeGreaterThan(two.log.indexOf('deliver 1'));
    const twoAhead = fakeRun({ gpuMs: () => 10 });
    await twoAhead.run({ first: 1, last: 3, depth: 2, prefetch: true });
    expect(twoAhead.log.indexOf('prepare 3')).toBeLessThan(twoAhead.log.indexOf('done 1'));
  });

  it('runs the between-steps hook after every submission, and needs no prepare', async () => {
    const log: string[] = [];
    const end = await runStepLoop<void, number>(
      {
        submit: (k, input) => {
          expect(input).toBeUndefined();
          log.push(`submit ${k}`);
          return { result: Promise.resolve(k) };
        },
        deliver: (r) => void log.push(`deliver ${r}`),
      },
      { first: 1, last: 3, depth: 1, betweenSteps: async () => void log.push('yield') },
    );
    expect(end.reason).toBe('last-step');
    expect(log).toEqual(['submit 1', 'yield', 'deliver 1', 'submit 2', 'yield', 'deliver 2', 'submit 3', 'yield', 'deliver 3']);
  });
});

describe('InFlightWindow', () => {
  it('holds at most `capacity` pending steps and frees a slot when one settles (either way)', async () => {
    const w = new InFlightWindow<number>(2);
    let resolveA!: (v: number) => void;
    let rejectB!: (e: Error) => void;
    w.add(new Promise<number>((r) => (resolveA = r)));
    const b = new Promise<number>((_, j) => (rejectB = j));
    b.catch(() => {});
    w.add(b);
    expect(w.full).toBe(true);
    expect(() => w.add(Promise.resolve(3))).toThrow(/window full \(2 steps\)/);
    let roomed = false;
    const room = w.waitForRoom().then(() => (roomed = true));
    await sleep(5);
    expect(roomed).toBe(false);
    rejectB(new Error('NaN'));
    await room;
    expect(w.size).toBe(1);
    resolveA(1);
    await w.drain();
    expect(w.size).toBe(0);
    expect(() => new InFlightWindow(0)).toThrow(/capacity 0/);
  });
});
