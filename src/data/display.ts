// Normalised (3, H, W) images → RGBA bytes for canvases and PNG files (any H, W).
import { IMAGENET_MEAN, IMAGENET_STD } from './augment.ts';

export function normalisedToRgba(batch: Float32Array, n: number, height: number, width: number, out?: Uint8ClampedArray): Uint8ClampedArray {
  const plane = height * width;
  const base = n * 3 * plane;
  if (base + 3 * plane > batch.length) throw new RangeError(`sample ${n} (${height}×${width}) lies beyond the batch (${batch.length} floats)`);
  const rgba = out ?? new Uint8ClampedArray(plane * 4);
  for (let i = 0; i < plane; i++) {
    for (let c = 0; c < 3; c++) rgba[i * 4 + c] = (batch[base + c * plane + i]! * IMAGENET_STD[c]! + IMAGENET_MEAN[c]!) * 255;
    rgba[i * 4 + 3] = 255;
  }
  return rgba;
}
