// The decoded-pixel cache: a byte budget, least-recently-used eviction, exact pixels back; and a
// data set over it: memory stays within the budget and an evicted image is decoded again.
import { describe, expect, it } from 'vitest';
import { PixelCache } from '../../../src/data/browser-cache.ts';
import type { PixelImage } from '../../../src/data/image.ts';
import { BrowserDataset, type PixelDecoder } from '../../../src/data/browser-dataset.ts';
import { decodeImageBlobWithSharp } from '../../../src/data/node-folder.ts';
import { encodePng } from '../../../src/io/png.ts';

const image = (side: number, fill: number): PixelImage => ({ width: side, height: side, channels: 3, data: new Uint8Array(side * side * 3).fill(fill) });

describe('PixelCache', () => {
  it('evicts the least recently used entries once the byte budget is exceeded', async () => {
    const cache = new PixelCache(3 * 300); // three 10×10 RGB images
    for (let k = 0; k < 3; k++) cache.put(k, image(10, k));
    expect(cache.stats()).toMatchObject({ memoryBytes: 900, memoryEntries: 3 });
    cache.peek(0); // 0 becomes the most recent: 1 is now the oldest
    cache.put(3, image(10, 3));
    expect(cache.peek(1)).toBeUndefined();
    expect([0, 2, 3].map((k) => cache.peek(k)?.data[0])).toEqual([0, 2, 3]);
    // A bigger image pushes out as many as needed.
    cache.put(4, image(17, 4)); // 867 bytes
    expect(cache.stats().memoryEntries).toBe(1);
    expect(cache.stats().memoryBytes).toBe(867);
    expect(await cache.get(4)).toBe(cache.peek(4));
    expect(await cache.get(0)).toBeNull();
    expect(cache.lookup(4)).toBe(cache.peek(4));
    expect(cache.lookup(0)).toBeUndefined();
    // get() counts hits and misses, lookup() counts its hits, peek() counts nothing.
    expect(cache.stats()).toMatchObject({ hits: 2, misses: 1 });
  });

  it('replaces an entry without double counting, and never stores an image above the budget', async () => {
    const cache = new PixelCache(1000);
    cache.put(1, image(10, 1));
    cache.put(1, image(10, 9));
    expect(cache.stats().memoryBytes).toBe(300);
    expect(cache.peek(1)!.data[0]).toBe(9);
    cache.put(2, image(20, 2)); // 1200 bytes: larger than the whole budget, no spill store
    expect(cache.has(2)).toBe(false);
    expect(cache.stats().memoryBytes).toBe(300);
    await cache.clear();
    expect(cache.stats()).toMatchObject({ memoryBytes: 0, memoryEntries: 0, hits: 0, misses: 0 });
    expect(() => new PixelCache(-1)).toThrow(/budget -1/);
  });
});

describe('the data set over a byte-budget cache (no spill store)', () => {
  // Real PNGs decoded by the Node decoder (sharp), counted: a miss decodes again.
  const png = (k: number) => {
    const data = new Uint8ClampedArray(12 * 12 * 4).map((_, i) => (i % 4 === 3 ? 255 : (i * 5 + k * 40) % 256));
    return new Blob([encodePng({ width: 12, height: 12, data }) as Uint8Array<ArrayBuffer>]);
  };

  it('keeps memory within the budget, evicts least recently used first, and decodes again on a miss', async () => {
    const imageBytes = 8 * 8 * 3; // decode size 8: 8×8 RGB
    const cache = new PixelCache(3 * imageBytes);
    const decoded: string[] = [];
    const decode: PixelDecoder = async (blob, options) => {
      decoded.push(options.path!);
      return decodeImageBlobWithSharp(blob, options);
    };
    const files = Array.from({ length: 6 }, (_, k) => ({ path: `set/${k}.png`, file: png(k) }));
    const dataset = await BrowserDataset.fromListing({ name: 'set', files, unreadable: [] }, 'files', { decodeSize: 8, cache, decode, concurrency: 1 });
    const used: number[] = [];
    const first: ArrayLike<number>[] = [];
    for (let slot = 0; slot < 6; slot++) {
      first.push(Array.from((await dataset.image(slot))!.data));
      used.push(cache.stats().memoryBytes);
    }
    // the budget is respected at every step; the last three are what memory holds
    expect(Math.max(...used)).toBeLessThanOrEqual(3 * imageBytes);
    expect(used).toEqual([1, 2, 3, 3, 3, 3].map((n) => n * imageBytes));
    expect([0, 1, 2, 3, 4, 5].map((k) => cache.has(k))).toEqual([false, false, false, true, true, true]);
    expect(decoded).toHaveLength(6);
    // a hit touches slot 3 (most recent now); slot 0 was evicted: decoded again, same pixels
    await dataset.image(3);
    expect(decoded).toHaveLength(6);
    const again = await dataset.image(0);
    expect(decoded).toEqual([...files.map((f) => f.path), 'set/0.png']);
    expect(Array.from(again!.data)).toEqual(Array.from(first[0]!));
    // putting 0 back pushed out the least recently used one: 4 (3 was touched after it)
    expect([3, 4, 5, 0].map((k) => cache.has(k))).toEqual([true, false, true, true]);
    expect(dataset.summary().cache).toMatchObject({ memoryBytes: 3 * imageBytes, memoryBudgetBytes: 3 * imageBytes, memoryEntries: 3, decodes: 7 });
  });
});
