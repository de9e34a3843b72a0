// Tick labels: neighbouring ticks always read differently, with no more decimals than needed.
import { describe, expect, it } from 'vitest';
import { formatTicks, STEP_INCREMENTS } from '../../../src/ui/chart-format.ts';

describe('formatTicks', () => {
  it('a narrow loss range keeps its digits', () => {
    expect(formatTicks([0.9994, 0.9996, 0.9998, 1])).toEqual(['0.9994', '0.9996', '0.9998', '1.0000']);
    expect(formatTicks([0.5, 1, 1.5])).toEqual(['0.5', '1.0', '1.5']);
    expect(formatTicks([0, 20, 40])).toEqual(['0', '20', '40']);
  });

  it('neighbours are distinct for many ranges', () => {
    for (const [from, step] of [[0.99941, 0.00002], [12, 0.5], [0.1, 0.1], [1000, 250], [2e-5, 1e-5], [0, 2e-4]] as const) {
      const ticks = Array.from({ length: 6 }, (_, i) => from + i * step);
      const labels = formatTicks(ticks);
      expect(new Set(labels).size, labels.join(' ')).toBe(6);
      labels.forEach((l, i) => expect(Math.abs(Number(l) - ticks[i]!)).toBeLessThanOrEqual(step / 2));
    }
  });

  it('step increments are whole numbers', () => {
    expect(STEP_INCREMENTS.slice(0, 6)).toEqual([1, 2, 5, 10, 20, 50]);
    expect(STEP_INCREMENTS.every(Number.isInteger)).toBe(true);
  });
});
