// The worker's data set host in Node (the Node decoder in place of createImageBitmap): a folder
// of images with a broken one and a text file is indexed and verified with the right counts and
// reasons, swaps happen through the session's pause hook, and a cancelled load keeps what the
// page had.
import { describe, expect, it } from 'vitest';
import { decodeImageBlobWithSharp } from '../../../src/data/node-folder.ts';
import { encodePng } from '../../../src/io/png.ts';
import { DatasetHost } from '../../../src/worker/dataset-host.ts';
import { WorkerEvents } from '../../../src/worker/events.ts';
import { isWorkerError, type WorkerEvent } from '../../../src/worker/protocol.ts';

function png(w: number, h: number, seed: number): Blob {
  const data = new Uint8ClampedArray(w * h * 4).map((_, i) => (i % 4 === 3 ? 255 : (i * seed) % 251));
  return new Blob([encodePng({ width: w, height: h, data }) as Uint8Array<ArrayBuffer>]);
}

function host() {
  const events: WorkerEvent[] = [];
  const bus = new WorkerEvents((listener, e) => listener(e), 0);
  bus.subscribe((e) => events.push(e));
  let swaps = 0;
  let changes = 0;
  const h = new DatasetHost(
    bus,
    {
      decodeSize: () => 36,
      swap: async (fn) => {
        swaps++;
        await fn();
      },
      changed: () => void changes++,
    },
    'http://localhost/',
    decodeImageBlobWithSharp,
  );
  return { h, events, counts: () => ({ swaps, changes }) };
}

const truncated = async () => new Blob([new Uint8Array(await png(40, 40, 3).arrayBuffer()).subarray(0, 60)]);

describe('DatasetHost', () => {
  it('indexes and verifies a folder: usable images, a truncated PNG and a text file skipped with reasons', async () => {
    const { h, events, counts } = host();
    const files = [
      { path: 'set/a.png', file: png(40, 32, 1) },
      { path: 'set/b.png', file: png(50, 40, 2) },
      { path: 'set/c.png', file: await truncated() },
      { path: 'set/notes.txt', file: new Blob(['not an image']) },
    ];
    const summary = await h.loadListing({ name: 'set', files, unreadable: [] }, 'files', { verify: true }, new AbortController().signal);
    expect(summary.images).toBe(2);
    expect(summary.verified).toBe(true);
    expect(summary.decodeSize).toBe(36);
    expect(summary.skipped.map((s) => [s.path, s.code])).toEqual([
      ['set/c.png', 'decode-failed'],
      ['set/notes.txt', expect.stringMatching(/not-image|unknown-type/)],
    ]);
    expect(counts()).toEqual({ swaps: 1, changes: 1 });
    expect(events.some((e) => e.type === 'progress' && e.task === 'decode' && e.done === e.total)).toBe(true);
    const thumbs = await h.thumbnails({ indices: [0, 1], size: 8 }, new AbortController().signal);
    expect(thumbs.paths).toEqual(['set/a.png', 'set/b.png']);
    expect(thumbs.rgba.length).toBe(2 * 8 * 8 * 4);
    await h.dispose();
  });

  it('refuses an empty listing and keeps the previous data set when a load is cancelled', async () => {
    const { h } = host();
    await h.loadListing({ name: 'first', files: [{ path: 'first/a.png', file: png(40, 40, 5) }], unreadable: [] }, 'files', {}, new AbortController().signal);
    let caught: unknown;
    try {
      await h.loadListing({ name: 'nothing', files: [], unreadable: [] }, 'files', {}, new AbortController().signal);
    } catch (e) {
      caught = e;
    }
    expect(isWorkerError(caught) && (caught as { kind: string }).kind).toBe('no-dataset');
    const abort = new AbortController();
    abort.abort();
    await expect(h.loadListing({ name: 'second', files: [{ path: 'second/b.png', file: png(40, 40, 6) }], unreadable: [] }, 'files', {}, abort.signal)).rejects.toThrow(/cancelled|loading second/);
    expect(h.summary()!.name).toBe('first');
    await h.dispose();
  });

  it('a load cancelled while it waits for the run to pause is never installed (a newer one took over)', async () => {
    const events: WorkerEvent[] = [];
    const bus = new WorkerEvents((listener, e) => listener(e), 0);
    bus.subscribe((e) => events.push(e));
    let release: () => void = () => {};
    const paused = new Promise<void>((r) => (release = r));
    let waiting: () => void = () => {};
    const swapAsked = new Promise<void>((r) => (waiting = r));
    const swap = async (fn: () => Promise<void>) => {
      waiting();
      await paused;
      await fn();
    };
    const h = new DatasetHost(bus, { decodeSize: () => 36, swap, changed: () => {} }, 'http://localhost/', decodeImageBlobWithSharp);
    const older = new AbortController();
    const loading = h.loadListing({ name: 'older', files: [{ path: 'older/a.png', file: png(40, 40, 7) }], unreadable: [] }, 'files', {}, older.signal);
    await swapAsked; // indexed, now waiting for the run to pause
    older.abort();
    release();
    await expect(loading).rejects.toThrow(/loading older/);
    expect(h.summary()).toBeNull();
    await h.dispose();
  });
});
