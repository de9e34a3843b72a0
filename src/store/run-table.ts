// The run table's sorting and the comparison's verdict. Sorting: by any column, runs without the
// figure last whichever the direction. Verdict: which run won on accuracy, and whether the lead
// is beyond the noise of the evaluation set — one binomial standard error sqrt(p(1 − p)/n) of the
// winner's top-1 over its n validation images (a difference smaller than that is stated as
// within noise). Pure.
import { ACCURACY_NAMES, accuracyOf, collapseOf, type CollapseMode } from './run-evaluation.ts';
import type { RunRecord } from './run-history.ts';

export type RunSortKey = 'name' | 'maskRatio' | 'steps' | 'loss' | 'accuracy' | 'collapse' | 'imagesPerSec' | 'date';
export interface RunSort {
  key: RunSortKey;
  descending: boolean;
}

function sortValue(r: RunRecord, key: RunSortKey, collapse: CollapseMode): number | string | null {
  switch (key) {
    case 'name':
      return r.name;
    case 'maskRatio':
      return r.settings.maskRatio;
    case 'steps':
      return r.steps;
    case 'loss':
      return Number.isFinite(r.smoothedLoss) ? r.smoothedLoss : null;
    case 'accuracy':
      return accuracyOf(r.evaluation)?.top1 ?? null;
    case 'collapse':
      return collapseOf(r.evaluation, collapse);
    case 'imagesPerSec':
      return Number.isFinite(r.meanImagesPerSec) ? r.meanImagesPerSec : null;
    case 'date':
      return r.createdAt;
  }
}

/** A sorted copy; runs lacking the value go last; ties keep the history's order. */
export function sortRuns(runs: readonly RunRecord[], sort: RunSort, collapse: CollapseMode = 'mean'): RunRecord[] {
  const keyed = runs.map((r, i) => ({ r, i, v: sortValue(r, sort.key, collapse) }));
  keyed.sort((a, b) => {
    if (a.v === null || b.v === null) return a.v === null && b.v === null ? a.i - b.i : a.v === null ? 1 : -1;
    const c = typeof a.v === 'string' ? a.v.localeCompare(b.v as string) : a.v - (b.v as number);
    return c !== 0 ? (sort.descending ? -c : c) : a.i - b.i;
  });
  return keyed.map((k) => k.r);
}

/** The next sort when a column header is clicked: the same column flips, a new one starts descending for figures where higher is better. */
export function nextSort(current: RunSort | null, key: RunSortKey): RunSort {
  if (current?.key === key) return { key, descending: !current.descending };
  return { key, descending: key === 'accuracy' || key === 'collapse' || key === 'imagesPerSec' || key === 'date' };
}

/** One binomial standard error of a top-1 `p` measured on `n` images. */
export function binomialStandardError(p: number, n: number): number {
  return n > 0 ? Math.sqrt((p * (1 - p)) / n) : Infinity;
}

export interface AccuracyVerdict {
  /** The run with the highest top-1 (null: fewer than two runs measured). */
  winner: RunRecord | null;
  runnerUp: RunRecord | null;
  /** winner − runner-up, in [0, 1]. */
  difference: number;
  standardError: number;
  withinNoise: boolean;
  text: string;
}

const pct = (x: number) => `${(100 * x).toFixed(1)} %`;
const pp = (x: number) => `${(100 * x).toFixed(1)} pp`;

/** Which of the compared runs won on accuracy, and whether by more than the evaluation set's noise. */
export function accuracyVerdict(runs: readonly RunRecord[]): AccuracyVerdict {
  const measured = runs.map((r) => ({ r, a: accuracyOf(r.evaluation) })).filter((x): x is { r: RunRecord; a: NonNullable<ReturnType<typeof accuracyOf>> } => x.a !== null);
  if (measured.length < 2) {
    return { winner: null, runnerUp: null, difference: 0, standardError: 0, withinNoise: true, text: measured.length === 0 ? 'No compared run has an accuracy yet: end a sweep with an evaluation, or run a probe before saving.' : 'Only one compared run has an accuracy: nothing to compare it with.' };
  }
  const sorted = [...measured].sort((x, y) => y.a.top1 - x.a.top1);
  const [best, second] = [sorted[0]!, sorted[1]!];
  const difference = best.a.top1 - second.a.top1;
  const standardError = binomialStandardError(best.a.top1, best.a.valCount);
  const kinds = new Set(measured.map((m) => m.a.kind));
  const name = kinds.size === 1 ? `${ACCURACY_NAMES[best.a.kind]} top-1` : 'top-1 (mixed measurements)';
  const base = best.a.baselineTop1 !== null ? `; random init ${pct(best.a.baselineTop1)}` : '';
  const withinNoise = difference <= standardError;
  const text = withinNoise
    ? `No clear winner on ${name}: ${best.r.name} ${pct(best.a.top1)} vs ${second.r.name} ${pct(second.a.top1)}, a difference of ${pp(difference)}, within one standard error (${pp(standardError)} at ${best.a.valCount} validation images)${base}.`
    : `${best.r.name} won on ${name}: ${pct(best.a.top1)} vs ${pct(second.a.top1)} for ${second.r.name} (next best), ${pp(difference)} ahead, more than one standard error (${pp(standardError)} at ${best.a.valCount} validation images)${base}.`;
  return { winner: best.r, runnerUp: second.r, difference, standardError, withinNoise, text };
}
