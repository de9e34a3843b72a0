// A line chart as an RGBA image, for the CLI's PNG plots (the feature-collapse curve): axes,
// grid lines at the y ticks, one polyline with dots per series, tick labels in a 3×5 pixel
// digit font. Series names and units go into the JSON beside the plot, not into the picture.
import type { RgbaImage } from './png.ts';

export interface PlotSeries {
  /** (x, y) points in data units, drawn in order. */
  points: [number, number][];
  color: [number, number, number];
}

export interface PlotOptions {
  width?: number;
  height?: number;
  xRange: [number, number];
  yRange: [number, number];
  xTicks: number[];
  yTicks: number[];
}

// 3×5 glyphs, rows top to bottom, bit 2 = left column
const GLYPHS: Record<string, number[]> = {
  '0': [7, 5, 5, 5, 7],
  '1': [2, 6, 2, 2, 7],
  '2': [7, 1, 7, 4, 7],
  '3': [7, 1, 7, 1, 7],
  '4': [5, 5, 7, 1, 1],
  '5': [7, 4, 7, 1, 7],
  '6': [7, 4, 7, 5, 7],
  '7': [7, 1, 1, 1, 1],
  '8': [7, 5, 7, 5, 7],
  '9': [7, 5, 7, 1, 7],
  '.': [0, 0, 0, 0, 2],
  '-': [0, 0, 7, 0, 0],
};

export function linePlot(series: readonly PlotSeries[], o: PlotOptions): RgbaImage {
  const W = o.width ?? 480;
  const H = o.height ?? 320;
  const data = new Uint8ClampedArray(W * H * 4).fill(255);
  const left = 44;
  const right = 12;
  const top = 12;
  const bottom = 28;
  const px = (x: number) => left + ((x - o.xRange[0]) / (o.xRange[1] - o.xRange[0])) * (W - left - right);
  const py = (y: number) => H - bottom - ((y - o.yRange[0]) / (o.yRange[1] - o.yRange[0])) * (H - top - bottom);
  const set = (x: number, y: number, c: readonly number[]) => {
    const xi = Math.round(x);
    const yi = Math.round(y);
    if (xi < 0 || yi < 0 || xi >= W || yi >= H) return;
    const k = (yi * W + xi) * 4;
    data[k] = c[0]!;
    data[k + 1] = c[1]!;
    data[k + 2] = c[2]!;
    data[k + 3] = 255;
  };
  const line = (x0: number, y0: number, x1: number, y1: number, c: readonly number[], thick = 1) => {
    const n = Math.max(1, Math.ceil(Math.max(Math.abs(x1 - x0), Math.abs(y1 - y0))));
    for (let i = 0; i <= n; i++) {
      const x = x0 + ((x1 - x0) * i) / n;
      const y = y0 + ((y1 - y0) * i) / n;
      for (let dx = -(thick >> 1); dx <= thick >> 1; dx++) for (let dy = -(thick >> 1); dy <= thick >> 1; dy++) set(x + dx, y + dy, c);
    }
  };
  const text = (s: string, x: number, y: number, scale = 2) => {
    let cx = x;
    for (const ch of s) {
      const g = GLYPHS[ch];
      if (g) for (let r = 0; r < 5; r++) for (let col = 0; col < 3; col++) if (g[r]! & (4 >> col)) for (let a = 0; a < scale; a++) for (let b = 0; b < scale; b++) set(cx + col * scale + a, y + r * scale + b, [40, 40, 40]);
      cx += 4 * scale;
    }
  };
  const grey = [220, 220, 220];
  const axis = [90, 90, 90];
  for (const t of o.yTicks) {
    line(left, py(t), W - right, py(t), grey);
    const label = String(+t.toFixed(2));
    text(label, left - 6 - label.length * 8, py(t) - 5);
  }
  for (const t of o.xTicks) {
    line(px(t), top, px(t), H - bottom, grey);
    const label = String(+t.toFixed(2));
    text(label, px(t) - (label.length * 8) / 2, H - bottom + 8);
  }
  line(left, top, left, H - bottom, axis);
  line(left, H - bottom, W - right, H - bottom, axis);
  for (const s of series) {
    for (let i = 1; i < s.points.length; i++) line(px(s.points[i - 1]![0]), py(s.points[i - 1]![1]), px(s.points[i]![0]), py(s.points[i]![1]), s.color, 3);
    for (const [x, y] of s.points) for (let a = -3; a <= 3; a++) for (let b = -3; b <= 3; b++) if (a * a + b * b <= 9) set(px(x) + a, py(y) + b, s.color);
  }
  return { width: W, height: H, data };
}
