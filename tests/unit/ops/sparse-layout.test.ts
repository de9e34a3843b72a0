import { describe, expect, it } from 'vitest';
import {
  denseLayout,
  layoutFromMask,
  MaskError,
  rowOfSite,
  siteOfRow,
  stageRows,
  zOrder,
  zOrderInverse,
} from '../../../src/ops/sparse-layout.ts';
import { denseToRows, rowsToDense } from '../../../src/reference/layout.ts';

describe('sparse layout', () => {
  it('Z-order puts the 2×2 children of a site on 4 consecutive indices', () => {
    for (let Y = 0; Y < 4; Y++)
      for (let X = 0; X < 4; X++)
        for (let dy = 0; dy < 2; dy++)
          for (let dx = 0; dx < 2; dx++) expect(zOrder(2 * Y + dy, 2 * X + dx)).toBe(4 * zOrder(Y, X) + dy * 2 + dx);
    for (let z = 0; z < 64; z++) expect(zOrder(...zOrderInverse(z))).toBe(z);
  });

  it('tables of a mask: visible patches in raster order, −1 for masked', () => {
    // N=2, 2×3 grid, 2 visible per sample
    const mask = [1, 0, 1, 1, 0, 1, /* n=1 */ 0, 1, 1, 1, 1, 0];
    const l = layoutFromMask(mask, 2, 2, 3);
    expect(l.V).toBe(2);
    expect([...l.visiblePatches]).toEqual([1, 4, 0, 5]);
    expect([...l.patchToVisible]).toEqual([-1, 0, -1, -1, 1, -1, 0, -1, -1, -1, -1, 1]);
  });

  it('rejects masks with different visible counts, non-binary entries, or nothing visible', () => {
    expect(() => layoutFromMask([0, 1, 0, 0], 2, 1, 2)).toThrow(MaskError);
    expect(() => layoutFromMask([0, 0.5], 1, 1, 2)).toThrow(/0 \(visible\) or 1/);
    expect(() => layoutFromMask([1, 1], 1, 1, 2)).toThrow(/every patch is masked/);
    expect(() => layoutFromMask([0, 1], 1, 2, 2)).toThrow(/expected N·L/);
  });

  it('row ↔ site is a bijection on visible sites, and dense ↔ rows round-trips', () => {
    const mask = [0, 1, 1, 0, /* n=1 */ 1, 0, 0, 1];
    const l = layoutFromMask(mask, 2, 2, 2);
    for (const r of [1, 2, 4]) {
      const rows = stageRows(l, r);
      expect(rows).toBe(2 * 2 * r * r);
      for (let row = 0; row < rows; row++) {
        const { n, y, x } = siteOfRow(l, r, row);
        expect(rowOfSite(l, r, n, y, x)).toBe(row);
      }
      const C = 3;
      const H = 2 * r;
      const dense = Float64Array.from({ length: 2 * C * H * H }, (_, i) => i + 1);
      const back = rowsToDense(denseToRows(dense, l, r, C), l, r, C);
      // visible sites survive, masked sites become 0
      for (let n = 0; n < 2; n++)
        for (let y = 0; y < H; y++)
          for (let x = 0; x < H; x++) {
            const vis = rowOfSite(l, r, n, y, x) >= 0;
            for (let c = 0; c < C; c++) {
              const i = ((n * C + c) * H + y) * H + x;
              expect(back[i]).toBe(vis ? dense[i] : 0);
            }
          }
    }
  });

  it('dense layout keeps every patch', () => {
    const l = denseLayout(3, 2, 4);
    expect(l.V).toBe(8);
    expect(stageRows(l, 8)).toBe(3 * 8 * 64);
  });
});
