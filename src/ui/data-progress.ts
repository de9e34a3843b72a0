// What the data panel says while a data set loads ("Indexing 4,210 / 10,000", with a bar) and
// how full the decoded-image cache is ("12.3 MiB / 512.0 MiB"). Pure, so the wording is tested
// without a browser.
import { bytes } from '../bench/format.ts';
import type { CacheStats, ProgressEvent } from '../worker/protocol.ts';

const count = (n: number): string => Math.round(n).toLocaleString('en-US');

const TASK_NAMES: Record<ProgressEvent['task'], string> = { walk: 'Listing', index: 'Indexing', decode: 'Decoding', unzip: 'Unpacking' };

export interface ProgressView {
  /** "Indexing 4,210 / 10,000", or "Listing 4,210 files" while the total is unknown. */
  text: string;
  /** 0…1 for a determinate bar; null while the total is unknown. */
  fraction: number | null;
}

export function progressView(p: ProgressEvent): ProgressView {
  const name = TASK_NAMES[p.task] ?? p.task;
  if (p.task === 'unzip') return { text: p.done >= p.total ? 'Unpacked' : 'Unpacking the zip', fraction: p.total > 0 ? Math.min(1, p.done / p.total) : null };
  if (!(p.total > 0)) return { text: `${name} ${count(p.done)} files`, fraction: null };
  return { text: `${name} ${count(p.done)} / ${count(p.total)}`, fraction: Math.min(1, p.done / p.total) };
}

/** "12.3 MiB / 512.0 MiB in memory (1,234 images)", plus what went to the disk spill. */
export function cacheView(c: CacheStats): string {
  const memory = `${bytes(c.memoryBytes)} / ${bytes(c.memoryBudgetBytes)} in memory (${count(c.memoryEntries)} images)`;
  return c.spilledEntries > 0 ? `${memory}, ${bytes(c.spilledBytes)} spilled to disk (${count(c.spilledEntries)} images)` : memory;
}
