// The epoch sampler: each epoch is a permutation of the slots, seeded and reproducible, and
// failed slots are skipped without disturbing the others.
import { describe, expect, it } from 'vitest';
import { EpochSampler } from '../../../src/data/browser-dataset.ts';
import { Random } from '../../../src/util/random.ts';

describe('EpochSampler', () => {
  it('draws every slot once per epoch in a seeded order', () => {
    const a = new EpochSampler(new Random(5));
    const b = new EpochSampler(new Random(5));
    const all = () => true;
    const e1 = Array.from({ length: 10 }, () => a.next(10, all));
    const e2 = Array.from({ length: 10 }, () => a.next(10, all));
    expect([...e1].sort((x, y) => x - y)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect([...e2].sort((x, y) => x - y)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(e1).not.toEqual(e2);
    expect(a.epoch).toBe(2);
    expect(Array.from({ length: 20 }, () => b.next(10, all))).toEqual([...e1, ...e2]);
    const other = new EpochSampler(new Random(6));
    expect(Array.from({ length: 10 }, () => other.next(10, all))).not.toEqual(e1);
  });

  it('skips unusable slots and fails clearly when none is usable', () => {
    const s = new EpochSampler(new Random(1));
    const usable = (k: number) => k % 3 !== 0;
    const drawn = Array.from({ length: 12 }, () => s.next(9, usable));
    expect(drawn.every(usable)).toBe(true);
    expect(new Set(drawn.slice(0, 6)).size).toBe(6); // the 6 usable of the first epoch, once each
    expect(() => new EpochSampler(new Random(1)).next(4, () => false)).toThrow(/none of the 4 images is usable/);
  });
});
