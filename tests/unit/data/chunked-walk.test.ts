// Big folders in bounded chunks: the time slicer gives the thread back once a slice used its
// budget, mapInChunks bounds the work between two chances to yield, a dropped folder's entries
// (fake FileSystemEntry trees, readEntries capped at 100 like Chromium) are walked in slices
// whose length stays near the budget however many files, and a directory handle is walked with
// its getFile() calls bounded — every file listed once, sorted, hidden folders reported.
import { describe, expect, it } from 'vitest';
import { mapInChunks, TimeSlicer } from '../../../src/data/browser-concurrency.ts';
import { filesFromDirectoryHandle, filesFromEntries } from '../../../src/data/browser-folder.ts';

/** A clock the fake file system advances (the cost of each call), read by the slicer. */
class FakeClock {
  t = 0;
  now = (): number => this.t;
}

const later = (fn: () => void) => setTimeout(fn, 0);

interface FakeTree {
  [name: string]: FakeTree | string;
}

/** FileSystemEntry look-alikes over a tree; each file() costs `fileCostMs` on the clock, synchronously (as Chromium's does on the page's thread). */
function entriesOf(tree: FakeTree, clock: FakeClock, fileCostMs: number, path = ''): FileSystemEntry[] {
  return Object.entries(tree).map(([name, value]) => {
    const fullPath = `${path}/${name}`;
    if (typeof value === 'string') {
      return {
        isFile: true,
        isDirectory: false,
        name,
        fullPath,
        file(ok: (f: File) => void) {
          clock.t += fileCostMs;
          const f = new File([value], name);
          later(() => ok(f));
        },
      } as unknown as FileSystemEntry;
    }
    const children = entriesOf(value, clock, fileCostMs, fullPath);
    return {
      isFile: false,
      isDirectory: true,
      name,
      fullPath,
      createReader() {
        let at = 0;
        return {
          readEntries(ok: (batch: FileSystemEntry[]) => void) {
            const batch = children.slice(at, at + 100); // Chromium: at most 100 per call
            at += batch.length;
            later(() => ok(batch));
          },
        };
      },
    } as unknown as FileSystemEntry;
  });
}

/** `classes` class folders of `perClass` files each (nested one more level), plus a .git folder. */
function bigTree(classes: number, perClass: number): { tree: FakeTree; paths: string[] } {
  const photos: FakeTree = { '.git': { config: 'x' } };
  const paths: string[] = [];
  for (let c = 0; c < classes; c++) {
    const part: FakeTree = {};
    for (let i = 0; i < perClass; i++) {
      part[`img_${i}.png`] = `c${c}i${i}`;
      paths.push(`photos/class_${c}/part/img_${i}.png`);
    }
    photos[`class_${c}`] = { part };
  }
  return { tree: { photos }, paths: paths.sort() };
}

describe('TimeSlicer', () => {
  it('yields only once the slice has used its budget, and records the longest slice', async () => {
    const clock = new FakeClock();
    let yielded = 0;
    const slicer = new TimeSlicer(10, clock.now, async () => void yielded++);
    clock.t = 9;
    await slicer.slice();
    expect(yielded).toBe(0);
    expect(slicer.due).toBe(false);
    clock.t = 13;
    expect(slicer.due).toBe(true);
    await slicer.slice();
    expect(yielded).toBe(1);
    expect(slicer.longestSliceMs).toBe(13);
    clock.t = 20; // 7 ms into the new slice
    await slicer.slice();
    expect(yielded).toBe(1);
    expect(() => new TimeSlicer(0)).toThrow(/budget 0/);
  });
});

describe('mapInChunks', () => {
  it('runs chunk after chunk (at most `limit` at once), calls between() after each, keeps input order', async () => {
    let running = 0;
    let peak = 0;
    const between: [number, number][] = [];
    const out = await mapInChunks(
      Array.from({ length: 50 }, (_, i) => i),
      16,
      4,
      async (x, i) => {
        expect(i).toBe(x);
        running++;
        peak = Math.max(peak, running);
        await new Promise((r) => setTimeout(r, (x * 3) % 4));
        running--;
        return x * 2;
      },
      { between: (done, total) => void between.push([done, total]) },
    );
    expect(out).toEqual(Array.from({ length: 50 }, (_, i) => i * 2));
    expect(peak).toBe(4);
    expect(between).toEqual([
      [16, 50],
      [32, 50],
      [48, 50],
      [50, 50],
    ]);
  });

  it('stops at an abort', async () => {
    const abort = new AbortController();
    let calls = 0;
    const run = mapInChunks(Array.from({ length: 100 }, (_, i) => i), 10, 2, async () => {
      calls++;
      await new Promise((r) => setTimeout(r, 1));
    }, { signal: abort.signal, between: (done) => (done >= 20 ? abort.abort(new Error('stop')) : undefined) });
    await expect(run).rejects.toThrow('stop');
    expect(calls).toBe(20);
  });
});

describe('filesFromEntries (a dropped folder, on the page)', () => {
  it('lists 3,000 files in slices that stay near the budget, sorted, hidden folders reported', async () => {
    const clock = new FakeClock();
    const { tree, paths } = bigTree(6, 500);
    // 0.5 ms of main-thread time per file() call, as measured in Chromium: 1.5 s in all
    const slicer = new TimeSlicer(12, clock.now, () => new Promise((r) => setTimeout(r, 0)));
    const counts: number[] = [];
    const listing = await filesFromEntries(entriesOf(tree, clock, 0.5), { slicer, onProgress: (n) => counts.push(n) });
    expect(listing.name).toBe('photos');
    expect(listing.files.map((f) => f.path)).toEqual(paths);
    expect(await listing.files[0]!.file.text()).toBe('c0i0');
    expect(listing.unreadable).toEqual([{ path: 'photos/.git', code: 'hidden', reason: 'hidden folder .git: not read' }]);
    // 1.5 s of work given back to the browser every slice; no slice longer than the budget
    // plus one chunk (16 calls × 0.5 ms), so at least 1500 / 20 yields
    expect(clock.t).toBe(1500);
    expect(slicer.yields).toBeGreaterThanOrEqual(75);
    expect(slicer.longestSliceMs).toBeLessThanOrEqual(12 + 8);
    expect(counts[counts.length - 1]).toBe(3000);
    expect(counts.every((n, i) => i === 0 || n >= counts[i - 1]!)).toBe(true);
  });
});

describe('filesFromDirectoryHandle (a dropped or picked folder, in the worker)', () => {
  /** FileSystemDirectoryHandle look-alikes; counts getFile() calls in flight. */
  function handleOf(name: string, tree: FakeTree, inFlight: { now: number; peak: number }): FileSystemDirectoryHandle {
    return {
      kind: 'directory',
      name,
      async *values() {
        for (const [child, value] of Object.entries(tree)) {
          if (typeof value === 'string') {
            yield {
              kind: 'file',
              name: child,
              async getFile() {
                inFlight.now++;
                inFlight.peak = Math.max(inFlight.peak, inFlight.now);
                await new Promise((r) => setTimeout(r, 0));
                inFlight.now--;
                return new File([value], child);
              },
            };
          } else yield handleOf(child, value, inFlight);
        }
      },
    } as unknown as FileSystemDirectoryHandle;
  }

  it('lists every file once, sorted, with at most 8 getFile() calls at a time', async () => {
    const { tree, paths } = bigTree(4, 300);
    const inFlight = { now: 0, peak: 0 };
    const progress: number[] = [];
    const listing = await filesFromDirectoryHandle(handleOf('photos', tree.photos as FakeTree, inFlight), { onProgress: (n) => progress.push(n) });
    expect(listing.files.map((f) => f.path)).toEqual(paths);
    expect(listing.unreadable.map((u) => [u.path, u.code])).toEqual([['photos/.git', 'hidden']]);
    expect(inFlight.peak).toBe(8);
    expect(progress[progress.length - 1]).toBe(1200);
  });
});
