// What the data layer reports about a loaded dataset: counts, classes, skipped files with
// their reasons, and the decoded-pixel cache. Produced by src/data/browser-dataset.ts and sent
// unchanged by the worker (src/worker/protocol.ts re-exports these types).
import type { PixelCacheStats } from './browser-cache.ts';
import type { SkipCode, SkippedFile } from './indexing.ts';

export type DatasetSource = 'demo' | 'files' | 'directory' | 'zip';

export interface DatasetSummary {
  source: DatasetSource;
  /** Folder or zip name, 'demo' for the built-in set. */
  name: string;
  /** Images usable for training (indexed minus those that failed to decode so far). */
  images: number;
  /** Sorted class names (first-level subfolders), empty when unlabelled. */
  classes: string[];
  /** Images per class, aligned with classes. */
  classCounts: number[];
  /** Every file not used, with its reason, sorted by path. */
  skipped: SkippedFile[];
  skippedByCode: Partial<Record<SkipCode, number>>;
  /** Images decoded at least once (cache or verification pass). */
  decoded: number;
  /** True once every indexed image has been decoded (so `skipped` is final). */
  verified: boolean;
  /** Shorter side the images are decoded to, pixels (from the input size). */
  decodeSize: number;
  cache: CacheStats;
  /** Increases whenever any field above changes. */
  revision: number;
}

/** The decoded-pixel cache's counters (browser-cache.ts), plus the full decodes done so far. */
export interface CacheStats extends PixelCacheStats {
  /** Full decodes performed (a spill read-back is not a decode). */
  decodes: number;
}
