// What the page shows of a reconstruction: the four RGBA panels per image (original, masked
// input, reconstruction, reconstruction with the visible patches pasted back), the mask, the
// loss and how the prediction was turned into pixels. Pure.
import { normalisedToRgba } from '../data/display.ts';
import type { Reconstruction } from '../model/reconstruction.ts';
import type { ReconstructionResult } from './protocol.ts';

export function reconstructionResult(r: {
  runId: number;
  step: number;
  maskRatio: number;
  seed: number;
  /** Square input side. */
  size: number;
  L: number;
  V: number;
  /** (N, 3, S, S) the images reconstructed, normalised. */
  images: Float32Array;
  /** (N, L) 1 = masked. */
  mask: Float32Array;
  rec: Reconstruction & { loss: number };
  normPix: boolean;
  indices: number[];
  paths: string[];
}): ReconstructionResult {
  const S = r.size;
  const N = r.indices.length;
  const plane = S * S * 4;
  const panels = { original: new Uint8ClampedArray(N * plane), masked: new Uint8ClampedArray(N * plane), reconstruction: new Uint8ClampedArray(N * plane), pasted: new Uint8ClampedArray(N * plane) };
  for (let n = 0; n < N; n++) {
    normalisedToRgba(r.images, n, S, S, panels.original.subarray(n * plane, (n + 1) * plane));
    normalisedToRgba(r.rec.maskedInput, n, S, S, panels.masked.subarray(n * plane, (n + 1) * plane));
    normalisedToRgba(r.rec.predicted, n, S, S, panels.reconstruction.subarray(n * plane, (n + 1) * plane));
    normalisedToRgba(r.rec.pasted, n, S, S, panels.pasted.subarray(n * plane, (n + 1) * plane));
  }
  return {
    runId: r.runId,
    step: r.step,
    maskRatio: r.maskRatio,
    seed: r.seed,
    size: S,
    gridH: S / 32,
    gridW: S / 32,
    patches: r.L,
    visiblePatches: r.V,
    indices: r.indices,
    paths: r.paths,
    ...panels,
    mask: Uint8Array.from(r.mask),
    loss: r.rec.loss,
    denormalisation: r.rec.denormalisation,
    denormalisationNote: r.normPix
      ? "The model predicts each patch normalised by that patch's own mean and standard deviation; to show it, the true patch's mean and std are put back, so masked patches reveal their average colour and contrast."
      : 'The model predicts plain (ImageNet-normalised) pixels; they are shown as predicted.',
  };
}
