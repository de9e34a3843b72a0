// Turns predicted patches back into images. With normalised-pixel targets the model predicts
// each patch in units of that patch's own mean and std, so showing it needs the TRUE patch's
// statistics: that leaks the masked patch's mean colour and contrast into the picture, and
// the UI says so. With plain-pixel targets the prediction is shown as it is.
import { MASK_PATCH, PATCH_VALUES } from './config.ts';

export interface ReconstructionInputs {
  N: number;
  height: number;
  width: number;
  /** (N, 3, H, W) the normalised input images. */
  images: Float32Array;
  /** (N, L) 1 = masked. */
  mask: ArrayLike<number>;
  /** (N·L, 3072) predictions, patch-major, inside a patch (row, col, channel). */
  pred: Float32Array;
  /** Per-patch mean and unbiased variance of the target (N·L), used when normPix. */
  patchMean: Float32Array;
  patchVar: Float32Array;
  normPix: boolean;
}

export interface Reconstruction {
  /** (N, 3, H, W) the model's prediction of every patch (de-normalised when normPix). */
  predicted: Float32Array;
  /** (N, 3, H, W) prediction at masked patches, the real image at visible ones. */
  pasted: Float32Array;
  /** (N, 3, H, W) the input with masked patches set to 0 (the dataset mean colour). */
  maskedInput: Float32Array;
  /** How the prediction was turned into pixels, for the UI. */
  denormalisation: 'true-patch-statistics' | 'none';
}

export const PATCH_NORM_EPS = 1e-6;

export function assembleReconstruction(r: ReconstructionInputs): Reconstruction {
  const { N, height: H, width: W } = r;
  const gridW = W / MASK_PATCH;
  const L = (H / MASK_PATCH) * gridW;
  const plane = H * W;
  const predicted = new Float32Array(N * 3 * plane);
  const pasted = new Float32Array(N * 3 * plane);
  const maskedInput = new Float32Array(N * 3 * plane);
  for (let n = 0; n < N; n++) {
    for (let p = 0; p < L; p++) {
      const row = n * L + p;
      const masked = r.mask[row] === 1;
      const scale = r.normPix ? Math.sqrt(r.patchVar[row]! + PATCH_NORM_EPS) : 1;
      const shift = r.normPix ? r.patchMean[row]! : 0;
      const py = Math.floor(p / gridW) * MASK_PATCH;
      const px = (p % gridW) * MASK_PATCH;
      for (let iy = 0; iy < MASK_PATCH; iy++) {
        for (let ix = 0; ix < MASK_PATCH; ix++) {
          for (let c = 0; c < 3; c++) {
            const at = (n * 3 + c) * plane + (py + iy) * W + px + ix;
            const v = r.pred[row * PATCH_VALUES + (iy * MASK_PATCH + ix) * 3 + c]! * scale + shift;
            predicted[at] = v;
            pasted[at] = masked ? v : r.images[at]!;
            maskedInput[at] = masked ? 0 : r.images[at]!;
          }
        }
      }
    }
  }
  return { predicted, pasted, maskedInput, denormalisation: r.normPix ? 'true-patch-statistics' : 'none' };
}
