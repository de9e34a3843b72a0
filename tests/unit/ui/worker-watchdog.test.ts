// The page notices a dead engine worker: a worker that answers (or rejects) stays alive however
// slow each answer is within the bound; one silent for longer than the bound, or one that
// reports an error event, is declared dead once, with why; a long gap between checks (a
// background tab's throttled timers) is not silence.
import { describe, expect, it } from 'vitest';
import { WorkerWatchdog } from '../../../src/ui/worker-watchdog.ts';

const flush = () => new Promise((r) => setTimeout(r, 0));

describe('WorkerWatchdog', () => {
  it('fires once when the worker stops answering, never while it answers', async () => {
    let t = 0;
    let answering = true;
    const deaths: string[] = [];
    const dog = new WorkerWatchdog(() => (answering ? Promise.resolve('ok') : new Promise(() => {})), (why) => deaths.push(why), { everyMs: 1e9, deadAfterMs: 10_000 }, () => t);
    dog.start();
    for (let i = 0; i < 20; i++) {
      t += 4000; // slower than the ping interval, each answer within the bound
      dog.check();
      await flush();
    }
    expect(deaths).toEqual([]);
    answering = false;
    for (let i = 0; i < 5; i++) {
      t += 4000;
      dog.check();
      await flush();
    }
    expect(deaths).toEqual(['it did not answer for 12 s']);
    dog.stop();
  });

  it('a long gap between checks is not a death when the worker answers', async () => {
    let t = 0;
    const deaths: string[] = [];
    const dog = new WorkerWatchdog(() => Promise.resolve('ok'), (why) => deaths.push(why), { everyMs: 1e9, deadAfterMs: 10_000 }, () => t);
    dog.start();
    for (let i = 0; i < 5; i++) {
      t += 60_000; // timers of a hidden tab: once a minute
      dog.check();
      await flush();
    }
    expect(deaths).toEqual([]);
    dog.stop();
  });

  it('a rejected call is an answer; an error event is a death', async () => {
    let t = 0;
    const deaths: string[] = [];
    const dog = new WorkerWatchdog(() => Promise.reject(new Error('busy')), (why) => deaths.push(why), { everyMs: 1e9, deadAfterMs: 10_000 }, () => t);
    const worker = new EventTarget();
    dog.start(worker as unknown as Worker);
    for (let i = 0; i < 10; i++) {
      t += 5000;
      dog.check();
      await flush();
    }
    expect(deaths).toEqual([]);
    worker.dispatchEvent(Object.assign(new Event('error'), { message: 'out of memory' }));
    worker.dispatchEvent(Object.assign(new Event('error'), { message: 'again' }));
    expect(deaths).toEqual(['it reported an error: out of memory']);
    dog.stop();
  });
});
