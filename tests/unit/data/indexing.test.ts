// Dataset indexing: magic-byte sniffing, skip reasons, class labels from subfolders.
import { describe, expect, it } from 'vitest';
import { type IndexInput, indexFiles, markDecodeFailed, normalisePath, sniffImageType, summariseSkipped } from '../../../src/data/indexing.ts';

const bytes = (...parts: (number[] | string)[]): Uint8Array =>
  Uint8Array.from(parts.flatMap((p) => (typeof p === 'string' ? [...p].map((c) => c.charCodeAt(0)) : p)));
const u32be = (v: number) => [(v >>> 24) & 255, (v >>> 16) & 255, (v >>> 8) & 255, v & 255];
const u32le = (v: number) => [v & 255, (v >>> 8) & 255, (v >>> 16) & 255, (v >>> 24) & 255];

// Heads of real files of each kind (first bytes as the encoders write them).
const HEADS = {
  jpeg: bytes([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10], 'JFIF', [0, 1, 1]),
  png: bytes([0x89], 'PNG', [0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13], 'IHDR'),
  gif87: bytes('GIF87a', [1, 0, 1, 0]),
  gif89: bytes('GIF89a', [1, 0, 1, 0]),
  webp: bytes('RIFF', u32le(1234), 'WEBP', 'VP8 '),
  bmp: bytes('BM', u32le(70), [0, 0, 0, 0], u32le(54), u32le(40), u32le(1), u32le(1)),
  bmpCore: bytes('BM', u32le(30), [0, 0, 0, 0], u32le(26), u32le(12), [1, 0, 1, 0]),
  avif: bytes(u32be(32), 'ftyp', 'avif', u32be(0), 'avif', 'mif1', 'miaf', 'MA1A'),
  avifGenericMajor: bytes(u32be(28), 'ftyp', 'mif1', u32be(0), 'mif1', 'avif', 'miaf'),
  heic: bytes(u32be(24), 'ftyp', 'heic', u32be(0), 'mif1', 'heic'),
  heifGeneric: bytes(u32be(24), 'ftyp', 'mif1', u32be(0), 'mif1', 'heic'),
  tiffLE: bytes('II', [42, 0, 8, 0, 0, 0]),
  tiffBE: bytes('MM', [0, 42, 0, 0, 0, 8]),
  jxl: bytes([0xff, 0x0a, 0xfa]),
  jxlBox: bytes(u32be(12), 'JXL ', [0x0d, 0x0a, 0x87, 0x0a]),
  text: bytes('hello, these are notes about the dataset\n'),
  bmText: bytes('BMW photos to sort later, see list below'),
  svg: bytes('<?xml version="1.0"?><svg xmlns='),
  pdf: bytes('%PDF-1.7\n'),
  mp4: bytes(u32be(24), 'ftyp', 'isom', u32be(0), 'isom', 'mp41'),
};

describe('sniffImageType', () => {
  it.each([
    ['jpeg', 'jpeg'],
    ['png', 'png'],
    ['gif87', 'gif'],
    ['gif89', 'gif'],
    ['webp', 'webp'],
    ['bmp', 'bmp'],
    ['bmpCore', 'bmp'],
    ['avif', 'avif'],
    ['avifGenericMajor', 'avif'],
    ['heic', 'heic'],
    ['heifGeneric', 'heic'],
    ['tiffLE', 'tiff'],
    ['tiffBE', 'tiff'],
    ['jxl', 'jxl'],
    ['jxlBox', 'jxl'],
  ] as const)('%s → %s', (head, type) => {
    expect(sniffImageType(HEADS[head])).toBe(type);
  });

  it.each(['text', 'bmText', 'svg', 'pdf', 'mp4'] as const)('%s → not an image', (head) => {
    expect(sniffImageType(HEADS[head])).toBeNull();
  });

  it('truncated heads are not recognised', () => {
    expect(sniffImageType(HEADS.png.subarray(0, 5))).toBeNull();
    expect(sniffImageType(HEADS.jpeg.subarray(0, 2))).toBeNull();
    expect(sniffImageType(HEADS.webp.subarray(0, 10))).toBeNull();
    expect(sniffImageType(new Uint8Array(0))).toBeNull();
  });
});

describe('indexFiles', () => {
  const f = (path: string, head?: Uint8Array, size = 1000, mimeType?: string): IndexInput => ({ path, size, head, mimeType });

  it('labels from first-level class folders (nested deeper too), >100 files in one folder, sorted', () => {
    const files: IndexInput[] = [];
    for (let i = 149; i >= 0; i--) files.push(f(`pets/cat/img${String(i).padStart(3, '0')}.jpg`, HEADS.jpeg));
    files.push(f('pets/dog/a.png', HEADS.png), f('pets/dog/puppies/b.webp', HEADS.webp), f('pets/bird/deep/er/c.gif', HEADS.gif89));
    const index = indexFiles(files);
    expect(index.images.length).toBe(153);
    expect(index.skipped).toEqual([]);
    expect(index.classes).toEqual(['bird', 'cat', 'dog']);
    expect(index.images[0]).toEqual({ path: 'pets/bird/deep/er/c.gif', type: 'gif', size: 1000, label: 'bird', labelIndex: 0 });
    expect(index.images[1]!.path).toBe('pets/cat/img000.jpg');
    expect(index.images[150]!.path).toBe('pets/cat/img149.jpg');
    expect(index.images.find((x) => x.path.endsWith('b.webp'))).toMatchObject({ label: 'dog', labelIndex: 2, type: 'webp' });
    expect(index.images.filter((x) => x.label === 'cat').length).toBe(150);
  });

  it('unlabelled when any image sits at the root; root given explicitly', () => {
    const index = indexFiles([f('set/a/1.jpg', HEADS.jpeg), f('set/top.jpg', HEADS.jpeg)]);
    expect(index.classes).toEqual([]);
    expect(index.images.every((x) => x.label === undefined && x.labelIndex === undefined)).toBe(true);
    // Paths already relative to the root: 'a' and 'b' are classes, not a root folder.
    const rel = indexFiles([f('a/1.jpg', HEADS.jpeg), f('b/2.jpg', HEADS.jpeg)], { root: '' });
    expect(rel.classes).toEqual(['a', 'b']);
    // A single folder dropped: its name is the root, so files directly in it are unlabelled.
    expect(indexFiles([f('a/1.jpg', HEADS.jpeg), f('a/2.jpg', HEADS.jpeg)]).classes).toEqual([]);
    // Drag-and-drop fullPath style and Windows separators normalise the same way.
    expect(normalisePath('/pets\\cat//./x.jpg')).toBe('pets/cat/x.jpg');
    const dropped = indexFiles([f('/pets/cat/x.jpg', HEADS.jpeg), f('\\pets\\dog\\y.jpg', HEADS.jpeg)]);
    expect(dropped.images.map((x) => [x.path, x.label])).toEqual([
      ['pets/cat/x.jpg', 'cat'],
      ['pets/dog/y.jpg', 'dog'],
    ]);
  });

  it('skips junk with specific reasons and keeps going', () => {
    const index = indexFiles([
      f('data/cat/ok.jpg', HEADS.jpeg),
      f('data/cat/.DS_Store', HEADS.text),
      f('data/cat/._ok.jpg', HEADS.jpeg), // AppleDouble resource fork
      f('data/__MACOSX/cat/ok.jpg', HEADS.jpeg),
      f('data/.git/objects/ab/cd.png', HEADS.png),
      f('data/cat/Thumbs.db', HEADS.text),
      f('data/cat/empty.jpg', new Uint8Array(0), 0),
      f('data/cat/notes.txt', HEADS.text),
      f('data/cat/readme', HEADS.text),
      f('data/cat/broken.jpg', HEADS.text), // text saved as .jpg
      f('data/cat/phone.heic', HEADS.heic),
      f('data/cat/phone-renamed.jpg', HEADS.heic), // HEIC content named .jpg
      f('data/cat/scan.tif', HEADS.tiffLE),
      f('data/cat/logo.svg', HEADS.svg),
      f('data/cat/mystery.xyz', HEADS.text),
      f('data/cat/really-png.jpg', HEADS.png),
      f('data/cat/ok.jpg', HEADS.jpeg), // listed twice
    ]);
    expect(index.images.map((x) => [x.path, x.type])).toEqual([
      ['data/cat/ok.jpg', 'jpeg'],
      ['data/cat/really-png.jpg', 'png'],
    ]);
    const reasons = Object.fromEntries(index.skipped.map((s) => [s.path, `${s.code}: ${s.reason}`]));
    expect(reasons).toEqual({
      'data/cat/.DS_Store': 'hidden: hidden file (.DS_Store)',
      'data/cat/._ok.jpg': 'hidden: hidden file (._ok.jpg)',
      'data/__MACOSX/cat/ok.jpg': 'hidden: inside a __MACOSX folder (macOS archive metadata)',
      'data/.git/objects/ab/cd.png': 'hidden: inside hidden folder .git',
      'data/cat/Thumbs.db': 'hidden: system file (Thumbs.db)',
      'data/cat/empty.jpg': 'empty: empty file (0 bytes)',
      'data/cat/notes.txt': 'not-image: not an image (.txt file)',
      'data/cat/readme': 'unknown-type: no extension, and its contents are not a supported image',
      'data/cat/broken.jpg': 'corrupt: named as JPEG but the contents are not a known image format (corrupt, truncated or mislabelled)',
      'data/cat/phone.heic': 'unsupported-image: HEIC is not decodable by Chrome: convert to JPEG',
      'data/cat/phone-renamed.jpg': 'unsupported-image: HEIC is not decodable by Chrome: convert to JPEG',
      'data/cat/scan.tif': 'unsupported-image: TIFF is not decodable by Chrome: convert to PNG or JPEG',
      'data/cat/logo.svg': 'unsupported-image: SVG is a vector format, not a photo: export it as PNG',
      'data/cat/mystery.xyz': 'unknown-type: unknown file type .xyz: neither its name nor its contents say it is a supported image',
      'data/cat/ok.jpg': 'duplicate: listed twice; the first copy is used',
    });
    expect(index.skipped.length).toBe(15);
    expect(summariseSkipped(index.skipped)).toEqual({ hidden: 5, empty: 1, 'not-image': 1, 'unknown-type': 2, corrupt: 1, 'unsupported-image': 4, duplicate: 1 });
    expect(index.classes).toEqual(['cat']);
  });

  it('without content: extension, then MIME type, decide', () => {
    const index = indexFiles(
      [
        f('a.JPEG'),
        f('b.Png'),
        f('c.webp'),
        f('d.gif'),
        f('e.bmp'),
        f('f.avif'),
        f('g.HEIC'),
        f('blob', undefined, 10, 'image/webp'),
        f('blob2', undefined, 10, 'image/heif'),
        f('page', undefined, 10, 'text/html'),
        f('x.dat', undefined, 10, 'application/octet-stream'),
      ],
      { root: '' },
    );
    expect(index.images.map((x) => `${x.path}:${x.type}`)).toEqual(['a.JPEG:jpeg', 'b.Png:png', 'blob:webp', 'c.webp:webp', 'd.gif:gif', 'e.bmp:bmp', 'f.avif:avif']);
    expect(index.skipped.map((s) => `${s.path}:${s.code}`)).toEqual(['blob2:unsupported-image', 'g.HEIC:unsupported-image', 'page:not-image', 'x.dat:unknown-type']);
  });

  it('content wins over a misleading MIME type and extension', () => {
    const index = indexFiles([f('photo.txt', HEADS.jpeg, 10, 'text/plain'), f('pic.bmp', HEADS.bmText)], { root: '' });
    expect(index.images.map((x) => `${x.path}:${x.type}`)).toEqual(['photo.txt:jpeg']);
    expect(index.skipped.map((s) => `${s.path}:${s.code}`)).toEqual(['pic.bmp:corrupt']);
  });

  it('decode failures move an image to skipped, keeping class indices', () => {
    const index = indexFiles([f('r/a/1.jpg', HEADS.jpeg), f('r/b/2.jpg', HEADS.jpeg)]);
    const after = markDecodeFailed(index, 'r/a/1.jpg', 'Premature end of JPEG file');
    expect(after.images.map((x) => x.path)).toEqual(['r/b/2.jpg']);
    expect(after.images[0]!.labelIndex).toBe(1);
    expect(after.classes).toEqual(['a', 'b']);
    expect(after.skipped).toEqual([{ path: 'r/a/1.jpg', code: 'decode-failed', reason: 'could not be decoded (Premature end of JPEG file): corrupt or truncated image' }]);
    expect(markDecodeFailed(after, 'nope.jpg', 'x')).toBe(after);
  });

  it('an empty list gives an empty index', () => {
    expect(indexFiles([])).toEqual({ images: [], classes: [], skipped: [] });
  });
});
