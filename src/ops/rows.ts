// Row-level plumbing between row-major (rows, C) matrices: gatherRows
// (shaders/rows.wgsl) pick rows of the sparse layout and put them back, and columnSum
// (shaders/column-sum.wgsl) is the parallel reduction behind every bias gradient.
// Also the shape-checking helpers the edge ops (stem, mask token, loss) share.
import type { BufferArena } from '../gpu/buffers.ts';
import { ceilDiv, linearGrid, makeDispatch, params, type Binding, type Dispatch } from '../gpu/dispatch.ts';
import type { Engine } from '../gpu/engine.ts';
import { ELEMENTWISE_FLOPS } from './flop-conventions.ts';

/** A shape or buffer that does not fit an op; the message names the op, the buffer and the sizes. */
export class OpShapeError extends Error {
  override readonly name = 'OpShapeError';
}

export function bindingBytes(b: Binding): number {
  if ('buffer' in b) return b.size ?? b.buffer.size - (b.offset ?? 0);
  return b.size;
}

/** Throws unless `b` holds at least `count` 4-byte elements. */
export function requireElements(op: string, name: string, b: Binding, count: number, shape: string): void {
  const have = bindingBytes(b) / 4;
  if (have < count) throw new OpShapeError(`${op}: buffer '${name}' holds ${have} elements but ${shape} needs ${count}`);
}

/** Throws unless every named value is an integer ≥ `min` (1 by default). */
export function requireCounts(op: string, values: Record<string, number>, min = 1): void {
  for (const [k, v] of Object.entries(values)) {
    if (!Number.isInteger(v) || v < min) throw new OpShapeError(`${op}: ${k} = ${v} must be an integer ≥ ${min}`);
  }
}

const WG = 256;

export interface GatherRowsShape {
  /** Rows picked = length of `indices` = rows of dst. */
  rows: number;
  /** Columns of both matrices. */
  C: number;
  /** Rows of src (indices ≥ srcRows give zero rows); defaults to what the src binding holds. */
  srcRows?: number;
}

/** dst[i, :] = src[indices[i], :]; an index outside [0, srcRows) gives a zero row. */
export async function gatherRows(
  engine: Engine,
  arena: BufferArena,
  label: string,
  io: {
    src: Binding; // (srcRows, C)
    indices: Binding; // (rows) int32 row of src
    dst: Binding; // (rows, C)
  },
  shape: GatherRowsShape,
): Promise<Dispatch[]> {
  const { rows, C } = shape;
  requireCounts(label, { rows, C });
  const srcRows = shape.srcRows ?? Math.floor(bindingBytes(io.src) / 4 / C);
  requireCounts(label, { srcRows });
  requireElements(label, 'src', io.src, srcRows * C, `(srcRows, C) = (${srcRows}, ${C})`);
  requireElements(label, 'indices', io.indices, rows, `(rows) = (${rows})`);
  requireElements(label, 'dst', io.dst, rows * C, `(rows, C) = (${rows}, ${C})`);
  return [
    await makeDispatch(engine, arena, {
      label,
      kernel: { shader: 'rows.wgsl', entryPoint: 'gather' },
      params: params().u32(srcRows).u32(rows).u32(C).u32(0).build(),
      buffers: [io.src, io.indices, io.dst],
      workgroups: linearGrid(ceilDiv(rows * C, WG)),
      flops: 0,
    }),
  ];
}

/** Rows one column-sum workgroup reduces in a partial pass. */
export const COLUMN_SUM_CHUNK = 256;
/** At most this many rows left: one final pass (each thread then sums ≤ 128 values). */
const COLUMN_SUM_FINAL_ROWS = 1024;
/** The same for the barrier-free kernel, where a thread sums every row left itself. */
const COLUMN_SUM_FINAL_ROWS_DIRECT = COLUMN_SUM_CHUNK;
/** Columns per column-sum workgroup (shaders/column-sum.wgsl TC). */
const COLUMN_SUM_TILE = 32;

export interface ColumnSumShape {
  rows: number;
  C: number;
  /** out += sums instead of out = sums (parameter gradients accumulate). */
  accumulate?: boolean;
  /** 'shared' (tree in workgroup memory) or 'direct' (no barriers); default by adapter. */
  plan?: 'shared' | 'direct';
}

/**
 * out[c] (+)= Σ_r x[r, c]. FLOPs: rows·C adds in all, however many passes (a partial pass
 * counts the adds folding its rows into chunks, the final pass its rows; accumulating adds C).
 * Partial passes of COLUMN_SUM_CHUNK rows per workgroup shrink
 * the rows (rows → ⌈rows/256⌉ partial rows, scratch from `arena`) until at most 1024 are
 * left, then one workgroup per 32 columns finishes. Used for every bias gradient.
 */
export async function columnSum(
  engine: Engine,
  arena: BufferArena,
  label: string,
  io: {
    x: Binding; // (rows, C)
    out: Binding; // (C)
  },
  shape: ColumnSumShape,
): Promise<Dispatch[]> {
  const { rows, C } = shape;
  requireCounts(label, { rows, C });
  requireElements(label, 'x', io.x, rows * C, `(rows, C) = (${rows}, ${C})`);
  requireElements(label, 'out', io.out, C, `(C) = (${C})`);
  const columnTiles = ceilDiv(C, COLUMN_SUM_TILE);
  const direct = (shape.plan ?? (engine.ctx.adapter.isSoftware ? 'direct' : 'shared')) === 'direct';
  const entryPoint = direct ? 'main_direct' : 'main';
  const finalRows = direct ? COLUMN_SUM_FINAL_ROWS_DIRECT : COLUMN_SUM_FINAL_ROWS;
  const out: Dispatch[] = [];
  let current = io.x;
  let currentRows = rows;
  let level = 0;
  while (currentRows > finalRows) {
    const chunks = ceilDiv(currentRows, COLUMN_SUM_CHUNK);
    const partials = arena.f32(`${label}/column-sum-partials-${level}`, chunks * C); // (chunks, C)
    out.push(
      await makeDispatch(engine, arena, {
        label: `${label}/partial-${level}`,
        kernel: { shader: 'column-sum.wgsl', entryPoint, constants: { ACCUMULATE: 0 } },
        params: params().u32(currentRows).u32(C).u32(COLUMN_SUM_CHUNK).u32(0).build(),
        buffers: [current, partials],
        workgroups: [columnTiles, chunks],
        flops: ELEMENTWISE_FLOPS.columnSum * (currentRows - chunks) * C,
      }),
    );
    current = partials;
    currentRows = chunks;
    level++;
  }
  out.push(
    await makeDispatch(engine, arena, {
      label: `${label}/final`,
      kernel: { shader: 'column-sum.wgsl', entryPoint, constants: { ACCUMULATE: shape.accumulate ? 1 : 0 } },
      params: params().u32(currentRows).u32(C).u32(currentRows).u32(0).build(),
      buffers: [current, io.out],
      workgroups: [columnTiles, 1],
      flops: ELEMENTWISE_FLOPS.columnSum * currentRows * C + (shape.accumulate ? ELEMENTWISE_FLOPS.residual * C : 0),
    }),
  );
  return out;
}
