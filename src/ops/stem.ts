// The stem: conv 4×4 stride 4 (3 → d0, bias), computed only at visible 32-px patches.
// Because the mask is patch-aligned, "conv on the full image, then multiply by (1 − mask)"
// (spec §4) equals the conv evaluated only at the 8×8 stem sites of each visible patch.
// It is im2col (shaders/stem.wgsl) into cols (rows, 48) followed by the matmul
// cols · Weightᵀ + bias, with rows = N·V·64 in the sparse layout (r = 8).
// Backward: dWeight = dYᵀ · cols (split-K over the rows), dBias = column sums of dY; the
// image gets no gradient, so cols is kept from the forward pass and nothing else is needed.
// Dense (mask ratio 0) is the layout with every patch visible.
import type { BufferArena } from '../gpu/buffers.ts';
import { ceilDiv, linearGrid, makeDispatch, params, type Binding, type Dispatch } from '../gpu/dispatch.ts';
import type { Engine } from '../gpu/engine.ts';
import { matmulDispatches } from './matmul.ts';
import { OpShapeError, requireCounts, requireElements } from './rows.ts';

/** Stem kernel side and stride. */
export const STEM_STRIDE = 4;
/** Columns of the im2col matrix: 3 channels × 4 × 4 taps, column = c·16 + ky·4 + kx. */
export const STEM_COLS = 48;
/** Stem sites per 32-px patch (8 × 8). */
export const STEM_SITES_PER_PATCH = 64;
const MASK_PATCH = 32;
const WG = 256;

export interface StemShape {
  N: number;
  /** Visible patches per sample. */
  V: number;
  /** Patch grid: the image is (gridH·32) × (gridW·32). */
  gridH: number;
  gridW: number;
}

/** Rows of the stem output and of cols: N·V·64. */
export function stemRows(s: Pick<StemShape, 'N' | 'V'>): number {
  return s.N * s.V * STEM_SITES_PER_PATCH;
}

function checkShape(op: string, s: StemShape): void {
  requireCounts(op, { N: s.N, V: s.V, gridH: s.gridH, gridW: s.gridW });
  if (s.V > s.gridH * s.gridW) {
    throw new OpShapeError(`${op}: V = ${s.V} visible patches exceeds L = gridH·gridW = ${s.gridH * s.gridW}`);
  }
}

/** cols (N·V·64, 48) ← the 4×4×3 input window of every stem site of every visible patch. */
export async function stemIm2col(
  engine: Engine,
  arena: BufferArena,
  label: string,
  io: {
    image: Binding; // (N, 3, H, W) NCHW, already ImageNet-normalised
    cols: Binding; // (N·V·64, 48)
    visiblePatches: Binding; // (N, V) int32 patch index, ascending; rewritten when the mask changes
  },
  shape: StemShape,
): Promise<Dispatch[]> {
  checkShape(label, shape);
  const { N, V, gridH, gridW } = shape;
  const H = gridH * MASK_PATCH;
  const W = gridW * MASK_PATCH;
  const rows = stemRows(shape);
  requireElements(label, 'image', io.image, N * 3 * H * W, `(N, 3, H, W) = (${N}, 3, ${H}, ${W})`);
  requireElements(label, 'cols', io.cols, rows * STEM_COLS, `(N·V·64, 48) = (${rows}, 48)`);
  requireElements(label, 'visiblePatches', io.visiblePatches, N * V, `(N, V) = (${N}, ${V})`);
  return [
    await makeDispatch(engine, arena, {
      label,
      kernel: { shader: 'stem.wgsl', entryPoint: 'im2col' },
      params: params().u32(N).u32(V).u32(gridH).u32(gridW).build(),
      buffers: [io.image, io.visiblePatches, io.cols],
      workgroups: linearGrid(ceilDiv(rows * STEM_COLS, WG)),
      flops: 0, // data movement
    }),
  ];
}

export interface StemForwardShape extends StemShape {
  /** Output channels of the stem (dims[0]). */
  d0: number;
}

/** y = im2col(image) · Weightᵀ + bias at visible stem sites. */
export async function stemForward(
  engine: Engine,
  arena: BufferArena,
  label: string,
  io: {
    image: Binding; // (N, 3, H, W)
    visiblePatches: Binding; // (N, V) int32
    cols: Binding; // (N·V·64, 48) written here, kept for stemBackward
    weight: Binding; // (d0, 48) PyTorch (d0, 3, 4, 4) flattened
    bias: Binding; // (d0)
    y: Binding; // (N·V·64, d0) sparse layout, r = 8
  },
  shape: StemForwardShape,
): Promise<Dispatch[]> {
  requireCounts(label, { d0: shape.d0 });
  const rows = stemRows(shape);
  requireElements(label, 'weight', io.weight, shape.d0 * STEM_COLS, `(d0, 48) = (${shape.d0}, 48)`);
  requireElements(label, 'bias', io.bias, shape.d0, `(d0) = (${shape.d0})`);
  requireElements(label, 'y', io.y, rows * shape.d0, `(N·V·64, d0) = (${rows}, ${shape.d0})`);
  const im2col = await stemIm2col(engine, arena, `${label}/im2col`, io, shape);
  const conv = await matmulDispatches(engine, arena, `${label}/matmul`, io.cols, io.weight, io.y, {
    M: rows,
    N: shape.d0,
    K: STEM_COLS,
    transB: true,
    bias: io.bias,
  });
  return [...im2col, ...conv];
}

export interface StemBackwardShape {
  N: number;
  V: number;
  d0: number;
  /** dWeight += …, dBias += … instead of overwriting (gradient accumulation). */
  accumulate?: boolean;
}

/** dWeight (+)= dYᵀ · cols, dBias (+)= Σ_rows dY. The image needs no gradient. */
export async function stemBackward(
  engine: Engine,
  arena: BufferArena,
  label: string,
  io: {
    cols: Binding; // (N·V·64, 48) from stemForward
    dY: Binding; // (N·V·64, d0)
    dWeight: Binding; // (d0, 48)
    dBias: Binding; // (d0)
  },
  shape: StemBackwardShape,
): Promise<Dispatch[]> {
  requireCounts(label, { N: shape.N, V: shape.V, d0: shape.d0 });
  const rows = stemRows(shape);
  requireElements(label, 'cols', io.cols, rows * STEM_COLS, `(N·V·64, 48) = (${rows}, 48)`);
  requireElements(label, 'dY', io.dY, rows * shape.d0, `(N·V·64, d0) = (${rows}, ${shape.d0})`);
  requireElements(label, 'dWeight', io.dWeight, shape.d0 * STEM_COLS, `(d0, 48) = (${shape.d0}, 48)`);
  const dWeight = await matmulDispatches(engine, arena, `${label}/dWeight`, io.dY, io.cols, io.dWeight, {
    M: shape.d0,
    N: STEM_COLS,
    K: rows,
    transA: true,
    accumulate: shape.accumulate,
    splitK: 'auto',
    // dBias = Σ_rows dY = the row sums of op(A) = dYᵀ, in the same dispatch(es)
    rowSums: io.dBias,
  });
  return dWeight;
}
