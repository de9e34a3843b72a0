// The official FCMAE augmentation (spec §5), reproducing torchvision 0.14 on PIL images:
//   RandomResizedCrop(S, scale=(0.2, 1.0), ratio=(3/4, 4/3), interpolation=BICUBIC)
//   → RandomHorizontalFlip(p=0.5) → ToTensor() → Normalize(ImageNet mean, std)
// Crop parameters follow RandomResizedCrop.get_params step for step (10 attempts with a
// log-uniform aspect ratio, Python's round-half-to-even, then the central-crop fallback);
// resampling is Pillow's antialiased bicubic (a = −0.5, see image.ts) to uint8, and the
// normalisation is done in float32 exactly as ToTensor/Normalize do, so given the same crop box
// and flip the output equals torchvision's bit for bit. Only the random numbers differ: they
// come from src/util/random.ts (seeded, same on every platform) instead of torch's generator,
// and torch draws the scale and log-ratio in float32 where we use float64.
// Draw order per image: (scale, log-ratio) per attempt, then top, then left, then the flip.
//
// Evaluation (the fixed batch of the reconstruction view): torchvision Resize(int(S / cropPct),
// BICUBIC) on the shorter side, then CenterCrop(S); cropPct = 0.875 is the ConvNeXt fine-tune
// default (224 → resize 256), cropPct = 1 is a plain "shorter side to S, centre crop".
//
// Tensors are NCHW float32: (N, 3, S, S), sample n at offset n·3·S·S.

import type { Random } from '../util/random.ts';
import { type CropBox, ImageShapeError, type Interpolation, type PixelImage, checkImage, resampleBox } from './image.ts';

export const IMAGENET_MEAN: readonly [number, number, number] = [0.485, 0.456, 0.406];
export const IMAGENET_STD: readonly [number, number, number] = [0.229, 0.224, 0.225];

export interface RandomResizedCropOptions {
  /** Range of the crop area as a fraction of the image area. */
  scale: readonly [number, number];
  /** Range of the crop aspect ratio width / height (sampled log-uniformly). */
  ratio: readonly [number, number];
}

/** FCMAE pretraining: scale 0.2–1.0, ratio 3/4–4/3. */
export const FCMAE_CROP: RandomResizedCropOptions = { scale: [0.2, 1.0], ratio: [3 / 4, 4 / 3] };

export interface CropSample extends CropBox {
  /** True when all 10 attempts failed and the central crop was used. */
  fallback: boolean;
}

export interface AugmentParams {
  box: CropBox;
  flip: boolean;
}

/** Python 3's round(): nearest integer, ties to even. */
export function pythonRound(x: number): number {
  const r = Math.round(x);
  // Math.round sends ties up; Python sends them to the even neighbour.
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** torchvision RandomResizedCrop.get_params on a width×height image. */
export function sampleCropBox(width: number, height: number, rng: Random, options: RandomResizedCropOptions = FCMAE_CROP): CropSample {
  if (!(Number.isInteger(width) && Number.isInteger(height) && width > 0 && height > 0)) {
    throw new ImageShapeError('sampleCropBox', `image size ${width}×${height} must be positive integers`);
  }
  const [sLo, sHi] = options.scale;
  const [rLo, rHi] = options.ratio;
  const area = height * width;
  const logLo = Math.log(rLo);
  const logHi = Math.log(rHi);
  for (let attempt = 0; attempt < 10; attempt++) {
    const targetArea = area * rng.range(sLo, sHi);
    const aspect = Math.exp(rng.range(logLo, logHi));
    const w = pythonRound(Math.sqrt(targetArea * aspect));
    const h = pythonRound(Math.sqrt(targetArea / aspect));
    if (w > 0 && w <= width && h > 0 && h <= height) {
      const top = rng.int(height - h + 1);
      const left = rng.int(width - w + 1);
      return { top, left, height: h, width: w, fallback: false };
    }
  }
  const inRatio = width / height;
  const minRatio = Math.min(rLo, rHi);
  const maxRatio = Math.max(rLo, rHi);
  let w: number;
  let h: number;
  if (inRatio < minRatio) {
    w = width;
    h = pythonRound(w / minRatio);
  } else if (inRatio > maxRatio) {
    h = height;
    w = pythonRound(h * maxRatio);
  } else {
    w = width;
    h = height;
  }
  return { top: Math.floor((height - h) / 2), left: Math.floor((width - w) / 2), height: h, width: w, fallback: true };
}

/** Crop box then flip, in the order torchvision draws them. */
export function sampleAugmentParams(width: number, height: number, rng: Random, options: RandomResizedCropOptions = FCMAE_CROP): AugmentParams {
  const { top, left, height: h, width: w } = sampleCropBox(width, height, rng, options);
  const flip = rng.uniform() < 0.5;
  return { box: { top, left, height: h, width: w }, flip };
}

// ToTensor + Normalize in float32, per channel, for every byte value: (3, 256).
const NORMALISE_LUT = (() => {
  const lut = new Float32Array(3 * 256);
  for (let c = 0; c < 3; c++) {
    const mean = Math.fround(IMAGENET_MEAN[c]!);
    const std = Math.fround(IMAGENET_STD[c]!);
    for (let v = 0; v < 256; v++) {
      const x = Math.fround(v / 255);
      lut[c * 256 + v] = Math.fround(Math.fround(x - mean) / std);
    }
  }
  return lut;
})();

/** Normalised value of byte `v` in channel `c` (exactly torchvision's float32 result). */
export function normaliseByte(v: number, c: number): number {
  return NORMALISE_LUT[c * 256 + v]!;
}

/**
 * Writes an (S, S, 3) uint8 image into out[offset …] as normalised (3, S, S), mirrored
 * left-right when `flip`.
 */
export function normaliseInto(rgb: Uint8Array, size: number, flip: boolean, out: Float32Array, offset: number): void {
  const plane = size * size;
  if (rgb.length !== plane * 3) throw new ImageShapeError('normaliseInto', `rgb has ${rgb.length} bytes, expected ${size}·${size}·3`);
  if (offset + 3 * plane > out.length) throw new ImageShapeError('normaliseInto', `output too small: needs ${offset + 3 * plane}, has ${out.length}`);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const sx = flip ? size - 1 - x : x;
      const p = (y * size + sx) * 3;
      const o = offset + y * size + x;
      out[o] = NORMALISE_LUT[rgb[p]!]!;
      out[o + plane] = NORMALISE_LUT[256 + rgb[p + 1]!]!;
      out[o + 2 * plane] = NORMALISE_LUT[512 + rgb[p + 2]!]!;
    }
  }
}

export interface AugmentOptions {
  crop?: RandomResizedCropOptions;
  /** Default 'bicubic' as in the official recipe. */
  interpolation?: Interpolation;
}

/** One training view: sample params, crop + resample to S×S, flip, normalise into out at offset. */
export function augmentInto(image: PixelImage, size: number, rng: Random, out: Float32Array, offset: number, options: AugmentOptions = {}): AugmentParams {
  checkImage(image);
  const params = sampleAugmentParams(image.width, image.height, rng, options.crop ?? FCMAE_CROP);
  const rgb = resampleBox(image, params.box, size, size, options.interpolation ?? 'bicubic'); // (S, S, 3)
  normaliseInto(rgb, size, params.flip, out, offset);
  return params;
}

export interface BatchOptions extends AugmentOptions {
  /** Reused output (N, 3, S, S); allocated when absent. */
  out?: Float32Array;
  /** Filled with each sample's crop box and flip, in batch order. */
  params?: AugmentParams[];
}

/** Training batch (N, 3, S, S) from images[indices[n]], one augmentation draw per sample in order. */
export function makeBatch(images: readonly PixelImage[], indices: ArrayLike<number>, size: number, rng: Random, options: BatchOptions = {}): Float32Array {
  const n = indices.length;
  const per = 3 * size * size;
  const out = options.out ?? new Float32Array(n * per);
  if (out.length !== n * per) throw new ImageShapeError('makeBatch', `out has ${out.length} floats, expected N·3·S·S = ${n}·3·${size}·${size}`);
  if (options.params) options.params.length = 0;
  for (let i = 0; i < n; i++) {
    const idx = indices[i]!;
    const image = images[idx];
    if (!image) throw new ImageShapeError('makeBatch', `index ${idx} at batch position ${i} is outside the ${images.length} images`);
    const p = augmentInto(image, size, rng, out, i * per, options);
    options.params?.push(p);
  }
  return out;
}

/** Size after torchvision Resize(shortSide) (the shorter edge becomes shortSide). */
export function resizedSize(width: number, height: number, shortSide: number): { width: number; height: number } {
  if (width <= height) return { width: shortSide, height: Math.trunc((shortSide * height) / width) };
  return { width: Math.trunc((shortSide * width) / height), height: shortSide };
}

export interface EvalOptions {
  /** Fraction of the resized shorter side kept by the centre crop; default 0.875. */
  cropPct?: number;
  interpolation?: Interpolation;
}

/** Evaluation view as (S, S, 3) uint8: Resize(int(S / cropPct)) then CenterCrop(S), as torchvision. */
export function evalView(image: PixelImage, size: number, options: EvalOptions = {}): Uint8Array {
  checkImage(image);
  const cropPct = options.cropPct ?? 0.875;
  if (!(cropPct > 0 && cropPct <= 1)) throw new ImageShapeError('evalView', `cropPct ${cropPct} must be in (0, 1]`);
  const short = Math.trunc(size / cropPct);
  const r = resizedSize(image.width, image.height, short);
  const full = { top: 0, left: 0, width: image.width, height: image.height };
  // Pillow returns a copy when the size is unchanged; resampleBox is the identity then too.
  const resized = resampleBox(image, full, r.width, r.height, options.interpolation ?? 'bicubic'); // (rh, rw, 3)
  const top = Math.trunc(pythonRound((r.height - size) / 2));
  const left = Math.trunc(pythonRound((r.width - size) / 2));
  const out = new Uint8Array(size * size * 3);
  for (let y = 0; y < size; y++) {
    const src = ((top + y) * r.width + left) * 3;
    out.set(resized.subarray(src, src + size * 3), y * size * 3);
  }
  return out;
}

/** Fixed evaluation batch (N, 3, S, S): no randomness, no flip. */
export function makeEvalBatch(images: readonly PixelImage[], indices: ArrayLike<number>, size: number, options: EvalOptions = {}): Float32Array {
  const per = 3 * size * size;
  const out = new Float32Array(indices.length * per);
  for (let i = 0; i < indices.length; i++) {
    const idx = indices[i]!;
    const image = images[idx];
    if (!image) throw new ImageShapeError('makeEvalBatch', `index ${idx} at batch position ${i} is outside the ${images.length} images`);
    normaliseInto(evalView(image, size, options), size, false, out, i * per);
  }
  return out;
}

/**
 * Sample n of a normalised (N, 3, S, S) batch back to display pixels: (S, S, 4) RGBA with
 * alpha 255, values clamped to [0, 255] (reconstructions overshoot).
 */
export function denormaliseToRgba(batch: Float32Array, n: number, size: number, out?: Uint8ClampedArray): Uint8ClampedArray {
  const plane = size * size;
  const base = n * 3 * plane;
  if (base + 3 * plane > batch.length) throw new ImageShapeError('denormaliseToRgba', `sample ${n} of size ${size} lies beyond the batch (${batch.length} floats)`);
  const rgba = out ?? new Uint8ClampedArray(plane * 4);
  if (rgba.length !== plane * 4) throw new ImageShapeError('denormaliseToRgba', `out has ${rgba.length} bytes, expected S·S·4 = ${plane * 4}`);
  for (let i = 0; i < plane; i++) {
    for (let c = 0; c < 3; c++) {
      // Uint8ClampedArray rounds half to even and clamps, as a canvas would.
      rgba[i * 4 + c] = (batch[base + c * plane + i]! * IMAGENET_STD[c]! + IMAGENET_MEAN[c]!) * 255;
    }
    rgba[i * 4 + 3] = 255;
  }
  return rgba;
}
