// LayerNorm over channels, channels-last (rows, C), eps 1e-6, biased variance, on
// shaders/layernorm.wgsl. Forward keeps mean and rstd per row for backward. Backward writes
// dX (or adds to it) with one row kernel, and the parameter gradients with a parallel two-pass
// reduction: (column, chunk of rows) partial sums, then a per-column reduce over the chunks.
// Dimension letters: R rows, C channels, K row chunks.
import type { BufferArena } from '../gpu/buffers.ts';
import { ceilDiv, linearGrid, makeDispatch, params, type Binding, type Dispatch } from '../gpu/dispatch.ts';
import type { Engine } from '../gpu/engine.ts';
import { LN_EPS } from '../reference/layernorm.ts';
import { requireCount, requireFloats } from './elementwise.ts';

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
}

/**
 * How a (rows, C) LayerNorm is cut into workgroups. GPUs: the most threads per row that keeps
 * ≥ 8 channels per thread (coalesced row reads, short serial loops). Software adapters
 * (SwiftShader): one thread per row, because there every invocation of a kernel that reaches a
 * barrier costs ~1 µs (a coroutine switch), 10-100× the arithmetic of a row; with tpr = 1 the
 * kernel skips its barriers. `threadsPerRow` forces a split (tests run the GPU plans on CPU).
 */
export function layerNormPlan(rows: number, C: number, o: { software: boolean; threadsPerRow?: number }): LayerNormPlan {
  let tpr = 1;
  if (o.threadsPerRow !== undefined) {
    tpr = o.threadsPerRow;
    if (!Number.isInteger(Math.log2(tpr)) || tpr < 1 || tpr > WG) {
      throw new RangeError(`layerNormPlan: threadsPerRow must be a power of two in 1..${WG}, got ${tpr}`);
    }
  } else if (!o.software) {
    while (tpr < WG && tpr * CHANNELS_PER_THREAD < C) tpr *= 2;
  }
  const rowsPerChunk = Math.max(ROWS_PER_CHUNK, ceilDiv(rows, MAX_CHUNKS));
  return { tpr, rowsPerWorkgroup: WG / tpr, rowsPerChunk, chunks: ceilDiv(rows, rowsPerChunk) };
}

export interface LayerNormShape {
  rows: number;
  C: number;
  /** Override the plan's threads per row (power of two ≤ 256); for tests and tuning. */
  threadsPerRow?: number;
}

function checkShape(engine: Engine, label: string, shape: LayerNormShape): LayerNormPlan {
  const { rows, C } = shape;
  requireCount(label, 'rows', rows);
  requireCount(label, 'C', C);
  if (rows * C > 0xffffffff) throw new RangeError(`${label}: rows·C = ${rows * C} exceeds u32 indexing`);
  return layerNormPlan(rows, C, { software: engine.ctx.adapter.isSoftware, threadsPerRow: shape.threadsPerRow });
}

function rowParams(rows: number, C: number, plan: LayerNormPlan): ArrayBuffer {
  return params().u32(rows).u32(C).u32(plan.tpr).u32(plan.rowsPerChunk).u32(plan.chunks).f32(LN_EPS).build();
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
      kernel: { shader: 'layernorm.wgsl', entryPoint: 'forward' },
      params: rowParams(rows, C, plan),
      buffers: [io.x, io.weight, io.bias, io.y, io.mean, io.rstd],
      workgroups: linearGrid(ceilDiv(rows, plan.rowsPerWorkgroup)),
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
  const p = rowParams(rows, C, plan);
  const partial = arena.f32(`${label}/param-partials`, 2 * plan.chunks * C); // (2, K, C)
  return [
    await makeDispatch(engine, arena, {
      label: `${label}/dX`,
      kernel: { shader: 'layernorm.wgsl', entryPoint: 'backward_dx', constants: { ACCUMULATE: shape.accumulateDX ? 1 : 0 } },
      params: p,
      buffers: [io.x, io.weight, io.mean, io.rstd, io.dY, io.dX],
      workgroups: linearGrid(ceilDiv(rows, plan.rowsPerWorkgroup)),
    }),
    await makeDispatch(engine, arena, {
      label: `${label}/param-partials`,
      kernel: { shader: 'layernorm.wgsl', entryPoint: 'backward_partials' },
      params: p,
      buffers: [io.x, io.mean, io.rstd, io.dY, partial],
      workgroups: [ceilDiv(C, 64), plan.chunks],
    }),
    await makeDispatch(engine, arena, {
      label: `${label}/param-reduce`,
      kernel: { shader: 'layernorm.wgsl', entryPoint: 'backward_reduce' },
      params: p,
      buffers: [partial, io.dWeight, io.dBias],
      workgroups: [ceilDiv(C, 16)],
    }),
  ];
}
