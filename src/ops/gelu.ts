// GELU as its own elementwise op (shaders/gelu.wgsl), for the places the matmul epilogue
// cannot fuse it. Same formulas as the epilogue (gelu-common.wgsl). vec4 entry points when
// count % 4 == 0.
import type { BufferArena } from '../gpu/buffers.ts';
import { ceilDiv, linearGrid, makeDispatch, params, type Binding, type Dispatch } from '../gpu/dispatch.ts';
import type { Engine } from '../gpu/engine.ts';
import { requireCount, requireFloats } from './elementwise.ts';
import { ELEMENTWISE_FLOPS } from './flop-conventions.ts';

/** Exact erf GELU, or the tanh approximation (gelu_apply in gelu-common.wgsl). */
export type GeluForm = 'erf' | 'tanh';

const WG = 256;
/** gelu_apply's codes in gelu-common.wgsl. */
/** gelu_apply's codes (shaders/gelu-common.wgsl), for kernels that fuse GELU. */
export const GELU_FORM_CODE: Record<GeluForm, number> = { erf: 1, tanh: 2 };
const FORM_CODE = GELU_FORM_CODE;

function formCode(label: string, form: GeluForm): number {
  const code = FORM_CODE[form];
  if (code === undefined) throw new RangeError(`${label}: unknown GELU form '${String(form)}' (use 'erf' or 'tanh')`);
  return code;
}

/** y = gelu(x) over `count` elements. */
export async function geluForward(
  engine: Engine,
  arena: BufferArena,
  label: string,
  io: { x: Binding; y: Binding }, // (count) each
  shape: { count: number; form: GeluForm },
): Promise<Dispatch[]> {
  const { count } = shape;
  requireCount(label, 'count', count);
  requireFloats(label, 'x', io.x, count);
  requireFloats(label, 'y', io.y, count);
  const vec4 = count % 4 === 0;
  const units = vec4 ? count / 4 : count;
  return [
    await makeDispatch(engine, arena, {
      label,
      kernel: { shader: 'gelu.wgsl', entryPoint: vec4 ? 'forward4' : 'forward', constants: { FORM: formCode(label, shape.form) } },
      params: params().u32(units).u32(0).u32(0).u32(0).build(),
      buffers: [io.x, io.y],
      workgroups: linearGrid(ceilDiv(units, WG)),
      flops: ELEMENTWISE_FLOPS.geluForward * count,
    }),
  ];
}

/** dX = dY·gelu'(x), or dX += that when `accumulate`. */
export async function geluBackward(
  engine: Engine,
  arena: BufferArena,
  label: string,
  io: { x: Binding; dY: Binding; dX: Binding }, // (count) each
  shape: { count: number; form: GeluForm; accumulate?: boolean },
): Promise<Dispatch[]> {
  const { count } = shape;
  requireCount(label, 'count', count);
  for (const [k, v] of Object.entries(io)) requireFloats(label, k, v, count);
  const vec4 = count % 4 === 0;
  const units = vec4 ? count / 4 : count;
  return [
    await makeDispatch(engine, arena, {
      label,
      kernel: {
        shader: 'gelu.wgsl',
        entryPoint: vec4 ? 'backward4' : 'backward',
        constants: { FORM: formCode(label, shape.form), ACCUMULATE: shape.accumulate ? 1 : 0 },
      },
      params: params().u32(units).u32(0).u32(0).u32(0).build(),
      buffers: [io.x, io.dY, io.dX],
      workgroups: linearGrid(ceilDiv(units, WG)),
      flops: (ELEMENTWISE_FLOPS.geluBackward + (shape.accumulate ? ELEMENTWISE_FLOPS.residual : 0)) * count,
    }),
  ];
}
