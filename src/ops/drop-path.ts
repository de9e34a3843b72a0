// Drop path (stochastic depth, spec §1) on a block's residual branch, on shaders/drop-path.wgsl:
// per-sample factors scale (N) drawn by the host each step, scale[n] ∈ {0, 1/(1 − p)} (timm's
// drop_path with scale_by_keep), applied to the rows of a sample-major (rows, C) matrix, row r
// belonging to sample floor(r / rowsPerSample).
//   addScaledRows: out = x + scale[n]·branch   (the block's forward: input + drop_path(branch))
//   scaleRows:     dst = scale[n]·src          (its backward for the branch: dBranch = scale·dOut)
// The scale buffer is read at run time, so one plan serves every step's draw.
// Aliasing: `out` may be the very same binding as `x` (x += scale·branch runs in place) and
// `dst` the very same as `src`; any other overlap of a written buffer with a read one
// (out with branch, a partial overlap) is rejected, as WebGPU would reject the bind group.
// vec4 entry points when C % 4 == 0. FLOPs (src/ops/flop-conventions.ts): addScaled per
// element, scale per element.
import type { BufferArena } from '../gpu/buffers.ts';
import { ceilDiv, linearGrid, makeDispatch, params, type Binding, type Dispatch } from '../gpu/dispatch.ts';
import type { Engine } from '../gpu/engine.ts';
import { ELEMENTWISE_FLOPS } from './flop-conventions.ts';
import { bindingBytes, OpShapeError, requireCounts, requireElements } from './rows.ts';

const WG = 256;

export interface ScaleRowsShape {
  /** Rows of the matrices: N·rowsPerSample. */
  rows: number;
  C: number;
  /** Rows each sample owns (H·W of the feature map, or the visible rows of a sparse layout). */
  rowsPerSample: number;
}

function range(b: Binding): { buffer: GPUBuffer; start: number; end: number } {
  const buffer = 'buffer' in b ? b.buffer : b;
  const start = 'buffer' in b ? (b.offset ?? 0) : 0;
  return { buffer, start, end: start + bindingBytes(b) };
}

/** 'same' when both bind the same bytes of one buffer, 'overlap' when they share some, else 'apart'. */
function aliasing(a: Binding, b: Binding): 'same' | 'overlap' | 'apart' {
  const ra = range(a);
  const rb = range(b);
  if (ra.buffer !== rb.buffer || ra.end <= rb.start || rb.end <= ra.start) return 'apart';
  return ra.start === rb.start && ra.end === rb.end ? 'same' : 'overlap';
}

/** Checks the shape and the buffers; returns the samples N. */
function checkRows(op: string, io: Record<string, Binding>, s: ScaleRowsShape, matrices: string[]): number {
  const { rows, C, rowsPerSample } = s;
  requireCounts(op, { rows, C, rowsPerSample });
  if (rows % rowsPerSample !== 0) {
    throw new OpShapeError(`${op}: rows = ${rows} is not a multiple of rowsPerSample = ${rowsPerSample} (rows must be N·rowsPerSample)`);
  }
  if (rows * C > 0xffffffff) throw new OpShapeError(`${op}: rows·C = ${rows * C} exceeds u32 indexing`);
  const N = rows / rowsPerSample;
  for (const name of matrices) requireElements(op, name, io[name]!, rows * C, `(rows, C) = (${rows}, ${C})`);
  requireElements(op, 'scale', io.scale!, N, `(N) = (${N}) with rowsPerSample = ${rowsPerSample}`);
  return N;
}

function rejectOverlap(op: string, written: string, w: Binding, read: Record<string, Binding>): void {
  for (const [name, b] of Object.entries(read)) {
    if (aliasing(w, b) !== 'apart') {
      throw new OpShapeError(`${op}: buffer '${written}' overlaps '${name}'; write into a separate buffer`);
    }
  }
}

/** out (rows, C) = x + scale[floor(r / rowsPerSample)]·branch; `out` may be `x` itself (in place). */
export async function addScaledRows(
  engine: Engine,
  arena: BufferArena,
  label: string,
  io: {
    x: Binding; // (rows, C)
    branch: Binding; // (rows, C)
    scale: Binding; // (N) f32 per-sample factor
    out: Binding; // (rows, C)
  },
  shape: ScaleRowsShape,
): Promise<Dispatch[]> {
  checkRows(label, io, shape, ['x', 'branch', 'out']);
  const inPlace = aliasing(io.out, io.x) === 'same';
  rejectOverlap(label, 'out', io.out, inPlace ? { branch: io.branch, scale: io.scale } : { x: io.x, branch: io.branch, scale: io.scale });
  const { rows, C, rowsPerSample } = shape;
  const vec4 = C % 4 === 0;
  const rowUnits = vec4 ? C / 4 : C;
  const units = rows * rowUnits;
  const entryPoint = `add_scaled${inPlace ? '_inplace' : ''}${vec4 ? '4' : ''}`;
  return [
    await makeDispatch(engine, arena, {
      label,
      kernel: { shader: 'drop-path.wgsl', entryPoint },
      params: params().u32(units).u32(rowUnits).u32(rowsPerSample).u32(0).build(),
      buffers: inPlace ? [io.x, io.branch, io.scale] : [io.x, io.branch, io.scale, io.out],
      workgroups: linearGrid(ceilDiv(units, WG)),
      flops: ELEMENTWISE_FLOPS.addScaled * rows * C,
    }),
  ];
}

/** dst (rows, C) = scale[floor(r / rowsPerSample)]·src; `dst` may be `src` itself (in place). */
export async function scaleRows(
  engine: Engine,
  arena: BufferArena,
  label: string,
  io: {
    src: Binding; // (rows, C)
    scale: Binding; // (N) f32 per-sample factor
    dst: Binding; // (rows, C)
  },
  shape: ScaleRowsShape,
): Promise<Dispatch[]> {
  checkRows(label, io, shape, ['src', 'dst']);
  const inPlace = aliasing(io.dst, io.src) === 'same';
  rejectOverlap(label, 'dst', io.dst, inPlace ? { scale: io.scale } : { src: io.src, scale: io.scale });
  const { rows, C, rowsPerSample } = shape;
  const vec4 = C % 4 === 0;
  const rowUnits = vec4 ? C / 4 : C;
  const units = rows * rowUnits;
  const entryPoint = `scale_rows${inPlace ? '_inplace' : ''}${vec4 ? '4' : ''}`;
  return [
    await makeDispatch(engine, arena, {
      label,
      kernel: { shader: 'drop-path.wgsl', entryPoint },
      params: params().u32(units).u32(rowUnits).u32(rowsPerSample).u32(0).build(),
      buffers: inPlace ? [io.src, io.scale] : [io.src, io.scale, io.dst],
      workgroups: linearGrid(ceilDiv(units, WG)),
      flops: ELEMENTWISE_FLOPS.scale * rows * C,
    }),
  ];
}
