// A labelled image folder for the CLI's classification commands (evaluation-spec §5, the
// torchvision ImageFolder convention): class k is the k-th top-level subfolder in sorted order,
// deeper folders belong to their top-level class, images in sorted relative-path order. A
// folder without subfolders is unlabelled (every label −1).
import { makeEvalBatch } from '../data/augment.ts';
import type { PixelImage } from '../data/image.ts';
import { decodeSizeFor } from '../train/run-config.ts';
import type { CliContext } from './context.ts';
import { loadImageFolder } from './commands/reconstruct.ts';

export interface LabelledImages {
  /** Decoded (shorter side input/0.875), in sorted relative-path order. */
  images: PixelImage[];
  /** Class index of each image; −1 when the folder is unlabelled. */
  labels: Int32Array;
  /** Sorted class names (empty when unlabelled). */
  classes: string[];
  /** Relative path of each image. */
  paths: string[];
}

export async function loadLabelledFolder(dir: string, inputSize: number, cli: CliContext, command: string, option: string): Promise<LabelledImages> {
  const { index, images } = await loadImageFolder(dir, decodeSizeFor(inputSize), cli, command, option);
  const labelled = index.classes.length > 0;
  const labels = Int32Array.from(index.images, (im) => (labelled ? im.labelIndex! : -1));
  return { images, labels, classes: [...index.classes], paths: index.images.map((im) => im.path) };
}

/** Images start..start+n−1 of `images` in the evaluation transform (resize input/0.875, centre crop, normalise). */
export function evalImagesOf(images: readonly PixelImage[], inputSize: number, indices?: ArrayLike<number>): (start: number, n: number) => Float32Array {
  return (start, n) => makeEvalBatch(images, Array.from({ length: n }, (_, i) => (indices ? indices[start + i]! : start + i)), inputSize);
}
