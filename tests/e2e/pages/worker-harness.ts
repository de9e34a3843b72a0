// Test page for the engine worker API: exposes an EngineClient and the folder helpers on
// window.harness, records every worker event, and measures main-thread responsiveness. The
// playground UI is not involved, so these tests pin the worker contract (src/worker/protocol.ts).
import { EngineClient } from '../../../src/worker/client.ts';
import * as folder from '../../../src/data/browser-folder.ts';
import type { FolderListing, GpuStatus, WorkerEvent } from '../../../src/worker/protocol.ts';

export interface MainThreadProbe {
  /** Timer callbacks that ran during the probe. */
  ticks: number;
  /** How long the probed work took, ms (a free main thread fits about elapsedMs / 10 ticks). */
  elapsedMs: number;
  /** Largest delay of a 10 ms timer beyond its due time, ms. */
  maxLateMs: number;
  /** 95th percentile of that delay, ms. */
  p95LateMs: number;
  /** Long tasks (> 50 ms) the browser reported on the main thread, ms each. */
  longTasks: number[];
}

const client = EngineClient.start();
const events: WorkerEvent[] = [];
const input = document.getElementById('folder') as HTMLInputElement;
const drop = document.getElementById('drop') as HTMLDivElement;

const harness = {
  client,
  folder,
  events,
  /** Set by the <input webkitdirectory> change handler. */
  inputListing: null as FolderListing | null,
  /** Set by the drop handler (a promise: the walk is asynchronous). */
  dropped: null as Promise<FolderListing> | null,
  ready: (async (): Promise<GpuStatus> => {
    await client.subscribe((e) => events.push(e));
    return client.init();
  })(),

  /** Bytes → base64, to hand binary results back to the test process. */
  toBase64(bytes: Uint8Array): string {
    let s = '';
    for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
    return btoa(s);
  },

  /** The test process's base64 → bytes. */
  fromBase64(data: string): Uint8Array<ArrayBuffer> {
    return Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
  },

  /** Runs `work` while a 10 ms timer loop on this thread records how late each tick fires. */
  async probeMainThread<T>(work: () => Promise<T>): Promise<{ result: T; probe: MainThreadProbe }> {
    const late: number[] = [];
    const longTasks: number[] = [];
    let observer: PerformanceObserver | null = null;
    try {
      observer = new PerformanceObserver((list) => list.getEntries().forEach((e) => longTasks.push(e.duration)));
      observer.observe({ type: 'longtask', buffered: false });
    } catch {
      observer = null;
    }
    let running = true;
    const schedule = () => {
      const due = performance.now() + 10;
      setTimeout(() => {
        if (!running) return;
        late.push(performance.now() - due);
        schedule();
      }, 10);
    };
    schedule();
    const start = performance.now();
    try {
      const result = await work();
      const elapsedMs = performance.now() - start;
      return {
        result,
        probe: (() => {
          const sorted = [...late].sort((a, b) => a - b);
          return { ticks: late.length, elapsedMs, maxLateMs: sorted[sorted.length - 1] ?? 0, p95LateMs: sorted[Math.floor(sorted.length * 0.95)] ?? 0, longTasks };
        })(),
      };
    } finally {
      running = false;
      observer?.disconnect();
    }
  },
};

input.addEventListener('change', () => {
  harness.inputListing = folder.filesFromFileList(input.files!);
});
drop.addEventListener('dragover', (e) => e.preventDefault());
drop.addEventListener('drop', (e) => {
  e.preventDefault();
  // Entries must be taken synchronously inside the event.
  harness.dropped = folder.filesFromDataTransfer(folder.collectDropEntries(e.dataTransfer!));
});

export type Harness = typeof harness;
(window as unknown as { harness: Harness }).harness = harness;
