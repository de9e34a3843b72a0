// Labelled training data for fine-tuning: a stratified train / validation split drawn from the
// run's seed, and the batch of step k (images with the fine-tuning augmentation, their labels),
// a function of (seed, data, settings, k) only, as pretraining's batches are (train/run.ts).
import { BatchOrder } from '../train/batch-order.ts';
import { Stream, streamRandom } from '../train/streams.ts';
import { makeBatch, type RandomResizedCropOptions } from './augment.ts';
import type { PixelImage } from './image.ts';

/** timm's fine-tuning crop (RandomResizedCrop defaults): scale 0.08–1, ratio 3/4–4/3; then a horizontal flip. */
export const FINETUNE_CROP: RandomResizedCropOptions = { scale: [0.08, 1.0], ratio: [3 / 4, 4 / 3] };

export interface Split {
  train: number[];
  val: number[];
}

/**
 * Per class: a seeded shuffle, then round(n·fraction) images (at least 1 when the class has 2
 * or more, never all of them) go to validation. Both lists in ascending index order.
 */
export function stratifiedSplit(labels: ArrayLike<number>, valFraction: number, seed: number): Split {
  if (!(valFraction > 0 && valFraction < 1)) throw new RangeError(`validation fraction ${valFraction} must be in (0, 1)`);
  const byClass = new Map<number, number[]>();
  for (let i = 0; i < labels.length; i++) {
    const y = labels[i]!;
    if (y < 0) throw new RangeError(`image ${i} has no label: a split needs a labelled folder`);
    const list = byClass.get(y);
    if (list) list.push(i);
    else byClass.set(y, [i]);
  }
  const rng = streamRandom(seed, Stream.Split, 0);
  const train: number[] = [];
  const val: number[] = [];
  for (const y of [...byClass.keys()].sort((a, b) => a - b)) {
    const items = [...byClass.get(y)!];
    for (let i = items.length - 1; i > 0; i--) {
      const j = rng.int(i + 1);
      [items[i], items[j]] = [items[j]!, items[i]!];
    }
    const n = items.length;
    const k = n < 2 ? 0 : Math.min(n - 1, Math.max(1, Math.round(n * valFraction)));
    val.push(...items.slice(0, k));
    train.push(...items.slice(k));
  }
  return { train: train.sort((a, b) => a - b), val: val.sort((a, b) => a - b) };
}

/**
 * At most `max` image indices, as even across classes as the classes allow (round robin over the
 * classes in index order, each class's images in index order), sorted: a small evaluation subset
 * that keeps every class (kNN tracking during pretraining). All of them when max ≥ the count.
 */
export function balancedSubset(labels: ArrayLike<number>, max: number): number[] {
  if (!Number.isInteger(max) || max < 1) throw new RangeError(`subset size ${max} must be an integer ≥ 1`);
  if (max >= labels.length) return Array.from({ length: labels.length }, (_, i) => i);
  const byClass = new Map<number, number[]>();
  for (let i = 0; i < labels.length; i++) {
    const list = byClass.get(labels[i]!);
    if (list) list.push(i);
    else byClass.set(labels[i]!, [i]);
  }
  const queues = [...byClass.keys()].sort((a, b) => a - b).map((y) => byClass.get(y)!);
  const out: number[] = [];
  for (let round = 0; out.length < max; round++) {
    for (const q of queues) if (round < q.length && out.length < max) out.push(q[round]!);
  }
  return out.sort((a, b) => a - b);
}

export interface LabelledBatch {
  step: number;
  images: Float32Array; // (N, 3, S, S)
  labels: Int32Array; // (N)
}

/** Step batches over `indices` of (images, labels): epoch permutations (BatchOrder), augmentation from (seed, Augment, step). */
export class LabelledBatches {
  private readonly order: BatchOrder;

  constructor(
    private readonly images: readonly PixelImage[],
    private readonly labels: ArrayLike<number>,
    private readonly indices: readonly number[],
    readonly batchSize: number,
    readonly inputSize: number,
    readonly seed: number,
  ) {
    if (!indices.length) throw new RangeError('no training images');
    this.order = new BatchOrder(indices.length, batchSize, seed);
  }

  batchFor(step: number): LabelledBatch {
    const slots = this.order.slots(step);
    const picked = Array.from(slots, (s) => this.indices[s]!);
    const images = makeBatch(this.images, picked, this.inputSize, streamRandom(this.seed, Stream.Augment, step), { crop: FINETUNE_CROP });
    return { step, images, labels: Int32Array.from(picked, (i) => this.labels[i]!) };
  }
}
