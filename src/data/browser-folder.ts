// Getting a folder of images out of the browser, every way a person can hand one over:
// - drag and drop: DataTransferItem.webkitGetAsEntry, walked recursively. A directory reader
//   returns at most 100 entries per readEntries call in Chromium, so it is called until it
//   returns nothing. Entries must be taken synchronously inside the drop event (the
//   DataTransfer is emptied afterwards): collectDropEntries does that part, and also asks
//   Chromium for FileSystemHandles (getAsFileSystemHandle), which can be walked in the worker.
//   A walk of entries runs on the page's thread, so it gives the thread back in time slices.
// - showDirectoryPicker (Chromium): a FileSystemDirectoryHandle, walked with values(); the
//   handle can also be posted to the worker and walked there (loadDirectory).
// - <input type=file webkitdirectory>: a FileList whose webkitRelativePath gives the path.
// - a zip of images, unpacked with fflate (sizes checked before anything is inflated).
// The result is a FolderListing: paths relative to the dropped/picked parent (so the folder's own
// name is the first segment, which indexFiles strips), the File objects (lazy: nothing is read
// here), and the entries that could not be read. Hidden folders (.git, __MACOSX) are not entered
// and are reported once. Sorting and classification happen later (indexing.ts).
import { unzipSync } from 'fflate';
import type { SkippedFile } from './indexing.ts';
import { mapInChunks, TimeSlicer } from './browser-concurrency.ts';

export interface DatasetFile {
  /** '/'-separated, relative to the parent of the dropped/picked folder. */
  path: string;
  /** A File (or a Blob for zip entries); structured-cloneable to the worker without copying. */
  file: Blob;
}

export interface FolderListing {
  /** The folder or zip name ('dropped files' for a loose selection). */
  name: string;
  files: DatasetFile[];
  /** Folders or files that could not be read, and hidden folders not entered. */
  unreadable: SkippedFile[];
}

export interface WalkOptions {
  signal?: AbortSignal;
  /** Called as files are found (count so far). */
  onProgress?: (files: number) => void;
  /**
   * Main-thread walks only (dropped entries): gives the thread back whenever a slice of work
   * used its budget, so a 10,000-file drop never freezes the page. Default: a 12 ms slicer.
   */
  slicer?: TimeSlicer;
}

const isHiddenFolder = (name: string): boolean => name.startsWith('.') || name === '__MACOSX';

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : e instanceof DOMException ? e.message : String(e);
}

function checkAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw signal.reason ?? new DOMException('aborted', 'AbortError');
}

// ---------------------------------------------------------------------------- <input webkitdirectory>

/** Files of an <input type=file webkitdirectory> (or multiple) selection. */
export function filesFromFileList(list: ArrayLike<File>, name?: string): FolderListing {
  const files: DatasetFile[] = [];
  for (let i = 0; i < list.length; i++) {
    const f = list[i]!;
    files.push({ path: f.webkitRelativePath || f.name, file: f });
  }
  const first = files[0]?.path ?? '';
  const folder = first.includes('/') ? first.slice(0, first.indexOf('/')) : null;
  return { name: name ?? folder ?? 'selected files', files, unreadable: [] };
}

// ---------------------------------------------------------------------------- drag and drop

export interface DropEntries {
  entries: FileSystemEntry[];
  files: File[];
  /**
   * Chromium: the same items as FileSystemHandles (getAsFileSystemHandle, which must be asked
   * for inside the event). A directory handle can be posted to the worker and walked there, so
   * a big dropped folder costs the page nothing; null where the browser has no such call.
   */
  handles: Promise<(FileSystemHandle | null)[]> | null;
}

type ItemWithHandle = DataTransferItem & { getAsFileSystemHandle?: () => Promise<FileSystemHandle | null> };

/** Call synchronously in the drop handler: the entries (folders) and loose files it carries. */
export function collectDropEntries(dt: DataTransfer): DropEntries {
  const entries: FileSystemEntry[] = [];
  const files: File[] = [];
  const handles: Promise<FileSystemHandle | null>[] = [];
  let handlesAvailable = dt.items !== undefined && dt.items.length > 0;
  if (dt.items && dt.items.length) {
    for (let i = 0; i < dt.items.length; i++) {
      const item = dt.items[i]! as ItemWithHandle;
      if (item.kind !== 'file') continue;
      if (typeof item.getAsFileSystemHandle === 'function') {
        handles.push(item.getAsFileSystemHandle().catch(() => null));
      } else handlesAvailable = false;
      const entry = typeof item.webkitGetAsEntry === 'function' ? item.webkitGetAsEntry() : null;
      if (entry) entries.push(entry);
      else {
        const f = item.getAsFile();
        if (f) files.push(f);
      }
    }
  } else {
    for (let i = 0; i < dt.files.length; i++) files.push(dt.files[i]!);
  }
  return { entries, files, handles: handlesAvailable && handles.length > 0 ? Promise.all(handles) : null };
}

function readAllEntries(reader: FileSystemDirectoryReader): Promise<FileSystemEntry[]> {
  return new Promise((resolve, reject) => {
    const all: FileSystemEntry[] = [];
    const next = () =>
      reader.readEntries((batch) => {
        if (batch.length === 0) resolve(all);
        else {
          all.push(...batch);
          next(); // Chromium hands out at most 100 per call: keep asking until empty
        }
      }, reject);
    next();
  });
}

function fileOf(entry: FileSystemFileEntry): Promise<File> {
  return new Promise((resolve, reject) => entry.file(resolve, reject));
}

/**
 * Walks dropped entries (files and folders, recursively) on the page's thread, in time slices:
 * Chromium spends about half a millisecond of main-thread time per entry.file() call, so the
 * File objects are fetched in small chunks with a yield whenever a slice is used up.
 */
export async function filesFromEntries(entries: readonly FileSystemEntry[], options: WalkOptions = {}): Promise<FolderListing> {
  const slicer = options.slicer ?? new TimeSlicer();
  const fileEntries: { path: string; entry: FileSystemFileEntry }[] = [];
  const unreadable: SkippedFile[] = [];
  const relative = (e: FileSystemEntry) => e.fullPath.replace(/^\/+/, '');
  const stack: FileSystemEntry[] = [...entries];
  while (stack.length) {
    checkAborted(options.signal);
    await slicer.slice();
    const entry = stack.pop()!;
    if (entry.isFile) {
      fileEntries.push({ path: relative(entry), entry: entry as FileSystemFileEntry });
      continue;
    }
    if (!entry.isDirectory) continue;
    if (isHiddenFolder(entry.name) && !entries.includes(entry)) {
      unreadable.push({ path: relative(entry), code: 'hidden', reason: `hidden folder ${entry.name}: not read` });
      continue;
    }
    try {
      stack.push(...(await readAllEntries((entry as FileSystemDirectoryEntry).createReader())));
    } catch (e) {
      unreadable.push({ path: relative(entry), code: 'unreadable', reason: `folder could not be read (${errorText(e)})` });
    }
    options.onProgress?.(fileEntries.length);
  }
  options.onProgress?.(fileEntries.length);
  const files: DatasetFile[] = [];
  await mapInChunks(
    fileEntries,
    16,
    8,
    async ({ path, entry }) => {
      try {
        files.push({ path, file: await fileOf(entry) });
      } catch (e) {
        unreadable.push({ path, code: 'unreadable', reason: `could not be read (${errorText(e)})` });
      }
    },
    {
      signal: options.signal,
      // progress counts files found (the walk above); here only the thread is given back
      between: () => slicer.slice(),
    },
  );
  files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const dirs = entries.filter((e) => e.isDirectory);
  const name = dirs.length === 1 && entries.length === 1 ? dirs[0]!.name : 'dropped files';
  return { name, files, unreadable };
}

/** Everything a drop carried; call collectDropEntries inside the event if you await first. */
export async function filesFromDataTransfer(dt: DataTransfer | ReturnType<typeof collectDropEntries>, options: WalkOptions = {}): Promise<FolderListing> {
  const { entries, files } = 'entries' in dt ? dt : collectDropEntries(dt);
  const listing = await filesFromEntries(entries, options);
  for (const f of files) listing.files.push({ path: f.name, file: f });
  if (files.length && entries.length === 0) listing.name = files.length === 1 ? files[0]!.name : 'dropped files';
  return listing;
}

// ---------------------------------------------------------------------------- directory handles

interface IterableDirectoryHandle extends FileSystemDirectoryHandle {
  values(): AsyncIterable<FileSystemHandle>;
}

/** Walks a directory handle (showDirectoryPicker, OPFS); works in a worker too. */
export async function filesFromDirectoryHandle(handle: FileSystemDirectoryHandle, options: WalkOptions = {}): Promise<FolderListing> {
  const files: DatasetFile[] = [];
  const unreadable: SkippedFile[] = [];
  const stack: { dir: FileSystemDirectoryHandle; path: string }[] = [{ dir: handle, path: handle.name }];
  while (stack.length) {
    checkAborted(options.signal);
    const { dir, path } = stack.pop()!;
    const fileHandles: { path: string; handle: FileSystemFileHandle }[] = [];
    try {
      for await (const child of (dir as IterableDirectoryHandle).values()) {
        const childPath = `${path}/${child.name}`;
        if (child.kind === 'directory') {
          if (isHiddenFolder(child.name)) unreadable.push({ path: childPath, code: 'hidden', reason: `hidden folder ${child.name}: not read` });
          else stack.push({ dir: child as FileSystemDirectoryHandle, path: childPath });
        } else fileHandles.push({ path: childPath, handle: child as FileSystemFileHandle });
      }
    } catch (e) {
      unreadable.push({ path, code: 'unreadable', reason: `folder could not be read (${errorText(e)})` });
    }
    // getFile() calls overlap (a few at a time, in chunks: a folder of 10,000 files stays bounded)
    await mapInChunks(
      fileHandles,
      64,
      8,
      async ({ path: filePath, handle: fileHandle }) => {
        try {
          files.push({ path: filePath, file: await fileHandle.getFile() });
        } catch (e) {
          unreadable.push({ path: filePath, code: 'unreadable', reason: `could not be read (${errorText(e)})` });
        }
      },
      { signal: options.signal, between: () => options.onProgress?.(files.length) },
    );
    options.onProgress?.(files.length);
  }
  files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return { name: handle.name, files, unreadable };
}

/** Whether the browser offers showDirectoryPicker (Chromium desktop). */
export function directoryPickerAvailable(): boolean {
  return typeof (globalThis as { showDirectoryPicker?: unknown }).showDirectoryPicker === 'function';
}

/** Opens the directory picker; null when the person cancels it or it does not exist. */
export async function pickDirectory(): Promise<FileSystemDirectoryHandle | null> {
  const pick = (globalThis as { showDirectoryPicker?: (o?: { mode?: string; id?: string }) => Promise<FileSystemDirectoryHandle> }).showDirectoryPicker;
  if (!pick) return null;
  try {
    return await pick({ mode: 'read', id: 'fcmae-dataset' });
  } catch (e) {
    if (e instanceof DOMException && e.name === 'AbortError') return null;
    throw e;
  }
}

// ---------------------------------------------------------------------------- zip

export class ZipDatasetError extends Error {
  override readonly name = 'ZipDatasetError';
  constructor(
    readonly file: string,
    detail: string,
  ) {
    super(`${file}: ${detail}`);
  }
}

export interface ZipLimits {
  maxEntries: number;
  /** Sum of uncompressed sizes, bytes (everything is held in memory). */
  maxTotalBytes: number;
}

export const DEFAULT_DATASET_ZIP_LIMITS: ZipLimits = { maxEntries: 200_000, maxTotalBytes: 2 * 1024 ** 3 };

/** Unpacks a zip of images into a listing (directories dropped, sizes checked before inflating). */
export function filesFromZip(bytes: Uint8Array, name: string, limits: ZipLimits = DEFAULT_DATASET_ZIP_LIMITS): FolderListing {
  let entries = 0;
  let total = 0;
  let unpacked: Record<string, Uint8Array>;
  try {
    unpacked = unzipSync(bytes, {
      filter: (f) => {
        if (f.name.endsWith('/')) return false;
        entries++;
        total += f.originalSize;
        if (entries > limits.maxEntries) throw new ZipDatasetError(name, `more than ${limits.maxEntries} entries`);
        if (total > limits.maxTotalBytes) throw new ZipDatasetError(name, `unpacks to more than ${(limits.maxTotalBytes / 1024 ** 3).toFixed(1)} GiB: unzip it and drop the folder instead`);
        return true;
      },
    });
  } catch (e) {
    if (e instanceof ZipDatasetError) throw e;
    throw new ZipDatasetError(name, `not a readable zip archive (${errorText(e)})`);
  }
  const files: DatasetFile[] = Object.entries(unpacked)
    .map(([path, data]) => ({ path, file: new Blob([data as Uint8Array<ArrayBuffer>]) }))
    .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return { name, files, unreadable: [] };
}
