// The committed demo dataset (public/demo/): manifest consistent with the files, sizes, class
// balance, licences beside the data, and the Fashion-MNIST pixels equal to Debian's IDX files.
import { existsSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { makeBatch } from '../../../src/data/augment.ts';
import { DemoManifestError, FASHION_MNIST_CLASSES, demoNaturalIndex, parseDemoManifest, unpackFashion } from '../../../src/data/demo.ts';
import { sniffImageType } from '../../../src/data/indexing.ts';
import { decodeImageFile } from '../../../src/data/node-folder.ts';
import { Random } from '../../../src/util/random.ts';

const DEMO = join(dirname(fileURLToPath(import.meta.url)), '../../../public/demo');
const FASHION_IDX = '/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz';

const loadManifest = async () => parseDemoManifest(JSON.parse(await readFile(join(DEMO, 'manifest.json'), 'utf8')));

describe('demo dataset', () => {
  it('a few hundred 160×160 colour JPEGs, every listed file present, a few MB in total', async () => {
    const m = await loadManifest();
    expect(m.natural.files.length).toBe(300);
    expect(new Set(m.natural.files.map((f) => f.path)).size).toBe(300);
    let bytes = 0;
    for (const f of m.natural.files) {
      const data = await readFile(join(DEMO, f.path));
      bytes += data.length;
      expect(sniffImageType(data.subarray(0, 64)), f.path).toBe('jpeg');
      const meta = await sharp(data).metadata();
      expect([meta.width, meta.height, meta.channels, meta.format], f.path).toEqual([160, 160, 3, 'jpeg']);
      expect(m.natural.sources.some((s) => s.name === f.source), f.path).toBe(true);
    }
    bytes += (await stat(join(DEMO, m.fashion.file))).size + (await stat(join(DEMO, 'manifest.json'))).size;
    expect(bytes).toBeLessThan(6e6);
    expect(demoNaturalIndex(m).images.length).toBe(300);
  });

  it('photos decode and go through the training augmentation', async () => {
    const m = await loadManifest();
    const images = await Promise.all(m.natural.files.slice(0, 3).map((f) => decodeImageFile(join(DEMO, f.path), 'jpeg', { shorterSide: 160 })));
    const batch = makeBatch(images, [0, 1, 2], 32, new Random(3));
    expect(batch.length).toBe(3 * 3 * 32 * 32);
    // Normalised natural pixels lie within [(0 − 0.485)/0.229, (1 − 0.406)/0.225] and vary.
    let lo = Infinity;
    let hi = -Infinity;
    for (const v of batch) (lo = Math.min(lo, v)), (hi = Math.max(hi, v));
    expect(lo).toBeGreaterThanOrEqual(-2.1180);
    expect(hi).toBeLessThanOrEqual(2.6401);
    expect(hi - lo).toBeGreaterThan(1);
  });

  it('Fashion-MNIST subset: 1000 images, 100 per class, unpacked to RGB', async () => {
    const m = await loadManifest();
    expect(m.fashion.classes).toEqual([...FASHION_MNIST_CLASSES]);
    const counts = new Array(10).fill(0);
    for (const l of m.fashion.labels) counts[l]++;
    expect(counts).toEqual(new Array(10).fill(100));
    const bytes = new Uint8Array(await readFile(join(DEMO, m.fashion.file)));
    const set = unpackFashion(bytes, m.fashion);
    expect(set.images.length).toBe(1000);
    expect([...set.labels.subarray(0, 5)]).toEqual(m.fashion.labels.slice(0, 5));
    const im = set.images[7]!;
    expect([im.width, im.height, im.channels]).toEqual([28, 28, 3]);
    for (let i = 0; i < 28 * 28; i++) {
      const v = bytes[7 * 784 + i]!;
      if (im.data[i * 3] !== v || im.data[i * 3 + 1] !== v || im.data[i * 3 + 2] !== v) throw new Error(`image 7 pixel ${i}: gray ${v} not replicated`);
    }
    expect(() => unpackFashion(bytes.subarray(1), m.fashion)).toThrow(DemoManifestError);
  });

  it.skipIf(!existsSync(FASHION_IDX))('Fashion-MNIST pixels equal the Debian IDX file at the recorded indices', async () => {
    const m = await loadManifest();
    const idx = gunzipSync(await readFile(FASHION_IDX)); // header 16 bytes, then (10000, 28, 28)
    const labels = gunzipSync(await readFile(FASHION_IDX.replace('images-idx3', 'labels-idx1'))); // header 8 bytes
    const bytes = new Uint8Array(await readFile(join(DEMO, m.fashion.file)));
    m.fashion.sourceIndices.forEach((src, k) => {
      const a = bytes.subarray(k * 784, (k + 1) * 784);
      const b = idx.subarray(16 + src * 784, 16 + (src + 1) * 784);
      if (!a.every((v, i) => v === b[i])) throw new Error(`demo image ${k} differs from t10k image ${src}`);
      if (labels[8 + src] !== m.fashion.labels[k]) throw new Error(`demo label ${k} = ${m.fashion.labels[k]}, t10k label ${src} = ${labels[8 + src]}`);
    });
    // First 100 of each class in t10k order: the last index taken bounds every earlier one.
    expect(m.fashion.sourceIndices).toEqual([...m.fashion.sourceIndices].sort((a, b) => a - b));
  });

  it('attribution and licence texts sit beside the data and name every source', async () => {
    const m = await loadManifest();
    const attribution = await readFile(join(DEMO, 'ATTRIBUTION.md'), 'utf8');
    for (const s of m.natural.sources) {
      expect(attribution).toContain(s.file);
      expect(s.licence).toMatch(/public domain|CC0/);
    }
    expect(attribution).toContain('Zalando');
    expect(await readFile(join(DEMO, 'natural/COPYRIGHT-python3-skimage.txt'), 'utf8')).toMatch(/BSD-3-Clause/);
    expect(await readFile(join(DEMO, 'fashion/COPYRIGHT-dataset-fashion-mnist.txt'), 'utf8')).toMatch(/Permission is hereby granted/);
  });

  it('parseDemoManifest names the bad field', () => {
    expect(() => parseDemoManifest([])).toThrow(/not a JSON object/);
    expect(() => parseDemoManifest({ version: 2 })).toThrow(/unsupported version 2/);
    const good = { version: 1, seed: 1, natural: { width: 8, height: 8, files: [{ path: 'a.jpg', source: 'x' }], sources: [] }, fashion: { file: 'f.u8', count: 2, width: 2, height: 2, classes: ['a', 'b'], labels: [0, 1], sourceIndices: [0, 1], source: '' } };
    expect(parseDemoManifest(good).fashion.count).toBe(2);
    expect(() => parseDemoManifest({ ...good, fashion: { ...good.fashion, labels: [0, 2] } })).toThrow(/fashion.labels\[1\] = 2/);
    expect(() => parseDemoManifest({ ...good, natural: { ...good.natural, files: [{ path: 3 }] } })).toThrow(/natural.files\[0\]/);
  });
});
