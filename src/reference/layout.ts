// Float64 conversions between dense NCHW tensors (PyTorch's layout) and the sparse row layout
// of src/ops/sparse-layout.ts, for references and tests.
import { rowOfSite, siteOfRow, stageRows, type MaskLayout } from '../ops/sparse-layout.ts';

/** Gather the visible sites of a dense (N, C, gridH·r, gridW·r) tensor into (rows, C). */
export function denseToRows(dense: ArrayLike<number>, layout: MaskLayout, r: number, C: number): Float64Array {
  const H = layout.gridH * r;
  const W = layout.gridW * r;
  const rows = stageRows(layout, r);
  const out = new Float64Array(rows * C);
  for (let row = 0; row < rows; row++) {
    const { n, y, x } = siteOfRow(layout, r, row);
    for (let c = 0; c < C; c++) out[row * C + c] = dense[((n * C + c) * H + y) * W + x]!;
  }
  return out;
}

/** Scatter (rows, C) back to a dense (N, C, gridH·r, gridW·r) tensor, zeros at masked sites. */
export function rowsToDense(rowsData: ArrayLike<number>, layout: MaskLayout, r: number, C: number): Float64Array {
  const H = layout.gridH * r;
  const W = layout.gridW * r;
  const out = new Float64Array(layout.N * C * H * W);
  for (let n = 0; n < layout.N; n++) {
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        const row = rowOfSite(layout, r, n, y, x);
        if (row < 0) continue;
        for (let c = 0; c < C; c++) out[((n * C + c) * H + y) * W + x] = rowsData[row * C + c]!;
      }
    }
  }
  return out;
}
