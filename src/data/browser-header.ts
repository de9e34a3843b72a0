// Image size (and EXIF orientation) from a file's first bytes, so the browser decoder can ask
// createImageBitmap for a downscaled bitmap directly and never hold a 6000×4000 photo at full
// size in JS memory. Covers JPEG (SOFn + APP1 Exif orientation), PNG (IHDR), GIF (logical
// screen), WebP (VP8, VP8L, VP8X), BMP (DIB header) and AVIF (ispe, irot). Pure (no DOM).
//
// Chrome applies the orientation before resizing (resizeWidth refers to the displayed image), so
// the decoder needs the displayed size: orientations 5–8 swap width and height. When a header
// cannot be read (an exotic layout, a huge EXIF block past the bytes read) the caller falls back
// to a decode that preserves the aspect ratio, so a wrong guess costs time, never distortion.

export interface ImageHeader {
  /** Stored size (as encoded, before orientation). */
  width: number;
  height: number;
  /** EXIF orientation 1–8 (1 = as stored); AVIF irot maps onto 6/3/8. */
  orientation: number;
  /** Size as displayed (after orientation). */
  displayWidth: number;
  displayHeight: number;
}

/** Bytes worth reading for readImageHeader (JPEG EXIF blocks with thumbnails run to ~64 KiB). */
export const HEADER_BYTES = 256 * 1024;

const u16be = (b: Uint8Array, o: number) => (b[o]! << 8) | b[o + 1]!;
const u16le = (b: Uint8Array, o: number) => b[o]! | (b[o + 1]! << 8);
const u32be = (b: Uint8Array, o: number) => ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
const u32le = (b: Uint8Array, o: number) => (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0;
const i32le = (b: Uint8Array, o: number) => b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24);
const tag = (b: Uint8Array, o: number) => String.fromCharCode(b[o]!, b[o + 1]!, b[o + 2]!, b[o + 3]!);

function header(width: number, height: number, orientation = 1): ImageHeader | null {
  if (!(width > 0 && height > 0)) return null;
  const o = orientation >= 1 && orientation <= 8 ? orientation : 1;
  const swap = o >= 5;
  return { width, height, orientation: o, displayWidth: swap ? height : width, displayHeight: swap ? width : height };
}

/** EXIF orientation from a TIFF block starting at `start` (the bytes after "Exif\0\0"). */
function exifOrientation(b: Uint8Array, start: number, end: number): number {
  if (start + 8 > end) return 1;
  const little = b[start] === 0x49 && b[start + 1] === 0x49;
  const big = b[start] === 0x4d && b[start + 1] === 0x4d;
  if (!little && !big) return 1;
  const r16 = (o: number) => (little ? u16le(b, o) : u16be(b, o));
  const r32 = (o: number) => (little ? u32le(b, o) : u32be(b, o));
  if (r16(start + 2) !== 42) return 1;
  const ifd = start + r32(start + 4);
  if (ifd + 2 > end) return 1;
  const count = r16(ifd);
  for (let i = 0; i < count; i++) {
    const e = ifd + 2 + i * 12;
    if (e + 12 > end) return 1;
    if (r16(e) === 0x0112) {
      const v = r16(e + 8);
      return v >= 1 && v <= 8 ? v : 1;
    }
  }
  return 1;
}

function jpegHeader(b: Uint8Array): ImageHeader | null {
  let o = 2;
  let orientation = 1;
  while (o + 4 <= b.length) {
    if (b[o] !== 0xff) return null; // lost sync: not a marker where one must be
    let marker = b[o + 1]!;
    while (marker === 0xff && o + 2 < b.length) {
      o++; // fill bytes
      marker = b[o + 1]!;
    }
    o += 2;
    if (marker === 0xd8 || marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) continue; // no length
    if (marker === 0xd9 || marker === 0xda) return null; // end of image / start of scan before any SOF
    if (o + 2 > b.length) return null;
    const length = u16be(b, o);
    if (length < 2) return null;
    const isSof = marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
    if (isSof) {
      if (o + 7 > b.length) return null;
      return header(u16be(b, o + 5), u16be(b, o + 3), orientation);
    }
    if (marker === 0xe1 && o + 8 <= b.length && tag(b, o + 2) === 'Exif' && b[o + 6] === 0 && b[o + 7] === 0) {
      orientation = exifOrientation(b, o + 8, Math.min(b.length, o + length));
    }
    o += length;
  }
  return null;
}

function pngHeader(b: Uint8Array): ImageHeader | null {
  if (b.length < 24 || tag(b, 12) !== 'IHDR') return null;
  return header(u32be(b, 16), u32be(b, 20));
}

function gifHeader(b: Uint8Array): ImageHeader | null {
  if (b.length < 10) return null;
  return header(u16le(b, 6), u16le(b, 8));
}

function webpHeader(b: Uint8Array): ImageHeader | null {
  if (b.length < 30) return null;
  const chunk = tag(b, 12);
  if (chunk === 'VP8 ') {
    // frame tag (3 bytes) + start code 9d 01 2a, then 14-bit width and height
    if (b[23] !== 0x9d || b[24] !== 0x01 || b[25] !== 0x2a) return null;
    return header(u16le(b, 26) & 0x3fff, u16le(b, 28) & 0x3fff);
  }
  if (chunk === 'VP8L') {
    if (b[20] !== 0x2f) return null;
    const bits = u32le(b, 21);
    return header((bits & 0x3fff) + 1, ((bits >>> 14) & 0x3fff) + 1);
  }
  if (chunk === 'VP8X') {
    const w = (b[24]! | (b[25]! << 8) | (b[26]! << 16)) + 1;
    const h = (b[27]! | (b[28]! << 8) | (b[29]! << 16)) + 1;
    return header(w, h);
  }
  return null;
}

function bmpHeader(b: Uint8Array): ImageHeader | null {
  if (b.length < 26) return null;
  const dib = u32le(b, 14);
  if (dib === 12) return header(u16le(b, 18), u16le(b, 20));
  return header(Math.abs(i32le(b, 18)), Math.abs(i32le(b, 22)));
}

/** AVIF/HEIF: the first 'ispe' (image spatial extents) and an 'irot' rotation if present. */
function avifHeader(b: Uint8Array): ImageHeader | null {
  let ispe: [number, number] | null = null;
  let rotation = 0;
  for (let o = 4; o + 16 <= b.length; o++) {
    if (ispe === null && b[o] === 0x69 && tag(b, o) === 'ispe') ispe = [u32be(b, o + 8), u32be(b, o + 12)];
    else if (b[o] === 0x69 && tag(b, o) === 'irot') rotation = b[o + 4]! & 3;
  }
  if (!ispe) return null;
  // irot turns anticlockwise by 90°·angle; 1 and 3 swap axes like EXIF 8 and 6.
  const orientation = rotation === 1 ? 8 : rotation === 2 ? 3 : rotation === 3 ? 6 : 1;
  return header(ispe[0], ispe[1], orientation);
}

/** Size and orientation from the first bytes, or null when they do not say. */
export function readImageHeader(bytes: Uint8Array): ImageHeader | null {
  const b = bytes;
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return jpegHeader(b);
  if (b.length >= 8 && b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47) return pngHeader(b);
  if (b.length >= 6 && tag(b, 0) === 'GIF8') return gifHeader(b);
  if (b.length >= 12 && tag(b, 0) === 'RIFF' && tag(b, 8) === 'WEBP') return webpHeader(b);
  if (b.length >= 2 && b[0] === 0x42 && b[1] === 0x4d) return bmpHeader(b);
  if (b.length >= 12 && tag(b, 4) === 'ftyp') return avifHeader(b);
  return null;
}

/** Largest image we agree to decode, pixels: beyond it a forged or absurd header is refused. */
export const MAX_DECODE_PIXELS = 300_000_000;

/**
 * The display size after scaling so the shorter side is `shorterSide` (small images are
 * scaled up, as the Node decoder does), and the long side centre-cropped to maxAspect·shorterSide.
 */
export function decodeGeometry(displayWidth: number, displayHeight: number, shorterSide: number, maxAspect = 4): { scaledWidth: number; scaledHeight: number; width: number; height: number } {
  const scale = shorterSide / Math.min(displayWidth, displayHeight);
  const scaledWidth = displayWidth <= displayHeight ? shorterSide : Math.max(shorterSide, Math.round(displayWidth * scale));
  const scaledHeight = displayWidth <= displayHeight ? Math.max(shorterSide, Math.round(displayHeight * scale)) : shorterSide;
  const maxLong = Math.round(shorterSide * maxAspect);
  return { scaledWidth, scaledHeight, width: Math.min(scaledWidth, maxLong), height: Math.min(scaledHeight, maxLong) };
}
