// The order of a run's images: each epoch a seeded permutation of every slot, step k's batch a
// function of (seed, size, batch, k) only, unusable slots replaced without disturbing the rest.
import { describe, expect, it } from 'vitest';
import { BatchOrder } from '../../../src/train/batch-order.ts';
import { Stream, streamSeed } from '../../../src/train/streams.ts';

const sorted = (a: ArrayLike<number>) => Array.from(a).sort((x, y) => x - y);

describe('BatchOrder', () => {
  it('covers every slot once per epoch, in an order set by the seed', () => {
    const o = new BatchOrder(10, 5, 7);
    const epoch0 = [...o.slots(1), ...o.slots(2)];
    const epoch1 = [...o.slots(3), ...o.slots(4)];
    expect(sorted(epoch0)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(sorted(epoch1)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(epoch1).not.toEqual(epoch0);
    expect([...new BatchOrder(10, 5, 8).slots(1), ...new BatchOrder(10, 5, 8).slots(2)]).not.toEqual(epoch0);
  });

  it('step k depends on k alone, not on the steps drawn before (resume)', () => {
    const straight = new BatchOrder(7, 3, 1);
    const all = Array.from({ length: 9 }, (_, k) => [...straight.slots(k + 1)]);
    const fresh = new BatchOrder(7, 3, 1);
    expect([...fresh.slots(9)]).toEqual(all[8]);
    expect([...fresh.slots(4)]).toEqual(all[3]);
    // batches cross epoch boundaries: positions 3k..3k+2 of the concatenated permutations
    const flat = [...fresh.permutation(0), ...fresh.permutation(1), ...fresh.permutation(2), ...fresh.permutation(3)];
    expect(all.flat()).toEqual(flat.slice(0, 27));
  });

  it('replaces an unusable slot by the next usable one and keeps the others', () => {
    const o = new BatchOrder(9, 4, 3);
    const plain = [...o.slots(2)];
    const broken = plain[1]!;
    const usable = (s: number) => s !== broken;
    const repaired = [...o.slots(2, usable)];
    expect(repaired.filter((_, i) => i !== 1)).toEqual(plain.filter((_, i) => i !== 1));
    expect(repaired[1]).toBe((broken + 1) % 9);
    expect(() => new BatchOrder(4, 2, 0).slots(1, () => false)).toThrow(/none of the 4 images is usable/);
  });

  it('refuses absurd arguments by name', () => {
    expect(() => new BatchOrder(0, 2, 0)).toThrow(/at least one image/);
    expect(() => new BatchOrder(3, 0, 0)).toThrow(/batch size 0/);
    expect(() => new BatchOrder(3, 2, 0).slots(0)).toThrow(/step 0/);
  });
});

describe('streamSeed', () => {
  it('separates streams, steps and seeds', () => {
    const seeds = new Set<number>();
    for (const seed of [0, 1, 2 ** 32 - 1]) for (const stream of [Stream.Epoch, Stream.Augment, Stream.Mask, Stream.Eval]) for (let i = 0; i < 50; i++) seeds.add(streamSeed(seed, stream, i));
    expect(seeds.size).toBe(3 * 4 * 50);
    expect(streamSeed(5, Stream.Mask, 3)).toBe(streamSeed(5, Stream.Mask, 3));
  });
});
