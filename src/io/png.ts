// PNG writing in pure TypeScript (fflate's zlib, no Node imports) so the CLI and the browser
// worker save the same files, plus the panel grid that reconstruction pictures are made of.
// Only what we write: 8-bit RGBA, non-interlaced, filter 'Up' on every row except the first
// (a cheap filter that still shrinks smooth images well).
import { zlibSync } from 'fflate';

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

function crc32(bytes: Uint8Array, start: number, end: number): number {
  let c = 0xffffffff;
  for (let i = start; i < end; i++) c = CRC_TABLE[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

export class PngError extends Error {
  override readonly name = 'PngError';
}

/** An RGBA image, (height, width, 4) row-major. */
export interface RgbaImage {
  width: number;
  height: number;
  data: Uint8Array | Uint8ClampedArray;
}

/** Encodes 8-bit RGBA pixels (height, width, 4) as a PNG file. */
export function encodePng(image: RgbaImage): Uint8Array {
  const { width, height, data } = image;
  if (!(Number.isInteger(width) && Number.isInteger(height) && width > 0 && height > 0)) throw new PngError(`PNG size ${width}×${height} must be positive integers`);
  if (data.length !== width * height * 4) throw new PngError(`PNG pixels: ${data.length} bytes for ${width}×${height} RGBA (expected ${width * height * 4})`);
  const stride = width * 4;
  const raw = new Uint8Array(height * (stride + 1)); // (height, 1 + stride): filter byte + row
  for (let y = 0; y < height; y++) {
    const o = y * (stride + 1);
    const row = y * stride;
    if (y === 0) {
      raw[o] = 0; // None
      raw.set(data.subarray(row, row + stride), o + 1);
    } else {
      raw[o] = 2; // Up: difference to the row above
      for (let i = 0; i < stride; i++) raw[o + 1 + i] = (data[row + i]! - data[row - stride + i]!) & 0xff;
    }
  }
  const idat = zlibSync(raw, { level: 6 });
  const ihdr = new Uint8Array(13);
  const hv = new DataView(ihdr.buffer);
  hv.setUint32(0, width);
  hv.setUint32(4, height);
  ihdr.set([8, 6, 0, 0, 0], 8); // bit depth 8, colour type 6 (RGBA), deflate, filter 0, no interlace
  const chunks: [string, Uint8Array][] = [
    ['IHDR', ihdr],
    ['IDAT', idat],
    ['IEND', new Uint8Array(0)],
  ];
  const total = 8 + chunks.reduce((a, [, d]) => a + 12 + d.length, 0);
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  out.set([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  let at = 8;
  for (const [type, body] of chunks) {
    view.setUint32(at, body.length);
    for (let i = 0; i < 4; i++) out[at + 4 + i] = type.charCodeAt(i);
    out.set(body, at + 8);
    view.setUint32(at + 8 + body.length, crc32(out, at + 4, at + 8 + body.length));
    at += 12 + body.length;
  }
  return out;
}

/**
 * Tiles equally sized panels into one image: panels[row][col], `gap` pixels of `background`
 * between and around them.
 */
export function panelGrid(panels: readonly (readonly RgbaImage[])[], gap = 2, background: [number, number, number] = [255, 255, 255]): RgbaImage {
  const rows = panels.length;
  const cols = Math.max(0, ...panels.map((r) => r.length));
  if (rows === 0 || cols === 0) throw new PngError('panel grid needs at least one panel');
  const { width: pw, height: ph } = panels[0]![0]!;
  const width = cols * pw + (cols + 1) * gap;
  const height = rows * ph + (rows + 1) * gap;
  const data = new Uint8ClampedArray(width * height * 4); // (height, width, 4)
  for (let i = 0; i < width * height; i++) data.set([background[0], background[1], background[2], 255], i * 4);
  panels.forEach((row, r) =>
    row.forEach((p, c) => {
      if (p.width !== pw || p.height !== ph) throw new PngError(`panel (${r}, ${c}) is ${p.width}×${p.height}, the grid's panels are ${pw}×${ph}`);
      const x0 = gap + c * (pw + gap);
      const y0 = gap + r * (ph + gap);
      for (let y = 0; y < ph; y++) data.set(p.data.subarray(y * pw * 4, (y + 1) * pw * 4), ((y0 + y) * width + x0) * 4);
    }),
  );
  return { width, height, data };
}
