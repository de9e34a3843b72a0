// Finished runs (single runs and each run of a sweep): what the experiments table lists and
// compares, their exports (CSV in long format, JSON), and their persistence in IndexedDB so
// the history survives reloads. Export functions are pure; the IndexedDB part needs a browser.
// A write counts once its transaction completed: a full store (QuotaExceededError) often aborts
// the transaction after the request itself succeeded, and gets its own message
// (RunHistoryQuotaError): the run stays in the page's list, the runs already stored are kept.
import { accuracyOf, collapseOf, type RunEvaluation } from './run-evaluation.ts';
import type { Settings } from './settings.ts';

export interface RunCurves {
  step: number[];
  loss: number[];
  lr: number[];
  imagesPerSec: number[];
}

export interface RunRecord {
  id: string;
  name: string;
  /** ms since epoch. */
  createdAt: number;
  /** Runs of one sweep share it. */
  sweepId?: string;
  settings: Settings;
  dataset: { name: string; images: number };
  steps: number;
  finalLoss: number;
  /** Debiased EMA of the loss at the end (smoothing of the run's settings). */
  smoothedLoss: number;
  meanImagesPerSec: number;
  wallSeconds: number;
  curves: RunCurves;
  /** Final reconstructions of the evaluation images at a common mask ratio (PNG). */
  reconstruction?: { maskRatio: number; maskSeed: number; png: Blob };
  /** What the run's encoder measured (probes, fine-tune, collapse, kNN tracking); absent in runs stored before it. */
  evaluation?: RunEvaluation;
}

export class RunHistoryError extends Error {
  override readonly name: string = 'RunHistoryError';
}

/** The browser's storage for this page is full: the run was not stored (nothing else was lost). */
export class RunHistoryQuotaError extends RunHistoryError {
  override readonly name = 'RunHistoryQuotaError';
}

/** IndexedDB's failure while doing `action` as a RunHistoryError; a full store gets its own message. */
export function historyErrorOf(error: { name: string; message: string } | null, action: string): RunHistoryError {
  if (error?.name === 'QuotaExceededError') {
    return new RunHistoryQuotaError(
      `The browser's storage for this page is full (QuotaExceededError): ${action} was not saved in the run history. ` +
        'It stays in this list until the page is reloaded, and the runs already stored are kept. Export the runs (CSV/JSON) and delete older ones to make room.',
    );
  }
  return new RunHistoryError(`IndexedDB: ${error?.message ?? 'request failed'} (${action})`);
}

function transactionDone(tx: IDBTransaction, action: string): Promise<void> {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onabort = () => reject(historyErrorOf(tx.error, action));
    tx.onerror = () => reject(historyErrorOf(tx.error, action));
  });
}

function csvField(v: string | number): string {
  const s = String(v);
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export const CSV_HEADER = [
  'run_id', 'run_name', 'mask_ratio', 'model', 'batch_size', 'blr', 'seed', 'step', 'loss', 'lr', 'images_per_sec',
  // what the run's encoder measured (the same on every row of a run; empty where not measured)
  'evaluation', 'accuracy', 'accuracy_random_init', 'evaluation_step', 'collapse_mean', 'collapse_last_block', 'collapse_mean_random_init', 'collapse_last_block_random_init',
] as const;

const orEmpty = (v: number | null | undefined): string | number => (v === null || v === undefined ? '' : v);

/** The evaluation columns of a run: the accuracy it is judged by (run-table.ts's column) with its random-init figure, and the collapse summaries. */
function evaluationFields(e: RunEvaluation | undefined): string {
  const a = accuracyOf(e);
  return [a?.kind ?? '', orEmpty(a?.top1), orEmpty(a?.baselineTop1), orEmpty(a?.pretrainStep), orEmpty(collapseOf(e, 'mean')), orEmpty(collapseOf(e, 'last')), orEmpty(collapseOf(e, 'mean', true)), orEmpty(collapseOf(e, 'last', true))]
    .map(csvField)
    .join(',');
}

/** Every run's curve, one row per (run, step), with the run's evaluation results repeated on each: easy to load in pandas or a spreadsheet. */
export function runsToCsv(runs: readonly RunRecord[]): string {
  const lines = [CSV_HEADER.join(',')];
  for (const r of runs) {
    // runs stored before the GRN option have no `grn`: they had GRN
    const model = (r.settings.size === 'custom' ? `custom(${r.settings.depths.join('-')}/${r.settings.dims.join('-')})` : r.settings.size) + (r.settings.grn === false ? ' no-GRN' : '');
    const fixed = [r.id, r.name, r.settings.maskRatio, model, r.settings.batchSize, r.settings.blr, r.settings.seed].map(csvField).join(',');
    const evaluation = evaluationFields(r.evaluation);
    const c = r.curves;
    for (let i = 0; i < c.step.length; i++) lines.push(`${fixed},${c.step[i]},${c.loss[i]},${c.lr[i]},${c.imagesPerSec[i]},${evaluation}`);
  }
  return `${lines.join('\n')}\n`;
}

/** Runs as JSON (settings, results, curves); reconstructions (binary) are left out. */
export function runsToJson(runs: readonly RunRecord[]): string {
  const plain = runs.map(({ reconstruction, ...rest }) => ({ ...rest, reconstruction: reconstruction ? { maskRatio: reconstruction.maskRatio, maskSeed: reconstruction.maskSeed } : undefined }));
  return JSON.stringify({ format: 'fcmae-playground-runs', version: 1, runs: plain }, null, 1);
}

/** Settings that differ between the runs compared (what the comparison table highlights). */
export function differingSettings(runs: readonly RunRecord[]): (keyof Settings)[] {
  if (runs.length < 2) return [];
  // runs stored before the GRN option had GRN
  const settings = runs.map((r) => ({ ...r.settings, grn: (r.settings.grn as boolean | undefined) ?? true }));
  const keys = Object.keys(settings[0]!) as (keyof Settings)[];
  const viewOnly = new Set<keyof Settings>(['viewMaskRatio', 'viewMaskSeed', 'smoothing', 'logScale', 'sweepRatios', 'sweepSteps', 'sweepAxis', 'sweepValues', 'sweepEval', 'knnEvery', 'evalSubset', 'evalData']);
  return keys.filter((k) => !viewOnly.has(k) && settings.some((s) => JSON.stringify(s[k]) !== JSON.stringify(settings[0]![k])));
}

// ---------------------------------------------------------------- IndexedDB

const DB_NAME = 'fcmae-playground';
const DB_VERSION = 1;
const STORE = 'runs';

function request<T>(r: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(historyErrorOf(r.error, 'the request'));
  });
}

/** The run store in this browser's IndexedDB. */
export class RunHistoryDb {
  /** Over an open database (open() in the page; tests pass a database that fails as they need). */
  constructor(private readonly db: IDBDatabase) {}

  static async open(): Promise<RunHistoryDb> {
    if (typeof indexedDB === 'undefined') throw new RunHistoryError('IndexedDB is not available in this browser (private mode?): run history will not be kept across reloads');
    const open = indexedDB.open(DB_NAME, DB_VERSION);
    open.onupgradeneeded = () => {
      const db = open.result;
      if (!db.objectStoreNames.contains(STORE)) db.createObjectStore(STORE, { keyPath: 'id' });
    };
    return new RunHistoryDb(await request(open));
  }

  private store(mode: IDBTransactionMode): IDBObjectStore {
    return this.db.transaction(STORE, mode).objectStore(STORE);
  }

  async put(run: RunRecord): Promise<void> {
    const tx = this.db.transaction(STORE, 'readwrite');
    const done = transactionDone(tx, `run "${run.name}"`);
    tx.objectStore(STORE).put(run);
    await done;
  }

  async list(): Promise<RunRecord[]> {
    const runs = (await request(this.store('readonly').getAll())) as RunRecord[];
    return runs.sort((a, b) => a.createdAt - b.createdAt);
  }

  async delete(id: string): Promise<void> {
    await request(this.store('readwrite').delete(id));
  }

  close(): void {
    this.db.close();
  }
}
