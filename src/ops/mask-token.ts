// FCMAE decoder input (spec §4 Decoder): the proj output P exists only at visible patches
// (sparse rows, r = 1); the decoder runs on the dense grid X, raster order, so
//   X[n·L + p] = P[n·V + v] if patch p of sample n is visible (v = patchToVisible[n·L + p]),
//                maskToken otherwise.
// Backward: dP[n·V + v] = dX[n·L + visiblePatches[n·V + v]] and dMaskToken = Σ over masked
// rows of dX: GPU plan, masked-row partial sums per 256-row chunk then columnSum of rows.ts
// (one pass straight into dMaskToken when one chunk holds every row); software plan
// (barrier-free), one pass of a thread per column.
// Kernels: shaders/mask-token.wgsl.
// FLOPs: the fill and dP are data movement (0); dMaskToken counts one add per element of the
// dense dX (N·L·D: the kernel reads every grid row, and which rows are masked is data), the
// column sum finishing it the adds that fold the chunk partials (src/ops/flop-conventions.ts).
import type { BufferArena } from '../gpu/buffers.ts';
import { ceilDiv, linearGrid, makeDispatch, params, type Binding, type Dispatch } from '../gpu/dispatch.ts';
import type { Engine } from '../gpu/engine.ts';
import { ELEMENTWISE_FLOPS } from './flop-conventions.ts';
import { columnSum, COLUMN_SUM_CHUNK, OpShapeError, requireCounts, requireElements } from './rows.ts';
import { kernelPlanOf, type KernelPlan } from './kernel-plan.ts';

const WG = 256;
const TOKEN_TILE = 32; // columns per token_partial workgroup
const SERIAL_WG = 4; // threads per token_serial workgroup

export interface MaskTokenShape {
  N: number;
  /** Patches per sample (dense grid rows per sample). */
  L: number;
  /** Visible patches per sample. */
  V: number;
  /** Decoder width. */
  D: number;
}

function checkShape(op: string, s: MaskTokenShape): void {
  requireCounts(op, { N: s.N, L: s.L, V: s.V, D: s.D });
  if (s.V > s.L) throw new OpShapeError(`${op}: V = ${s.V} visible patches exceeds L = ${s.L}`);
}

function shapeParams(s: MaskTokenShape, rowsPerChunk = 0): ArrayBuffer {
  return params().u32(s.N).u32(s.L).u32(s.V).u32(s.D).u32(rowsPerChunk).u32(0).u32(0).u32(0).build();
}

/** X (N·L, D) ← P at visible patches, maskToken at masked ones. */
export async function maskTokenFillForward(
  engine: Engine,
  arena: BufferArena,
  label: string,
  io: {
    P: Binding; // (N·V, D) proj output at visible patches
    maskToken: Binding; // (D)
    patchToVisible: Binding; // (N·L) int32 rank or −1; rewritten when the mask changes
    X: Binding; // (N·L, D) dense decoder grid, raster order
  },
  shape: MaskTokenShape,
): Promise<Dispatch[]> {
  checkShape(label, shape);
  const { N, L, V, D } = shape;
  requireElements(label, 'P', io.P, N * V * D, `(N·V, D) = (${N * V}, ${D})`);
  requireElements(label, 'maskToken', io.maskToken, D, `(D) = (${D})`);
  requireElements(label, 'patchToVisible', io.patchToVisible, N * L, `(N·L) = (${N * L})`);
  requireElements(label, 'X', io.X, N * L * D, `(N·L, D) = (${N * L}, ${D})`);
  return [
    await makeDispatch(engine, arena, {
      label,
      kernel: { shader: 'mask-token.wgsl', entryPoint: 'fill' },
      params: shapeParams(shape),
      buffers: [io.P, io.maskToken, io.patchToVisible, io.X],
      workgroups: linearGrid(ceilDiv(N * L * D, WG)),
      flops: 0,
    }),
  ];
}

export interface MaskTokenBackwardShape extends MaskTokenShape {
  /** dMaskToken += … instead of = … (dP is always overwritten). */
  accumulate?: boolean;
  /** dMaskToken's kernels; default from the adapter (tests run both). */
  plan?: KernelPlan;
}

/** dP ← dX at visible patches; dMaskToken (+)= Σ over masked rows of dX. */
export async function maskTokenFillBackward(
  engine: Engine,
  arena: BufferArena,
  label: string,
  io: {
    dX: Binding; // (N·L, D)
    visiblePatches: Binding; // (N·V) int32 patch index
    patchToVisible: Binding; // (N·L) int32 rank or −1
    dP: Binding; // (N·V, D)
    dMaskToken: Binding; // (D)
  },
  shape: MaskTokenBackwardShape,
): Promise<Dispatch[]> {
  checkShape(label, shape);
  const { N, L, V, D } = shape;
  requireElements(label, 'dX', io.dX, N * L * D, `(N·L, D) = (${N * L}, ${D})`);
  requireElements(label, 'visiblePatches', io.visiblePatches, N * V, `(N·V) = (${N * V})`);
  requireElements(label, 'patchToVisible', io.patchToVisible, N * L, `(N·L) = (${N * L})`);
  requireElements(label, 'dP', io.dP, N * V * D, `(N·V, D) = (${N * V}, ${D})`);
  requireElements(label, 'dMaskToken', io.dMaskToken, D, `(D) = (${D})`);

  const gradVisible = await makeDispatch(engine, arena, {
    label: `${label}/dP`,
    kernel: { shader: 'mask-token.wgsl', entryPoint: 'grad_visible' },
    params: shapeParams(shape),
    buffers: [io.dX, io.visiblePatches, io.dP],
    workgroups: linearGrid(ceilDiv(N * V * D, WG)),
    flops: 0,
  });
  // With no masked patch (V = L) every kernel below gives dMaskToken (+)= 0.
  const rows = N * L;
  const accumulate = shape.accumulate ? 1 : 0;
  const tokenFlops = ELEMENTWISE_FLOPS.columnSum * rows * D + (shape.accumulate ? ELEMENTWISE_FLOPS.residual * D : 0);
  if (kernelPlanOf(engine, shape.plan) === 'software') {
    const tokenSerial = await makeDispatch(engine, arena, {
      label: `${label}/dMaskToken`,
      kernel: { shader: 'mask-token.wgsl', entryPoint: 'token_serial', constants: { ACCUMULATE: accumulate, SERIAL_WG } },
      params: shapeParams(shape),
      buffers: [io.dX, io.patchToVisible, io.dMaskToken],
      workgroups: linearGrid(ceilDiv(D, SERIAL_WG)),
      flops: tokenFlops,
    });
    return [gradVisible, tokenSerial];
  }
  const chunks = ceilDiv(rows, COLUMN_SUM_CHUNK);
  if (chunks === 1) {
    // one chunk holds every row: its partial sums are dMaskToken
    const tokenOnePass = await makeDispatch(engine, arena, {
      label: `${label}/dMaskToken`,
      kernel: { shader: 'mask-token.wgsl', entryPoint: 'token_partial', constants: { ACCUMULATE: accumulate } },
      params: shapeParams(shape, COLUMN_SUM_CHUNK),
      buffers: [io.dX, io.patchToVisible, io.dMaskToken],
      workgroups: [ceilDiv(D, TOKEN_TILE), 1],
      flops: tokenFlops,
    });
    return [gradVisible, tokenOnePass];
  }
  // Masked-row partial sums per chunk of dense rows, then an ordinary column sum of the partials.
  const partials = arena.f32(`${label}/mask-token-partials`, chunks * D); // (chunks, D)
  const tokenPartial = await makeDispatch(engine, arena, {
    label: `${label}/dMaskToken-partial`,
    kernel: { shader: 'mask-token.wgsl', entryPoint: 'token_partial', constants: { ACCUMULATE: 0 } },
    params: shapeParams(shape, COLUMN_SUM_CHUNK),
    buffers: [io.dX, io.patchToVisible, partials],
    workgroups: [ceilDiv(D, TOKEN_TILE), chunks],
    flops: ELEMENTWISE_FLOPS.columnSum * (rows - chunks) * D, // the column sum below folds the chunks
  });
  const tokenSum = await columnSum(engine, arena, `${label}/dMaskToken`, { x: partials, out: io.dMaskToken }, {
    rows: chunks,
    C: D,
    accumulate: shape.accumulate,
  });
  return [gradVisible, tokenPartial, ...tokenSum];
}
