// Browser image decoding for training (worker or page): a file becomes RGB pixels whose shorter
// side is the decode size, via createImageBitmap with resize options and an OffscreenCanvas.
// The same contract as the Node decoder (node-folder.ts decodeImageFile): EXIF orientation
// applied, shorter side scaled to `shorterSide` (small images scaled up), longer side centre-
// cropped to maxAspect·shorterSide, grayscale → RGB, transparency flattened onto black.
//
// Surprises:
// - Only resizeWidth is passed: Chrome applies EXIF orientation first and keeps the aspect
//   ratio when one side is given, so an orientation we failed to read costs a second (small)
//   resize, never a distorted image. The header (browser-header.ts) gives the displayed size.
// - Chrome's decoder may still expand a huge JPEG internally before scaling; what this code
//   guarantees is that no full-size pixels reach JS memory or a canvas.
// - drawImage onto an opaque black canvas composites alpha, i.e. flattens onto black.
import type { PixelImage } from './image.ts';
import { decodeGeometry, HEADER_BYTES, MAX_DECODE_PIXELS, readImageHeader } from './browser-header.ts';

export class BrowserDecodeError extends Error {
  override readonly name = 'BrowserDecodeError';
  constructor(
    readonly path: string,
    readonly detail: string,
  ) {
    super(`${path}: could not be decoded (${detail})`);
  }
}

export interface BrowserDecodeOptions {
  shorterSide: number;
  /** Longer side at most maxAspect·shorterSide (centre crop beyond). Default 4. */
  maxAspect?: number;
  /** For error messages. */
  path?: string;
}

function errorText(e: unknown): string {
  return e instanceof Error ? `${e.name === 'Error' ? '' : `${e.name}: `}${e.message}` : String(e);
}

async function bitmapWithWidth(source: ImageBitmapSource, width: number): Promise<ImageBitmap> {
  return createImageBitmap(source, { resizeWidth: Math.max(1, width), resizeQuality: 'high', imageOrientation: 'from-image' });
}

/** Decodes an encoded image to RGB (height, width, 3) at the requested decode size. */
export async function decodeImageBlob(blob: Blob, options: BrowserDecodeOptions): Promise<PixelImage> {
  const path = options.path ?? 'image';
  const S = options.shorterSide;
  if (!(Number.isInteger(S) && S > 0)) throw new BrowserDecodeError(path, `decode size ${S} must be a positive integer`);
  const maxAspect = options.maxAspect ?? 4;
  const head = new Uint8Array(await blob.slice(0, HEADER_BYTES).arrayBuffer());
  const info = readImageHeader(head);
  if (info && info.width * info.height > MAX_DECODE_PIXELS) {
    throw new BrowserDecodeError(path, `${info.width}×${info.height} is ${Math.round((info.width * info.height) / 1e6)} megapixels, above the ${MAX_DECODE_PIXELS / 1e6} MP limit`);
  }
  let bitmap: ImageBitmap;
  try {
    if (info) {
      bitmap = await bitmapWithWidth(blob, decodeGeometry(info.displayWidth, info.displayHeight, S, Infinity).scaledWidth);
    } else {
      // No readable header: decode at full size once, then scale from the bitmap.
      bitmap = await createImageBitmap(blob, { imageOrientation: 'from-image' });
    }
  } catch (e) {
    throw new BrowserDecodeError(path, errorText(e));
  }
  try {
    if (Math.min(bitmap.width, bitmap.height) !== S) {
      // Orientation or header guessed wrong (or no header): rescale the (small) bitmap.
      const g = decodeGeometry(bitmap.width, bitmap.height, S, Infinity);
      const scaled = await bitmapWithWidth(bitmap, g.scaledWidth);
      bitmap.close();
      bitmap = scaled;
    }
    const g = decodeGeometry(bitmap.width, bitmap.height, S, maxAspect);
    const width = g.width;
    const height = g.height;
    const canvas = new OffscreenCanvas(width, height);
    const ctx = canvas.getContext('2d', { willReadFrequently: true, alpha: false });
    if (!ctx) throw new BrowserDecodeError(path, 'no 2D context on OffscreenCanvas');
    ctx.fillStyle = '#000';
    ctx.fillRect(0, 0, width, height);
    ctx.drawImage(bitmap, -Math.floor((bitmap.width - width) / 2), -Math.floor((bitmap.height - height) / 2));
    const rgba = ctx.getImageData(0, 0, width, height).data; // (height, width, 4)
    const rgb = new Uint8Array(width * height * 3); // (height, width, 3)
    for (let i = 0, j = 0; i < rgb.length; i += 3, j += 4) {
      rgb[i] = rgba[j]!;
      rgb[i + 1] = rgba[j + 1]!;
      rgb[i + 2] = rgba[j + 2]!;
    }
    return { width, height, channels: 3, data: rgb };
  } catch (e) {
    if (e instanceof BrowserDecodeError) throw e;
    throw new BrowserDecodeError(path, errorText(e));
  } finally {
    bitmap.close();
  }
}
