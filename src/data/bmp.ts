// A small BMP decoder for the Node CLI: sharp's prebuilt libvips has no BMP loader, while the
// browser decodes BMP natively. Covers what cameras, scanners and Paint write: uncompressed
// 1/4/8-bit palette, 16-bit (5-5-5 or bit fields), 24-bit and 32-bit (BI_RGB or bit fields),
// bottom-up or top-down. RLE-compressed and embedded JPEG/PNG BMPs are rejected with a typed error.

import type { PixelImage } from './image.ts';

export class BmpDecodeError extends Error {
  override readonly name = 'BmpDecodeError';
  constructor(detail: string) {
    super(`BMP: ${detail}`);
  }
}

/** Refuse to allocate more than this many pixels (a forged header must not exhaust memory). */
export const BMP_MAX_PIXELS = 100_000_000;

const BI_RGB = 0;
const BI_BITFIELDS = 3;
const BI_ALPHABITFIELDS = 6;

function maskShift(mask: number): { shift: number; max: number } {
  if (mask === 0) return { shift: 0, max: 0 };
  let shift = 0;
  while (((mask >>> shift) & 1) === 0) shift++;
  return { shift, max: mask >>> shift };
}

/** Decodes a BMP file to RGB (height, width, 3), top row first. */
export function decodeBmp(bytes: Uint8Array): PixelImage {
  if (bytes.length < 26 || bytes[0] !== 0x42 || bytes[1] !== 0x4d) throw new BmpDecodeError('missing "BM" signature or file shorter than its header');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const pixelOffset = view.getUint32(10, true);
  const dibSize = view.getUint32(14, true);
  let width: number;
  let rawHeight: number;
  let bitCount: number;
  let compression = BI_RGB;
  let paletteCount = 0;
  if (dibSize === 12) {
    width = view.getUint16(18, true);
    rawHeight = view.getInt16(20, true);
    bitCount = view.getUint16(24, true);
  } else if (dibSize >= 40) {
    if (bytes.length < 14 + 40) throw new BmpDecodeError('truncated DIB header');
    width = view.getInt32(18, true);
    rawHeight = view.getInt32(22, true);
    bitCount = view.getUint16(28, true);
    compression = view.getUint32(30, true);
    paletteCount = view.getUint32(46, true);
  } else {
    throw new BmpDecodeError(`unsupported DIB header size ${dibSize}`);
  }
  const topDown = rawHeight < 0;
  const height = Math.abs(rawHeight);
  if (width <= 0 || height <= 0) throw new BmpDecodeError(`invalid size ${width}×${rawHeight}`);
  if (width * height > BMP_MAX_PIXELS) throw new BmpDecodeError(`${width}×${height} is larger than the ${BMP_MAX_PIXELS}-pixel limit`);
  if (compression !== BI_RGB && compression !== BI_BITFIELDS && compression !== BI_ALPHABITFIELDS) {
    throw new BmpDecodeError(`compression method ${compression} (RLE or embedded JPEG/PNG) is not supported: convert to PNG`);
  }

  // Bit-field masks: in the header for V3+ headers, right after the 40-byte header otherwise.
  let masks = bitCount === 16 ? [0x7c00, 0x03e0, 0x001f] : [0x00ff0000, 0x0000ff00, 0x000000ff];
  if (compression === BI_BITFIELDS || compression === BI_ALPHABITFIELDS) {
    const at = 14 + 40;
    if (bytes.length < at + 12) throw new BmpDecodeError('truncated bit-field masks');
    masks = [view.getUint32(at, true), view.getUint32(at + 4, true), view.getUint32(at + 8, true)];
  }

  let palette: Uint8Array | null = null; // (entries, 3) RGB
  if (bitCount <= 8) {
    const entrySize = dibSize === 12 ? 3 : 4;
    const count = paletteCount || 1 << bitCount;
    const at = 14 + dibSize;
    if (bytes.length < at + count * entrySize) throw new BmpDecodeError('truncated palette');
    palette = new Uint8Array(count * 3);
    for (let i = 0; i < count; i++) {
      palette[i * 3] = bytes[at + i * entrySize + 2]!;
      palette[i * 3 + 1] = bytes[at + i * entrySize + 1]!;
      palette[i * 3 + 2] = bytes[at + i * entrySize]!;
    }
  } else if (bitCount !== 16 && bitCount !== 24 && bitCount !== 32) {
    throw new BmpDecodeError(`unsupported bit depth ${bitCount}`);
  }

  const rowBytes = Math.floor((bitCount * width + 31) / 32) * 4;
  if (pixelOffset + rowBytes * height > bytes.length) {
    throw new BmpDecodeError(`truncated pixel data: needs ${pixelOffset + rowBytes * height} bytes, file has ${bytes.length}`);
  }
  const fields = masks.map(maskShift);
  const out = new Uint8Array(width * height * 3); // (height, width, 3)
  for (let y = 0; y < height; y++) {
    const src = pixelOffset + (topDown ? y : height - 1 - y) * rowBytes;
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * 3;
      if (palette) {
        const bitPos = x * bitCount;
        const byte = bytes[src + (bitPos >> 3)]!;
        const idx = (byte >> (8 - bitCount - (bitPos & 7))) & ((1 << bitCount) - 1);
        if (idx * 3 + 2 >= palette.length) throw new BmpDecodeError(`palette index ${idx} beyond ${palette.length / 3} entries`);
        out[o] = palette[idx * 3]!;
        out[o + 1] = palette[idx * 3 + 1]!;
        out[o + 2] = palette[idx * 3 + 2]!;
      } else if (bitCount === 24 && compression === BI_RGB) {
        const p = src + x * 3;
        out[o] = bytes[p + 2]!;
        out[o + 1] = bytes[p + 1]!;
        out[o + 2] = bytes[p]!;
      } else {
        const v = bitCount === 16 ? view.getUint16(src + x * 2, true) : view.getUint32(src + x * 4, true);
        for (let c = 0; c < 3; c++) {
          const { shift, max } = fields[c]!;
          out[o + c] = max === 0 ? 0 : Math.round((((v & masks[c]!) >>> shift) * 255) / max);
        }
      }
    }
  }
  return { width, height, channels: 3, data: out };
}
