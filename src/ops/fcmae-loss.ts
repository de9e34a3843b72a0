// FCMAE target and reconstruction loss (spec §4 Loss), kernels in shaders/patchify.wgsl and
// shaders/fcmae-loss.wgsl.
//  - patchifyTarget: image (N, 3, H, W) → target (N·L, 3072), row n·L + p, inside a patch
//    (iy·32 + ix)·3 + c; normalised-pixel option per patch with UNBIASED variance (÷ 3071,
//    as torch.var in the official code); per-patch mean and variance are always written,
//    so reconstructions can be de-normalised (which leaks the true patch statistics).
//  - The decoder predicts only masked patches: pred (N·M, 3072), M = L − V, row i ↔ target
//    row maskedRows[i] (maskedPatchRows below). loss = Σ_i mean_j (pred − t)² / (N·M), the
//    official Σ(loss·mask)/Σ(mask) because every sample masks M patches; per-sample losses
//    are for display. dPred = 2(pred − t)/(3072·N·M).
// Mask ratio 0 (M = 0) leaves nothing to reconstruct: the loss is defined as 0 with zero
// per-sample losses and no gradient dispatch (the official code would divide 0 by 0 → NaN).
// Kernel plans (option `plan`, default by adapter): 'gpu' runs a 256-thread workgroup per patch
// with tree sums (subgroup sums when the device has 'subgroups', option `subgroups`);
// 'software' (CPU drivers, where a barrier makes every invocation a coroutine) runs a thread
// per patch / pred row with serial vec4 sums and no barrier. Both plans fold the loss's rows +
// reduce into one dispatch when the pred rows are few (SMALL_ROWS_*).
// FLOPs (src/ops/flop-conventions.ts): patchifyNormalise per target value (patchifyStats
// without normalising), lossForward per pred value plus 1 per patch (its mean) and
// lossReduceFlops for the reduce pass, lossBackward per pred value.
import type { BufferArena } from '../gpu/buffers.ts';
import { ceilDiv, linearGrid, makeDispatch, params, type Binding, type Dispatch } from '../gpu/dispatch.ts';
import type { Engine } from '../gpu/engine.ts';
import { ELEMENTWISE_FLOPS, lossReduceFlops } from './flop-conventions.ts';
import { OpShapeError, requireCounts, requireElements } from './rows.ts';
import { kernelPlanOf, subgroupsOf, type KernelPlan } from './kernel-plan.ts';
import type { MaskLayout } from './sparse-layout.ts';

/** Values in one 32×32×3 patch (one target / pred row). */
export const PATCH_VALUES = 3072;
const MASK_PATCH = 32;
const WG = 256;
/** Threads per workgroup of the software plan's thread-per-row kernels (small: spread over cores). */
const SERIAL_WG = 4;
/** At most this many pred rows: rows + reduce in one workgroup. GPU plan: one row after another. */
const SMALL_ROWS_GPU = 16;
/** Software plan: a thread per row and one barrier (the workgroup holds every row). */
const SMALL_ROWS_SOFTWARE = 256;

/** Kernel choice of the target and loss ops; defaults from the adapter and device. */
export interface LossKernelOptions {
  plan?: KernelPlan;
  /** GPU plan only: subgroup sums (default when the device has 'subgroups'). */
  subgroups?: boolean;
  /** Loss rows + reduce in one workgroup (default: when the pred rows are few, SMALL_ROWS_*). */
  oneWorkgroup?: boolean;
}

function shaderOf(engine: Engine, label: string, base: 'patchify' | 'fcmae-loss', o: LossKernelOptions): string {
  return subgroupsOf(engine, label, o.subgroups) ? `${base}-subgroups.wgsl` : `${base}.wgsl`;
}

/**
 * (N·M) int32 global rows n·L + p of the masked patches, per sample in ascending p: the
 * target row of each pred row, and the rows gatherRows picks from the decoder grid.
 */
export function maskedPatchRows(layout: MaskLayout): Int32Array {
  const M = layout.L - layout.V;
  const out = new Int32Array(layout.N * M);
  let i = 0;
  for (let n = 0; n < layout.N; n++) {
    for (let p = 0; p < layout.L; p++) if (layout.mask[n * layout.L + p] === 1) out[i++] = n * layout.L + p;
  }
  if (i !== out.length) throw new OpShapeError(`maskedPatchRows: found ${i} masked patches, expected N·(L − V) = ${out.length}`);
  return out;
}

/**
 * (N·L) int32: for grid row r = n·L + p, the pred row i with rows[i] = r, else −1; the inverse
 * of maskedPatchRows (or of every grid row at mask ratio 0). gatherRows with it puts the pred
 * rows' gradients back on the grid and zeros the other rows in one pass.
 */
export function lossRowOfPatch(rows: Int32Array, gridRows: number): Int32Array {
  const out = new Int32Array(gridRows).fill(-1);
  rows.forEach((r, i) => {
    if (r < 0 || r >= gridRows) throw new OpShapeError(`lossRowOfPatch: row ${r} of pred row ${i} is outside the ${gridRows} grid rows`);
    out[r] = i;
  });
  return out;
}

export interface PatchifyShape extends LossKernelOptions {
  N: number;
  /** Image height and width in pixels, multiples of 32. */
  height: number;
  width: number;
  /** Normalise each target patch by its own mean and unbiased variance (spec default true). */
  normPix: boolean;
}

/** target (N·L, 3072), per-patch mean / variance (N·L) from the image. */
export async function patchifyTarget(
  engine: Engine,
  arena: BufferArena,
  label: string,
  io: {
    image: Binding; // (N, 3, H, W) ImageNet-normalised
    target: Binding; // (N·L, 3072)
    mean: Binding; // (N·L) raw patch mean
    variance: Binding; // (N·L) raw patch variance, unbiased (÷ 3071)
  },
  shape: PatchifyShape,
): Promise<Dispatch[]> {
  const { N, height: H, width: W } = shape;
  requireCounts(label, { N, height: H, width: W });
  if (H % MASK_PATCH !== 0 || W % MASK_PATCH !== 0) {
    throw new OpShapeError(`${label}: image ${H}×${W} is not a multiple of the ${MASK_PATCH}-px mask patch`);
  }
  const gridH = H / MASK_PATCH;
  const gridW = W / MASK_PATCH;
  const L = gridH * gridW;
  requireElements(label, 'image', io.image, N * 3 * H * W, `(N, 3, H, W) = (${N}, 3, ${H}, ${W})`);
  requireElements(label, 'target', io.target, N * L * PATCH_VALUES, `(N·L, 3072) = (${N * L}, 3072)`);
  requireElements(label, 'mean', io.mean, N * L, `(N·L) = (${N * L})`);
  requireElements(label, 'variance', io.variance, N * L, `(N·L) = (${N * L})`);
  const software = kernelPlanOf(engine, shape.plan) === 'software';
  const normPix = shape.normPix ? 1 : 0;
  return [
    await makeDispatch(engine, arena, {
      label,
      kernel: software
        ? { shader: 'patchify.wgsl', entryPoint: 'main_serial', constants: { NORM_PIX: normPix, SERIAL_WG } }
        : { shader: shaderOf(engine, label, 'patchify', shape), entryPoint: 'main', constants: { NORM_PIX: normPix } },
      params: params().u32(N).u32(gridH).u32(gridW).u32(0).build(),
      buffers: [io.image, io.target, io.mean, io.variance],
      workgroups: linearGrid(software ? ceilDiv(N * L, SERIAL_WG) : N * L),
      flops: (shape.normPix ? ELEMENTWISE_FLOPS.patchifyNormalise : ELEMENTWISE_FLOPS.patchifyStats) * N * L * PATCH_VALUES,
    }),
  ];
}

export interface FcmaeLossShape extends LossKernelOptions {
  N: number;
  /** Patches per sample. */
  L: number;
  /** Masked patches per sample (L − V); 0 gives loss 0 (see the header). */
  M: number;
}

function checkLossShape(op: string, s: FcmaeLossShape): void {
  requireCounts(op, { N: s.N, L: s.L });
  requireCounts(op, { M: s.M }, 0);
  if (s.M > s.L) throw new OpShapeError(`${op}: M = ${s.M} masked patches exceeds L = ${s.L}`);
}

function checkLossBuffers(op: string, io: { pred: Binding; target: Binding; maskedRows: Binding }, s: FcmaeLossShape): void {
  const NM = s.N * s.M;
  requireElements(op, 'pred', io.pred, NM * PATCH_VALUES, `(N·M, 3072) = (${NM}, 3072)`);
  requireElements(op, 'target', io.target, s.N * s.L * PATCH_VALUES, `(N·L, 3072) = (${s.N * s.L}, 3072)`);
  requireElements(op, 'maskedRows', io.maskedRows, NM, `(N·M) = (${NM})`);
}

/** loss (1) and perSample (N) from pred at masked patches; per-patch errors in arena scratch. */
export async function fcmaeLossForward(
  engine: Engine,
  arena: BufferArena,
  label: string,
  io: {
    pred: Binding; // (N·M, 3072)
    target: Binding; // (N·L, 3072)
    maskedRows: Binding; // (N·M) int32 from maskedPatchRows; rewritten when the mask changes
    loss: Binding; // (1)
    perSample: Binding; // (N) mean over the sample's masked patches, for display
  },
  shape: FcmaeLossShape,
): Promise<Dispatch[]> {
  checkLossShape(label, shape);
  checkLossBuffers(label, io, shape);
  requireElements(label, 'loss', io.loss, 1, '(1)');
  requireElements(label, 'perSample', io.perSample, shape.N, `(N) = (${shape.N})`);
  const NM = shape.N * shape.M;
  const software = kernelPlanOf(engine, shape.plan) === 'software';
  const u = params().u32(shape.N).u32(shape.M).f32(0).u32(0).build();
  const rowFlops = ELEMENTWISE_FLOPS.lossForward * NM * PATCH_VALUES + NM;
  const reduceFlops = lossReduceFlops(shape.N, shape.M);
  if (shape.oneWorkgroup && software && NM > SMALL_ROWS_SOFTWARE) {
    throw new OpShapeError(`${label}: the one-workgroup loss holds at most ${SMALL_ROWS_SOFTWARE} pred rows, not N·M = ${NM}; leave oneWorkgroup unset`);
  }
  if (NM === 0 || (shape.oneWorkgroup ?? NM <= (software ? SMALL_ROWS_SOFTWARE : SMALL_ROWS_GPU))) {
    // few rows: per-row errors and their reduction in one workgroup, one dispatch
    return [
      await makeDispatch(engine, arena, {
        label: `${label}/rows-reduce`,
        // (no rows, M = 0: the software kernel's vec4 views could not bind empty buffers; the
        // GPU kernel only writes the zeros)
        kernel: software && NM > 0
          ? { shader: 'fcmae-loss.wgsl', entryPoint: 'small_serial', constants: { SMALL_WG: smallWorkgroup(NM) } }
          : { shader: shaderOf(engine, label, 'fcmae-loss', shape), entryPoint: 'small' },
        params: u,
        buffers: [io.pred, io.target, io.maskedRows, io.loss, io.perSample],
        workgroups: [1],
        flops: rowFlops + reduceFlops,
      }),
    ];
  }
  const rowLoss = arena.f32(`${label}/row-loss`, NM); // (N·M) per-patch mean squared error
  const shader = software ? 'fcmae-loss.wgsl' : shaderOf(engine, label, 'fcmae-loss', shape);
  return [
    await makeDispatch(engine, arena, {
      label: `${label}/rows`,
      kernel: software ? { shader, entryPoint: 'rows_serial', constants: { SERIAL_WG } } : { shader, entryPoint: 'row_loss' },
      params: u,
      buffers: [io.pred, io.target, io.maskedRows, rowLoss],
      workgroups: linearGrid(software ? ceilDiv(NM, SERIAL_WG) : NM),
      flops: rowFlops,
    }),
    await makeDispatch(engine, arena, {
      label: `${label}/reduce`,
      kernel: { shader, entryPoint: software ? 'reduce_serial' : 'reduce' },
      params: u,
      buffers: [rowLoss, io.loss, io.perSample],
      workgroups: [1],
      flops: reduceFlops,
    }),
  ];
}

/** Workgroup size of small_serial: a power of two ≥ rows (4 at least), a pipeline per size. */
function smallWorkgroup(rows: number): number {
  let wg = 4;
  while (wg < rows) wg *= 2;
  return wg;
}

export interface FcmaeLossBackwardShape extends FcmaeLossShape {
  /** Gradient of the objective with respect to the loss (1 by default; e.g. 1/k for k accumulated micro-batches). */
  scale?: number;
}

/** dPred (N·M, 3072) = scale · 2(pred − t)/(3072·N·M). */
export async function fcmaeLossBackward(
  engine: Engine,
  arena: BufferArena,
  label: string,
  io: {
    pred: Binding; // (N·M, 3072)
    target: Binding; // (N·L, 3072)
    maskedRows: Binding; // (N·M) int32
    dPred: Binding; // (N·M, 3072)
  },
  shape: FcmaeLossBackwardShape,
): Promise<Dispatch[]> {
  checkLossShape(label, shape);
  checkLossBuffers(label, io, shape);
  const NM = shape.N * shape.M;
  if (NM === 0) return [];
  requireElements(label, 'dPred', io.dPred, NM * PATCH_VALUES, `(N·M, 3072) = (${NM}, 3072)`);
  const scale = shape.scale ?? 1;
  if (!Number.isFinite(scale)) throw new OpShapeError(`${label}: scale = ${scale} must be finite`);
  const gradCoef = (scale * 2) / (PATCH_VALUES * NM);
  return [
    await makeDispatch(engine, arena, {
      label,
      kernel: { shader: 'fcmae-loss.wgsl', entryPoint: 'backward' },
      params: params().u32(shape.N).u32(shape.M).f32(gradCoef).u32(0).build(),
      buffers: [io.pred, io.target, io.maskedRows, io.dPred],
      workgroups: linearGrid(ceilDiv((NM * PATCH_VALUES) / 4, WG)), // a thread per vec4
      flops: ELEMENTWISE_FLOPS.lossBackward * NM * PATCH_VALUES,
    }),
  ];
}
