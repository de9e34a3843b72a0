// Feature collapse (the paper's Fig. 4; evaluation-spec §4): for one image and one block, the
// block's expansion activations X (sites × C', C' = 4C; after GRN in a V2 block, after GELU
// without GRN), each channel x̂_i = X_i / max(‖X_i‖₂, 1e-12), and
//   distance = (1 / C'²) Σ_i Σ_j (1 − x̂_i · x̂_j) / 2   (all pairs, i = j included),
// averaged over the images, per block. The GPU computes each block's Gram matrix G = XᵀX per
// image (ClassifierPlan.gramPhase); x̂_i · x̂_j = G_ij / (n_i n_j) with n_i = max(√G_ii, 1e-12).
// Also the activation grid (Fig. 3): one block's first 64 channel maps of one image, each scaled
// to [0, 1] — what `fcmae analyze --grid` and the page's "Activation grid" both draw.
import { throwIfFailed } from '../gpu/device.ts';
import type { Engine } from '../gpu/engine.ts';
import type { ModelConfig } from '../model/config.ts';
import { encodePhases } from '../model/layers.ts';
import { denseLayout, rowOfSite } from '../ops/sparse-layout.ts';
import { ClassifierTrainer } from './classifier-trainer.ts';

/** The spec's distance from one block's (C', C') Gram matrix (float64 arithmetic). */
export function cosineDistanceFromGram(G: ArrayLike<number>, C: number): number {
  const n = new Float64Array(C);
  for (let i = 0; i < C; i++) n[i] = Math.max(Math.sqrt(Math.max(G[i * C + i]!, 0)), 1e-12);
  let sum = 0;
  for (let i = 0; i < C; i++) for (let j = 0; j < C; j++) sum += (1 - G[i * C + j]! / (n[i]! * n[j]!)) / 2;
  return sum / (C * C);
}

export interface CollapseBlock {
  stage: number;
  block: number;
  /** C' = 4C */
  channels: number;
  /** k / (K − 1) for block k of K (stage 0 block 0 first); 0 when there is one block. */
  normalisedIndex: number;
}

export interface CollapseResult {
  blocks: CollapseBlock[];
  /** Per block, the distance averaged over the images. */
  distance: number[];
  /** perImage[i][b]: image i, block b. */
  perImage: number[][];
}

export async function featureCollapse(
  engine: Engine,
  weights: { config: Pick<ModelConfig, 'depths' | 'dims' | 'grn'>; numClasses: number; flat: Float32Array },
  inputSize: number,
  count: number,
  imageOf: (i: number) => Float32Array | Promise<Float32Array>,
  options: { signal?: AbortSignal; onProgress?: (done: number, total: number) => void } = {},
): Promise<CollapseResult> {
  if (count < 1) throw new RangeError('the collapse analysis needs at least one image');
  const trainer = await ClassifierTrainer.create(
    engine,
    { config: weights.config, numClasses: weights.numClasses, batchSize: 1, inputSize, groups: { layerDecay: 1, weightDecay: 0 }, learningRate: () => 0, seed: 0 },
    weights.flat,
  );
  try {
    const { plan } = trainer;
    const { phase, blocks } = await plan.gramPhase();
    const K = blocks.length;
    const perImage: number[][] = [];
    for (let i = 0; i < count; i++) {
      options.signal?.throwIfAborted();
      plan.setBatch(await imageOf(i), Int32Array.of(-1));
      plan.setDropScales(null);
      const encoder = engine.ctx.device.createCommandEncoder({ label: 'feature collapse' });
      encodePhases(encoder, plan.forwardPhases);
      encodePhases(encoder, [phase]);
      const reads = blocks.map((b) => engine.readback.copy(encoder, b.gram, 0, b.gram.size));
      engine.ctx.device.queue.submit([encoder.finish()]);
      const grams = (await Promise.all(reads.map((r) => r.read()))).map((buf) => new Float32Array(buf));
      throwIfFailed(engine.ctx, 'feature collapse');
      perImage.push(blocks.map((b, k) => cosineDistanceFromGram(grams[k]!, b.channels)));
      options.onProgress?.(i + 1, count);
    }
    return {
      blocks: blocks.map((b, k) => ({ stage: b.stage, block: b.block, channels: b.channels, normalisedIndex: K > 1 ? k / (K - 1) : 0 })),
      distance: blocks.map((_, k) => perImage.reduce((a, r) => a + r[k]!, 0) / count),
      perImage,
    };
  } finally {
    trainer.destroy();
  }
}

export interface ActivationMaps {
  /** Sites of the block's stage: (input/32)·r per side, r = 8 >> stage. */
  width: number;
  height: number;
  /** Channels of the block (4C); maps holds the first min(count, channels). */
  channels: number;
  /** One (height · width) map per channel, row-major, scaled to [0, 1] (a constant map is 0). */
  maps: Float32Array[];
}

/** A block that the model does not have; `expectation` says what exists (the model's depths). */
export class ActivationBlockError extends Error {
  override readonly name = 'ActivationBlockError';
  readonly expectation: string;
  constructor(readonly block: string, depths: readonly number[]) {
    const expectation = `expected STAGE.BLOCK with stage 0..${depths.length - 1} and a block of that stage (depths ${depths.join(',')})`;
    super(`no block ${block}: ${expectation}`);
    this.expectation = expectation;
  }
}

/** Throws ActivationBlockError unless stage `stage` has a block `block` under `depths` (both from 0). */
export function checkActivationBlock(depths: readonly number[], stage: number, block: number): void {
  if (!Number.isInteger(stage) || !Number.isInteger(block) || stage < 0 || stage >= depths.length || block < 0 || block >= depths[stage]!) {
    throw new ActivationBlockError(`${stage}.${block}`, depths);
  }
}

/** "S.B" (stage.block, both from 0) checked against the model's depths. */
export function parseActivationBlock(text: string, depths: readonly number[]): [stage: number, block: number] {
  const m = text.trim().match(/^(\d+)\.(\d+)$/);
  if (!m) throw new ActivationBlockError(text, depths);
  checkActivationBlock(depths, +m[1]!, +m[2]!);
  return [+m[1]!, +m[2]!];
}

/** The activation grid's maps (the paper's Fig. 3): the first `count` channels of a block's expansion activations for one image. */
export async function activationMaps(
  engine: Engine,
  weights: { config: Pick<ModelConfig, 'depths' | 'dims' | 'grn'>; numClasses: number; flat: Float32Array },
  inputSize: number,
  image: Float32Array,
  stage: number,
  block: number,
  count = 64,
): Promise<ActivationMaps> {
  checkActivationBlock(weights.config.depths, stage, block);
  const trainer = await ClassifierTrainer.create(
    engine,
    { config: weights.config, numClasses: weights.numClasses, batchSize: 1, inputSize, groups: { layerDecay: 1, weightDecay: 0 }, learningRate: () => 0, seed: 0 },
    weights.flat,
  );
  try {
    const { plan } = trainer;
    const a = plan.blockActivation(stage, block);
    plan.setBatch(image, Int32Array.of(-1));
    const encoder = engine.ctx.device.createCommandEncoder({ label: 'activation maps' });
    encodePhases(encoder, plan.forwardPhases);
    const read = engine.readback.copy(encoder, a.buffer, 0, a.rows * a.channels * 4);
    engine.ctx.device.queue.submit([encoder.finish()]);
    const X = new Float32Array(await read.read());
    throwIfFailed(engine.ctx, 'activation maps');
    const r = 8 >> stage;
    const layout = denseLayout(1, plan.gridH, plan.gridW);
    const height = plan.gridH * r;
    const width = plan.gridW * r;
    const maps: Float32Array[] = [];
    for (let c = 0; c < Math.min(count, a.channels); c++) {
      const m = new Float32Array(height * width);
      for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) m[y * width + x] = X[rowOfSite(layout, r, 0, y, x) * a.channels + c]!;
      let lo = Infinity;
      let hi = -Infinity;
      for (const v of m) {
        lo = Math.min(lo, v);
        hi = Math.max(hi, v);
      }
      for (let i = 0; i < m.length; i++) m[i] = hi > lo ? (m[i]! - lo) / (hi - lo) : 0;
      maps.push(m);
    }
    return { width, height, channels: a.channels, maps };
  } finally {
    trainer.destroy();
  }
}
