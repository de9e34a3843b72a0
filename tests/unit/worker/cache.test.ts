// The decoded-pixel cache: a byte budget, least-recently-used eviction, exact pixels back.
import { describe, expect, it } from 'vitest';
import { PixelCache } from '../../../src/data/browser-cache.ts';
import type { PixelImage } from '../../../src/data/image.ts';

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
