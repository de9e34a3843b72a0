// Zero the rows of masked patches in place (dense-encoder ablation: the masked image enters
// an ordinary dense network). Its backward is the same operation on the gradient.
import type { BufferArena } from '../gpu/buffers.ts';
import { ceilDiv, linearGrid, makeDispatch, params, type Binding, type Dispatch } from '../gpu/dispatch.ts';
import type { Engine } from '../gpu/engine.ts';
import { ELEMENTWISE_FLOPS } from './flop-conventions.ts';

export async function maskRows(
  engine: Engine,
  arena: BufferArena,
  label: string,
  io: { x: Binding /* (N·L·r², C) */; mask: Binding /* (N·L) */ },
  shape: { rows: number; C: number; sitesPerPatch: number },
): Promise<Dispatch[]> {
  const total = shape.rows * shape.C;
  return [
    await makeDispatch(engine, arena, {
      label,
      kernel: { shader: 'mask-rows.wgsl', entryPoint: 'main' },
      params: params().u32(total).u32(shape.C).u32(shape.sitesPerPatch).u32(0).build(),
      buffers: [io.x, io.mask],
      workgroups: linearGrid(ceilDiv(total, 256)),
      flops: ELEMENTWISE_FLOPS.maskRows * total,
    }),
  ];
}
