// The dataset as the browser worker sees it: index first (file heads sniffed, indexing.ts rules),
// decode lazily (browser-decode.ts, bounded concurrency), keep resized pixels in a bounded cache
// (browser-cache.ts, OPFS spill), and hand out the training images a run asks for (the run picks
// the slots: train/run.ts; the official augmentation: augment.ts) and the fixed evaluation batch
// (centre crop).
//
// Images keep a stable slot (their position in the index, sorted by path). A file that fails to
// decode moves to `skipped` with reason code 'decode-failed' and its slot is never drawn again;
// one bad file never fails the dataset. Many failures in a row while training (a "decode
// storm": a folder of truncated downloads, a disconnected drive) stop the run with
// DecodeStormError instead of spinning through the whole folder. Failures found by the
// background verification pass count too: a folder that is mostly broken stops the first batch.
import { makeBatch, makeEvalBatch } from './augment.ts';
import { PixelCache } from './browser-cache.ts';
import { Semaphore, mapLimited } from './browser-concurrency.ts';
import { BrowserDecodeError, decodeImageBlob, type BrowserDecodeOptions } from './browser-decode.ts';
import type { FolderListing } from './browser-folder.ts';
import { resampleBox, type PixelImage } from './image.ts';
import { indexFiles, SNIFF_BYTES, summariseSkipped, type ImageType, type IndexInput, type SkippedFile } from './indexing.ts';
import type { Random } from '../util/random.ts';
import { evaluationSlots, type BatchSource } from '../train/run.ts';
import type { DatasetSource, DatasetSummary } from './dataset-summary.ts';

export class DecodeStormError extends Error {
  override readonly name = 'DecodeStormError';
  constructor(
    readonly failures: number,
    readonly attempts: number,
    readonly lastPath: string,
    lastReason: string,
  ) {
    super(`${failures} of the last ${attempts} images failed to decode (last: ${lastPath}: ${lastReason})`);
  }
}

export class EmptyDatasetError extends Error {
  override readonly name = 'EmptyDatasetError';
  constructor(name: string, detail: string) {
    super(`dataset ${name}: ${detail}`);
  }
}

interface Slot {
  path: string;
  type: ImageType;
  label?: string;
  /** The encoded bytes (a File, a Blob from a zip, or a fetch for the demo set). */
  blob: () => Promise<Blob>;
  decoded: boolean;
  failed: boolean;
}

export interface StormPolicy {
  /** Outcomes remembered (most recent decodes while building batches). */
  window: number;
  /** Failures within the window that stop the run (and at least half of the window's attempts). */
  failures: number;
}

export const DEFAULT_STORM_POLICY: StormPolicy = { window: 24, failures: 12 };

export interface DatasetOptions {
  /** Shorter side images are decoded to. */
  decodeSize: number;
  cache: PixelCache;
  /** Concurrent decodes (default 4). */
  concurrency?: number;
  storm?: StormPolicy;
  /** Turns a file into pixels (default: the browser's decoder; Node tests pass the Node one). */
  decode?: PixelDecoder;
}

/** A file's bytes to RGB pixels with the shorter side at `shorterSide` (browser-decode.ts's contract). */
export type PixelDecoder = (blob: Blob, options: BrowserDecodeOptions) => Promise<PixelImage>;

export interface IndexProgress {
  signal?: AbortSignal;
  onProgress?: (done: number, total: number) => void;
}

function errorText(e: unknown): string {
  return e instanceof BrowserDecodeError ? e.detail : e instanceof Error ? e.message : String(e);
}

export class BrowserDataset {
  private readonly slots: Slot[];
  private readonly indexSkipped: SkippedFile[];
  private decodeFailures: SkippedFile[] = [];
  private alive: number[];
  private readonly classes: string[];
  private readonly semaphore: Semaphore;
  private readonly decoding = new Map<number, Promise<PixelImage | null>>();
  private outcomes: boolean[] = []; // true = failed, most recent last
  private readonly storm: StormPolicy;
  private readonly decode: PixelDecoder;
  decodeSize: number;
  decodes = 0;
  revision = 0;
  /** Called whenever the summary changes (decode failures, newly decoded images). */
  onChange: (() => void) | null = null;

  private constructor(
    readonly source: DatasetSource,
    readonly name: string,
    slots: Slot[],
    skipped: SkippedFile[],
    classes: string[],
    private cache: PixelCache,
    options: DatasetOptions,
  ) {
    this.slots = slots;
    this.indexSkipped = skipped;
    this.classes = classes;
    this.alive = slots.map((_, i) => i);
    this.decodeSize = options.decodeSize;
    this.semaphore = new Semaphore(options.concurrency ?? 4);
    this.storm = options.storm ?? DEFAULT_STORM_POLICY;
    this.decode = options.decode ?? decodeImageBlob;
  }

  /** Indexes a listing: reads each file's first bytes (bounded concurrency) and classifies it. */
  static async fromListing(listing: FolderListing, source: DatasetSource, options: DatasetOptions, progress: IndexProgress = {}): Promise<BrowserDataset> {
    const inputs = await mapLimited(
      listing.files,
      32,
      async (f): Promise<IndexInput> => {
        const type = (f.file as File).type ?? '';
        if (f.file.size === 0) return { path: f.path, size: 0, mimeType: type };
        const head = new Uint8Array(await f.file.slice(0, SNIFF_BYTES).arrayBuffer());
        return { path: f.path, size: f.file.size, mimeType: type, head };
      },
      { signal: progress.signal, onProgress: progress.onProgress },
    );
    const index = indexFiles(inputs);
    const byPath = new Map(listing.files.map((f) => [f.path.replace(/\\/g, '/').split('/').filter((s) => s && s !== '.').join('/'), f.file]));
    const slots: Slot[] = index.images.map((im) => {
      const blob = byPath.get(im.path);
      if (!blob) throw new Error(`internal: indexed path ${im.path} has no file`);
      return { path: im.path, type: im.type, label: im.label, blob: async () => blob, decoded: false, failed: false };
    });
    const skipped = [...index.skipped, ...listing.unreadable].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    return new BrowserDataset(source, listing.name, slots, skipped, index.classes, options.cache, options);
  }

  /** A fixed list of URLs (the demo set); fetched when first decoded. */
  static fromUrls(name: string, items: { path: string; url: string; type: ImageType }[], options: DatasetOptions): BrowserDataset {
    const slots: Slot[] = items.map((it) => ({
      path: it.path,
      type: it.type,
      blob: async () => {
        const r = await fetch(it.url);
        if (!r.ok) throw new BrowserDecodeError(it.path, `HTTP ${r.status} fetching ${it.url}`);
        return r.blob();
      },
      decoded: false,
      failed: false,
    }));
    return new BrowserDataset('demo', name, slots, [], [], options.cache, options);
  }

  /** Binds the pixel cache (the session's; replaced when the budget changes). */
  setCache(cache: PixelCache): void {
    this.cache = cache;
  }

  /**
   * Unbinds the shared pixel cache: this data set was swapped out. The cache is keyed by slot,
   * so a decode of this set still in flight (background verification, a prefetched batch, a
   * thumbnail) that finished later would otherwise store its pixels under the next data set's
   * slot of the same number. From now on its decodes go to a cache that keeps nothing.
   */
  detach(): void {
    this.cache = new PixelCache(0);
  }

  get size(): number {
    return this.alive.length;
  }

  get indexed(): number {
    return this.slots.length;
  }

  /** Slot of the i-th usable image (summary order). */
  slotAt(position: number): number {
    const slot = this.alive[position];
    if (slot === undefined) throw new RangeError(`image ${position} is outside the ${this.alive.length} usable images of ${this.name}`);
    return slot;
  }

  pathOf(slot: number): string {
    return this.slots[slot]!.path;
  }

  /** Usable slots, ascending. */
  /** The class folder of a slot (undefined when the data set is unlabelled). */
  labelOf(slot: number): string | undefined {
    return this.slots[slot]?.label;
  }

  usableSlots(): readonly number[] {
    return this.alive;
  }

  summary(): DatasetSummary {
    const skipped = [...this.indexSkipped, ...this.decodeFailures].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    const classCounts = this.classes.map(() => 0);
    const classIndex = new Map(this.classes.map((c, i) => [c, i]));
    for (const s of this.alive) {
      const label = this.slots[s]!.label;
      if (label !== undefined) classCounts[classIndex.get(label)!]!++;
    }
    const decoded = this.slots.filter((s) => s.decoded).length;
    const c = this.cache.stats();
    return {
      source: this.source,
      name: this.name,
      images: this.alive.length,
      classes: [...this.classes],
      classCounts,
      skipped,
      skippedByCode: summariseSkipped(skipped),
      decoded,
      verified: this.slots.every((s) => s.decoded || s.failed),
      decodeSize: this.decodeSize,
      cache: { ...c, decodes: this.decodes },
      revision: this.revision,
    };
  }

  private changed(): void {
    this.revision++;
    this.onChange?.();
  }

  /** New decode size (input size changed): cached pixels are dropped. */
  async setDecodeSize(size: number): Promise<void> {
    if (size === this.decodeSize) return;
    this.decodeSize = size;
    await this.cache.clear();
    for (const s of this.slots) s.decoded = false;
    this.changed();
  }

  /**
   * Pixels of a slot at the decode size, from the cache or decoded now; null when the file
   * cannot be decoded (it then moves to `skipped`).
   */
  image(slot: number): Promise<PixelImage | null> {
    const s = this.slots[slot];
    if (!s) return Promise.reject(new RangeError(`slot ${slot} is outside the ${this.slots.length} indexed images`));
    if (s.failed) return Promise.resolve(null);
    const hit = this.cache.lookup(slot);
    if (hit) return Promise.resolve(hit);
    let p = this.decoding.get(slot);
    if (!p) {
      const size = this.decodeSize;
      p = (async () => {
        const cached = await this.cache.get(slot);
        if (cached) return cached;
        return this.semaphore.run(async () => {
          try {
            const image = await this.decode(await s.blob(), { shorterSide: size, path: s.path });
            this.decodes++;
            this.recordOutcome(false);
            if (size === this.decodeSize) this.cache.put(slot, image);
            if (!s.decoded) {
              s.decoded = true;
              this.changed();
            }
            return image;
          } catch (e) {
            this.recordOutcome(true);
            this.markFailed(slot, errorText(e));
            return null;
          }
        });
      })().finally(() => this.decoding.delete(slot));
      this.decoding.set(slot, p);
    }
    return p;
  }

  private markFailed(slot: number, detail: string): void {
    const s = this.slots[slot]!;
    if (s.failed) return;
    s.failed = true;
    this.alive = this.alive.filter((a) => a !== slot);
    this.decodeFailures.push({ path: s.path, code: 'decode-failed', reason: `could not be decoded (${detail}): corrupt or truncated image` });
    this.changed();
  }

  /** Decodes every image once (fills the cache, finds the broken files). */
  async verify(progress: IndexProgress = {}): Promise<void> {
    const todo = this.slots.map((_, i) => i).filter((i) => !this.slots[i]!.decoded && !this.slots[i]!.failed);
    await mapLimited(todo, 4, (slot) => this.image(slot), { signal: progress.signal, onProgress: progress.onProgress });
  }

  private recordOutcome(failed: boolean): void {
    this.outcomes.push(failed);
    if (this.outcomes.length > this.storm.window) this.outcomes.shift();
  }

  /**
   * Throws DecodeStormError when many of the most recent decodes (the verification pass's and
   * the batches') failed. Only batch building asks, so verification never stops itself.
   */
  checkStorm(): void {
    const failures = this.outcomes.filter(Boolean).length;
    if (failures >= this.storm.failures && failures * 2 >= this.outcomes.length) {
      const last = this.decodeFailures[this.decodeFailures.length - 1];
      throw new DecodeStormError(failures, this.outcomes.length, last?.path ?? '(unknown)', last?.reason ?? 'decode failed');
    }
  }

  /** Forget storm history (after the person acknowledged a storm and continues). */
  resetStorm(): void {
    this.outcomes = [];
  }

  /**
   * Augmented training images (N, 3, S, S) of `slots` in that order, the augmentation drawn
   * from `augment` image by image; null when one of them failed to decode (its slot is then
   * unusable and the run draws the batch again).
   */
  async trainingImages(slots: ArrayLike<number>, S: number, augment: Random, signal?: AbortSignal): Promise<Float32Array | null> {
    this.checkStorm();
    if (this.alive.length === 0) throw new EmptyDatasetError(this.name, 'no image could be decoded');
    const images = await Promise.all(Array.from(slots, (s) => this.image(s)));
    if (signal?.aborted) throw signal.reason ?? new Error('aborted');
    if (images.some((im) => im === null)) {
      if (this.alive.length === 0) throw new EmptyDatasetError(this.name, 'no image could be decoded');
      return null;
    }
    return makeBatch(images as PixelImage[], Int32Array.from(images, (_, i) => i), S, augment);
  }

  /** The data set as a training run's batch source: every indexed slot, those that failed unusable. */
  batchSource(): BatchSource {
    return {
      size: this.slots.length,
      usable: (slot) => !this.slots[slot]!.failed,
      trainingImages: (slots, S, rng, signal) => this.trainingImages(slots, S, rng, signal),
    };
  }

  /** `count` slots spread evenly over the usable images (the fixed evaluation batch). */
  evaluationSlots(count: number): number[] {
    if (this.alive.length === 0) throw new EmptyDatasetError(this.name, 'no usable images');
    return evaluationSlots(this.alive, count);
  }

  /** Evaluation batch (N, 3, S, S) of the given slots (torchvision Resize(S/0.875) + CenterCrop(S)); failures are replaced. */
  async evaluationBatch(slots: number[], S: number): Promise<{ images: Float32Array; slots: number[] }> {
    const used: number[] = [];
    const pixels: PixelImage[] = [];
    for (const slot of slots) {
      let s = slot;
      let im = await this.image(s);
      while (!im) {
        if (this.alive.length === 0) throw new EmptyDatasetError(this.name, 'no image could be decoded');
        s = this.alive.find((a) => a > s) ?? this.alive[0]!;
        im = await this.image(s);
      }
      used.push(s);
      pixels.push(im);
    }
    return { images: makeEvalBatch(pixels, Int32Array.from(pixels, (_, i) => i), S, { cropPct: 0.875 }), slots: used };
  }

  /** Square thumbnail (centre crop, bilinear) as RGBA, or null when the image fails. */
  async thumbnail(slot: number, size: number): Promise<Uint8ClampedArray | null> {
    const im = await this.image(slot);
    if (!im) return null;
    const side = Math.min(im.width, im.height);
    const box = { top: Math.floor((im.height - side) / 2), left: Math.floor((im.width - side) / 2), height: side, width: side };
    const rgb = resampleBox(im, box, size, size, 'bilinear'); // (size, size, 3)
    const rgba = new Uint8ClampedArray(size * size * 4);
    for (let i = 0, j = 0; i < rgb.length; i += 3, j += 4) {
      rgba[j] = rgb[i]!;
      rgba[j + 1] = rgb[i + 1]!;
      rgba[j + 2] = rgb[i + 2]!;
      rgba[j + 3] = 255;
    }
    return rgba;
  }
}
