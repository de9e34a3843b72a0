// The built-in demo dataset (public/demo/, made by scripts/build-demo-dataset.ts): the manifest
// format, its validation, and unpacking of the labelled Fashion-MNIST probe set. Pure, so the
// worker (after fetch) and Node tests (after readFile) share it.
//
// Layout under the demo base URL:
//   manifest.json                       this file's DemoManifest
//   natural/<photo>-NNN.jpg             square colour crops, natural.width × natural.height
//   fashion/fashion-mnist-t10k-1000.u8  uint8 (count, height, width), grayscale, 0 = background

import type { PixelImage } from './image.ts';
import type { ImageIndex } from './indexing.ts';

export const FASHION_MNIST_CLASSES = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'] as const;

export interface DemoManifest {
  version: 1;
  /** Seed the builder used for crops and flips. */
  seed: number;
  natural: {
    width: number;
    height: number;
    /** Paths relative to the manifest, with the photo each crop came from. */
    files: { path: string; source: string }[];
    sources: { name: string; file: string; credit: string; licence: string; url: string }[];
  };
  fashion: {
    /** Raw uint8 (count, height, width), relative to the manifest. */
    file: string;
    count: number;
    width: number;
    height: number;
    classes: string[];
    /** Class index per image, (count). */
    labels: number[];
    /** Index of each image in the original t10k split, (count). */
    sourceIndices: number[];
    source: string;
  };
}

export class DemoManifestError extends Error {
  override readonly name = 'DemoManifestError';
  constructor(detail: string) {
    super(`demo manifest: ${detail} (rebuild it with: npx tsx scripts/build-demo-dataset.ts)`);
  }
}

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function positiveInt(x: unknown, what: string): number {
  if (typeof x !== 'number' || !Number.isInteger(x) || x <= 0) throw new DemoManifestError(`${what} must be a positive integer, got ${JSON.stringify(x)}`);
  return x;
}

/** Validates parsed manifest.json; throws DemoManifestError naming the bad field. */
export function parseDemoManifest(json: unknown): DemoManifest {
  if (!isObject(json)) throw new DemoManifestError('not a JSON object');
  if (json.version !== 1) throw new DemoManifestError(`unsupported version ${JSON.stringify(json.version)}`);
  const natural = json.natural;
  const fashion = json.fashion;
  if (!isObject(natural)) throw new DemoManifestError('missing "natural"');
  if (!isObject(fashion)) throw new DemoManifestError('missing "fashion"');
  positiveInt(natural.width, 'natural.width');
  positiveInt(natural.height, 'natural.height');
  if (!Array.isArray(natural.files) || natural.files.length === 0) throw new DemoManifestError('natural.files must be a non-empty list');
  natural.files.forEach((f: unknown, i) => {
    if (!isObject(f) || typeof f.path !== 'string' || typeof f.source !== 'string') throw new DemoManifestError(`natural.files[${i}] needs string "path" and "source"`);
  });
  if (!Array.isArray(natural.sources)) throw new DemoManifestError('natural.sources must be a list');
  if (typeof fashion.file !== 'string') throw new DemoManifestError('fashion.file must be a string');
  const count = positiveInt(fashion.count, 'fashion.count');
  positiveInt(fashion.width, 'fashion.width');
  positiveInt(fashion.height, 'fashion.height');
  const classes = fashion.classes;
  if (!Array.isArray(classes) || classes.length === 0 || !classes.every((c) => typeof c === 'string')) throw new DemoManifestError('fashion.classes must be a list of names');
  const labels = fashion.labels;
  if (!Array.isArray(labels) || labels.length !== count) throw new DemoManifestError(`fashion.labels must list ${count} labels, has ${Array.isArray(labels) ? labels.length : 'none'}`);
  labels.forEach((l: unknown, i) => {
    if (typeof l !== 'number' || !Number.isInteger(l) || l < 0 || l >= classes.length) throw new DemoManifestError(`fashion.labels[${i}] = ${JSON.stringify(l)} is not a class index below ${classes.length}`);
  });
  if (!Array.isArray(fashion.sourceIndices) || fashion.sourceIndices.length !== count) throw new DemoManifestError(`fashion.sourceIndices must list ${count} indices`);
  return json as unknown as DemoManifest;
}

/** The demo photos as an ImageIndex (unlabelled), paths relative to the manifest. */
export function demoNaturalIndex(manifest: DemoManifest): ImageIndex {
  const images = manifest.natural.files.map((f) => ({ path: f.path, type: 'jpeg' as const, size: 0 }));
  return { images, classes: [], skipped: [] };
}

export interface LabelledImages {
  /** RGB images (gray replicated to 3 channels), (height, width, 3) each. */
  images: PixelImage[];
  labels: Int32Array; // (count)
  classes: string[];
}

/** Unpacks the raw Fashion-MNIST file into RGB images with labels. */
export function unpackFashion(bytes: Uint8Array, fashion: DemoManifest['fashion']): LabelledImages {
  const { count, width, height } = fashion;
  const per = width * height;
  if (bytes.length !== count * per) {
    throw new DemoManifestError(`${fashion.file} has ${bytes.length} bytes, expected count·height·width = ${count}·${height}·${width} = ${count * per}`);
  }
  const images: PixelImage[] = [];
  for (let n = 0; n < count; n++) {
    const rgb = new Uint8Array(per * 3); // (height, width, 3)
    for (let i = 0; i < per; i++) {
      const v = bytes[n * per + i]!;
      rgb[i * 3] = v;
      rgb[i * 3 + 1] = v;
      rgb[i * 3 + 2] = v;
    }
    images.push({ width, height, channels: 3, data: rgb });
  }
  return { images, labels: Int32Array.from(fashion.labels), classes: [...fashion.classes] };
}
