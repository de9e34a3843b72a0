// Virtualised strip windowing: items in view plus overscan, clamped to the list.
import { describe, expect, it } from 'vitest';
import { visibleRange } from '../../../src/ui/virtual.ts';

describe('visibleRange', () => {
  it('covers the viewport plus overscan, brute-force checked', () => {
    const pitch = 68;
    for (const count of [0, 1, 5, 5000]) {
      for (const scroll of [0, 30, 680, 339_000]) {
        for (const extent of [100, 1200]) {
          const [a, b] = visibleRange(scroll, extent, count, pitch, 2);
          // every item intersecting [scroll, scroll + extent) is inside [a, b)
          for (let i = 0; i < count; i++) {
            const visible = i * pitch < scroll + extent && (i + 1) * pitch > scroll;
            if (visible) expect(i >= a && i < b, `item ${i} count ${count} scroll ${scroll}`).toBe(true);
          }
          expect(a).toBeGreaterThanOrEqual(0);
          expect(b).toBeLessThanOrEqual(count);
          expect(b - a).toBeLessThanOrEqual(Math.ceil(extent / pitch) + 1 + 4);
        }
      }
    }
  });
});
