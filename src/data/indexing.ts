// Turns a list of files (from a dropped folder, a directory picker, a zip or a Node directory
// walk) into an ImageIndex: which files are images we can decode, their class labels, and
// every other file with the reason it was skipped. Pure and synchronous (no DOM, no fs), so
// the browser worker and the Node CLI share one set of rules.
//
// Content beats names: when the first bytes of a file are given (`head`, SNIFF_BYTES of them)
// the magic bytes decide the type, so a PNG saved as .jpg is read as PNG and a text file named
// .jpg is skipped. Without `head`, the extension (then the MIME type) decides.
// Labels: when every accepted image sits under a first-level subfolder of the root, that
// subfolder's name is its label (ImageFolder convention); otherwise nothing is labelled.

/** Types the playground decodes (Chrome's createImageBitmap; sharp + bmp.ts in Node). */
export type ImageType = 'jpeg' | 'png' | 'webp' | 'gif' | 'bmp' | 'avif';

/** What sniffImageType can recognise: decodable types plus image formats Chrome cannot decode. */
export type SniffedType = ImageType | 'heic' | 'tiff' | 'jxl';

/** Bytes of each file's start that sniffImageType needs (ISO-BMFF brand lists included). */
export const SNIFF_BYTES = 64;

export type SkipCode =
  | 'hidden' // dotfile, or inside a hidden / __MACOSX folder
  | 'empty' // zero bytes
  | 'not-image' // a known non-image kind (text, document, archive...)
  | 'unsupported-image' // an image format Chrome cannot decode (HEIC, TIFF, JPEG XL, RAW, SVG...)
  | 'unknown-type' // neither extension, MIME type nor content says image
  | 'corrupt' // extension says image, content is not that (or anything decodable)
  | 'duplicate' // same path listed twice
  | 'decode-failed' // set by decoders later (truncated data, bad header...)
  | 'unreadable'; // set by walkers: permission denied, symlink loop...

export interface SkippedFile {
  path: string;
  code: SkipCode;
  /** One sentence a user can act on. */
  reason: string;
}

export interface IndexInput {
  /** Path relative to the dropped/picked root, '/' separated ('\\' accepted too). */
  path: string;
  size: number;
  /** MIME type as the browser reports it, if any ('' counts as absent). */
  mimeType?: string;
  /** The file's first bytes (up to SNIFF_BYTES); enables content sniffing. */
  head?: Uint8Array;
}

export interface IndexedImage {
  /** Normalised path relative to the original root ('/' separated, no leading slash). */
  path: string;
  type: ImageType;
  size: number;
  label?: string;
  /** Index into ImageIndex.classes; present exactly when `label` is. */
  labelIndex?: number;
}

export interface ImageIndex {
  /** Accepted images sorted by path (code-point order), so runs are reproducible. */
  images: IndexedImage[];
  /** Sorted class names; empty when unlabelled. */
  classes: string[];
  /** Every rejected file with its reason, sorted by path. */
  skipped: SkippedFile[];
}

export interface IndexOptions {
  /**
   * Path prefix that is the dataset root (labels are read below it). Default: inferred; when
   * every path starts with the same folder (a dropped or picked folder keeps its own name as
   * the first segment), that folder is the root. Pass '' when paths are already relative to
   * the root.
   */
  root?: string;
}

function ascii(bytes: Uint8Array, start: number, length: number): string {
  let s = '';
  for (let i = start; i < start + length && i < bytes.length; i++) s += String.fromCharCode(bytes[i]!);
  return s;
}

const HEIC_BRANDS = new Set(['heic', 'heix', 'hevc', 'hevx', 'heim', 'heis', 'hevm', 'hevs', 'mif1', 'msf1', 'mif2']);

// ISO base media file (AVIF, HEIC): 'ftyp' box with a major brand and compatible brands. A
// file listing 'avif' anywhere is AVIF even when its major brand is the generic 'mif1'.
function sniffFtyp(bytes: Uint8Array): SniffedType | null {
  if (bytes.length < 12 || ascii(bytes, 4, 4) !== 'ftyp') return null;
  const boxSize = ((bytes[0]! << 24) | (bytes[1]! << 16) | (bytes[2]! << 8) | bytes[3]!) >>> 0;
  const end = Math.min(boxSize >= 16 ? boxSize : 16, bytes.length);
  const brands = [ascii(bytes, 8, 4)];
  for (let o = 16; o + 4 <= end; o += 4) brands.push(ascii(bytes, o, 4));
  if (brands.some((b) => b === 'avif' || b === 'avis')) return 'avif';
  if (brands.some((b) => HEIC_BRANDS.has(b))) return 'heic';
  return null;
}

/** BMP DIB header sizes that exist (core, v2..v5, OS/2 2.x). */
const BMP_HEADER_SIZES = new Set([12, 16, 40, 52, 56, 64, 108, 124]);

/**
 * Identifies an image by its magic bytes (pass at least SNIFF_BYTES when available). Returns
 * null for anything else, including text, SVG (XML text) and truncated heads.
 */
export function sniffImageType(bytes: Uint8Array): SniffedType | null {
  const b = bytes;
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return 'jpeg';
  if (b.length >= 8 && b[0] === 0x89 && ascii(b, 1, 3) === 'PNG' && b[4] === 0x0d && b[5] === 0x0a && b[6] === 0x1a && b[7] === 0x0a) return 'png';
  if (b.length >= 6 && (ascii(b, 0, 6) === 'GIF87a' || ascii(b, 0, 6) === 'GIF89a')) return 'gif';
  if (b.length >= 12 && ascii(b, 0, 4) === 'RIFF' && ascii(b, 8, 4) === 'WEBP') return 'webp';
  if (b.length >= 2 && b[0] === 0x42 && b[1] === 0x4d) {
    // "BM" alone also starts plain text; require a known DIB header size when we can see it.
    if (b.length < 18) return 'bmp';
    const dib = b[14]! | (b[15]! << 8) | (b[16]! << 16) | (b[17]! << 24);
    return BMP_HEADER_SIZES.has(dib) ? 'bmp' : null;
  }
  const ftyp = sniffFtyp(b);
  if (ftyp) return ftyp;
  if (b.length >= 4 && ((ascii(b, 0, 2) === 'II' && b[2] === 42 && b[3] === 0) || (ascii(b, 0, 2) === 'MM' && b[2] === 0 && b[3] === 42))) return 'tiff';
  if (b.length >= 2 && b[0] === 0xff && b[1] === 0x0a) return 'jxl';
  if (b.length >= 12 && b[0] === 0 && b[1] === 0 && b[2] === 0 && b[3] === 0x0c && ascii(b, 4, 8) === 'JXL \r\n\x87\n') return 'jxl';
  return null;
}

const EXTENSION_TYPES: Record<string, SniffedType> = {
  jpg: 'jpeg', jpeg: 'jpeg', jpe: 'jpeg', jfif: 'jpeg', pjpeg: 'jpeg', pjp: 'jpeg',
  png: 'png', apng: 'png',
  webp: 'webp',
  gif: 'gif',
  bmp: 'bmp', dib: 'bmp',
  avif: 'avif',
  heic: 'heic', heif: 'heic', hif: 'heic',
  tif: 'tiff', tiff: 'tiff',
  jxl: 'jxl',
};

const MIME_TYPES: Record<string, SniffedType> = {
  'image/jpeg': 'jpeg', 'image/pjpeg': 'jpeg', 'image/png': 'png', 'image/apng': 'png', 'image/webp': 'webp',
  'image/gif': 'gif', 'image/bmp': 'bmp', 'image/x-ms-bmp': 'bmp', 'image/avif': 'avif',
  'image/heic': 'heic', 'image/heif': 'heic', 'image/heic-sequence': 'heic', 'image/heif-sequence': 'heic',
  'image/tiff': 'tiff', 'image/jxl': 'jxl',
};

// Image formats recognised by name only, none decodable by Chrome.
const OTHER_IMAGE_EXTENSIONS: Record<string, string> = {
  svg: 'SVG is a vector format, not a photo: export it as PNG',
  psd: 'Photoshop files are not decodable by Chrome: export as JPEG or PNG',
  ico: 'icons are not used for training: convert to PNG if you want them',
  cr2: 'camera RAW is not decodable by Chrome: convert to JPEG',
  cr3: 'camera RAW is not decodable by Chrome: convert to JPEG',
  nef: 'camera RAW is not decodable by Chrome: convert to JPEG',
  arw: 'camera RAW is not decodable by Chrome: convert to JPEG',
  dng: 'camera RAW is not decodable by Chrome: convert to JPEG',
  orf: 'camera RAW is not decodable by Chrome: convert to JPEG',
  raf: 'camera RAW is not decodable by Chrome: convert to JPEG',
  rw2: 'camera RAW is not decodable by Chrome: convert to JPEG',
  jp2: 'JPEG 2000 is not decodable by Chrome: convert to JPEG',
  exr: 'OpenEXR is not decodable by Chrome: convert to PNG',
  hdr: 'Radiance HDR is not decodable by Chrome: convert to PNG',
};

const UNDECODABLE_REASONS: Record<'heic' | 'tiff' | 'jxl', string> = {
  heic: 'HEIC is not decodable by Chrome: convert to JPEG',
  tiff: 'TIFF is not decodable by Chrome: convert to PNG or JPEG',
  jxl: 'JPEG XL is not decodable by Chrome: convert to JPEG',
};

const NON_IMAGE_EXTENSIONS = new Set([
  'txt', 'md', 'csv', 'tsv', 'json', 'jsonl', 'xml', 'yaml', 'yml', 'html', 'htm', 'log', 'ini', 'cfg', 'toml',
  'pdf', 'doc', 'docx', 'xls', 'xlsx', 'ppt', 'pptx', 'rtf',
  'zip', 'tar', 'gz', 'tgz', 'bz2', 'xz', '7z', 'rar',
  'py', 'js', 'ts', 'sh', 'ipynb', 'c', 'h', 'cpp',
  'mp4', 'mov', 'avi', 'mkv', 'webm', 'mp3', 'wav', 'flac', 'm4a',
  'db', 'sqlite', 'npy', 'npz', 'pt', 'pth', 'bin', 'pkl', 'h5', 'mat', 'exe', 'dll', 'so',
]);

const TYPE_NAMES: Record<SniffedType, string> = {
  jpeg: 'JPEG', png: 'PNG', webp: 'WebP', gif: 'GIF', bmp: 'BMP', avif: 'AVIF', heic: 'HEIC', tiff: 'TIFF', jxl: 'JPEG XL',
};

function isDecodable(t: SniffedType): t is ImageType {
  return t !== 'heic' && t !== 'tiff' && t !== 'jxl';
}

/** '/'-separated, no leading './' or '/', no empty segments. */
export function normalisePath(path: string): string {
  return path
    .replace(/\\/g, '/')
    .split('/')
    .filter((s) => s !== '' && s !== '.')
    .join('/');
}

function extensionOf(name: string): string {
  const dot = name.lastIndexOf('.');
  return dot > 0 ? name.slice(dot + 1).toLowerCase() : '';
}

/** Dotfiles (.DS_Store, ._AppleDouble), hidden folders (.git), macOS archive debris. */
function hiddenReason(segments: string[]): string | null {
  for (let i = 0; i < segments.length; i++) {
    const s = segments[i]!;
    const isFile = i === segments.length - 1;
    if (s === '__MACOSX') return 'inside a __MACOSX folder (macOS archive metadata)';
    if (s.startsWith('.')) return isFile ? `hidden file (${s})` : `inside hidden folder ${s}`;
    if (isFile && (s === 'Thumbs.db' || s === 'desktop.ini')) return `system file (${s})`;
  }
  return null;
}

type Classified = { ok: true; type: ImageType } | { ok: false; code: SkipCode; reason: string };

function classify(file: IndexInput, name: string): Classified {
  const ext = extensionOf(name);
  const byExt: SniffedType | undefined = EXTENSION_TYPES[ext];
  const mime = (file.mimeType ?? '').toLowerCase();
  const byMime: SniffedType | undefined = MIME_TYPES[mime];
  if (file.head && file.head.length > 0) {
    const sniffed = sniffImageType(file.head);
    if (sniffed) {
      if (isDecodable(sniffed)) return { ok: true, type: sniffed };
      return { ok: false, code: 'unsupported-image', reason: UNDECODABLE_REASONS[sniffed] };
    }
    if (byExt || byMime) {
      const claimed = TYPE_NAMES[(byExt ?? byMime)!];
      return { ok: false, code: 'corrupt', reason: `named as ${claimed} but the contents are not a known image format (corrupt, truncated or mislabelled)` };
    }
  } else {
    const t = byExt ?? byMime;
    if (t) {
      if (isDecodable(t)) return { ok: true, type: t };
      return { ok: false, code: 'unsupported-image', reason: UNDECODABLE_REASONS[t] };
    }
  }
  if (OTHER_IMAGE_EXTENSIONS[ext]) return { ok: false, code: 'unsupported-image', reason: OTHER_IMAGE_EXTENSIONS[ext] };
  if (NON_IMAGE_EXTENSIONS.has(ext)) return { ok: false, code: 'not-image', reason: `not an image (.${ext} file)` };
  if (mime && !mime.startsWith('image/') && mime !== 'application/octet-stream') {
    return { ok: false, code: 'not-image', reason: `not an image (${mime})` };
  }
  if (mime === 'image/svg+xml') return { ok: false, code: 'unsupported-image', reason: OTHER_IMAGE_EXTENSIONS.svg! };
  return {
    ok: false,
    code: 'unknown-type',
    reason: ext ? `unknown file type .${ext}: neither its name nor its contents say it is a supported image` : 'no extension, and its contents are not a supported image',
  };
}

function inferRoot(paths: string[]): string {
  if (paths.length === 0) return '';
  let first: string | null = null;
  for (const p of paths) {
    const slash = p.indexOf('/');
    if (slash < 0) return ''; // a file sits at the top level: no common folder
    const head = p.slice(0, slash);
    if (first === null) first = head;
    else if (head !== first) return '';
  }
  return first ?? '';
}

const byPath = (a: { path: string }, b: { path: string }): number => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0);

/** Index a file list: accepted images (with labels when the layout has class folders) and skipped files with reasons. */
export function indexFiles(files: readonly IndexInput[], options: IndexOptions = {}): ImageIndex {
  const paths = files.map((f) => normalisePath(f.path));
  const root = options.root !== undefined ? normalisePath(options.root) : inferRoot(paths);
  const rootPrefix = root ? `${root}/` : '';

  const skipped: SkippedFile[] = [];
  const accepted: { path: string; rel: string[]; type: ImageType; size: number }[] = [];
  const seen = new Set<string>();
  files.forEach((file, i) => {
    const path = paths[i]!;
    if (seen.has(path)) {
      skipped.push({ path, code: 'duplicate', reason: 'listed twice; the first copy is used' });
      return;
    }
    seen.add(path);
    const relPath = rootPrefix && path.startsWith(rootPrefix) ? path.slice(rootPrefix.length) : path;
    const rel = relPath.split('/');
    const name = rel[rel.length - 1] ?? '';
    if (!name) {
      skipped.push({ path, code: 'unknown-type', reason: 'empty file name' });
      return;
    }
    const hidden = hiddenReason(rel);
    if (hidden) {
      skipped.push({ path, code: 'hidden', reason: hidden });
      return;
    }
    if (file.size === 0) {
      skipped.push({ path, code: 'empty', reason: 'empty file (0 bytes)' });
      return;
    }
    const c = classify(file, name);
    if (!c.ok) {
      skipped.push({ path, code: c.code, reason: c.reason });
      return;
    }
    accepted.push({ path, rel, type: c.type, size: file.size });
  });

  const labelled = accepted.length > 0 && accepted.every((a) => a.rel.length >= 2);
  const classes = labelled ? [...new Set(accepted.map((a) => a.rel[0]!))].sort() : [];
  const classIndex = new Map(classes.map((c, i) => [c, i]));
  const images: IndexedImage[] = accepted.map((a) =>
    labelled ? { path: a.path, type: a.type, size: a.size, label: a.rel[0]!, labelIndex: classIndex.get(a.rel[0]!)! } : { path: a.path, type: a.type, size: a.size },
  );
  images.sort(byPath);
  skipped.sort(byPath);
  return { images, classes, skipped };
}

/** Counts of skipped files per code, for a one-line summary ("3 hidden, 1 corrupt"). */
export function summariseSkipped(skipped: readonly SkippedFile[]): Partial<Record<SkipCode, number>> {
  const out: Partial<Record<SkipCode, number>> = {};
  for (const s of skipped) out[s.code] = (out[s.code] ?? 0) + 1;
  return out;
}

/**
 * Moves an image that failed to decode from `images` to `skipped` (decoders find corrupt or
 * truncated files only when they read them). Returns a new index; classes are kept so label
 * indices stay stable across a run.
 */
export function markDecodeFailed(index: ImageIndex, path: string, detail: string): ImageIndex {
  const images = index.images.filter((im) => im.path !== path);
  if (images.length === index.images.length) return index;
  const skipped = [...index.skipped, { path, code: 'decode-failed' as const, reason: `could not be decoded (${detail}): corrupt or truncated image` }];
  skipped.sort(byPath);
  return { images, classes: index.classes, skipped };
}
