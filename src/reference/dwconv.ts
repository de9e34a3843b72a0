// Float64 reference of the submanifold-sparse depthwise 7×7 convolution (padding 3) on the
// sparse row layout, forward and backward, plus the plain dense depthwise conv (NCHW) that the
// dense-equivalent check and the model reference use. Same semantics as src/ops/dwconv.ts:
// a neighbour outside the image or in a masked patch reads 0; outputs exist at visible rows.
//
// The backward here scatters (dX[nbr] += w·dY, the literal transpose), while the GPU gathers
// with flipped taps: agreement between the two checks that the neighbour relation is symmetric.
import { rowOfSite, siteOfRow, stageRows, type MaskLayout } from '../ops/sparse-layout.ts';

export const DWCONV_TAPS = 49;

/** (rows, 49) row of the neighbour at offset (ky − 3, kx − 3) of each row, or −1. */
export function dwconvNeighbourRows(layout: MaskLayout, r: number): Int32Array {
  const rows = stageRows(layout, r);
  const H = layout.gridH * r;
  const W = layout.gridW * r;
  const table = new Int32Array(rows * DWCONV_TAPS);
  for (let row = 0; row < rows; row++) {
    const { n, y, x } = siteOfRow(layout, r, row);
    for (let ky = 0; ky < 7; ky++) {
      for (let kx = 0; kx < 7; kx++) {
        const ny = y + ky - 3;
        const nx = x + kx - 3;
        const inside = ny >= 0 && nx >= 0 && ny < H && nx < W;
        table[row * DWCONV_TAPS + ky * 7 + kx] = inside ? rowOfSite(layout, r, n, ny, nx) : -1;
      }
    }
  }
  return table;
}

/** y (rows, C) = bias + Σ_taps weight[tap]·x[nbr(row, tap)]; weight (49, C), bias (C). */
export function dwconvForwardRef(
  x: ArrayLike<number>,
  weight: ArrayLike<number>,
  bias: ArrayLike<number>,
  layout: MaskLayout,
  r: number,
  C: number,
): Float64Array {
  const rows = stageRows(layout, r);
  const nbr = dwconvNeighbourRows(layout, r);
  const y = new Float64Array(rows * C);
  for (let row = 0; row < rows; row++) {
    for (let c = 0; c < C; c++) {
      let acc = bias[c]!;
      for (let tap = 0; tap < DWCONV_TAPS; tap++) {
        const j = nbr[row * DWCONV_TAPS + tap]!;
        if (j >= 0) acc += weight[tap * C + c]! * x[j * C + c]!;
      }
      y[row * C + c] = acc;
    }
  }
  return y;
}

export interface DwconvGradsRef {
  /** (rows, C) */
  dX: Float64Array;
  /** (49, C) */
  dWeight: Float64Array;
  /** (C) */
  dBias: Float64Array;
}

/** Gradients of Σ y·dY with respect to x, weight and bias (dY (rows, C)). */
export function dwconvBackwardRef(
  x: ArrayLike<number>,
  weight: ArrayLike<number>,
  dY: ArrayLike<number>,
  layout: MaskLayout,
  r: number,
  C: number,
): DwconvGradsRef {
  const rows = stageRows(layout, r);
  const nbr = dwconvNeighbourRows(layout, r);
  const dX = new Float64Array(rows * C);
  const dWeight = new Float64Array(DWCONV_TAPS * C);
  const dBias = new Float64Array(C);
  for (let row = 0; row < rows; row++) {
    for (let c = 0; c < C; c++) {
      const g = dY[row * C + c]!;
      dBias[c] += g;
      for (let tap = 0; tap < DWCONV_TAPS; tap++) {
        const j = nbr[row * DWCONV_TAPS + tap]!;
        if (j < 0) continue;
        dWeight[tap * C + c] += g * x[j * C + c]!;
        dX[j * C + c] += g * weight[tap * C + c]!;
      }
    }
  }
  return { dX, dWeight, dBias };
}

/**
 * Dense depthwise 7×7 conv, zero padding 3: x (N, C, H, W) NCHW, weight (49, C) tap-major,
 * bias (C) or null. Returns (N, C, H, W).
 */
export function depthwiseConv7Dense(
  x: ArrayLike<number>,
  weight: ArrayLike<number>,
  bias: ArrayLike<number> | null,
  N: number,
  C: number,
  H: number,
  W: number,
): Float64Array {
  const out = new Float64Array(N * C * H * W);
  for (let n = 0; n < N; n++) {
    for (let c = 0; c < C; c++) {
      const plane = (n * C + c) * H * W;
      for (let y = 0; y < H; y++) {
        for (let xx = 0; xx < W; xx++) {
          let acc = bias ? bias[c]! : 0;
          for (let ky = 0; ky < 7; ky++) {
            const sy = y + ky - 3;
            if (sy < 0 || sy >= H) continue;
            for (let kx = 0; kx < 7; kx++) {
              const sx = xx + kx - 3;
              if (sx < 0 || sx >= W) continue;
              acc += weight[(ky * 7 + kx) * C + c]! * x[plane + sy * W + sx]!;
            }
          }
          out[plane + y * W + xx] = acc;
        }
      }
    }
  }
  return out;
}
