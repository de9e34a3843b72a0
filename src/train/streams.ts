// Deterministic random streams of a training run, keyed by (seed, stream, index): the batch,
// augmentation and mask of step k depend only on the run's seed and k, never on how the run got
// there (paused, resumed from a checkpoint, driven by the CLI or the browser worker). So the same
// seed, data and settings give the same batches, masks and losses in every driver.
import { Random } from '../util/random.ts';

export const enum Stream {
  /** Index: epoch. The permutation of the data set drawn for that epoch. */
  Epoch = 1,
  /** Index: step. The random-resized-crop and flip of each image of the step's batch. */
  Augment = 2,
  /** Index: step. The masks of the step's batch. */
  Mask = 3,
  /** Index: 0. The masks of the fixed evaluation batch. */
  Eval = 4,
  /** Index: step. Fine-tuning's per-sample drop-path draws of the step's blocks. */
  DropPath = 5,
  /** Index: 0. A labelled folder's train / validation split. */
  Split = 6,
}

/** A 32-bit seed for item `index` of stream `stream` of the run seeded `seed` (Random mixes it further). */
export function streamSeed(seed: number, stream: Stream, index: number): number {
  return (Math.imul(seed ^ 0x3c6ef372, 0x9e3779b1) ^ Math.imul(stream, 0x85ebca6b) ^ Math.imul(index + 1, 0xc2b2ae35)) >>> 0;
}

/** A generator for item `index` of stream `stream`. */
export function streamRandom(seed: number, stream: Stream, index: number): Random {
  return new Random(streamSeed(seed, stream, index));
}
