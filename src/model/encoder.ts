// The ConvNeXt V2 encoder as a list of layers (stem, then per stage: downsample, blocks), built
// on the sparse layout of V visible patches per sample (V = L: the dense network). The FCMAE
// plan feeds its masked batch through it (forward only when the encoder is frozen); a
// classification plan runs it with V = L.
import type { ModelConfig, StepOptions } from './config.ts';
import { blockGroup, downsampleLayer, stemLayer, type BuildContext, type Grid, type Layer } from './layers.ts';

export interface EncoderIO {
  image: GPUBuffer; // (N, 3, H, W)
  patchToVisible: GPUBuffer; // (N·L) int32
  visiblePatches: GPUBuffer; // (N·V) int32
  /** (N·L) f32, 1 = masked: the dense-encoder ablation zeroes masked sites after the stem; null otherwise. */
  mask: GPUBuffer | null;
  /** Per stage, per block: the (N) drop-path scales of that block's residual branch, or null (see blockGroup). */
  dropScales?: readonly (readonly (GPUBuffer | null)[])[];
}

export interface EncoderShape {
  N: number;
  /** Visible patches per sample the layout holds (L when dense). */
  V: number;
  gridH: number;
  gridW: number;
}

export interface BuiltEncoder {
  /** In forward order. */
  layers: Layer[];
  /** (N·V, d3) the last stage's output (one row per visible patch). */
  out: GPUBuffer;
  /** (N·V, d3) where the caller's backward puts the gradient of `out`; null when built frozen (no backward at all). */
  dOut: GPUBuffer | null;
  /** Every block's expansion activations (rows, 4C), stage 0 block 0 first: after GRN, or after GELU without GRN. */
  blockActivations: { stage: number; block: number; buffer: GPUBuffer; rows: number; channels: number }[];
}

/**
 * `frozen`: forward only. No gradient streams, no backward scratch and no backward dispatches
 * (every layer's backward list is empty), for runs that train only what follows the encoder.
 */
export async function buildEncoder(ctx: BuildContext, config: ModelConfig, options: Pick<StepOptions, 'gelu' | 'grnMode'>, io: EncoderIO, shape: EncoderShape, frozen = false): Promise<BuiltEncoder> {
  const { arena } = ctx;
  const { N, V, gridH, gridW } = shape;
  const d = config.dims;
  const rowsAt = (r: number) => N * V * r * r;
  // gradient streams: one (rows, C) buffer per stage, accumulated in place along the residual path
  const stream = frozen ? [null, null, null, null] : [0, 1, 2, 3].map((s) => arena.f32(`grad-stream/${s}`, rowsAt(8 >> s) * d[s]!));
  const layers: Layer[] = [];
  const blockActivations: BuiltEncoder['blockActivations'] = [];
  const stem = await stemLayer(ctx, { image: io.image, visiblePatches: io.visiblePatches, mask: io.mask, dOut: stream[0] ?? null }, { N, V, gridH, gridW, d0: d[0]! });
  layers.push(stem.layer);
  let x = stem.out;
  for (let s = 0; s < 4; s++) {
    const r = 8 >> s;
    const C = d[s]!;
    if (s > 0) {
      const down = await downsampleLayer(ctx, s, { x, grads: frozen ? null : { dOut: stream[s]!, dX: stream[s - 1]! } }, { rowsIn: rowsAt(r * 2), Cin: d[s - 1]!, C });
      layers.push(down.layer);
      x = down.out;
    }
    const grid: Grid = { r, N, V, gridH, gridW, patchToVisible: io.patchToVisible, visiblePatches: io.visiblePatches };
    const blocks = await blockGroup(ctx, `encoder.stages.${s}`, config.depths[s]!, { x, stream: stream[s] ?? null, grid, dropScales: io.dropScales?.[s] }, { C, rows: rowsAt(r), grn: config.grn, gelu: options.gelu, grnMode: options.grnMode });
    layers.push({ forwardPhase: `stage ${s}`, backwardPhase: `stage ${s} backward`, forward: blocks.forward, backward: blocks.backward });
    blocks.activations.forEach((buffer, b) => blockActivations.push({ stage: s, block: b, buffer, rows: rowsAt(r), channels: 4 * C }));
    x = blocks.out;
  }
  return { layers, out: x, dOut: stream[3] ?? null, blockActivations };
}
