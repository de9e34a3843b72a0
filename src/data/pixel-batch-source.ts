// A training run's batch source over decoded images held in memory: the CLI's folder, tests.
import type { BatchSource } from '../train/run.ts';
import { makeBatch } from './augment.ts';
import type { PixelImage } from './image.ts';

/** Every image usable; step images drawn with the official augmentation (augment.ts). */
export function pixelBatchSource(images: readonly PixelImage[]): BatchSource {
  return {
    size: images.length,
    usable: () => true,
    trainingImages: async (slots, S, rng) => makeBatch(images, slots, S, rng),
  };
}
