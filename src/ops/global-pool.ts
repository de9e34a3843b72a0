// The classifier's global average pool (spec §1: the mean over H, W of the last stage before
// the head's LayerNorm), on shaders/global-pool.wgsl. Input rows are sample-major, sample n
// owning rows [n·P, (n+1)·P) of x (N·P, C); P = H·W of the last stage, 1 … 4096.
//   meanPoolForward:  y[n, c] = (1/P) Σ_p x[n·P + p, c]
//   meanPoolBackward: dX[n·P + p, c] = dY[n, c] / P   (dX overwritten, not accumulated)
// vec4 entry points when C % 4 == 0. One thread per output in the forward: each walks its
// sample's P rows (in blocks of 64, to keep the f32 rounding near √P), no barrier.
// FLOPs (src/ops/flop-conventions.ts): forward meanPoolForward per input element plus scale
// per output; backward meanPoolBackward per dX element.
import type { BufferArena } from '../gpu/buffers.ts';
import { ceilDiv, linearGrid, makeDispatch, params, type Binding, type Dispatch } from '../gpu/dispatch.ts';
import type { Engine } from '../gpu/engine.ts';
import { ELEMENTWISE_FLOPS } from './flop-conventions.ts';
import { OpShapeError, requireCounts, requireElements } from './rows.ts';

const WG = 256;

export interface MeanPoolShape {
  /** Samples. */
  N: number;
  /** Rows per sample (H·W of the pooled feature map). */
  P: number;
  /** Channels. */
  C: number;
}

function checkShape(op: string, s: MeanPoolShape): void {
  requireCounts(op, { N: s.N, P: s.P, C: s.C });
  if (s.N * s.P * s.C > 0xffffffff) throw new OpShapeError(`${op}: N·P·C = ${s.N * s.P * s.C} exceeds u32 indexing`);
}

/** y (N, C) = the mean of each sample's P rows of x (N·P, C). */
export async function meanPoolForward(
  engine: Engine,
  arena: BufferArena,
  label: string,
  io: {
    x: Binding; // (N·P, C)
    y: Binding; // (N, C)
  },
  shape: MeanPoolShape,
): Promise<Dispatch[]> {
  checkShape(label, shape);
  const { N, P, C } = shape;
  requireElements(label, 'x', io.x, N * P * C, `(N·P, C) = (${N * P}, ${C})`);
  requireElements(label, 'y', io.y, N * C, `(N, C) = (${N}, ${C})`);
  const vec4 = C % 4 === 0;
  const units = vec4 ? C / 4 : C;
  return [
    await makeDispatch(engine, arena, {
      label,
      kernel: { shader: 'global-pool.wgsl', entryPoint: vec4 ? 'forward4' : 'forward' },
      params: params().u32(N).u32(P).u32(units).u32(0).build(),
      buffers: [io.x, io.y],
      workgroups: linearGrid(ceilDiv(N * units, WG)),
      flops: ELEMENTWISE_FLOPS.meanPoolForward * N * P * C + ELEMENTWISE_FLOPS.scale * N * C,
    }),
  ];
}

/** dX (N·P, C) = dY[n, :] / P on each of sample n's rows (overwrites dX). */
export async function meanPoolBackward(
  engine: Engine,
  arena: BufferArena,
  label: string,
  io: {
    dY: Binding; // (N, C)
    dX: Binding; // (N·P, C)
  },
  shape: MeanPoolShape,
): Promise<Dispatch[]> {
  checkShape(label, shape);
  const { N, P, C } = shape;
  requireElements(label, 'dY', io.dY, N * C, `(N, C) = (${N}, ${C})`);
  requireElements(label, 'dX', io.dX, N * P * C, `(N·P, C) = (${N * P}, ${C})`);
  const vec4 = C % 4 === 0;
  const units = vec4 ? C / 4 : C;
  return [
    await makeDispatch(engine, arena, {
      label,
      kernel: { shader: 'global-pool.wgsl', entryPoint: vec4 ? 'backward4' : 'backward' },
      params: params().u32(N).u32(P).u32(units).u32(0).build(),
      buffers: [io.dY, io.dX],
      workgroups: linearGrid(ceilDiv(N * P * units, WG)),
      flops: ELEMENTWISE_FLOPS.meanPoolBackward * N * P * C,
    }),
  ];
}
