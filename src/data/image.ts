// Decoded pixels and the resampler every data path shares (browser worker, Node CLI, demo
// builder). The resampler reproduces Pillow's `Image.resize` for 8-bit images bit for bit:
// the official FCMAE pipeline runs torchvision transforms on PIL images, so RandomResizedCrop
// and Resize there are PIL's antialiased separable filters (bicubic a = −0.5, support scaled
// by the downscale factor) computed in 22-bit fixed point with a uint8 result after each pass
// (horizontal first). Matching that exactly lets the tests compare against torchvision
// outputs with zero tolerance instead of hand-waving about interpolation differences.

/** An 8-bit image, pixels interleaved row-major: (height, width, channels). */
export interface PixelImage {
  width: number;
  height: number;
  /** 3 = RGB; 4 = RGBA as ImageData gives it (alpha is ignored by everything here). */
  channels: 3 | 4;
  data: Uint8Array | Uint8ClampedArray; // (height, width, channels)
}

export type Interpolation = 'bicubic' | 'bilinear';

/** A crop rectangle in source pixels, torchvision's (i, j, h, w): top, left, height, width. */
export interface CropBox {
  top: number;
  left: number;
  height: number;
  width: number;
}

export class ImageShapeError extends Error {
  override readonly name = 'ImageShapeError';
  constructor(what: string, detail: string) {
    super(`${what}: ${detail}`);
  }
}

/** Checks that data.length matches width·height·channels; names the image in the error. */
export function checkImage(image: PixelImage, what = 'image'): void {
  const { width, height, channels, data } = image;
  if (!(Number.isInteger(width) && Number.isInteger(height) && width > 0 && height > 0)) {
    throw new ImageShapeError(what, `size ${width}×${height} must be positive integers`);
  }
  if (channels !== 3 && channels !== 4) throw new ImageShapeError(what, `channels ${channels} must be 3 or 4`);
  if (data.length !== width * height * channels) {
    throw new ImageShapeError(what, `data has ${data.length} bytes, expected ${width}·${height}·${channels} = ${width * height * channels}`);
  }
}

// Pillow's filters (libImaging/Resample.c). Bicubic uses a = −0.5 (Keys), not PyTorch's −0.75.
function bicubicFilter(x: number): number {
  const a = -0.5;
  if (x < 0) x = -x;
  if (x < 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
  if (x < 2) return (((x - 5) * x + 8) * x - 4) * a;
  return 0;
}

function bilinearFilter(x: number): number {
  if (x < 0) x = -x;
  return x < 1 ? 1 - x : 0;
}

const FILTERS: Record<Interpolation, { filter: (x: number) => number; support: number }> = {
  bicubic: { filter: bicubicFilter, support: 2 },
  bilinear: { filter: bilinearFilter, support: 1 },
};

const PRECISION_BITS = 32 - 8 - 2;
const ONE_HALF = 1 << (PRECISION_BITS - 1);

interface Coefficients {
  ksize: number;
  /** (outSize, 2): first source index and tap count per output pixel. */
  bounds: Int32Array;
  /** (outSize, ksize): fixed-point weights. */
  weights: Int32Array;
}

// precompute_coeffs + normalize_coeffs_8bpc from Pillow.
function precomputeCoefficients(inSize: number, in0: number, in1: number, outSize: number, interpolation: Interpolation): Coefficients {
  const { filter, support: filterSupport } = FILTERS[interpolation];
  const scale = (in1 - in0) / outSize;
  const filterScale = Math.max(scale, 1);
  const support = filterSupport * filterScale;
  const ksize = Math.ceil(support) * 2 + 1;
  const bounds = new Int32Array(outSize * 2);
  const weights = new Int32Array(outSize * ksize);
  const k = new Float64Array(ksize);
  for (let xx = 0; xx < outSize; xx++) {
    const center = in0 + (xx + 0.5) * scale;
    const ss = 1 / filterScale;
    // C casts truncate toward zero; negative values are clamped to 0 right after.
    const xmin = Math.max(Math.trunc(center - support + 0.5), 0);
    const xmax = Math.min(Math.trunc(center + support + 0.5), inSize) - xmin;
    let ww = 0;
    for (let x = 0; x < xmax; x++) {
      const w = filter((x + xmin - center + 0.5) * ss);
      k[x] = w;
      ww += w;
    }
    for (let x = 0; x < xmax; x++) {
      const v = ww !== 0 ? k[x]! / ww : k[x]!;
      // (int) cast of ±0.5-offset value: truncation toward zero = round half away from zero.
      weights[xx * ksize + x] = v < 0 ? Math.trunc(-0.5 + v * (1 << PRECISION_BITS)) : Math.trunc(0.5 + v * (1 << PRECISION_BITS));
    }
    bounds[xx * 2] = xmin;
    bounds[xx * 2 + 1] = xmax;
  }
  return { ksize, bounds, weights };
}

function clip8(acc: number): number {
  const v = acc >> PRECISION_BITS; // arithmetic shift = floor, as in Pillow's clip8 table
  return v < 0 ? 0 : v > 255 ? 255 : v;
}

/**
 * Crops `box` out of `image` and resizes it to outWidth×outHeight RGB exactly like
 * torchvision's `resized_crop` on a PIL image: `img.crop(box).resize((outWidth, outHeight),
 * resample)`. The crop comes first, so the filter never reads pixels outside the box (unlike
 * Pillow's `resize(..., box=)`, which would). Returns (outHeight, outWidth, 3); alpha is dropped.
 */
export function resampleBox(image: PixelImage, box: CropBox, outWidth: number, outHeight: number, interpolation: Interpolation = 'bicubic'): Uint8Array {
  checkImage(image);
  const { width: inW, height: inH, channels: ch, data } = image; // (inH, inW, ch)
  const { top, left, height, width } = box;
  if (![top, left, height, width].every(Number.isInteger) || !(left >= 0 && top >= 0 && width > 0 && height > 0 && left + width <= inW && top + height <= inH)) {
    throw new ImageShapeError('crop box', `(top ${top}, left ${left}, ${height}×${width}) does not lie inside the ${inH}×${inW} image`);
  }
  if (!(Number.isInteger(outWidth) && Number.isInteger(outHeight) && outWidth > 0 && outHeight > 0)) {
    throw new ImageShapeError('resample', `output size ${outWidth}×${outHeight} must be positive integers`);
  }
  // Coefficients index the cropped image (0 … width−1); pixel reads add the box offset.
  const horiz = precomputeCoefficients(width, 0, width, outWidth, interpolation);
  const vert = precomputeCoefficients(height, 0, height, outHeight, interpolation);
  const needHorizontal = outWidth !== width;
  const needVertical = outHeight !== height;

  // Source rows the vertical pass will read.
  const yFirst = vert.bounds[0]!;
  const yLast = vert.bounds[(outHeight - 1) * 2]! + vert.bounds[(outHeight - 1) * 2 + 1]!;

  // Horizontal pass into temp: (yLast − yFirst, outWidth, 3), or the cropped rows as they are.
  let temp: Uint8Array;
  let tempW: number;
  let tempRow0: number; // crop row held by temp row 0
  if (needHorizontal) {
    const rows = yLast - yFirst;
    tempW = outWidth;
    tempRow0 = yFirst;
    temp = new Uint8Array(rows * outWidth * 3);
    const { ksize, bounds, weights } = horiz;
    for (let y = 0; y < rows; y++) {
      const srcRow = ((top + y + yFirst) * inW + left) * ch;
      for (let xx = 0; xx < outWidth; xx++) {
        const xmin = bounds[xx * 2]!;
        const xmax = bounds[xx * 2 + 1]!;
        let s0 = ONE_HALF;
        let s1 = ONE_HALF;
        let s2 = ONE_HALF;
        for (let x = 0; x < xmax; x++) {
          const w = weights[xx * ksize + x]!;
          const p = srcRow + (x + xmin) * ch;
          // Products stay below 2^31 in magnitude (255 · 2^22 · small sum), like Pillow's INT32.
          s0 += data[p]! * w;
          s1 += data[p + 1]! * w;
          s2 += data[p + 2]! * w;
        }
        const o = (y * outWidth + xx) * 3;
        temp[o] = clip8(s0);
        temp[o + 1] = clip8(s1);
        temp[o + 2] = clip8(s2);
      }
    }
  } else {
    tempW = width;
    tempRow0 = 0;
    temp = new Uint8Array(width * height * 3);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const s = ((top + y) * inW + left + x) * ch;
        const o = (y * width + x) * 3;
        temp[o] = data[s]!;
        temp[o + 1] = data[s + 1]!;
        temp[o + 2] = data[s + 2]!;
      }
    }
  }
  if (!needVertical) {
    // Pillow copies rows as they are; temp holds exactly the outHeight = height crop rows.
    return temp;
  }
  const out = new Uint8Array(outWidth * outHeight * 3); // (outHeight, outWidth, 3)
  const { ksize, bounds, weights } = vert;
  for (let yy = 0; yy < outHeight; yy++) {
    const ymin = bounds[yy * 2]! - tempRow0;
    const ymax = bounds[yy * 2 + 1]!;
    for (let xx = 0; xx < tempW; xx++) {
      let s0 = ONE_HALF;
      let s1 = ONE_HALF;
      let s2 = ONE_HALF;
      for (let y = 0; y < ymax; y++) {
        const w = weights[yy * ksize + y]!;
        const p = ((y + ymin) * tempW + xx) * 3;
        s0 += temp[p]! * w;
        s1 += temp[p + 1]! * w;
        s2 += temp[p + 2]! * w;
      }
      const o = (yy * outWidth + xx) * 3;
      out[o] = clip8(s0);
      out[o + 1] = clip8(s1);
      out[o + 2] = clip8(s2);
    }
  }
  return out;
}
