// Forward passes over a whole image set in batches of the plan's size (the last one padded
// with blank, unlabelled samples that are dropped again): the features, logits and losses of
// evaluation, embedding and probes.
import type { Engine } from '../gpu/engine.ts';
import type { ModelConfig } from '../model/config.ts';
import type { GeluForm } from '../ops/gelu.ts';
import { ClassifierTrainer } from './classifier-trainer.ts';

export interface ClassifiedSet {
  count: number;
  features: Float32Array; // (count, d3)
  logits: Float32Array; // (count, K)
  /** (count) loss of each labelled image; NaN for unlabelled ones. */
  losses: Float32Array;
}

/**
 * `imagesOf(start, n)` gives images start..start+n−1 as (n, 3, S, S), normalised; `labels`
 * (count) the class of each, −1 when unknown. `signal` cancels between batches.
 */
export async function classifyAll(
  trainer: ClassifierTrainer,
  count: number,
  imagesOf: (start: number, n: number) => Float32Array | Promise<Float32Array>,
  labels: Int32Array | null = null,
  options: { signal?: AbortSignal; onProgress?: (done: number, total: number) => void } = {},
): Promise<ClassifiedSet> {
  const { batchSize: B, height: S, numClasses: K } = trainer.plan.shape;
  const d3 = trainer.plan.config.dims[3]!;
  const per = 3 * S * S;
  const features = new Float32Array(count * d3);
  const logits = new Float32Array(count * K);
  const losses = new Float32Array(count).fill(NaN);
  const batch = new Float32Array(B * per);
  const batchLabels = new Int32Array(B);
  for (let start = 0; start < count; start += B) {
    options.signal?.throwIfAborted();
    const n = Math.min(B, count - start);
    const images = await imagesOf(start, n);
    if (images.length !== n * per) throw new RangeError(`imagesOf(${start}, ${n}) gave ${images.length} values, expected ${n * per}`);
    batch.set(images);
    batch.fill(0, n * per);
    batchLabels.fill(-1);
    if (labels) batchLabels.set(labels.subarray(start, start + n));
    const r = await trainer.forward(batch, batchLabels);
    features.set(r.features.subarray(0, n * d3), start * d3);
    logits.set(r.logits.subarray(0, n * K), start * K);
    for (let i = 0; i < n; i++) if (batchLabels[i]! >= 0) losses[start + i] = r.perSample[i]!;
    options.onProgress?.(start + n, count);
  }
  return { count, features, logits, losses };
}

/**
 * classifyAll through a classifier built for the purpose (batches of up to `batchSize`, no
 * update) and freed afterwards: the features of an image set, e.g. for probes and embeddings.
 */
export async function classifyWith(
  engine: Engine,
  weights: { config: Pick<ModelConfig, 'depths' | 'dims' | 'grn'>; numClasses: number; flat: Float32Array },
  inputSize: number,
  count: number,
  imagesOf: (start: number, n: number) => Float32Array | Promise<Float32Array>,
  options: { batchSize?: number; labels?: Int32Array | null; gelu?: GeluForm; signal?: AbortSignal; onProgress?: (done: number, total: number) => void } = {},
): Promise<ClassifiedSet> {
  const trainer = await ClassifierTrainer.create(
    engine,
    { config: weights.config, numClasses: weights.numClasses, batchSize: Math.min(options.batchSize ?? 32, count), inputSize, options: { gelu: options.gelu ?? 'erf' }, groups: { layerDecay: 1, weightDecay: 0 }, learningRate: () => 0, seed: 0 },
    weights.flat,
  );
  try {
    return await classifyAll(trainer, count, imagesOf, options.labels ?? null, { signal: options.signal, onProgress: options.onProgress });
  } finally {
    trainer.destroy();
  }
}
