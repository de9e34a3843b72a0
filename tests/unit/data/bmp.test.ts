// BMP decoder (Node CLI path) on hand-assembled files: every supported depth and row order.
import { describe, expect, it } from 'vitest';
import { BmpDecodeError, decodeBmp } from '../../../src/data/bmp.ts';
import { sniffImageType } from '../../../src/data/indexing.ts';

interface BmpSpec {
  width: number;
  height: number;
  bitCount: number;
  topDown?: boolean;
  compression?: number;
  palette?: [number, number, number][]; // RGB
  masks?: [number, number, number];
  /** Rows top to bottom, each the row's pixel bytes without padding. */
  rows: number[][];
}

// Assembles a BITMAPINFOHEADER file; rows are written bottom-up unless topDown.
function makeBmp(spec: BmpSpec): Uint8Array {
  const rowBytes = Math.floor((spec.bitCount * spec.width + 31) / 32) * 4;
  const paletteBytes = (spec.palette?.length ?? 0) * 4;
  const maskBytes = spec.masks ? 12 : 0;
  const pixelOffset = 14 + 40 + maskBytes + paletteBytes;
  const size = pixelOffset + rowBytes * spec.height;
  const buf = new Uint8Array(size);
  const v = new DataView(buf.buffer);
  buf[0] = 0x42;
  buf[1] = 0x4d;
  v.setUint32(2, size, true);
  v.setUint32(10, pixelOffset, true);
  v.setUint32(14, 40, true);
  v.setInt32(18, spec.width, true);
  v.setInt32(22, spec.topDown ? -spec.height : spec.height, true);
  v.setUint16(26, 1, true);
  v.setUint16(28, spec.bitCount, true);
  v.setUint32(30, spec.compression ?? 0, true);
  v.setUint32(46, spec.palette?.length ?? 0, true);
  let o = 54;
  if (spec.masks) for (const m of spec.masks) (v.setUint32(o, m >>> 0, true), (o += 4));
  for (const [r, g, b] of spec.palette ?? []) {
    buf.set([b, g, r, 0], o);
    o += 4;
  }
  spec.rows.forEach((row, y) => {
    const fileRow = spec.topDown ? y : spec.height - 1 - y;
    buf.set(row, pixelOffset + fileRow * rowBytes);
  });
  return buf;
}

// Expected RGB (height, width, 3) for a 3×2 test picture.
const PICTURE = [
  [255, 0, 0], [0, 255, 0], [0, 0, 255],
  [255, 255, 255], [0, 0, 0], [200, 100, 50],
];

describe('decodeBmp', () => {
  it('24-bit bottom-up with row padding', () => {
    const rows = [0, 1].map((y) => [0, 1, 2].flatMap((x) => { const [r, g, b] = PICTURE[y * 3 + x]!; return [b, g, r]; }));
    const file = makeBmp({ width: 3, height: 2, bitCount: 24, rows });
    expect(sniffImageType(file.subarray(0, 64))).toBe('bmp');
    const img = decodeBmp(file);
    expect([img.width, img.height, img.channels]).toEqual([3, 2, 3]);
    expect([...img.data]).toEqual(PICTURE.flat());
  });

  it('32-bit top-down with bit fields (BGRA order masks)', () => {
    const rows = [0, 1].map((y) => [0, 1, 2].flatMap((x) => { const [r, g, b] = PICTURE[y * 3 + x]!; return [b, g, r, 255]; }));
    const img = decodeBmp(makeBmp({ width: 3, height: 2, bitCount: 32, topDown: true, compression: 3, masks: [0x00ff0000, 0x0000ff00, 0x000000ff], rows }));
    expect([...img.data]).toEqual(PICTURE.flat());
  });

  it('16-bit RGB565 bit fields: channels scaled to 0..255', () => {
    // pixel 0: r=31 g=0 b=0; pixel 1: r=0 g=63 b=0; pixel 2: r=16 g=32 b=8
    const px = [(31 << 11), (63 << 5), (16 << 11) | (32 << 5) | 8];
    const rows = [px.flatMap((p) => [p & 255, p >> 8])];
    const img = decodeBmp(makeBmp({ width: 3, height: 1, bitCount: 16, compression: 3, masks: [0xf800, 0x07e0, 0x001f], rows }));
    expect([...img.data]).toEqual([255, 0, 0, 0, 255, 0, Math.round((16 * 255) / 31), Math.round((32 * 255) / 63), Math.round((8 * 255) / 31)]);
  });

  it('8-bit, 4-bit and 1-bit palettes', () => {
    const palette: [number, number, number][] = [[10, 20, 30], [40, 50, 60], [70, 80, 90]];
    const eight = decodeBmp(makeBmp({ width: 3, height: 1, bitCount: 8, palette, rows: [[2, 0, 1]] }));
    expect([...eight.data]).toEqual([70, 80, 90, 10, 20, 30, 40, 50, 60]);
    const four = decodeBmp(makeBmp({ width: 3, height: 1, bitCount: 4, palette, rows: [[0x21, 0x00]] })); // nibbles 2,1,0
    expect([...four.data]).toEqual([70, 80, 90, 40, 50, 60, 10, 20, 30]);
    const one = decodeBmp(makeBmp({ width: 3, height: 1, bitCount: 1, palette: [[0, 0, 0], [255, 255, 255]], rows: [[0b10100000]] }));
    expect([...one.data]).toEqual([255, 255, 255, 0, 0, 0, 255, 255, 255]);
  });

  it('rejects RLE, truncated data and bad signatures with BmpDecodeError', () => {
    const rle = makeBmp({ width: 2, height: 1, bitCount: 8, compression: 1, palette: [[0, 0, 0]], rows: [[0, 0]] });
    expect(() => decodeBmp(rle)).toThrow(/compression method 1/);
    const ok = makeBmp({ width: 3, height: 2, bitCount: 24, rows: [[], []] });
    expect(() => decodeBmp(ok.subarray(0, ok.length - 5))).toThrow(BmpDecodeError);
    expect(() => decodeBmp(ok.subarray(0, ok.length - 5))).toThrow(/truncated pixel data/);
    expect(() => decodeBmp(new TextEncoder().encode('BM but really just text, not a bitmap at all'))).toThrow(BmpDecodeError);
  });
});
