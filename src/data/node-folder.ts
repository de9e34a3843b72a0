// Node side of the dataset: walk a folder, index it with the same rules as the browser
// (indexing.ts), and decode images to RGB at a training size. Used by the CLI (`train --data DIR`)
// and the demo-dataset builder; never imported by the page.
//
// Decoder: sharp (libvips). Chosen because its npm package ships prebuilt libvips binaries as
// ordinary registry packages (@img/sharp-linux-x64 …: no download at install time, no compiler),
// it is actively maintained, and it decodes JPEG, PNG, WebP, GIF (first frame) and AVIF with
// shrink-on-load and streaming, so huge images are never held at full resolution. EXIF
// orientation is applied. Its prebuilt libvips has no BMP loader, so BMP goes through bmp.ts.
// Pure-JS decoders (jpeg-js, pngjs) cover only two formats and decode every image at full size.
//
// Decoded images: the shorter side is resized to `shorterSide` (upscaling small images too, with
// sharp's default Lanczos-3), the longer side capped at maxAspect·shorterSide by a centre crop;
// the caller then crops (augment.ts). Grayscale becomes RGB; transparency is flattened onto
// black, which is what a browser's canvas readback gives for fully transparent pixels.
// A file that fails to decode moves to `skipped` with its reason; one bad file never fails the folder.

import { constants as fsConstants } from 'node:fs';
import { open, readdir, readFile, realpath, stat } from 'node:fs/promises';
import { join } from 'node:path';
import sharp, { type Sharp } from 'sharp';
import { decodeBmp } from './bmp.ts';
import type { PixelImage } from './image.ts';
import { type ImageIndex, type ImageType, type IndexInput, type SkippedFile, SNIFF_BYTES, indexFiles, markDecodeFailed, sniffImageType } from './indexing.ts';

export interface FolderFile {
  /** Relative to the walked root, '/' separated. */
  path: string;
  absPath: string;
  size: number;
}

export interface WalkResult {
  files: FolderFile[];
  /** Hidden folders (not entered), unreadable entries, broken links, symlink loops. */
  skipped: SkippedFile[];
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/**
 * Every regular file below root (symlinks followed, each real directory entered once so loops
 * end). Hidden folders (.git, .cache…) and __MACOSX are reported once and not entered.
 */
export async function walkFolder(root: string): Promise<WalkResult> {
  const files: FolderFile[] = [];
  const skipped: SkippedFile[] = [];
  const rootReal = await realpath(root).catch((e: unknown) => {
    throw new Error(`cannot open dataset folder ${root}: ${errorText(e)}`);
  });
  if (!(await stat(rootReal)).isDirectory()) throw new Error(`dataset path ${root} is not a folder`);
  const visited = new Set<string>([rootReal]);
  const stack: { abs: string; rel: string }[] = [{ abs: root, rel: '' }];
  while (stack.length > 0) {
    const dir = stack.pop()!;
    let entries;
    try {
      entries = await readdir(dir.abs, { withFileTypes: true });
    } catch (e) {
      skipped.push({ path: dir.rel || '.', code: 'unreadable', reason: `folder could not be read (${errorText(e)})` });
      continue;
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const subdirs: { abs: string; rel: string }[] = [];
    for (const entry of entries) {
      const abs = join(dir.abs, entry.name);
      const rel = dir.rel ? `${dir.rel}/${entry.name}` : entry.name;
      let isDir = entry.isDirectory();
      let isFile = entry.isFile();
      let size = -1;
      if (entry.isSymbolicLink() || (!isDir && !isFile)) {
        try {
          const s = await stat(abs); // follows the link
          isDir = s.isDirectory();
          isFile = s.isFile();
          size = s.size;
        } catch (e) {
          skipped.push({ path: rel, code: 'unreadable', reason: `broken link or unreadable entry (${errorText(e)})` });
          continue;
        }
      }
      if (isDir) {
        if (entry.name.startsWith('.') || entry.name === '__MACOSX') {
          skipped.push({ path: `${rel}/`, code: 'hidden', reason: `hidden folder ${entry.name} (not entered)` });
          continue;
        }
        const real = await realpath(abs).catch(() => null);
        if (real === null) {
          skipped.push({ path: `${rel}/`, code: 'unreadable', reason: 'folder could not be resolved' });
        } else if (visited.has(real)) {
          skipped.push({ path: `${rel}/`, code: 'unreadable', reason: 'symbolic link to a folder already indexed (loop or duplicate), not entered again' });
        } else {
          visited.add(real);
          subdirs.push({ abs, rel });
        }
      } else if (isFile) {
        if (size < 0) {
          try {
            size = (await stat(abs)).size;
          } catch (e) {
            skipped.push({ path: rel, code: 'unreadable', reason: `could not be read (${errorText(e)})` });
            continue;
          }
        }
        files.push({ path: rel, absPath: abs, size });
      } else {
        skipped.push({ path: rel, code: 'not-image', reason: 'not a regular file (device, socket or pipe)' });
      }
    }
    // Reverse so the stack pops folders in name order (deterministic walk).
    for (let i = subdirs.length - 1; i >= 0; i--) stack.push(subdirs[i]!);
  }
  return { files, skipped };
}

async function readHead(absPath: string): Promise<Uint8Array> {
  const handle = await open(absPath, fsConstants.O_RDONLY);
  try {
    const buf = new Uint8Array(SNIFF_BYTES);
    const { bytesRead } = await handle.read(buf, 0, SNIFF_BYTES, 0);
    return buf.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

/** Runs fn over items with at most `limit` in flight; results in input order. */
async function mapLimited<T, R>(items: readonly T[], limit: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const workers = Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!, i);
    }
  });
  await Promise.all(workers);
  return out;
}

export interface FolderIndex extends ImageIndex {
  /** The folder as given. */
  root: string;
  /** Index path → absolute path on disk. */
  absPaths: Map<string, string>;
}

/** Walk + sniff the first bytes of each file + index (labels from first-level subfolders). */
export async function indexFolder(root: string, options: { concurrency?: number } = {}): Promise<FolderIndex> {
  const walk = await walkFolder(root);
  const unreadable: SkippedFile[] = [];
  const inputs = await mapLimited(walk.files, options.concurrency ?? 16, async (f): Promise<IndexInput | null> => {
    if (f.size === 0) return { path: f.path, size: 0 };
    try {
      return { path: f.path, size: f.size, head: await readHead(f.absPath) };
    } catch (e) {
      unreadable.push({ path: f.path, code: 'unreadable', reason: `could not be read (${errorText(e)})` });
      return null;
    }
  });
  const index = indexFiles(
    inputs.filter((x): x is IndexInput => x !== null),
    { root: '' },
  );
  const skipped = [...index.skipped, ...walk.skipped, ...unreadable].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const absPaths = new Map(walk.files.map((f) => [f.path, f.absPath]));
  return { ...index, skipped, root, absPaths };
}

export interface DecodeOptions {
  /** The shorter side after resizing, pixels. */
  shorterSide: number;
  /** Longer side at most maxAspect·shorterSide (centre crop beyond). Default 4. */
  maxAspect?: number;
}

export class ImageDecodeError extends Error {
  override readonly name = 'ImageDecodeError';
  constructor(
    readonly path: string,
    readonly detail: string,
  ) {
    super(`${path}: could not be decoded (${detail})`);
  }
}

function targetSize(width: number, height: number, options: DecodeOptions): { width: number; height: number } {
  const s = options.shorterSide;
  const maxLong = Math.round(s * (options.maxAspect ?? 4));
  if (width <= height) return { width: s, height: Math.min(maxLong, Math.max(s, Math.round((height * s) / width))) };
  return { width: Math.min(maxLong, Math.max(s, Math.round((width * s) / height))), height: s };
}

/**
 * Decodes one image file to RGB with its shorter side = options.shorterSide. `type` is the
 * sniffed type from the index (BMP is decoded by bmp.ts). Throws ImageDecodeError.
 */
export function decodeImageFile(absPath: string, type: ImageType, options: DecodeOptions): Promise<PixelImage> {
  return decodeImageSource(absPath, type, options, absPath);
}

/** As decodeImageFile, from a path or from the file's bytes; `what` names it in errors. */
export async function decodeImageSource(source: string | Uint8Array, type: ImageType, options: DecodeOptions, what: string): Promise<PixelImage> {
  if (!(Number.isInteger(options.shorterSide) && options.shorterSide > 0)) {
    throw new Error(`decodeImageFile: shorterSide ${options.shorterSide} must be a positive integer`);
  }
  try {
    let pipeline: Sharp;
    let width: number;
    let height: number;
    if (type === 'bmp') {
      const bmp = decodeBmp(typeof source === 'string' ? new Uint8Array(await readFile(source)) : source);
      width = bmp.width;
      height = bmp.height;
      pipeline = sharp(bmp.data, { raw: { width, height, channels: 3 } });
    } else {
      // 'truncated' rejects cut-off files but tolerates harmless warnings that browsers ignore too.
      pipeline = sharp(source, { failOn: 'truncated', animated: false }).autoOrient();
      const meta = await pipeline.metadata();
      if (!meta.width || !meta.height) throw new Error('no image dimensions in the header');
      width = meta.autoOrient?.width ?? meta.width;
      height = meta.autoOrient?.height ?? meta.height;
    }
    const t = targetSize(width, height, options);
    const { data, info } = await pipeline
      .resize({ width: t.width, height: t.height, fit: 'cover', position: 'centre' })
      .flatten({ background: { r: 0, g: 0, b: 0 } })
      .toColourspace('srgb')
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new Error(`decoder produced ${info.channels} channels, expected 3`);
    return { width: info.width, height: info.height, channels: 3, data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
  } catch (e) {
    throw new ImageDecodeError(what, errorText(e).split('\n')[0]!.trim());
  }
}

/**
 * The browser data set's decoder contract (browser-dataset.ts PixelDecoder) with this file's
 * decoder, so the worker's session runs in Node on exactly the pixels the CLI trains on.
 */
export async function decodeImageBlobWithSharp(blob: Blob, options: DecodeOptions & { path?: string }): Promise<PixelImage> {
  const bytes = new Uint8Array(await blob.arrayBuffer());
  const what = options.path ?? 'image';
  const type = sniffImageType(bytes);
  if (!type || type === 'heic' || type === 'tiff' || type === 'jxl') throw new ImageDecodeError(what, `not a decodable image (${type ?? 'unknown type'})`);
  return decodeImageSource(bytes, type, options, what);
}

export interface DecodedFolder {
  /** The index with decode failures moved to `skipped` (reason code 'decode-failed'). */
  index: FolderIndex;
  /** Decoded pixels, aligned with index.images. */
  images: PixelImage[];
}

/** Decodes every indexed image (bounded concurrency); failures are skipped with their reason. */
export async function decodeFolder(
  index: FolderIndex,
  options: DecodeOptions & { concurrency?: number; onProgress?: (done: number, total: number) => void },
): Promise<DecodedFolder> {
  let done = 0;
  const results = await mapLimited(index.images, options.concurrency ?? 4, async (im) => {
    const abs = index.absPaths.get(im.path) ?? join(index.root, im.path);
    try {
      return await decodeImageFile(abs, im.type, options);
    } catch (e) {
      return e instanceof ImageDecodeError ? e : new ImageDecodeError(abs, errorText(e));
    } finally {
      options.onProgress?.(++done, index.images.length);
    }
  });
  let next: ImageIndex = index;
  const images: PixelImage[] = [];
  results.forEach((r, i) => {
    if (r instanceof ImageDecodeError) next = markDecodeFailed(next, index.images[i]!.path, r.detail);
    else images.push(r);
  });
  return { index: { ...next, root: index.root, absPaths: index.absPaths }, images };
}

/** (path, code, reason) lines for the run folder's skipped-files list; header first. */
export function formatSkippedTsv(skipped: readonly SkippedFile[]): string {
  const clean = (s: string) => s.replace(/[\t\n\r]/g, ' ');
  return ['path\tcode\treason', ...skipped.map((s) => `${clean(s.path)}\t${s.code}\t${clean(s.reason)}`)].join('\n') + '\n';
}
