// LayerNorm over channels, channels-last (rows, C), eps 1e-6, biased variance, on
// shaders/layernorm.wgsl. Forward keeps mean and rstd per row for backward. Backward writes
// dX (or adds to it) with one row kernel, and the parameter gradients with a parallel two-pass
// reduction: (column, chunk of rows) partial sums, then a per-column reduce over the chunks;
// with few rows instead a thread per column sums them all, inside the dX dispatch (one dispatch).
// Software adapters (SwiftShader) get barrier-free kernel variants: see layerNormPlan. On GPUs
// with the 'subgroups' feature the row kernels sum a row's threads with subgroup operations
// (shaders/layernorm-subgroups.wgsl) instead of workgroup memory and barriers.
// Dimension letters: R rows, C channels, K row chunks.
// FLOPs (src/ops/flop-conventions.ts): layerNormForward per element; layerNormBackward per
// element split over the dX pass and the parameter passes (PASS_FLOPS), the reduce pass
// counting the 2·K·C adds that fold the partials.
import type { BufferArena } from '../gpu/buffers.ts';
import { ceilDiv, linearGrid, makeDispatch, params, type Binding, type Dispatch } from '../gpu/dispatch.ts';
import type { Engine } from '../gpu/engine.ts';
import { requireCount, requireFloats } from './elementwise.ts';
import { ELEMENTWISE_FLOPS, PASS_FLOPS } from './flop-conventions.ts';
import { kernelPlanOf, subgroupsOf, type KernelPlan } from './kernel-plan.ts';

/** The spec's LayerNorm epsilon (fcmae-spec.md §1, §3). */
export const LN_EPS = 1e-6;

const WG = 256;
/** GPUs: at least this many channels per thread (fewer threads per row, more rows per workgroup). */
const CHANNELS_PER_THREAD = 8;
/** Rows summed by one thread in gradient pass 1, while that keeps K ≤ MAX_CHUNKS. */
const ROWS_PER_CHUNK = 32;
/** Bound on K, so pass 2's 16 lanes per column each sum at most MAX_CHUNKS / 16 partials. */
const MAX_CHUNKS = 4096;

export interface LayerNormPlan {
  /** Threads per row in the row kernels (power of two, 1..256). */
  tpr: number;
  rowsPerWorkgroup: number;
  rowsPerChunk: number;
  /** K: row chunks of the parameter-gradient reduction. */
  chunks: number;
  /** Pass 2 with one thread per column (no barrier) instead of 16. */
  serialReduce: boolean;
  /** Parameter gradients by a thread per column over every row, in the dX dispatch (few rows). */
  onePassParams: boolean;
}

/**
 * Rows up to which the parameter gradients take one pass (a thread per column walks them all)
 * instead of partials + reduce: more on software adapters, where a dispatch costs more than a
 * long loop; on GPUs only where the loop stays short.
 */
export const LAYERNORM_ONE_PASS_ROWS = { gpu: 256, software: 1024 } as const;

/**
 * How a (rows, C) LayerNorm is cut into workgroups. GPUs: the most threads per row that keeps
 * ≥ 8 channels per thread (coalesced row reads, short serial loops); tpr = 1 runs the serial
 * kernels. Software adapters (SwiftShader): serial kernels throughout, one thread per row or
 * column, because there each invocation of a kernel containing a barrier costs ~1 µs (it runs
 * as a coroutine), more than the arithmetic of a row.
 */
export function layerNormPlan(rows: number, C: number, software: boolean): LayerNormPlan {
  let tpr = 1;
  if (!software) while (tpr < WG && tpr * CHANNELS_PER_THREAD < C) tpr *= 2;
  const rowsPerChunk = Math.max(ROWS_PER_CHUNK, ceilDiv(rows, MAX_CHUNKS));
  const onePassParams = rows <= LAYERNORM_ONE_PASS_ROWS[software ? 'software' : 'gpu'];
  return { tpr, rowsPerWorkgroup: WG / tpr, rowsPerChunk, chunks: ceilDiv(rows, rowsPerChunk), serialReduce: software, onePassParams };
}

export interface LayerNormShape {
  rows: number;
  C: number;
  /** Whose plan to run; default from the adapter. Tests run the 'gpu' plan on SwiftShader. */
  plan?: KernelPlan;
  /** Subgroup row sums where the plan splits rows over threads; default: the device has 'subgroups'. */
  subgroups?: boolean;
}

/** Shader and entry point of a row kernel: serial (tpr = 1), subgroup or workgroup-memory sums. */
function rowKernel(engine: Engine, shape: LayerNormShape, plan: LayerNormPlan, base: 'forward' | 'backward_dx' | 'backward_fused'): { shader: string; entryPoint: string } {
  if (plan.tpr === 1) return { shader: 'layernorm.wgsl', entryPoint: `${base}_serial` };
  return subgroupsOf(engine, 'layernorm', shape.subgroups) ? { shader: 'layernorm-subgroups.wgsl', entryPoint: `${base}_sg` } : { shader: 'layernorm.wgsl', entryPoint: base };
}

function checkShape(engine: Engine, label: string, shape: LayerNormShape): LayerNormPlan {
  const { rows, C } = shape;
  requireCount(label, 'rows', rows);
  requireCount(label, 'C', C);
  if (rows * C > 0xffffffff) throw new RangeError(`${label}: rows·C = ${rows * C} exceeds u32 indexing`);
  const software = kernelPlanOf(engine, shape.plan) === 'software';
  return layerNormPlan(rows, C, software);
}

function rowParams(rows: number, C: number, plan: LayerNormPlan, paramGroups = 0): ArrayBuffer {
  return params().u32(rows).u32(C).u32(plan.tpr).u32(plan.rowsPerChunk).u32(plan.chunks).f32(LN_EPS).u32(paramGroups).build();
}

/** y = (x − mean)·rstd·weight + bias per row; writes mean and rstd (kept for backward). */
export async function layerNormForward(
  engine: Engine,
  arena: BufferArena,
  label: string,
  io: {
    x: Binding; // (R, C)
    weight: Binding; // (C)
    bias: Binding; // (C)
    y: Binding; // (R, C)
    mean: Binding; // (R)
    rstd: Binding; // (R)
  },
  shape: LayerNormShape,
): Promise<Dispatch[]> {
  const { rows, C } = shape;
  const plan = checkShape(engine, label, shape);
  const sizes = { x: rows * C, weight: C, bias: C, y: rows * C, mean: rows, rstd: rows };
  for (const [k, n] of Object.entries(sizes)) requireFloats(label, k, io[k as keyof typeof sizes], n);
  return [
    await makeDispatch(engine, arena, {
      label,
      kernel: rowKernel(engine, shape, plan, 'forward'),
      params: rowParams(rows, C, plan),
      buffers: [io.x, io.weight, io.bias, io.y, io.mean, io.rstd],
      workgroups: linearGrid(ceilDiv(rows, plan.rowsPerWorkgroup)),
      flops: ELEMENTWISE_FLOPS.layerNormForward * rows * C,
    }),
  ];
}

/**
 * dX = rstd·(g − mean_c(g) − x̂·mean_c(g·x̂)) with g = dY·weight (overwrite, or += when
 * accumulateDX); dWeight = Σ_rows dY·x̂ and dBias = Σ_rows dY (overwrite). Scratch partials
 * (2, K, C) come from `arena`.
 */
export async function layerNormBackward(
  engine: Engine,
  arena: BufferArena,
  label: string,
  io: {
    x: Binding; // (R, C)
    weight: Binding; // (C)
    mean: Binding; // (R)
    rstd: Binding; // (R)
    dY: Binding; // (R, C)
    dX: Binding; // (R, C)
    dWeight: Binding; // (C)
    dBias: Binding; // (C)
  },
  shape: LayerNormShape & { accumulateDX?: boolean },
): Promise<Dispatch[]> {
  const { rows, C } = shape;
  const plan = checkShape(engine, label, shape);
  const sizes = { x: rows * C, weight: C, mean: rows, rstd: rows, dY: rows * C, dX: rows * C, dWeight: C, dBias: C };
  for (const [k, n] of Object.entries(sizes)) requireFloats(label, k, io[k as keyof typeof sizes], n);
  const n = rows * C;
  const E = ELEMENTWISE_FLOPS;
  const accumulateFlops = shape.accumulateDX ? E.residual * n : 0;
  const rowGroups = ceilDiv(rows, plan.rowsPerWorkgroup);
  if (plan.onePassParams) {
    // few rows: the column threads that sum the parameter gradients ride in the dX dispatch
    const paramGroups = ceilDiv(C, WG);
    return [
      await makeDispatch(engine, arena, {
        label: `${label}/dX+params`,
        kernel: { ...rowKernel(engine, shape, plan, 'backward_fused'), constants: { ACCUMULATE: shape.accumulateDX ? 1 : 0 } },
        params: rowParams(rows, C, plan, paramGroups),
        buffers: [io.x, io.weight, io.mean, io.rstd, io.dY, io.dX, io.dWeight, io.dBias],
        workgroups: linearGrid(paramGroups + rowGroups),
        flops: E.layerNormBackward * n + accumulateFlops,
      }),
    ];
  }
  const p = rowParams(rows, C, plan);
  const dX = await makeDispatch(engine, arena, {
      label: `${label}/dX`,
      kernel: { ...rowKernel(engine, shape, plan, 'backward_dx'), constants: { ACCUMULATE: shape.accumulateDX ? 1 : 0 } },
      params: p,
      buffers: [io.x, io.weight, io.mean, io.rstd, io.dY, io.dX],
      workgroups: linearGrid(rowGroups),
      flops: (E.layerNormBackward - PASS_FLOPS.layerNormBackwardParams) * n + accumulateFlops,
  });
  const partial = arena.f32(`${label}/param-partials`, 2 * plan.chunks * C); // (2, K, C)
  const folded = 2 * plan.chunks * C; // adds of the reduce pass, out of the parameter passes' share
  return [
    dX,
    await makeDispatch(engine, arena, {
      label: `${label}/param-partials`,
      kernel: { shader: 'layernorm.wgsl', entryPoint: 'backward_partials' },
      params: p,
      buffers: [io.x, io.mean, io.rstd, io.dY, partial],
      workgroups: [ceilDiv(C, 64), plan.chunks],
      flops: PASS_FLOPS.layerNormBackwardParams * n - folded,
    }),
    await makeDispatch(engine, arena, {
      label: `${label}/param-reduce`,
      kernel: { shader: 'layernorm.wgsl', entryPoint: plan.serialReduce ? 'backward_reduce_serial' : 'backward_reduce' },
      params: p,
      buffers: [partial, io.dWeight, io.dBias],
      workgroups: [ceilDiv(C, plan.serialReduce ? 64 : 16)],
      flops: folded,
    }),
  ];
}
