// The sparse activation layout: only visible sites are stored.
//
// The mask is aligned to 32-px patches on a gridH × gridW grid (L = gridH·gridW patches,
// raster order, 1 = masked) and every sample keeps the same number V of visible patches.
// At an encoder stage with r sites per patch side (r = 8, 4, 2, 1 after the stem and each
// downsample) an activation is a row-major matrix (rows, C), channels last, with
//   rows = N · V · r²,   row = (n·V + v)·r² + z(ly, lx)
// where v is the visible patch's rank among the sample's visible patches (raster order) and
// z is the Z-order (Morton) index of the site (ly, lx) inside its patch. Consequences:
//  - a sample's rows are one contiguous block of V·r² rows (per-sample GRN is a plain reduction);
//  - the four children of a 2×2 downsample window are four consecutive rows, so the
//    downsample conv is a (rows/4, 4·C) × (4·C, C') matmul with no gather;
//  - the depthwise conv finds a neighbour through `patchToVisible` (N·L entries, −1 = masked).
// Mask ratio 0 (V = L) is the ordinary dense network with the same code; the decoder's dense
// grid is the r = 1 case with every patch visible.

export interface MaskLayout {
  /** Samples. */
  N: number;
  gridH: number;
  gridW: number;
  /** Patches per sample (gridH · gridW). */
  L: number;
  /** Visible patches per sample. */
  V: number;
  /** (N, L) 1 = masked, 0 = visible. */
  mask: Float32Array;
  /** (N, V) patch index of each visible patch, ascending (raster order). */
  visiblePatches: Int32Array;
  /** (N, L) rank of the patch among the visible ones, or −1 when masked. */
  patchToVisible: Int32Array;
}

export class MaskError extends Error {
  override readonly name = 'MaskError';
}

/** Build the layout of a (N, L) mask; every sample must keep the same number of visible patches. */
export function layoutFromMask(mask: ArrayLike<number>, N: number, gridH: number, gridW: number): MaskLayout {
  const L = gridH * gridW;
  if (mask.length !== N * L) throw new MaskError(`mask has ${mask.length} entries, expected N·L = ${N}·${L}`);
  const m = Float32Array.from(mask);
  let V = -1;
  const patchToVisible = new Int32Array(N * L);
  const visible: number[] = [];
  for (let n = 0; n < N; n++) {
    let v = 0;
    for (let p = 0; p < L; p++) {
      const x = m[n * L + p]!;
      if (x !== 0 && x !== 1) throw new MaskError(`mask[${n}, ${p}] = ${x}: entries must be 0 (visible) or 1 (masked)`);
      if (x === 0) {
        patchToVisible[n * L + p] = v++;
        visible.push(p);
      } else patchToVisible[n * L + p] = -1;
    }
    if (V < 0) V = v;
    else if (v !== V) throw new MaskError(`sample ${n} keeps ${v} visible patches but sample 0 keeps ${V}: FCMAE keeps the same count in every sample`);
  }
  if (V <= 0) throw new MaskError('every patch is masked: at least one patch per sample must stay visible');
  return { N, gridH, gridW, L, V, mask: m, visiblePatches: Int32Array.from(visible), patchToVisible };
}

/** The layout with every patch visible (mask ratio 0, and the decoder's grid). */
export function denseLayout(N: number, gridH: number, gridW: number): MaskLayout {
  return layoutFromMask(new Float32Array(N * gridH * gridW), N, gridH, gridW);
}

/** Z-order (Morton) index of (y, x): bits of y and x interleaved, x in the low bit. */
export function zOrder(y: number, x: number): number {
  let z = 0;
  for (let b = 0; b < 16; b++) z |= (((x >> b) & 1) << (2 * b)) | (((y >> b) & 1) << (2 * b + 1));
  return z;
}

/** Inverse of zOrder. */
export function zOrderInverse(z: number): [y: number, x: number] {
  let y = 0;
  let x = 0;
  for (let b = 0; b < 16; b++) {
    x |= ((z >> (2 * b)) & 1) << b;
    y |= ((z >> (2 * b + 1)) & 1) << b;
  }
  return [y, x];
}

/** Rows of an activation at a stage with r sites per patch side. */
export function stageRows(layout: MaskLayout, r: number): number {
  return layout.N * layout.V * r * r;
}

/** Sample and site (y, x on the stage's full-resolution grid gridH·r × gridW·r) of a row. */
export function siteOfRow(layout: MaskLayout, r: number, row: number): { n: number; y: number; x: number } {
  const r2 = r * r;
  const patchRow = Math.floor(row / r2);
  const n = Math.floor(patchRow / layout.V);
  const p = layout.visiblePatches[patchRow]!;
  const [ly, lx] = zOrderInverse(row % r2);
  return { n, y: Math.floor(p / layout.gridW) * r + ly, x: (p % layout.gridW) * r + lx };
}

/** Row of site (y, x) of sample n at a stage with r sites per patch side, or −1 when masked. */
export function rowOfSite(layout: MaskLayout, r: number, n: number, y: number, x: number): number {
  const p = Math.floor(y / r) * layout.gridW + Math.floor(x / r);
  const v = layout.patchToVisible[n * layout.L + p]!;
  if (v < 0) return -1;
  return (n * layout.V + v) * r * r + zOrder(y % r, x % r);
}
