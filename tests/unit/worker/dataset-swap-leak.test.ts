// A data set swapped in while the previous one is still decoding must never show the previous
// one's pixels. Decodes of the outgoing data set (its background verification, a prefetched
// training batch, a thumbnail request) may finish after the swap; they used to land in the
// shared pixel cache under their slot number, so slot k of the new folder showed image k of the
// old one (seen on the page: a demo photo in the 4th row of a new folder's reconstructions while
// it was still decoding). Here the old set is held mid-decode, the new one is loaded, then the
// old decodes are let go while the new set's background verification runs: every thumbnail,
// training batch and evaluation batch of the new set must be the new set's colour, and the data
// panel's count must reach every image (a slot served the old pixels from the cache was never
// counted as decoded: the page stayed at "21 decoded so far").
import { describe, expect, it } from 'vitest';
import { decodeImageBlobWithSharp } from '../../../src/data/node-folder.ts';
import type { PixelDecoder } from '../../../src/data/browser-dataset.ts';
import { encodePng } from '../../../src/io/png.ts';
import { Random } from '../../../src/util/random.ts';
import { DatasetHost } from '../../../src/worker/dataset-host.ts';
import { WorkerEvents } from '../../../src/worker/events.ts';
import type { WorkerEvent } from '../../../src/worker/protocol.ts';

/** A solid-colour PNG. */
function solid(w: number, h: number, rgb: [number, number, number]): Blob {
  const data = new Uint8ClampedArray(w * h * 4).map((_, i) => (i % 4 === 3 ? 255 : rgb[i % 4]!));
  return new Blob([encodePng({ width: w, height: h, data }) as Uint8Array<ArrayBuffer>]);
}

const RED: [number, number, number] = [230, 20, 20];
const BLUE: [number, number, number] = [20, 20, 230];
const COUNT = 12;

function listing(name: string, rgb: [number, number, number], count = COUNT) {
  return { name, files: Array.from({ length: count }, (_, i) => ({ path: `${name}/img${String(i).padStart(2, '0')}.png`, file: solid(40, 40, rgb) })), unreadable: [] };
}

/** Decoder whose decodes of `old/…` and `new/…` files wait until their gate opens. */
function gatedDecoder() {
  const gates = new Map<string, { open: Promise<void>; release: () => void; held: number }>();
  for (const name of ['old', 'new']) {
    let release: () => void = () => {};
    const open = new Promise<void>((r) => (release = r));
    gates.set(name, { open, release, held: 0 });
  }
  const decode: PixelDecoder = async (blob, options) => {
    const gate = gates.get(options.path?.split('/')[0] ?? '');
    if (gate) {
      gate.held++;
      await gate.open;
    }
    return decodeImageBlobWithSharp(blob, options);
  };
  return { decode, gate: (name: 'old' | 'new') => gates.get(name)! };
}

const settle = () => new Promise((r) => setTimeout(r, 50));

/** Red minus blue of an (N, 3, S, S) normalised batch, image by image (> 0: red, < 0: blue). */
function redness(batch: Float32Array, n: number): number[] {
  const plane = batch.length / n / 3;
  return Array.from({ length: n }, (_, i) => {
    let d = 0;
    for (let p = 0; p < plane; p++) d += batch[(i * 3 + 0) * plane + p]! - batch[(i * 3 + 2) * plane + p]!;
    return d / plane;
  });
}

describe('DatasetHost: a swap while the previous data set still decodes', () => {
  it("late decodes of the old data set never reach the new one's thumbnails, batches, evaluation images or decoded count", async () => {
    const gated = gatedDecoder();
    const events: WorkerEvent[] = [];
    const bus = new WorkerEvents((listener, e) => listener(e), 0);
    bus.subscribe((e) => events.push(e));
    const h = new DatasetHost(bus, { decodeSize: () => 36, swap: async (fn) => fn(), changed: () => {} }, 'http://localhost/', gated.decode);
    // the demo set at start-up (more images than the folder): loaded, its background verification still decoding
    await h.loadListing(listing('old', RED, COUNT + 4), 'files', {}, new AbortController().signal);
    const old = h.dataset!;
    // what the page does meanwhile: thumbnails and a prefetched batch of the old set
    const oldThumbs = h.thumbnails({ indices: [8, 9, 10, 13], size: 8 }, new AbortController().signal).catch(() => null);
    const oldBatch = old.batchSource().trainingImages(Int32Array.from([4, 5, 6, 7]), 32, new Random(1)).catch(() => null);
    await settle();
    expect(gated.gate('old').held).toBeGreaterThan(0); // old decodes in flight

    // the chosen folder replaces it; its own background verification starts
    await h.loadListing(listing('new', BLUE), 'files', {}, new AbortController().signal);
    const fresh = h.dataset!;
    const verified = new Promise<void>((resolve) => bus.subscribe((e) => e.type === 'progress' && e.task === 'decode' && e.done === COUNT && e.total === COUNT && resolve()));
    await settle();
    expect(gated.gate('new').held).toBeGreaterThan(0);
    gated.gate('old').release(); // the old decodes finish now, after the swap, while the new set decodes
    await Promise.all([oldThumbs, oldBatch]);
    await settle();
    gated.gate('new').release();
    await verified;

    // the data panel's count: every image of the new folder decoded (not "8 decoded so far")
    expect.soft(fresh.summary().decoded).toBe(COUNT);
    expect.soft(fresh.summary().verified).toBe(true);

    const thumbs = await h.thumbnails({ indices: Array.from({ length: COUNT }, (_, i) => i), size: 4 }, new AbortController().signal);
    const red = thumbs.paths.filter((_, i) => thumbs.rgba[i * 64]! > thumbs.rgba[i * 64 + 2]!);
    expect.soft(red, `thumbnails of the new folder showing the old one's pixels: ${red.join(', ')}`).toEqual([]);

    const slots = Int32Array.from({ length: COUNT }, (_, i) => i);
    const batch = await fresh.batchSource().trainingImages(slots, 32, new Random(2));
    const batchRed = redness(batch!, COUNT).flatMap((r, i) => (r > 0 ? [fresh.pathOf(i)] : []));
    expect.soft(batchRed, `training images of the new folder from the old one: ${batchRed.join(', ')}`).toEqual([]);

    const evaluation = await fresh.evaluationBatch(fresh.evaluationSlots(8), 32);
    const evalRed = redness(evaluation.images, 8).flatMap((r, i) => (r > 0 ? [fresh.pathOf(evaluation.slots[i]!)] : []));
    expect.soft(evalRed, `evaluation (reconstruction) images of the new folder from the old one: ${evalRed.join(', ')}`).toEqual([]);
    expect.soft(fresh.summary().cache.memoryEntries).toBe(COUNT); // no old slot beyond the new folder's
    await h.dispose();
  });

  it("thumbnails asked for before the swap and drawn after it are the new set's", async () => {
    const gated = gatedDecoder();
    const bus = new WorkerEvents((listener, e) => listener(e), 0);
    const h = new DatasetHost(bus, { decodeSize: () => 36, swap: async (fn) => fn(), changed: () => {} }, 'http://localhost/', gated.decode);
    await h.loadListing(listing('old', RED), 'files', {}, new AbortController().signal);
    const asked = h.thumbnails({ indices: [0, 1, 2], size: 4 }, new AbortController().signal);
    await settle();
    expect(gated.gate('old').held).toBeGreaterThan(0);
    gated.gate('new').release();
    await h.loadListing(listing('new', BLUE), 'files', {}, new AbortController().signal);
    gated.gate('old').release();
    const thumbs = await asked;
    expect(thumbs.paths).toEqual(['new/img00.png', 'new/img01.png', 'new/img02.png']);
    const red = thumbs.paths.filter((_, i) => thumbs.rgba[i * 64]! > thumbs.rgba[i * 64 + 2]!);
    expect(red, `thumbnails showing the old set's pixels: ${red.join(', ')}`).toEqual([]);
    await h.dispose();
  });
});
