// The activation grid picture (the paper's Fig. 3): one block's channel maps, each already scaled
// to [0, 1] (train/feature-collapse.ts activationMaps), as grey panels 8 to a row, each map
// enlarged by a whole factor to at least `minPanel` pixels so the small late-stage maps stay
// visible. `fcmae analyze --grid` writes it as a PNG; the page's Evaluation panel puts the same
// pixels on a canvas, so both show the same picture for the same maps.
import { panelGrid, type RgbaImage } from './png.ts';

export interface ActivationGridMaps {
  /** Sites per side of the block's stage. */
  width: number;
  height: number;
  /** One (height · width) map per channel, row-major, values in [0, 1]. */
  maps: readonly ArrayLike<number>[];
}

export interface ActivationGridLayout {
  /** Panels per row (default 8: 64 maps make the paper's 8 × 8). */
  perRow?: number;
  /** Smallest panel side in pixels (default 48). */
  minPanel?: number;
  /** Pixels between and around the panels (default 2). */
  gap?: number;
}

/** Whole-number enlargement of each map: the smallest that makes a panel at least `minPanel` wide. */
export function activationPanelScale(width: number, minPanel = 48): number {
  return Math.max(1, Math.ceil(minPanel / width));
}

export function activationGridImage(a: ActivationGridMaps, layout: ActivationGridLayout = {}): RgbaImage {
  const perRow = layout.perRow ?? 8;
  const scale = activationPanelScale(a.width, layout.minPanel);
  const w = a.width * scale;
  const h = a.height * scale;
  const panels = a.maps.map((m): RgbaImage => {
    const data = new Uint8ClampedArray(w * h * 4); // (h, w, 4)
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const v = Math.round(255 * m[Math.floor(y / scale) * a.width + Math.floor(x / scale)]!);
        data.set([v, v, v, 255], (y * w + x) * 4);
      }
    }
    return { width: w, height: h, data };
  });
  const rows = Array.from({ length: Math.ceil(panels.length / perRow) }, (_, r) => panels.slice(r * perRow, r * perRow + perRow));
  return panelGrid(rows, layout.gap ?? 2);
}
