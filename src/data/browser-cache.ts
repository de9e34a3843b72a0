// Cache of decoded, resized pixels so later epochs do not decode again. Memory-bounded LRU
// (bytes, not entries: images differ in size); entries pushed out of memory go to a spill store
// when one is given: the origin-private file system (OPFS), one small file per image. A spill
// read costs a file read, far less than a JPEG decode; when the spill is full too, the image is
// simply decoded again next time.
//
// Keys are the dataset's stable image slots (numbers). The cache never changes pixels: what
// comes back from memory or spill is byte-identical to what was put in.
import type { PixelImage } from './image.ts';

export interface SpillStore {
  /** Write an entry (replaces an existing one). Resolves false when the store is full. */
  put(key: number, image: PixelImage): Promise<boolean>;
  get(key: number): Promise<PixelImage | null>;
  has(key: number): boolean;
  clear(): Promise<void>;
  readonly entries: number;
  readonly bytes: number;
}

export interface PixelCacheStats {
  /** Decoded pixels held in memory, bytes. */
  memoryBytes: number;
  memoryBudgetBytes: number;
  memoryEntries: number;
  /** Entries spilled to the origin-private file system (0 when OPFS is unavailable). */
  spilledEntries: number;
  spilledBytes: number;
  hits: number;
  misses: number;
}

const imageBytes = (im: PixelImage): number => im.data.byteLength;

export class PixelCache {
  private memory = new Map<number, PixelImage>(); // insertion order = recency (oldest first)
  private bytes = 0;
  private hits = 0;
  private misses = 0;
  /** Spill writes in progress (a get of that key waits for it). */
  private writing = new Map<number, Promise<boolean>>();

  constructor(
    readonly budgetBytes: number,
    readonly spill: SpillStore | null = null,
  ) {
    if (!(budgetBytes >= 0)) throw new RangeError(`cache budget ${budgetBytes} must be ≥ 0 bytes`);
  }

  /** Memory hit (marks it most recent), else undefined. */
  peek(key: number): PixelImage | undefined {
    const im = this.memory.get(key);
    if (im) {
      this.memory.delete(key);
      this.memory.set(key, im);
    }
    return im;
  }

  /** Memory hit counted in the stats (the fast path of a lookup), else undefined. */
  lookup(key: number): PixelImage | undefined {
    const im = this.peek(key);
    if (im) this.hits++;
    return im;
  }

  has(key: number): boolean {
    return this.memory.has(key) || this.writing.has(key) || (this.spill?.has(key) ?? false);
  }

  /** Memory, then spill (a spilled entry comes back into memory); null on a miss. */
  async get(key: number): Promise<PixelImage | null> {
    const im = this.peek(key);
    if (im) {
      this.hits++;
      return im;
    }
    const pending = this.writing.get(key);
    if (pending) await pending;
    if (this.spill?.has(key)) {
      // A spill file removed behind our back (another tab cleared OPFS) is just a miss.
      const back = await this.spill.get(key).catch(() => null);
      if (back) {
        this.hits++;
        this.put(key, back, { spilled: true });
        return back;
      }
    }
    this.misses++;
    return null;
  }

  /**
   * Stores an entry, evicting the least recently used ones beyond the budget (to the spill
   * store when there is one). An image larger than the whole budget goes straight to spill.
   */
  put(key: number, image: PixelImage, how: { spilled?: boolean } = {}): void {
    const old = this.memory.get(key);
    if (old) {
      this.bytes -= imageBytes(old);
      this.memory.delete(key);
    }
    const size = imageBytes(image);
    if (size > this.budgetBytes) {
      if (!how.spilled) this.spillOut(key, image);
      return;
    }
    this.memory.set(key, image);
    this.bytes += size;
    while (this.bytes > this.budgetBytes) {
      const [oldestKey, oldest] = this.memory.entries().next().value as [number, PixelImage];
      this.memory.delete(oldestKey);
      this.bytes -= imageBytes(oldest);
      // An entry read back from spill is still there; only new pixels need writing.
      if (!this.spill?.has(oldestKey)) this.spillOut(oldestKey, oldest);
    }
  }

  private spillOut(key: number, image: PixelImage): void {
    if (!this.spill || this.writing.has(key)) return;
    const write = this.spill
      .put(key, image)
      .catch(() => false)
      .finally(() => this.writing.delete(key));
    this.writing.set(key, write);
  }

  /** Waits for spill writes in progress (tests, and before clearing). */
  async flush(): Promise<void> {
    await Promise.all([...this.writing.values()]);
  }

  async clear(): Promise<void> {
    await this.flush();
    this.memory.clear();
    this.bytes = 0;
    this.hits = 0;
    this.misses = 0;
    await this.spill?.clear();
  }

  stats(): PixelCacheStats {
    return {
      memoryBytes: this.bytes,
      memoryBudgetBytes: this.budgetBytes,
      memoryEntries: this.memory.size,
      spilledEntries: this.spill?.entries ?? 0,
      spilledBytes: this.spill?.bytes ?? 0,
      hits: this.hits,
      misses: this.misses,
    };
  }
}

// ------------------------------------------------------------------------------------------
// OPFS spill store

interface SyncAccessHandle {
  read(buffer: ArrayBufferView, options?: { at?: number }): number;
  write(buffer: ArrayBufferView, options?: { at?: number }): number;
  truncate(size: number): void;
  getSize(): number;
  flush(): void;
  close(): void;
}

type FileHandleWithSync = FileSystemFileHandle & { createSyncAccessHandle?: () => Promise<SyncAccessHandle> };

const HEADER = 12; // width, height, channels as u32 little-endian

/**
 * Spill files in OPFS under fcmae-pixel-cache/<session>/<key>.rgb. Uses synchronous access
 * handles where they exist (dedicated workers), else writable streams. The folder is removed
 * when the store is cleared or the next session opens it.
 */
export class OpfsSpillStore implements SpillStore {
  private sizes = new Map<number, number>();
  private total = 0;

  private constructor(
    private readonly root: FileSystemDirectoryHandle,
    private readonly dirName: string,
    private dir: FileSystemDirectoryHandle,
    readonly maxBytes: number,
  ) {}

  /** Null when OPFS is unavailable (older browsers, some private modes). */
  static async open(session: string, maxBytes: number): Promise<OpfsSpillStore | null> {
    try {
      const storage = (globalThis as { navigator?: Navigator }).navigator?.storage;
      if (!storage?.getDirectory) return null;
      const opfs = await storage.getDirectory();
      const root = await opfs.getDirectoryHandle('fcmae-pixel-cache', { create: true });
      // Earlier sessions' spill is stale (other decode sizes, other files): drop it.
      for await (const name of (root as unknown as { keys(): AsyncIterable<string> }).keys()) {
        await root.removeEntry(name, { recursive: true }).catch(() => {});
      }
      const dir = await root.getDirectoryHandle(session, { create: true });
      return new OpfsSpillStore(root, session, dir, maxBytes);
    } catch {
      return null;
    }
  }

  get entries(): number {
    return this.sizes.size;
  }

  get bytes(): number {
    return this.total;
  }

  has(key: number): boolean {
    return this.sizes.has(key);
  }

  async put(key: number, image: PixelImage): Promise<boolean> {
    const size = HEADER + image.data.byteLength;
    const previous = this.sizes.get(key) ?? 0;
    if (this.total - previous + size > this.maxBytes) return false;
    const bytes = new Uint8Array(size);
    new DataView(bytes.buffer).setUint32(0, image.width, true);
    new DataView(bytes.buffer).setUint32(4, image.height, true);
    new DataView(bytes.buffer).setUint32(8, image.channels, true);
    bytes.set(image.data, HEADER);
    const handle = (await this.dir.getFileHandle(`${key}.rgb`, { create: true })) as FileHandleWithSync;
    if (handle.createSyncAccessHandle) {
      const access = await handle.createSyncAccessHandle();
      try {
        access.truncate(0);
        access.write(bytes, { at: 0 });
        access.flush();
      } finally {
        access.close();
      }
    } else {
      const writable = await handle.createWritable();
      await writable.write(bytes);
      await writable.close();
    }
    this.sizes.set(key, size);
    this.total += size - previous;
    return true;
  }

  async get(key: number): Promise<PixelImage | null> {
    if (!this.sizes.has(key)) return null;
    const handle = (await this.dir.getFileHandle(`${key}.rgb`)) as FileHandleWithSync;
    let bytes: Uint8Array;
    if (handle.createSyncAccessHandle) {
      const access = await handle.createSyncAccessHandle();
      try {
        bytes = new Uint8Array(access.getSize());
        access.read(bytes, { at: 0 });
      } finally {
        access.close();
      }
    } else {
      bytes = new Uint8Array(await (await handle.getFile()).arrayBuffer());
    }
    if (bytes.length < HEADER) return null;
    const view = new DataView(bytes.buffer);
    const width = view.getUint32(0, true);
    const height = view.getUint32(4, true);
    const channels = view.getUint32(8, true);
    if ((channels !== 3 && channels !== 4) || bytes.length !== HEADER + width * height * channels) return null;
    return { width, height, channels, data: bytes.subarray(HEADER) };
  }

  async clear(): Promise<void> {
    this.sizes.clear();
    this.total = 0;
    await this.root.removeEntry(this.dirName, { recursive: true }).catch(() => {});
    this.dir = await this.root.getDirectoryHandle(this.dirName, { create: true });
  }
}
