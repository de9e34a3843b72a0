// The worker's event bus: delivery to every listener (a transferred buffer goes to the first,
// copies to the others) and throttling that never loses the last event of a kind.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { WorkerEvents } from '../../../src/worker/events.ts';
import type { WorkerEvent } from '../../../src/worker/protocol.ts';

const progress = (done: number): WorkerEvent => ({ type: 'progress', task: 'decode', done, total: 10 });

describe('WorkerEvents', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('delivers to every listener; transfers go to the first only', () => {
    const got: [number, WorkerEvent, Transferable[]][] = [];
    const bus = new WorkerEvents((listener, event, transfer) => {
      listener(event);
      got.push([got.length, event, transfer]);
    });
    const seen: WorkerEvent[] = [];
    const a = bus.subscribe((e) => seen.push(e));
    bus.subscribe((e) => seen.push(e));
    const buffer = new ArrayBuffer(8);
    const event: WorkerEvent = { type: 'progress', task: 'walk', done: 1, total: 2 };
    bus.emit(event, [buffer]);
    expect(got.map(([, , t]) => t.length)).toEqual([1, 0]);
    expect(got[0]![1]).toBe(event);
    expect(got[1]![1]).not.toBe(event); // a copy
    expect(got[1]![1]).toEqual(event);
    bus.unsubscribe(a);
    bus.emit(event);
    expect(seen).toHaveLength(3);
  });

  it('throttles per kind and delivers the latest state once the interval has passed', () => {
    const seen: WorkerEvent[] = [];
    const bus = new WorkerEvents((listener, event) => listener(event), 250);
    bus.subscribe((e) => seen.push(e));
    let done = 0;
    const make = () => progress(done);
    bus.emitThrottled('decode', make); // first: at once
    done = 1;
    bus.emitThrottled('decode', make); // within the interval: scheduled
    done = 2;
    bus.emitThrottled('decode', make); // already scheduled
    bus.emitThrottled('other', () => progress(99)); // another kind is not held back
    expect(seen.map((e) => (e as { done: number }).done)).toEqual([0, 99]);
    vi.advanceTimersByTime(260);
    expect(seen.map((e) => (e as { done: number }).done)).toEqual([0, 99, 2]); // made when sent: the latest
    done = 3;
    bus.emitThrottled('decode', make, true); // forced: at once
    expect(seen.length).toBe(4);
    bus.emitThrottled('decode', make);
    bus.dispose();
    vi.advanceTimersByTime(1000);
    expect(seen.length).toBe(4); // disposed: the waiting event is dropped
  });

  it('a held-back event carries the values of the newest call (makers that capture their arguments)', () => {
    const seen: WorkerEvent[] = [];
    const bus = new WorkerEvents((listener, event) => listener(event), 250);
    bus.subscribe((e) => seen.push(e));
    const report = (done: number) => bus.emitThrottled('walk', () => progress(done));
    report(0);
    report(5);
    report(7);
    vi.advanceTimersByTime(260);
    expect(seen.map((e) => (e as { done: number }).done)).toEqual([0, 7]);
  });
});
