// Generated image folders for the browser tests, written with sharp, together with what the
// indexer must conclude about every file. The "junk" folder mixes good images of every format
// with the things real folders contain: a subfolder with more than 100 entries (Chromium's
// readEntries returns at most 100 per call), nested subfolders, a corrupt JPEG that only a
// decoder can catch, a text file named .jpg, an empty file, a text file, a dotfile, a HEIC
// head, a hidden .git folder, a 1×1 PNG and a 6000×4000 JPEG.
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import sharp, { type Sharp } from 'sharp';
import type { SkipCode } from '../../src/data/indexing.ts';

export interface FixtureFile {
  /** Relative to the folder's parent (the folder name is the first segment). */
  path: string;
  bytes: Uint8Array;
}

export interface ExpectedSkip {
  path: string;
  code: SkipCode;
}

export interface GeneratedFolder {
  /** Absolute path of the folder on disk. */
  dir: string;
  name: string;
  files: FixtureFile[];
  /** Usable images after decoding, sorted by path. */
  images: string[];
  classes: string[];
  classCounts: number[];
  /** Skips found by indexing (file heads), sorted by path; hidden folders listed per file. */
  indexSkips: ExpectedSkip[];
  /** Skips found only by decoding. */
  decodeSkips: ExpectedSkip[];
}

/** 24-bit bottom-up BMP (BITMAPINFOHEADER) of a solid colour. */
export function bmpBytes(width: number, height: number, rgb: [number, number, number]): Uint8Array {
  const row = Math.ceil((width * 3) / 4) * 4;
  const size = 54 + row * height;
  const b = new Uint8Array(size);
  const v = new DataView(b.buffer);
  b[0] = 0x42;
  b[1] = 0x4d;
  v.setUint32(2, size, true);
  v.setUint32(10, 54, true);
  v.setUint32(14, 40, true);
  v.setInt32(18, width, true);
  v.setInt32(22, height, true);
  v.setUint16(26, 1, true);
  v.setUint16(28, 24, true);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) b.set([rgb[2], rgb[1], rgb[0]], 54 + y * row + x * 3);
  return b;
}

const u8 = (b: Buffer): Uint8Array => new Uint8Array(b.buffer, b.byteOffset, b.byteLength);

/** w×h RGB: left half `left`, right half `right`. */
function halves(w: number, h: number, left: [number, number, number], right: [number, number, number]): Sharp {
  const px = Buffer.alloc(w * h * 3);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) px.set(x < w / 2 ? left : right, (y * w + x) * 3);
  return sharp(px, { raw: { width: w, height: h, channels: 3 } });
}

export async function junkFolderFiles(name = 'junk-photos', crowdSize = 105): Promise<Omit<GeneratedFolder, 'dir'>> {
  const files: FixtureFile[] = [];
  const add = (path: string, bytes: Uint8Array) => files.push({ path: `${name}/${path}`, bytes });
  const crowd: string[] = [];
  for (let i = 0; i < crowdSize; i++) {
    const path = `crowd/img-${String(i).padStart(3, '0')}.png`;
    const c = (i * 37) % 256;
    add(path, u8(await sharp({ create: { width: 12, height: 9, channels: 3, background: { r: c, g: 255 - c, b: (c * 3) % 256 } } }).png().toBuffer()));
    crowd.push(path);
  }
  add('crowd/notes.txt', new TextEncoder().encode('photos from the trip\n'));
  add('mixed/ok-rgb.jpg', u8(await halves(48, 40, [220, 30, 30], [30, 30, 220]).jpeg({ quality: 90 }).toBuffer()));
  const gray = Buffer.alloc(40 * 40);
  for (let i = 0; i < gray.length; i++) gray[i] = (i * 7) % 256;
  add('mixed/ok-gray.png', u8(await sharp(gray, { raw: { width: 40, height: 40, channels: 1 } }).png().toBuffer()));
  // Left half opaque red, right half fully transparent green: must flatten to black.
  const rgba = Buffer.alloc(40 * 40 * 4);
  for (let y = 0; y < 40; y++) for (let x = 0; x < 40; x++) rgba.set(x < 20 ? [255, 0, 0, 255] : [0, 255, 0, 0], (y * 40 + x) * 4);
  add('mixed/ok-alpha.png', u8(await sharp(rgba, { raw: { width: 40, height: 40, channels: 4 } }).png().toBuffer()));
  add('mixed/ok.webp', u8(await sharp({ create: { width: 50, height: 30, channels: 3, background: { r: 10, g: 120, b: 200 } } }).webp({ quality: 90 }).toBuffer()));
  add('mixed/ok.gif', u8(await sharp({ create: { width: 30, height: 30, channels: 3, background: { r: 250, g: 200, b: 0 } } }).gif().toBuffer()));
  add('mixed/ok.bmp', bmpBytes(33, 21, [0, 160, 80]));
  // Stored 60×20 (left red, right blue), EXIF orientation 6: displayed 20×60, red on top.
  add('mixed/rotated.jpg', u8(await halves(60, 20, [255, 0, 0], [0, 0, 255]).jpeg({ quality: 95 }).withMetadata({ orientation: 6 }).toBuffer()));
  add('mixed/tiny-1x1.png', u8(await sharp({ create: { width: 1, height: 1, channels: 3, background: { r: 200, g: 100, b: 50 } } }).png().toBuffer()));
  add('mixed/huge-6000x4000.jpg', u8(await sharp({ create: { width: 6000, height: 4000, channels: 3, background: { r: 20, g: 180, b: 60 } } }).jpeg({ quality: 70 }).toBuffer()));
  add('mixed/deep/deeper/nested.jpg', u8(await sharp({ create: { width: 32, height: 48, channels: 3, background: { r: 90, g: 90, b: 90 } } }).jpeg().toBuffer()));
  // JPEG magic, then garbage: only the decoder can tell.
  const corrupt = new Uint8Array(3000);
  corrupt.set([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46]);
  for (let i = 10; i < corrupt.length; i++) corrupt[i] = (i * 131 + 7) % 251;
  add('mixed/corrupt.jpg', corrupt);
  add('mixed/fake.jpg', new TextEncoder().encode('<html>this is not a jpeg</html>\n'));
  add('mixed/empty.png', new Uint8Array(0));
  add('mixed/readme.txt', new TextEncoder().encode('read me\n'));
  add('mixed/.DS_Store', Uint8Array.of(0, 0, 0, 1, 0x42, 0x75, 0x64, 0x31));
  const heic = new Uint8Array(64);
  heic.set([0, 0, 0, 0x18, ...new TextEncoder().encode('ftypheic'), 0, 0, 0, 0, ...new TextEncoder().encode('mif1heic')]);
  add('mixed/photo.heic', heic);
  add('.git/config', new TextEncoder().encode('[core]\n'));

  const images = [
    ...crowd,
    'mixed/deep/deeper/nested.jpg',
    'mixed/huge-6000x4000.jpg',
    'mixed/ok-alpha.png',
    'mixed/ok-gray.png',
    'mixed/ok-rgb.jpg',
    'mixed/ok.bmp',
    'mixed/ok.gif',
    'mixed/ok.webp',
    'mixed/rotated.jpg',
    'mixed/tiny-1x1.png',
  ].map((p) => `${name}/${p}`);
  const indexSkips: ExpectedSkip[] = [
    { path: '.git/config', code: 'hidden' as const },
    { path: 'crowd/notes.txt', code: 'not-image' as const },
    { path: 'mixed/.DS_Store', code: 'hidden' as const },
    { path: 'mixed/empty.png', code: 'empty' as const },
    { path: 'mixed/fake.jpg', code: 'corrupt' as const },
    { path: 'mixed/photo.heic', code: 'unsupported-image' as const },
    { path: 'mixed/readme.txt', code: 'not-image' as const },
  ].map((s) => ({ ...s, path: `${name}/${s.path}` }));
  return {
    name,
    files,
    images: images.sort(),
    classes: ['crowd', 'mixed'],
    classCounts: [crowdSize, 10],
    indexSkips: indexSkips.sort((a, b) => (a.path < b.path ? -1 : 1)),
    decodeSkips: [{ path: `${name}/mixed/corrupt.jpg`, code: 'decode-failed' }],
  };
}

/** A folder where almost every image is broken: a decode storm. */
export async function brokenFolderFiles(name = 'broken-photos', broken = 14): Promise<Omit<GeneratedFolder, 'dir'>> {
  const files: FixtureFile[] = [];
  for (let i = 0; i < broken; i++) {
    const b = new Uint8Array(2000);
    b.set([0xff, 0xd8, 0xff, 0xe1]);
    for (let j = 4; j < b.length; j++) b[j] = (j * 17 + i) % 253;
    files.push({ path: `${name}/cut-${String(i).padStart(2, '0')}.jpg`, bytes: b });
  }
  files.push({ path: `${name}/good.png`, bytes: u8(await sharp({ create: { width: 64, height: 64, channels: 3, background: { r: 100, g: 150, b: 200 } } }).png().toBuffer()) });
  return {
    name,
    files,
    images: [`${name}/good.png`],
    classes: [],
    classCounts: [],
    indexSkips: [],
    decodeSkips: files.slice(0, broken).map((f) => ({ path: f.path, code: 'decode-failed' as const })),
  };
}

/** Writes generated files under a fresh temporary directory; returns the folder's path. */
export function writeFolder(spec: Omit<GeneratedFolder, 'dir'>): GeneratedFolder {
  const root = mkdtempSync(join(tmpdir(), 'fcmae-e2e-'));
  for (const f of spec.files) {
    const abs = join(root, f.path);
    mkdirSync(dirname(abs), { recursive: true });
    writeFileSync(abs, f.bytes);
  }
  return { ...spec, dir: join(root, spec.name) };
}
