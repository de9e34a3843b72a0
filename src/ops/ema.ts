// EMA of the weights for evaluation (timm ModelEmaV2 semantics), on shaders/ema.wgsl:
//   ema ← decay·ema + (1 − decay)·params
// over the flat parameter buffer, after each optimizer step. Start `ema` as a copy of the
// parameters (ModelEmaV2 deep-copies the model). decay is a uniform fixed when the plan is
// built (ModelEmaV2 keeps one decay); 1 − decay is computed in float64 and rounded once.
// vec4 entry point when count % 4 == 0. FLOPs (src/ops/flop-conventions.ts): ema per element.
import type { BufferArena } from '../gpu/buffers.ts';
import { ceilDiv, linearGrid, makeDispatch, params, type Binding, type Dispatch } from '../gpu/dispatch.ts';
import type { Engine } from '../gpu/engine.ts';
import { ELEMENTWISE_FLOPS } from './flop-conventions.ts';
import { OpShapeError, requireCounts, requireElements } from './rows.ts';

const WG = 256;

export interface EmaShape {
  /** Elements in each flat buffer. */
  count: number;
  /** In [0, 1]: 0 copies params, 1 freezes the average (timm's default 0.9998). */
  decay: number;
}

/** ema (count) ← decay·ema + (1 − decay)·params, in place. */
export async function emaUpdate(
  engine: Engine,
  arena: BufferArena,
  label: string,
  io: {
    ema: Binding; // (count) read-write
    params: Binding; // (count)
  },
  shape: EmaShape,
): Promise<Dispatch[]> {
  const { count, decay } = shape;
  requireCounts(label, { count });
  if (!(decay >= 0 && decay <= 1)) throw new OpShapeError(`${label}: decay = ${decay} must be in [0, 1] (timm's default is 0.9998)`);
  requireElements(label, 'ema', io.ema, count, `(count) = (${count})`);
  requireElements(label, 'params', io.params, count, `(count) = (${count})`);
  const vec4 = count % 4 === 0;
  const units = vec4 ? count / 4 : count;
  return [
    await makeDispatch(engine, arena, {
      label,
      kernel: { shader: 'ema.wgsl', entryPoint: vec4 ? 'update4' : 'update' },
      params: params().u32(units).f32(decay).f32(1 - decay).u32(0).build(),
      buffers: [io.ema, io.params],
      workgroups: linearGrid(ceilDiv(units, WG)),
      flops: ELEMENTWISE_FLOPS.ema * count,
    }),
  ];
}
