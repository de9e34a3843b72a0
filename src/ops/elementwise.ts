// Elementwise helpers of the model on shaders/elementwise.wgsl: addForward (out = a + b),
// accumulate (a += b), copy (dst = src) and scale (x *= s). A copy is a compute dispatch, not
// copyBufferToBuffer, so it sits in the same compute pass as everything else.
// When count % 4 == 0 the vec4 entry points run (a quarter of the threads, 16-byte accesses).
// Also home of the binding-size checks shared by the other elementwise-style ops.
import type { BufferArena } from '../gpu/buffers.ts';
import { ceilDiv, linearGrid, makeDispatch, params, type Binding, type Dispatch } from '../gpu/dispatch.ts';
import type { Engine } from '../gpu/engine.ts';
import { ELEMENTWISE_FLOPS } from './flop-conventions.ts';

const WG = 256;

/** Bytes visible through a binding (whole buffer, or the bound range). */
export function bindingBytes(b: Binding): number {
  if ('buffer' in b) return b.size ?? b.buffer.size - (b.offset ?? 0);
  return b.size;
}

/** Throw a RangeError naming the op and the buffer when `b` holds fewer than `count` f32s. */
export function requireFloats(op: string, name: string, b: Binding, count: number): void {
  const have = Math.floor(bindingBytes(b) / 4);
  if (have < count) {
    throw new RangeError(`${op}: buffer '${name}' holds ${have} floats, needs ${count}`);
  }
}

/** Throw a RangeError unless `count` is a positive integer. */
export function requireCount(op: string, what: string, count: number): void {
  if (!Number.isInteger(count) || count <= 0) throw new RangeError(`${op}: ${what} must be a positive integer, got ${count}`);
}

interface ElementwiseSpec {
  entryPoint: string;
  count: number;
  /** FLOPs per element (0 for a copy). */
  perElement: number;
  s?: number;
  buffers: Binding[];
}

/** One launch over `count` elements, vec4 entry point when the count allows it. */
async function elementwise(engine: Engine, arena: BufferArena, label: string, spec: ElementwiseSpec): Promise<Dispatch> {
  const vec4 = spec.count % 4 === 0;
  const units = vec4 ? spec.count / 4 : spec.count;
  return makeDispatch(engine, arena, {
    label,
    kernel: { shader: 'elementwise.wgsl', entryPoint: vec4 ? `${spec.entryPoint}4` : spec.entryPoint },
    params: params().u32(units).f32(spec.s ?? 1).u32(0).u32(0).build(),
    buffers: spec.buffers,
    workgroups: linearGrid(ceilDiv(units, WG)),
    flops: spec.perElement * spec.count,
  });
}

/** out = a + b over `count` elements. */
export async function addForward(
  engine: Engine,
  arena: BufferArena,
  label: string,
  io: { a: Binding; b: Binding; out: Binding }, // (count) each
  shape: { count: number },
): Promise<Dispatch[]> {
  requireCount(label, 'count', shape.count);
  for (const [k, v] of Object.entries(io)) requireFloats(label, k, v, shape.count);
  return [await elementwise(engine, arena, label, { entryPoint: 'add', count: shape.count, perElement: ELEMENTWISE_FLOPS.add, buffers: [io.a, io.b, io.out] })];
}

/** a += b over `count` elements. */
export async function accumulate(
  engine: Engine,
  arena: BufferArena,
  label: string,
  io: { a: Binding; b: Binding }, // (count) each
  shape: { count: number },
): Promise<Dispatch[]> {
  requireCount(label, 'count', shape.count);
  for (const [k, v] of Object.entries(io)) requireFloats(label, k, v, shape.count);
  return [await elementwise(engine, arena, label, { entryPoint: 'accumulate', count: shape.count, perElement: ELEMENTWISE_FLOPS.add, buffers: [io.a, io.b] })];
}

/** dst = src over the first `count` elements. */
export async function copy(
  engine: Engine,
  arena: BufferArena,
  label: string,
  io: { src: Binding; dst: Binding }, // (count) each
  shape: { count: number },
): Promise<Dispatch[]> {
  requireCount(label, 'count', shape.count);
  for (const [k, v] of Object.entries(io)) requireFloats(label, k, v, shape.count);
  return [await elementwise(engine, arena, label, { entryPoint: 'copy', count: shape.count, perElement: 0, buffers: [io.src, io.dst] })];
}

/**
 * x *= s over `count` elements. Give either `shape.s` (a number fixed for the plan: it lives in
 * the uniform) or `io.factor`, a buffer whose first float is the factor, for a value that
 * changes every step (the caller rewrites it, or a kernel computes it).
 */
export async function scale(
  engine: Engine,
  arena: BufferArena,
  label: string,
  io: { x: Binding; factor?: Binding }, // x (count), factor (1)
  shape: { count: number; s?: number },
): Promise<Dispatch[]> {
  requireCount(label, 'count', shape.count);
  requireFloats(label, 'x', io.x, shape.count);
  if ((shape.s === undefined) === (io.factor === undefined)) {
    throw new TypeError(`${label}: scale needs exactly one of shape.s (fixed) or io.factor (buffer)`);
  }
  if (io.factor) {
    requireFloats(label, 'factor', io.factor, 1);
    return [await elementwise(engine, arena, label, { entryPoint: 'scale_by', count: shape.count, perElement: ELEMENTWISE_FLOPS.scale, buffers: [io.x, io.factor] })];
  }
  if (!Number.isFinite(shape.s)) throw new RangeError(`${label}: scale factor must be finite, got ${shape.s}`);
  return [await elementwise(engine, arena, label, { entryPoint: 'scale', count: shape.count, s: shape.s, perElement: ELEMENTWISE_FLOPS.scale, buffers: [io.x] })];
}
