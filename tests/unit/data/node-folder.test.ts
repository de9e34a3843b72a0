// Node folder walk + index + decode on a generated folder with good and bad files.
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sniffImageType } from '../../../src/data/indexing.ts';
import { type FolderIndex, ImageDecodeError, decodeFolder, decodeImageFile, formatSkippedTsv, indexFolder, walkFolder } from '../../../src/data/node-folder.ts';

let root = '';

function gradient(width: number, height: number): Buffer {
  const data = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) data.set([(x * 255) / (width - 1), (y * 255) / (height - 1), 128], (y * width + x) * 3);
  return data;
}

const raw = (width: number, height: number, channels: 1 | 3 | 4, data: Buffer) => sharp(data, { raw: { width, height, channels } });

// 3×2 24-bit bottom-up BMP, rows padded to 12 bytes.
function tinyBmp(): Uint8Array {
  const buf = new Uint8Array(54 + 24);
  const v = new DataView(buf.buffer);
  buf.set([0x42, 0x4d]);
  v.setUint32(2, buf.length, true);
  v.setUint32(10, 54, true);
  v.setUint32(14, 40, true);
  v.setInt32(18, 3, true);
  v.setInt32(22, 2, true);
  v.setUint16(26, 1, true);
  v.setUint16(28, 24, true);
  buf.fill(0xff, 54, 54 + 9); // bottom row white
  buf.set([255, 0, 0, 255, 0, 0, 255, 0, 0], 66); // top row blue (BGR)
  return buf;
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'fcmae-folder-'));
  for (const d of ['cats/nested', 'dogs', 'birds', '.git']) await mkdir(join(root, d), { recursive: true });
  const a = await raw(96, 64, 3, gradient(96, 64)).jpeg({ quality: 90 }).toBuffer();
  await writeFile(join(root, 'cats/a.jpg'), a);
  await writeFile(join(root, 'cats/pixel.png'), await raw(1, 1, 3, Buffer.from([200, 10, 30])).png().toBuffer());
  await writeFile(join(root, 'cats/nested/c.webp'), await raw(40, 30, 3, gradient(40, 30)).webp().toBuffer());
  await writeFile(join(root, 'cats/anim.gif'), await raw(20, 20, 3, gradient(20, 20)).gif().toBuffer());
  await writeFile(join(root, 'cats/f.avif'), await raw(16, 16, 3, gradient(16, 16)).avif({ effort: 0 }).toBuffer());
  await writeFile(join(root, 'cats/gray.png'), await raw(20, 10, 1, Buffer.alloc(200, 90)).png().toBuffer());
  const rgba = Buffer.alloc(8 * 4 * 4);
  for (let y = 0; y < 4; y++) for (let x = 0; x < 8; x++) rgba.set(x < 4 ? [255, 0, 0, 255] : [0, 255, 0, 0], (y * 8 + x) * 4);
  await writeFile(join(root, 'cats/alpha.png'), await raw(8, 4, 4, rgba).png().toBuffer());
  // 40×20 pixels stored, EXIF orientation 6 (rotate 90° clockwise to display): shows 20×40.
  await writeFile(join(root, 'cats/rotated.jpg'), await raw(40, 20, 3, gradient(40, 20)).jpeg().withMetadata({ orientation: 6 }).toBuffer());
  await writeFile(join(root, 'cats/d.bmp'), tinyBmp());
  await symlink(join(root, 'cats/a.jpg'), join(root, 'cats/link-to-a.jpg'));
  // A large image: 6000×4000 (24 Mpx); decoded with shrink-on-load, never at full size.
  await writeFile(join(root, 'dogs/big.jpg'), await sharp({ create: { width: 6000, height: 4000, channels: 3, background: { r: 30, g: 60, b: 90 } } }).jpeg().toBuffer());
  await writeFile(join(root, 'dogs/truncated.jpg'), a.subarray(0, Math.floor(a.length / 2)));
  await writeFile(join(root, 'dogs/notes.txt'), 'feeding schedule\n');
  await writeFile(join(root, 'dogs/empty.png'), new Uint8Array(0));
  await writeFile(join(root, 'dogs/phone.heic'), Uint8Array.from([0, 0, 0, 24, ...Buffer.from('ftypheic'), 0, 0, 0, 0, ...Buffer.from('mif1heic'), 1, 2, 3]));
  await symlink('..', join(root, 'dogs/loop')); // points back at the root
  await writeFile(join(root, '.DS_Store'), 'Bud1');
  await writeFile(join(root, '.git/config'), '[core]\n');
  const dot = await raw(1, 1, 3, Buffer.from([0, 0, 255])).png().toBuffer();
  for (let i = 0; i < 110; i++) await writeFile(join(root, `birds/b${String(i).padStart(3, '0')}.png`), dot);
}, 60_000);

afterAll(async () => {
  if (root) await rm(root, { recursive: true, force: true });
});

describe('Node folder', () => {
  let index: FolderIndex;

  it('walk: symlink loop and hidden folder reported, not entered', async () => {
    const walk = await walkFolder(root);
    expect(walk.files.length).toBe(10 + 5 + 110 + 1); // cats, dogs (loop is a folder), birds, .DS_Store
    expect(walk.skipped.map((s) => `${s.path} ${s.code}`)).toEqual(['.git/ hidden', 'dogs/loop/ unreadable']);
    expect(walk.skipped[1]!.reason).toMatch(/already indexed/);
  });

  it('index: labels from class folders, reasons for every skipped file', async () => {
    index = await indexFolder(root);
    expect(index.classes).toEqual(['birds', 'cats', 'dogs']);
    expect(index.images.length).toBe(110 + 10 + 2);
    expect(index.images.filter((x) => x.label === 'birds').length).toBe(110);
    const types = Object.fromEntries(index.images.filter((x) => x.label !== 'birds').map((x) => [x.path, x.type]));
    expect(types).toEqual({
      'cats/a.jpg': 'jpeg', 'cats/alpha.png': 'png', 'cats/anim.gif': 'gif', 'cats/d.bmp': 'bmp', 'cats/f.avif': 'avif',
      'cats/gray.png': 'png', 'cats/link-to-a.jpg': 'jpeg', 'cats/nested/c.webp': 'webp', 'cats/pixel.png': 'png', 'cats/rotated.jpg': 'jpeg',
      'dogs/big.jpg': 'jpeg', 'dogs/truncated.jpg': 'jpeg',
    });
    expect(index.skipped.map((s) => `${s.path} ${s.code}`)).toEqual([
      '.DS_Store hidden', '.git/ hidden', 'dogs/empty.png empty', 'dogs/loop/ unreadable', 'dogs/notes.txt not-image', 'dogs/phone.heic unsupported-image',
    ]);
    expect(index.skipped.find((s) => s.path === 'dogs/phone.heic')!.reason).toBe('HEIC is not decodable by Chrome: convert to JPEG');
    // Real encoder output is recognised by content too.
    for (const [file, type] of [['cats/f.avif', 'avif'], ['cats/nested/c.webp', 'webp'], ['cats/anim.gif', 'gif']] as const) {
      expect(sniffImageType(new Uint8Array(await readFile(join(root, file))).subarray(0, 64))).toBe(type);
    }
  });

  it('decode: shorter side to S, orientation, grayscale/alpha to RGB, corrupt file skipped', async () => {
    const S = 32;
    let progress = 0;
    const { index: after, images } = await decodeFolder(index, { shorterSide: S, onProgress: (d) => (progress = d) });
    expect(progress).toBe(122);
    expect(images.length).toBe(121);
    expect(after.images.length).toBe(121);
    const failed = after.skipped.filter((s) => s.code === 'decode-failed');
    expect(failed.map((s) => s.path)).toEqual(['dogs/truncated.jpg']);
    expect(failed[0]!.reason).toMatch(/could not be decoded \(.+\): corrupt or truncated image/);
    const byPath = new Map(after.images.map((im, i) => [im.path, images[i]!]));
    const dims = (p: string) => { const im = byPath.get(p)!; return [im.width, im.height, im.channels, im.data.length]; };
    expect(dims('dogs/big.jpg')).toEqual([48, 32, 3, 48 * 32 * 3]);
    expect(dims('cats/a.jpg')).toEqual([48, 32, 3, 48 * 32 * 3]);
    expect(dims('cats/pixel.png')).toEqual([32, 32, 3, 32 * 32 * 3]);
    expect(dims('cats/rotated.jpg')).toEqual([32, 64, 3, 32 * 64 * 3]);
    expect(dims('cats/gray.png')).toEqual([64, 32, 3, 64 * 32 * 3]);
    expect(dims('cats/d.bmp')).toEqual([48, 32, 3, 48 * 32 * 3]);
    expect(dims('cats/f.avif')).toEqual([32, 32, 3, 32 * 32 * 3]);
    // Resampling a constant image keeps the constant: the 1×1 PNG fills 32×32 with its colour.
    const pixel = byPath.get('cats/pixel.png')!.data;
    for (let i = 0; i < 32 * 32; i++) expect([pixel[i * 3], pixel[i * 3 + 1], pixel[i * 3 + 2]]).toEqual([200, 10, 30]);
    const big = byPath.get('dogs/big.jpg')!.data;
    // JPEG chroma subsampling and rounding move a flat colour by a level or two.
    for (const [c, want] of [[0, 30], [1, 60], [2, 90]] as const) expect(Math.abs(big[100 * 3 + c]! - want)).toBeLessThanOrEqual(2);
    const gray = byPath.get('cats/gray.png')!.data;
    expect([gray[0], gray[1], gray[2]]).toEqual([90, 90, 90]);
    // Left half opaque red, right half transparent: flattened onto black.
    const alpha = byPath.get('cats/alpha.png')!.data; // (32, 64, 3)
    expect([...alpha.subarray(0, 3)]).toEqual([255, 0, 0]);
    expect([...alpha.subarray((64 - 1) * 3, 64 * 3)]).toEqual([0, 0, 0]);
    // BMP: top row blue, bottom row white (after upscaling, far corners keep their colour).
    const bmp = byPath.get('cats/d.bmp')!.data; // (32, 48, 3)
    expect([...bmp.subarray(0, 3)]).toEqual([0, 0, 255]);
    expect([...bmp.subarray((32 * 48 - 1) * 3)]).toEqual([255, 255, 255]);
    // The skipped list for the run folder.
    const tsv = formatSkippedTsv(after.skipped).trim().split('\n');
    expect(tsv[0]).toBe('path\tcode\treason');
    expect(tsv.length).toBe(1 + 7);
    expect(tsv).toContain('dogs/phone.heic\tunsupported-image\tHEIC is not decodable by Chrome: convert to JPEG');
  }, 60_000);

  it('decodeImageFile: typed error naming the file; extreme aspect capped', async () => {
    const truncated = join(root, 'dogs/truncated.jpg');
    await expect(decodeImageFile(truncated, 'jpeg', { shorterSide: 16 })).rejects.toThrow(ImageDecodeError);
    await expect(decodeImageFile(truncated, 'jpeg', { shorterSide: 16 })).rejects.toThrow(/truncated\.jpg: could not be decoded/);
    await expect(decodeImageFile(join(root, 'dogs/notes.txt'), 'png', { shorterSide: 16 })).rejects.toThrow(ImageDecodeError);
    // 6000×4000 with maxAspect 1: centre-cropped to a square.
    const sq = await decodeImageFile(join(root, 'dogs/big.jpg'), 'jpeg', { shorterSide: 16, maxAspect: 1 });
    expect([sq.width, sq.height]).toEqual([16, 16]);
    await expect(decodeImageFile(join(root, 'cats/a.jpg'), 'jpeg', { shorterSide: 0 })).rejects.toThrow(/positive integer/);
    await expect(walkFolder(join(root, 'nope'))).rejects.toThrow(/cannot open dataset folder/);
  });
});
