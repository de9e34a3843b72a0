// The worker's data set host: loads a dropped folder, a directory handle, a zip or the demo set
// into a BrowserDataset (indexing, lazy decoding, the pixel cache with its OPFS spill), swaps it
// in while the run is paused (the session's hook), reports progress and changes as events, and
// serves thumbnails. A load that fails or is cancelled leaves the previous data set in place.
import { BrowserDataset, type PixelDecoder } from '../data/browser-dataset.ts';
import { OpfsSpillStore, PixelCache } from '../data/browser-cache.ts';
import { filesFromDirectoryHandle, filesFromZip, type FolderListing } from '../data/browser-folder.ts';
import { parseDemoManifest } from '../data/demo.ts';
import { cancelledError, raceCancellation, throwIfCancelled } from './cancellation.ts';
import type { WorkerEvents } from './events.ts';
import { WorkerError, type DatasetSummary, type LoadOptions, type Thumbnails, type ThumbnailRequest } from './protocol.ts';

export interface DatasetHostHooks {
  /** Shorter side images are decoded to now (from the run's input size). */
  decodeSize(): number;
  /** Runs `fn` with training paused (the data set is swapped inside it). */
  swap(fn: () => Promise<void>): Promise<void>;
  /** A new data set is in place (status changed). */
  changed(): void;
}

function defaultCacheBudget(): number {
  const gb = (globalThis.navigator as Navigator & { deviceMemory?: number })?.deviceMemory ?? 8;
  return Math.max(64, Math.min(1024, gb * 64)) * 1024 * 1024;
}

export class DatasetHost {
  dataset: BrowserDataset | null = null;
  /** Bumped at every swap: what was drawn from an earlier data set is stale. */
  generation = 0;
  private cache = new PixelCache(defaultCacheBudget());
  private spillOpened = false;
  private datasetAbort: AbortController | null = null;

  constructor(
    private readonly events: WorkerEvents,
    private readonly hooks: DatasetHostHooks,
    private readonly demoBaseUrl: string,
    /** Image decoder (default: the browser's; Node tests pass the Node one). */
    private readonly decodeImage?: PixelDecoder,
  ) {}

  private async ensureSpill(): Promise<void> {
    if (this.spillOpened) return;
    this.spillOpened = true;
    const spill = await OpfsSpillStore.open(`session-${Date.now().toString(36)}-${Math.floor(Math.random() * 1e9).toString(36)}`, 4 * 1024 ** 3);
    this.cache = new PixelCache(this.cache.budgetBytes, spill);
  }

  private progress(task: 'walk' | 'index' | 'decode' | 'unzip') {
    return (done: number, total: number) => this.events.emitThrottled(`progress-${task}`, () => ({ type: 'progress', task, done, total }), done === total);
  }

  private async prepareCache(options: LoadOptions): Promise<void> {
    await this.ensureSpill();
    const budget = options.cacheBudgetBytes ?? this.cache.budgetBytes;
    await this.cache.clear();
    if (budget !== this.cache.budgetBytes) this.cache = new PixelCache(budget, this.cache.spill);
  }

  async loadListing(listing: FolderListing, source: 'files' | 'directory' | 'zip', options: LoadOptions, signal: AbortSignal): Promise<DatasetSummary> {
    if (listing.files.length === 0 && listing.unreadable.length === 0) {
      throw new WorkerError('no-dataset', `${listing.name}: no files`, 'Choose a folder that contains images.');
    }
    const abort = new AbortController();
    signal.addEventListener('abort', () => abort.abort(cancelledError(`loading ${listing.name}`)), { once: true });
    let dataset: BrowserDataset;
    try {
      // Indexing reads file heads only; the cache is bound at the swap (installDataset).
      dataset = await BrowserDataset.fromListing(listing, source, { decodeSize: this.hooks.decodeSize(), cache: this.cache, decode: this.decodeImage }, { signal: abort.signal, onProgress: this.progress('index') });
    } catch (e) {
      if (signal.aborted) throw cancelledError(`loading ${listing.name}`);
      throw e;
    }
    throwIfCancelled(signal, `loading ${listing.name}`);
    return this.installDataset(dataset, options, signal);
  }

  async loadDirectory(handle: FileSystemDirectoryHandle, options: LoadOptions, signal: AbortSignal): Promise<DatasetSummary> {
    const listing = await filesFromDirectoryHandle(handle, { signal, onProgress: (n) => this.events.emitThrottled('progress-walk', () => ({ type: 'progress', task: 'walk', done: n, total: 0 })) });
    return this.loadListing(listing, 'directory', options, signal);
  }

  async loadZip(zip: Blob | Uint8Array, name: string, options: LoadOptions, signal: AbortSignal): Promise<DatasetSummary> {
    this.progress('unzip')(0, 1);
    const bytes = zip instanceof Uint8Array ? zip : new Uint8Array(await zip.arrayBuffer());
    throwIfCancelled(signal, `unpacking ${name}`);
    let listing: FolderListing;
    try {
      listing = filesFromZip(bytes, name);
    } catch (e) {
      throw new WorkerError('no-dataset', (e as Error).message, 'Choose a .zip of images (or unzip it and drop the folder).');
    }
    this.progress('unzip')(1, 1);
    return this.loadListing(listing, 'zip', options, signal);
  }

  async loadDemo(options: LoadOptions, signal: AbortSignal): Promise<DatasetSummary> {
    const manifestUrl = new URL('demo/manifest.json', this.demoBaseUrl);
    const response = await raceCancellation(fetch(manifestUrl), signal, 'loading the demo set');
    if (!response.ok) throw new WorkerError('no-dataset', `demo manifest ${manifestUrl}: HTTP ${response.status}`, 'Rebuild the demo set (npx tsx scripts/build-demo-dataset.ts) and reload.');
    const manifest = parseDemoManifest(await response.json());
    const items = manifest.natural.files.map((f) => ({ path: f.path, url: new URL(f.path, manifestUrl).href, type: 'jpeg' as const }));
    const dataset = BrowserDataset.fromUrls('demo', items, { decodeSize: this.hooks.decodeSize(), cache: this.cache, decode: this.decodeImage });
    return this.installDataset(dataset, options, signal);
  }

  private async installDataset(dataset: BrowserDataset, options: LoadOptions, signal: AbortSignal): Promise<DatasetSummary> {
    throwIfCancelled(signal, `loading ${dataset.name}`);
    const previous = this.dataset;
    await this.hooks.swap(async () => {
      // cancelled while waiting for the run to pause (a newer load took over): never install it
      throwIfCancelled(signal, `loading ${dataset.name}`);
      this.datasetAbort?.abort();
      if (this.dataset) this.dataset.onChange = null;
      // before the cache is cleared: its late decodes must not fill the new set's slots
      this.dataset?.detach();
      await this.prepareCache(options);
      dataset.setCache(this.cache);
      this.dataset = dataset;
      this.generation++;
    });
    dataset.onChange = () => this.events.emitThrottled('dataset', () => ({ type: 'dataset', summary: dataset.summary() }));
    const abort = new AbortController();
    this.datasetAbort = abort;
    const verification = dataset.verify({ signal: abort.signal, onProgress: this.progress('decode') }).catch(() => {});
    if (options.verify) {
      signal.addEventListener('abort', () => abort.abort(), { once: true });
      await verification;
      if (signal.aborted) {
        // Cancelled while verifying: put the previous dataset back (its pixels decode again lazily).
        await this.hooks.swap(async () => {
          dataset.onChange = null;
          dataset.detach();
          await this.cache.clear();
          previous?.setCache(this.cache);
          this.dataset = previous;
          this.generation++;
        });
        if (previous) previous.onChange = () => this.events.emitThrottled('dataset', () => ({ type: 'dataset', summary: previous.summary() }));
        throw cancelledError(`verifying ${dataset.name}`);
      }
    }
    const summary = dataset.summary();
    this.events.emitThrottled('dataset', () => ({ type: 'dataset', summary: dataset.summary() }), true);
    this.hooks.changed();
    return summary;
  }

  summary(): DatasetSummary | null {
    return this.dataset?.summary() ?? null;
  }

  async thumbnails(request: ThumbnailRequest, signal: AbortSignal): Promise<Thumbnails> {
    const dataset = this.require();
    const size = request.size;
    if (!Number.isInteger(size) || size < 1 || size > 256) throw new WorkerError('config', `thumbnail size ${size} must be an integer in 1..256`, 'Ask for a size between 1 and 256.');
    const slots = request.indices.map((i) => dataset.slotAt(i));
    const rgba = new Uint8ClampedArray(slots.length * size * size * 4);
    // Decodes of uncached images overlap (the dataset bounds their concurrency).
    const thumbs = await raceCancellation(Promise.all(slots.map((slot) => dataset.thumbnail(slot, size))), signal, 'thumbnails');
    // a data set swapped in meanwhile: these are the old set's pictures; draw the new set's
    if (this.dataset !== dataset) return this.thumbnails(request, signal);
    thumbs.forEach((t, i) => t && rgba.set(t, i * size * size * 4));
    return { size, indices: [...request.indices], paths: slots.map((s) => dataset.pathOf(s)), rgba };
  }

  require(): BrowserDataset {
    if (!this.dataset) throw new WorkerError('no-dataset', 'no dataset is loaded', 'Load the demo set or drop a folder of images first.');
    return this.dataset;
  }

  /** The input size changed: cached pixels are decoded again at the new size. */
  async setDecodeSize(size: number): Promise<void> {
    await this.dataset?.setDecodeSize(size);
  }

  async dispose(): Promise<void> {
    this.datasetAbort?.abort();
    this.dataset?.detach();
    await this.cache.clear().catch(() => {});
  }
}
