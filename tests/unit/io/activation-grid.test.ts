// The activation grid picture shared by `fcmae analyze --grid` and the page: 8 panels a row,
// each map enlarged by a whole factor to ≥ 48 px, grey levels round(255·v), gaps of 2 (white).
import { describe, expect, it } from 'vitest';
import { activationGridImage, activationPanelScale } from '../../../src/io/activation-grid.ts';

describe('activationGridImage', () => {
  it('lays out 64 maps 8 × 8, enlarging small maps to ≥ 48 px', () => {
    expect([activationPanelScale(4), activationPanelScale(7), activationPanelScale(56)]).toEqual([12, 7, 1]);
    const maps = Array.from({ length: 64 }, (_, k) => Float32Array.from({ length: 16 }, (_, i) => (i === k % 16 ? 1 : 0)));
    const img = activationGridImage({ width: 4, height: 4, maps });
    expect([img.width, img.height]).toEqual([8 * 48 + 9 * 2, 8 * 48 + 9 * 2]);
    const px = (x: number, y: number) => [...img.data.subarray((y * img.width + x) * 4, (y * img.width + x) * 4 + 4)];
    expect(px(0, 0)).toEqual([255, 255, 255, 255]); // the gap
    expect(px(2, 2)).toEqual([255, 255, 255, 255]); // map 0's site 0 is 1: white
    expect(px(2 + 12, 2)).toEqual([0, 0, 0, 255]); // its site 1 is 0: black
    // panel (row 0, col 1) is map 1: its site 1 (x 12..23 inside the panel) is white
    expect(px(2 + 48 + 2 + 12, 2)).toEqual([255, 255, 255, 255]);
  });

  it('grey levels round(255·v); fewer maps than a row make one short row', () => {
    const img = activationGridImage({ width: 48, height: 48, maps: [new Float32Array(48 * 48).fill(0.5), new Float32Array(48 * 48).fill(0.25)] });
    expect([img.width, img.height]).toEqual([2 * 48 + 3 * 2, 48 + 2 * 2]);
    expect(img.data[(2 * img.width + 2) * 4]).toBe(128);
    expect(img.data[(2 * img.width + 2 + 50) * 4]).toBe(64);
  });
});
