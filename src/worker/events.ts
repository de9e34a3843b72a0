// The worker's event bus: listeners subscribed by the page, events delivered to each (buffers
// transferred to the first listener, copies to the others), and per-kind throttling so progress
// and dataset events arrive at most every `intervalMs`, the last one always delivered.
import type { WorkerEvent, WorkerEventListener } from './protocol.ts';

export type Deliver = (listener: WorkerEventListener, event: WorkerEvent, transfer: Transferable[]) => void;

/** Events of one kind (dataset, progress) at most this often. */
export const EVENT_INTERVAL_MS = 250;

export class WorkerEvents {
  private listeners = new Map<number, WorkerEventListener>();
  private nextId = 1;
  private lastAt = new Map<string, number>();
  private timers = new Map<string, ReturnType<typeof setTimeout>>();
  /** The latest maker per kind: a held-back event reports the newest call's values, not the first's. */
  private makers = new Map<string, () => WorkerEvent>();

  constructor(
    private readonly deliver: Deliver,
    readonly intervalMs = EVENT_INTERVAL_MS,
  ) {}

  subscribe(listener: WorkerEventListener): number {
    const id = this.nextId++;
    this.listeners.set(id, listener);
    return id;
  }

  unsubscribe(id: number): void {
    this.listeners.delete(id);
  }

  emit(event: WorkerEvent, transfer: Transferable[] = []): void {
    const listeners = [...this.listeners.values()];
    // Buffers can be transferred once: later listeners get copies made before the transfer.
    const copies = transfer.length ? listeners.slice(1).map(() => structuredClone(event)) : [];
    listeners.forEach((listener, i) => this.deliver(listener, i === 0 || !transfer.length ? event : copies[i - 1]!, i === 0 ? transfer : []));
  }

  /** Emits `make()` now, or once the interval since the last event of this kind has passed (`force`: now). */
  emitThrottled(kind: string, make: () => WorkerEvent, force = false): void {
    const now = performance.now();
    const last = this.lastAt.get(kind) ?? -Infinity;
    const pending = this.timers.get(kind);
    if (force || now - last >= this.intervalMs) {
      if (pending) clearTimeout(pending);
      this.timers.delete(kind);
      this.makers.delete(kind);
      this.lastAt.set(kind, now);
      this.emit(make());
    } else {
      this.makers.set(kind, make);
      if (pending) return;
      this.timers.set(
        kind,
        setTimeout(() => {
          this.timers.delete(kind);
          const latest = this.makers.get(kind) ?? make;
          this.makers.delete(kind);
          this.lastAt.set(kind, performance.now());
          this.emit(latest());
        }, last + this.intervalMs - now),
      );
    }
  }

  /** Drops the listeners and the throttled events still waiting. */
  dispose(): void {
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    this.makers.clear();
    this.listeners.clear();
  }
}
