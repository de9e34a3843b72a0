// Image sizes and orientation from file heads, for every format the browser decodes, against
// images encoded by sharp (libvips) with known sizes; and the decode geometry (shorter side to
// the decode size, long side capped).
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { HEADER_BYTES, decodeGeometry, readImageHeader } from '../../../src/data/browser-header.ts';

const W = 37;
const H = 23;
const raw = (channels: 3 | 4) => sharp(Buffer.alloc(W * H * channels, 128), { raw: { width: W, height: H, channels } });
const head = (b: Buffer | Uint8Array) => new Uint8Array(b.buffer, b.byteOffset, Math.min(b.byteLength, HEADER_BYTES));

/** A BMP with the given DIB header size (12 = OS/2 core, 40 = BITMAPINFOHEADER); height < 0 = top-down. */
function bmp(width: number, height: number, dib: 12 | 40): Uint8Array {
  const row = Math.ceil((width * 3) / 4) * 4;
  const size = 14 + dib + row * Math.abs(height);
  const b = new Uint8Array(size);
  const v = new DataView(b.buffer);
  b[0] = 0x42;
  b[1] = 0x4d;
  v.setUint32(2, size, true);
  v.setUint32(10, 14 + dib, true);
  v.setUint32(14, dib, true);
  if (dib === 12) {
    v.setUint16(18, width, true);
    v.setUint16(20, height, true);
    v.setUint16(22, 1, true);
    v.setUint16(24, 24, true);
  } else {
    v.setInt32(18, width, true);
    v.setInt32(22, height, true);
    v.setUint16(26, 1, true);
    v.setUint16(28, 24, true);
  }
  return b;
}

describe('readImageHeader', () => {
  it('reads the stored size of JPEG, PNG, WebP (lossy, lossless, extended), GIF, AVIF and BMP', async () => {
    const cases: [string, Uint8Array][] = [
      ['jpeg', head(await raw(3).jpeg().toBuffer())],
      ['png', head(await raw(3).png().toBuffer())],
      ['png rgba', head(await raw(4).png().toBuffer())],
      ['webp lossy', head(await raw(3).webp({ quality: 80 }).toBuffer())],
      ['webp lossless', head(await raw(3).webp({ lossless: true }).toBuffer())],
      ['webp alpha (VP8X)', head(await raw(4).webp({ quality: 80, alphaQuality: 50 }).toBuffer())],
      ['gif', head(await raw(3).gif().toBuffer())],
      ['avif', head(await raw(3).avif({ quality: 50 }).toBuffer())],
      ['bmp', bmp(W, H, 40)],
      ['bmp top-down', bmp(W, -H, 40)],
      ['bmp os/2', bmp(W, H, 12)],
    ];
    for (const [name, bytes] of cases) {
      const h = readImageHeader(bytes);
      expect(h, name).not.toBeNull();
      expect([h!.width, h!.height, h!.orientation], name).toEqual([W, H, 1]);
      expect([h!.displayWidth, h!.displayHeight], name).toEqual([W, H]);
    }
  });

  it('reads EXIF orientation: 5–8 swap the displayed axes, 2–4 do not', async () => {
    for (const orientation of [1, 2, 3, 4, 5, 6, 7, 8]) {
      const jpg = await raw(3).jpeg().withMetadata({ orientation }).toBuffer();
      const h = readImageHeader(head(jpg))!;
      expect(h.orientation, `orientation ${orientation}`).toBe(orientation);
      expect([h.width, h.height]).toEqual([W, H]);
      expect([h.displayWidth, h.displayHeight]).toEqual(orientation >= 5 ? [H, W] : [W, H]);
    }
  });

  it('returns null for heads that say nothing (text, truncated markers, unknown formats)', () => {
    const text = new TextEncoder().encode('just some notes, not an image');
    expect(readImageHeader(text)).toBeNull();
    expect(readImageHeader(Uint8Array.of(0xff, 0xd8, 0xff, 0xe0, 0x00))).toBeNull(); // cut inside APP0
    expect(readImageHeader(Uint8Array.of(0xff, 0xd8, 0xff, 0x12, 0x34, 0x56))).toBeNull(); // garbage after SOI
    expect(readImageHeader(new Uint8Array(0))).toBeNull();
  });
});

describe('decodeGeometry', () => {
  it('scales the shorter side to the decode size (up or down) and caps the long side', () => {
    expect(decodeGeometry(6000, 4000, 73)).toEqual({ scaledWidth: 110, scaledHeight: 73, width: 110, height: 73 });
    expect(decodeGeometry(20, 60, 73)).toEqual({ scaledWidth: 73, scaledHeight: 219, width: 73, height: 219 });
    expect(decodeGeometry(1, 1, 73)).toEqual({ scaledWidth: 73, scaledHeight: 73, width: 73, height: 73 });
    // A 10:1 panorama keeps its scale but is centre-cropped to 4:1.
    expect(decodeGeometry(1000, 100, 50)).toEqual({ scaledWidth: 500, scaledHeight: 50, width: 200, height: 50 });
  });
});
