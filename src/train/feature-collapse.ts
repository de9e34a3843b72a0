// Feature collapse (the paper's Fig. 4; evaluation-spec §4): for one image and one block, the
// block's expansion activations X (sites × C', C' = 4C; after GRN in a V2 block, after GELU
// without GRN), each channel x̂_i = X_i / max(‖X_i‖₂, 1e-12), and
//   distance = (1 / C'²) Σ_i Σ_j (1 − x̂_i · x̂_j) / 2   (all pairs, i = j included),
// averaged over the images, per block. The GPU computes each block's Gram matrix G = XᵀX per
// image (ClassifierPlan.gramPhase); x̂_i · x̂_j = G_ij / (n_i n_j) with n_i = max(√G_ii, 1e-12).
import { throwIfFailed } from '../gpu/device.ts';
import type { Engine } from '../gpu/engine.ts';
import type { ModelConfig } from '../model/config.ts';
import { encodePhases } from '../model/layers.ts';
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
