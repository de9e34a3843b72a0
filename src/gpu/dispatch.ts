// A Dispatch is one compute-shader invocation with everything bound: built once when a plan
// is made, encoded every step. Convention for every kernel: binding 0 is a uniform `Params`
// struct of 4-byte scalars, storage buffers follow at bindings 1, 2, ...
import type { BufferArena } from './buffers.ts';
import type { Engine } from './engine.ts';
import type { KernelSpec } from './kernels.ts';

export type Binding = GPUBuffer | GPUBufferBinding;

export interface Dispatch {
  label: string;
  pipeline: GPUComputePipeline;
  bindGroup: GPUBindGroup;
  workgroups: [number, number, number];
  /**
   * Arithmetic of this dispatch, counted from its shape by the op that built it (a
   * multiply-add is 2; conventions in src/ops/flop-conventions.ts). 0 for pure data movement.
   */
  flops: number;
}

/** Packs a uniform struct of u32/i32/f32 fields in declaration order. */
export class ParamsBuilder {
  private values: { type: 'u32' | 'i32' | 'f32'; v: number }[] = [];
  u32(v: number): this {
    if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new RangeError(`u32 param out of range: ${v}`);
    this.values.push({ type: 'u32', v });
    return this;
  }
  i32(v: number): this {
    this.values.push({ type: 'i32', v });
    return this;
  }
  f32(v: number): this {
    this.values.push({ type: 'f32', v });
    return this;
  }
  build(): ArrayBuffer {
    const buf = new ArrayBuffer(Math.max(16, Math.ceil((this.values.length * 4) / 16) * 16));
    const view = new DataView(buf);
    this.values.forEach(({ type, v }, i) => {
      if (type === 'u32') view.setUint32(i * 4, v, true);
      else if (type === 'i32') view.setInt32(i * 4, v, true);
      else view.setFloat32(i * 4, v, true);
    });
    return buf;
  }
}

export const params = (): ParamsBuilder => new ParamsBuilder();

export interface DispatchSpec {
  label: string;
  kernel: KernelSpec;
  params: ArrayBuffer;
  /** Storage bindings 1..n in order. */
  buffers: Binding[];
  workgroups: [number, number?, number?];
  /** Dispatch.flops: what the op counts for this dispatch (src/ops/flop-conventions.ts). */
  flops: number;
}

export function ceilDiv(a: number, b: number): number {
  return Math.ceil(a / b);
}

/** Largest workgroup count per grid dimension that WebGPU guarantees. */
export const MAX_GRID_DIM = 65535;

/**
 * Spread `count` workgroups over a 2-D grid (x ≤ 65535). Kernels recover the linear index as
 * `wid.x + wid.y * nwg.x` and must ignore indices ≥ their element count.
 */
export function linearGrid(count: number): [number, number] {
  if (count <= MAX_GRID_DIM) return [Math.max(count, 0), 1];
  const y = Math.ceil(count / MAX_GRID_DIM);
  return [Math.ceil(count / y), y];
}

/** Compile (or fetch) the pipeline and bind everything; `arena` owns the uniform buffer. */
export async function makeDispatch(engine: Engine, arena: BufferArena, spec: DispatchSpec): Promise<Dispatch> {
  const pipeline = await engine.kernels.pipeline(spec.kernel);
  const uniform = arena.uniform(`${spec.label}/params`, spec.params);
  const entries: GPUBindGroupEntry[] = [{ binding: 0, resource: { buffer: uniform } }];
  spec.buffers.forEach((b, i) => {
    entries.push({ binding: i + 1, resource: 'buffer' in b ? b : { buffer: b } });
  });
  const bindGroup = engine.ctx.device.createBindGroup({
    label: spec.label,
    layout: pipeline.getBindGroupLayout(0),
    entries,
  });
  const [x, y = 1, z = 1] = spec.workgroups;
  const max = engine.ctx.adapter.limits.maxComputeWorkgroupsPerDimension;
  if (x > max || y > max || z > max) {
    throw new RangeError(`${spec.label}: dispatch ${x}×${y}×${z} exceeds maxComputeWorkgroupsPerDimension ${max}`);
  }
  if (!(Number.isFinite(spec.flops) && spec.flops >= 0)) throw new RangeError(`${spec.label}: flops = ${spec.flops} must be a finite number ≥ 0`);
  return { label: spec.label, pipeline, bindGroup, workgroups: [x, y, z], flops: spec.flops };
}

export function encodeDispatches(pass: GPUComputePassEncoder, dispatches: readonly Dispatch[]): void {
  for (const d of dispatches) {
    if (d.workgroups[0] === 0 || d.workgroups[1] === 0 || d.workgroups[2] === 0) continue;
    pass.setPipeline(d.pipeline);
    pass.setBindGroup(0, d.bindGroup);
    pass.dispatchWorkgroups(d.workgroups[0], d.workgroups[1], d.workgroups[2]);
  }
}

/** Encode `dispatches` in one compute pass and submit (tests, one-off work). */
export function submitDispatches(engine: Engine, dispatches: readonly Dispatch[], label = 'dispatches'): void {
  const encoder = engine.ctx.device.createCommandEncoder({ label });
  const pass = encoder.beginComputePass({ label });
  encodeDispatches(pass, dispatches);
  pass.end();
  engine.ctx.device.queue.submit([encoder.finish()]);
}
