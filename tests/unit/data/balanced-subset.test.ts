// The class-balanced evaluation subset of kNN tracking and sweep probes: every class kept, as
// even as the classes allow, in index order.
import { describe, expect, it } from 'vitest';
import { balancedSubset } from '../../../src/data/labelled-batches.ts';

describe('balancedSubset', () => {
  it('takes the classes in turn, each in index order, and returns sorted indices', () => {
    const labels = [0, 0, 0, 0, 1, 1, 2, 2, 2, 2];
    expect(balancedSubset(labels, 5)).toEqual([0, 1, 4, 5, 6]);
    expect(balancedSubset(labels, 7)).toEqual([0, 1, 2, 4, 5, 6, 7]);
    // a small class runs out: the others fill the rest
    expect(balancedSubset(labels, 9)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
    expect(balancedSubset(labels, 50)).toEqual(labels.map((_, i) => i));
    expect(() => balancedSubset(labels, 0)).toThrow(/subset size 0/);
  });
});
