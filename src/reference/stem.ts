// Float64 references for src/ops/stem.ts. stemConvDenseRef is the plain conv 4×4 stride 4
// on the whole image (PyTorch's stem); stemForwardRef evaluates it directly at the visible
// stem sites (no im2col), so a test of im2col + matmul against it checks the layout too.
import { siteOfRow, stageRows, zOrderInverse, type MaskLayout } from '../ops/sparse-layout.ts';

const K = 4;
const R = 8; // stem sites per patch side

/** Conv 4×4 stride 4: image (N, 3, H, W), weight (d0, 3, 4, 4), bias (d0) → (N, d0, H/4, W/4). */
export function stemConvDenseRef(
  image: ArrayLike<number>,
  weight: ArrayLike<number>,
  bias: ArrayLike<number>,
  N: number,
  H: number,
  W: number,
  d0: number,
): Float64Array {
  const Ho = H / K;
  const Wo = W / K;
  const out = new Float64Array(N * d0 * Ho * Wo);
  for (let n = 0; n < N; n++)
    for (let o = 0; o < d0; o++)
      for (let y = 0; y < Ho; y++)
        for (let x = 0; x < Wo; x++) {
          let s = bias[o]!;
          for (let c = 0; c < 3; c++)
            for (let ky = 0; ky < K; ky++)
              for (let kx = 0; kx < K; kx++) {
                s += weight[((o * 3 + c) * K + ky) * K + kx]! * image[((n * 3 + c) * H + y * K + ky) * W + x * K + kx]!;
              }
          out[((n * d0 + o) * Ho + y) * Wo + x] = s;
        }
  return out;
}

/** cols (N·V·64, 48): row = (n·V + v)·64 + zOrder(ly, lx), column = c·16 + ky·4 + kx. */
export function stemIm2colRef(image: ArrayLike<number>, layout: MaskLayout): Float64Array {
  const H = layout.gridH * 32;
  const W = layout.gridW * 32;
  const rows = stageRows(layout, R);
  const cols = new Float64Array(rows * 48);
  for (let row = 0; row < rows; row++) {
    const patchRow = Math.floor(row / (R * R));
    const n = Math.floor(patchRow / layout.V);
    const p = layout.visiblePatches[patchRow]!;
    const [ly, lx] = zOrderInverse(row % (R * R));
    const y0 = Math.floor(p / layout.gridW) * 32 + ly * K;
    const x0 = (p % layout.gridW) * 32 + lx * K;
    for (let c = 0; c < 3; c++)
      for (let ky = 0; ky < K; ky++)
        for (let kx = 0; kx < K; kx++) cols[row * 48 + c * 16 + ky * 4 + kx] = image[((n * 3 + c) * H + y0 + ky) * W + x0 + kx]!;
  }
  return cols;
}

/** The stem output at visible sites, (N·V·64, d0), computed as a direct conv per site. */
export function stemForwardRef(
  image: ArrayLike<number>,
  weight: ArrayLike<number>,
  bias: ArrayLike<number>,
  layout: MaskLayout,
  d0: number,
): Float64Array {
  const H = layout.gridH * 32;
  const W = layout.gridW * 32;
  const rows = stageRows(layout, R);
  const y = new Float64Array(rows * d0);
  for (let row = 0; row < rows; row++) {
    const site = siteOfRow(layout, R, row);
    for (let o = 0; o < d0; o++) {
      let s = bias[o]!;
      for (let c = 0; c < 3; c++)
        for (let ky = 0; ky < K; ky++)
          for (let kx = 0; kx < K; kx++) {
            s += weight[o * 48 + c * 16 + ky * 4 + kx]! * image[((site.n * 3 + c) * H + site.y * K + ky) * W + site.x * K + kx]!;
          }
      y[row * d0 + o] = s;
    }
  }
  return y;
}

/** dWeight = dYᵀ · cols (d0, 48), dBias = Σ_rows dY (d0). */
export function stemBackwardRef(
  cols: ArrayLike<number>,
  dY: ArrayLike<number>,
  rows: number,
  d0: number,
): { dWeight: Float64Array; dBias: Float64Array } {
  const dWeight = new Float64Array(d0 * 48);
  const dBias = new Float64Array(d0);
  for (let r = 0; r < rows; r++)
    for (let o = 0; o < d0; o++) {
      const g = dY[r * d0 + o]!;
      dBias[o]! += g;
      for (let k = 0; k < 48; k++) dWeight[o * 48 + k]! += g * cols[r * 48 + k]!;
    }
  return { dWeight, dBias };
}
