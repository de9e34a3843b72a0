// Builds the built-in demo dataset in public/demo/ from freely licensed data shipped by Debian:
//   natural/  300 colour JPEGs (160×160, quality 85): random square crops (side 30–100 % of the
//             shorter side), horizontal flips and rescales of six public-domain / CC0 photos
//             from python3-skimage (per-image licences: see PHOTOS below and ATTRIBUTION.md).
//   fashion/  1000 labelled Fashion-MNIST test images (100 per class, first occurrences in the
//             t10k order) packed as raw uint8 (N, 28, 28), labels in the manifest (MIT/Expat).
//   manifest.json, ATTRIBUTION.md and the packages' copyright files beside the data.
// Deterministic: a fixed seed (src/util/random.ts) and fixed encoder settings.
//
// Run: npx tsx scripts/build-demo-dataset.ts   (needs: apt-get install python3-skimage
// dataset-fashion-mnist; override the locations with SKIMAGE_DATA / FASHION_MNIST_DIR).
// Photos whose licence is unstated or unclear upstream (motorcycle (Middlebury), ihc,
// coins, moon, page...) and the non-photographic ones (logo, color wheel) are left out.

import { copyFile, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import sharp from 'sharp';
import { FASHION_MNIST_CLASSES, type DemoManifest } from '../src/data/demo.ts';
import { Random } from '../src/util/random.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const OUT = join(ROOT, 'public/demo');
const SKIMAGE = process.env.SKIMAGE_DATA ?? '/usr/lib/python3/dist-packages/skimage/data';
const FASHION = process.env.FASHION_MNIST_DIR ?? '/usr/share/datasets/fashion-mnist';
const SKIMAGE_COPYRIGHT = '/usr/share/doc/python3-skimage/copyright';
const FASHION_COPYRIGHT = '/usr/share/doc/dataset-fashion-mnist/copyright';

const SEED = 20240611;
const SIZE = 160;
const QUALITY = 85;
const PER_CLASS = 100;

interface Photo {
  file: string;
  name: string;
  crops: number;
  /** Crop centres stay within this central fraction of the image (retina: the fundus disc). */
  centralFraction: number;
  credit: string;
  licence: string;
  source: string;
}

// Credits and licences as stated in skimage/data/_fetchers.py (scikit-image 0.19, Debian).
const PHOTOS: Photo[] = [
  { file: 'astronaut.png', name: 'astronaut', crops: 55, centralFraction: 1, credit: 'NASA (Eileen Collins, NASA Great Images database)', licence: 'public domain (no known copyright restrictions)', source: 'https://flic.kr/p/r9qvLn' },
  { file: 'chelsea.png', name: 'chelsea', crops: 55, centralFraction: 1, credit: 'Stefan van der Walt (Chelsea the cat)', licence: 'CC0', source: 'scikit-image sample data' },
  { file: 'coffee.png', name: 'coffee', crops: 55, centralFraction: 1, credit: 'Rachel Michetti, courtesy of Pikolo Espresso Bar', licence: 'CC0', source: 'scikit-image sample data' },
  { file: 'rocket.jpg', name: 'rocket', crops: 55, centralFraction: 1, credit: 'SpaceX (launch of DSCOVR on Falcon 9)', licence: 'public domain (released by SpaceX)', source: 'https://www.flickr.com/photos/spacexphotos/16511594820/' },
  { file: 'hubble_deep_field.jpg', name: 'hubble_deep_field', crops: 45, centralFraction: 1, credit: 'NASA / HubbleSite (Hubble eXtreme Deep Field)', licence: 'public domain (NASA imagery)', source: 'http://hubblesite.org/newscenter/archive/releases/2012/37/image/a/' },
  { file: 'retina.jpg', name: 'retina', crops: 35, centralFraction: 0.55, credit: 'Mikael Häggström (fundus photograph of a normal left eye)', licence: 'CC0 1.0', source: 'https://commons.wikimedia.org/wiki/File:Fundus_photograph_of_normal_left_eye.jpg' },
];

async function readIdx(file: string, magic: number): Promise<{ dims: number[]; data: Uint8Array }> {
  const buf = gunzipSync(await readFile(file));
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  if (view.getUint32(0) !== magic) throw new Error(`${file}: IDX magic ${view.getUint32(0)} ≠ ${magic}`);
  const ndim = magic & 0xff;
  const dims = Array.from({ length: ndim }, (_, i) => view.getUint32(4 + 4 * i));
  return { dims, data: new Uint8Array(buf.buffer, buf.byteOffset + 4 + 4 * ndim) };
}

async function buildNatural(rng: Random): Promise<DemoManifest['natural']> {
  await mkdir(join(OUT, 'natural'), { recursive: true });
  const files: { path: string; source: string }[] = [];
  for (const photo of PHOTOS) {
    const input = sharp(join(SKIMAGE, photo.file)).removeAlpha().toColourspace('srgb');
    const { data, info } = await input.raw().toBuffer({ resolveWithObject: true });
    const { width, height } = info;
    const short = Math.min(width, height);
    for (let k = 0; k < photo.crops; k++) {
      const side = Math.max(SIZE / 2, Math.round(short * rng.range(0.3, 1.0)));
      const span = photo.centralFraction;
      // Centre within the central region, then clamp the square into the image.
      const cx = width / 2 + (rng.uniform() - 0.5) * width * span;
      const cy = height / 2 + (rng.uniform() - 0.5) * height * span;
      const left = Math.min(Math.max(0, Math.round(cx - side / 2)), width - side);
      const top = Math.min(Math.max(0, Math.round(cy - side / 2)), height - side);
      const flip = rng.uniform() < 0.5;
      let img = sharp(data, { raw: { width, height, channels: 3 } }).extract({ left, top, width: side, height: side });
      if (flip) img = img.flop();
      const jpeg = await img.resize(SIZE, SIZE, { kernel: 'lanczos3' }).jpeg({ quality: QUALITY }).toBuffer();
      const path = `natural/${photo.name}-${String(k).padStart(3, '0')}.jpg`;
      await writeFile(join(OUT, path), jpeg);
      files.push({ path, source: photo.name });
    }
  }
  return {
    width: SIZE,
    height: SIZE,
    files,
    sources: PHOTOS.map((p) => ({ name: p.name, file: p.file, credit: p.credit, licence: p.licence, url: p.source })),
  };
}

async function buildFashion(): Promise<DemoManifest['fashion']> {
  const imagesFile = join(FASHION, 't10k-images-idx3-ubyte.gz');
  const labelsFile = join(FASHION, 't10k-labels-idx1-ubyte.gz');
  const images = await readIdx(imagesFile, 0x00000803);
  const labels = await readIdx(labelsFile, 0x00000801);
  const [n, rows, cols] = images.dims as [number, number, number];
  if (labels.dims[0] !== n) throw new Error(`Fashion-MNIST: ${n} images but ${labels.dims[0]} labels`);
  const taken = new Array<number>(10).fill(0);
  const picked: number[] = [];
  for (let i = 0; i < n && picked.length < 10 * PER_CLASS; i++) {
    const l = labels.data[i]!;
    if (taken[l]! < PER_CLASS) {
      taken[l]!++;
      picked.push(i);
    }
  }
  const packed = new Uint8Array(picked.length * rows * cols); // (N, 28, 28)
  picked.forEach((src, k) => packed.set(images.data.subarray(src * rows * cols, (src + 1) * rows * cols), k * rows * cols));
  await mkdir(join(OUT, 'fashion'), { recursive: true });
  const file = 'fashion/fashion-mnist-t10k-1000.u8';
  await writeFile(join(OUT, file), packed);
  return {
    file,
    count: picked.length,
    width: cols,
    height: rows,
    classes: [...FASHION_MNIST_CLASSES],
    labels: picked.map((i) => labels.data[i]!),
    sourceIndices: picked,
    source: 'Fashion-MNIST t10k (test) split, first 100 images of each class',
  };
}

function attribution(manifest: DemoManifest): string {
  const photoLines = manifest.natural.sources
    .map((s) => {
      const count = manifest.natural.files.filter((f) => f.source === s.name).length;
      return `| ${s.file} | ${count} | ${s.credit} | ${s.licence} | ${s.url} |`;
    })
    .join('\n');
  return `# Demo dataset: sources and licences

Generated by \`scripts/build-demo-dataset.ts\` from Debian packages. Every file here is derived
(cropped, flipped, resized, re-encoded) from the works below; none is endorsed by their authors.

## natural/ — ${manifest.natural.files.length} colour photos, ${manifest.natural.width}×${manifest.natural.height} JPEG

Random square crops of sample photos shipped by scikit-image (Debian package \`python3-skimage\`).
The package's copyright file (\`natural/COPYRIGHT-python3-skimage.txt\`) covers the package
as a whole (BSD-3-Clause, the scikit-image team); the individual photo licences, as documented
by scikit-image in \`skimage/data/_fetchers.py\`, are:

| photo | crops | credit | licence | source |
| --- | --- | --- | --- | --- |
${photoLines}

Only photos that scikit-image documents as public domain or CC0 are used.

## fashion/ — ${manifest.fashion.count} labelled Fashion-MNIST images

${manifest.fashion.source}, packed as raw uint8 (${manifest.fashion.count}, ${manifest.fashion.height}, ${manifest.fashion.width});
labels and their indices in the t10k split are in \`manifest.json\`.

Fashion-MNIST, Copyright (c) 2017 Zalando SE, MIT (Expat) licence — full text in
\`fashion/COPYRIGHT-dataset-fashion-mnist.txt\` (Debian package \`dataset-fashion-mnist\`).
Han Xiao, Kashif Rasul, Roland Vollgraf: *Fashion-MNIST: a Novel Image Dataset for
Benchmarking Machine Learning Algorithms*, arXiv:1708.07747 (2017).
https://github.com/zalandoresearch/fashion-mnist
`;
}

async function dirSize(paths: string[]): Promise<number> {
  let total = 0;
  for (const p of paths) total += (await stat(join(OUT, p))).size;
  return total;
}

async function main(): Promise<void> {
  await rm(OUT, { recursive: true, force: true });
  await mkdir(OUT, { recursive: true });
  const rng = new Random(SEED);
  const natural = await buildNatural(rng);
  const fashion = await buildFashion();
  const manifest: DemoManifest = { version: 1, seed: SEED, natural, fashion };
  await copyFile(SKIMAGE_COPYRIGHT, join(OUT, 'natural/COPYRIGHT-python3-skimage.txt'));
  await copyFile(FASHION_COPYRIGHT, join(OUT, 'fashion/COPYRIGHT-dataset-fashion-mnist.txt'));
  await writeFile(join(OUT, 'ATTRIBUTION.md'), attribution(manifest));
  await writeFile(join(OUT, 'manifest.json'), `${JSON.stringify(manifest)}\n`);
  const bytes = await dirSize([...natural.files.map((f) => f.path), fashion.file, 'manifest.json']);
  console.log(`public/demo: ${natural.files.length} photos, ${fashion.count} Fashion-MNIST images, ${(bytes / 1e6).toFixed(2)} MB`);
}

await main();
