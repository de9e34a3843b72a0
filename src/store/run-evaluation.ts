// What the encoder of a recorded run measured, kept with the run in the history (IndexedDB) and
// its exports: the probes' and the fine-tune's top-1 with the random-init figure beside, the
// feature-collapse curve, and the kNN-tracking curve. Built from the evaluation results the page
// holds for that run; the run table reads it (run-table.ts). Pure.
import type { EvaluationResult } from './evaluation-slice.ts';

export type AccuracyKind = 'knn' | 'linear' | 'finetune';

export interface AccuracyFigure {
  top1: number;
  /** The same measurement of a random initialisation of the same architecture (null: not measured). */
  baselineTop1: number | null;
  /** Validation images the top-1 counts (the binomial standard error needs it). */
  valCount: number;
  classes: number;
  /** The pretraining step measured. */
  pretrainStep: number;
}

export interface CollapseFigure {
  /** Per block, stage 0 block 0 first. */
  distance: number[];
  baselineDistance: number[] | null;
  images: number;
  pretrainStep: number;
}

export interface KnnTrackCurve {
  step: number[];
  top1: number[];
  baselineTop1: number | null;
  valCount: number;
}

export interface RunEvaluation {
  knn?: AccuracyFigure;
  linear?: AccuracyFigure;
  finetune?: AccuracyFigure;
  collapse?: CollapseFigure;
  knnTrack?: KnnTrackCurve;
  /** The measurement a sweep chose to judge its runs by (the table's accuracy column). */
  judgedBy?: AccuracyKind;
}

/** The latest result of each kind among `results` (a run's own), as stored with the run; undefined when there is none. */
export function runEvaluationOf(results: readonly EvaluationResult[], knnTrack: KnnTrackCurve | null, judgedBy?: AccuracyKind): RunEvaluation | undefined {
  const out: RunEvaluation = {};
  for (const r of results) {
    if (r.kind === 'knn' || r.kind === 'linear') {
      const kind: 'knn' | 'linear' = r.kind;
      out[kind] = { top1: r.probe.top1, baselineTop1: r.probe.baselineTop1, valCount: r.probe.valCount, classes: r.probe.classes.length, pretrainStep: r.pretrainStep };
    } else if (r.kind === 'finetune') {
      out.finetune = { top1: r.finetune.top1, baselineTop1: r.baseline ? r.baseline.top1 : null, valCount: r.finetune.valCount, classes: r.finetune.classes.length, pretrainStep: r.pretrainStep };
    } else if (r.kind === 'collapse') {
      out.collapse = { distance: [...r.collapse.distance], baselineDistance: r.collapse.baselineDistance ? [...r.collapse.baselineDistance] : null, images: r.collapse.images, pretrainStep: r.pretrainStep };
    }
  }
  if (knnTrack && knnTrack.step.length > 0) out.knnTrack = { ...knnTrack, step: [...knnTrack.step], top1: [...knnTrack.top1] };
  if (judgedBy) out.judgedBy = judgedBy;
  return Object.keys(out).length > 0 ? out : undefined;
}

/** The figure a run is judged by: the sweep's choice, else kNN, linear probe, fine-tune (whichever exists first). */
export function accuracyOf(e: RunEvaluation | undefined): (AccuracyFigure & { kind: AccuracyKind }) | null {
  if (!e) return null;
  const order: AccuracyKind[] = e.judgedBy ? [e.judgedBy] : ['knn', 'linear', 'finetune'];
  for (const kind of order) {
    const f = e[kind];
    if (f) return { ...f, kind };
  }
  return null;
}

export type CollapseMode = 'mean' | 'last';

/** Mean cosine distance over the blocks, or the last block's value (where V1 + FCMAE collapses); null when not measured. */
export function collapseOf(e: RunEvaluation | undefined, mode: CollapseMode, baseline = false): number | null {
  const d = baseline ? e?.collapse?.baselineDistance : e?.collapse?.distance;
  if (!d || d.length === 0) return null;
  return mode === 'last' ? d[d.length - 1]! : d.reduce((a, b) => a + b, 0) / d.length;
}

export const ACCURACY_NAMES: Record<AccuracyKind, string> = { knn: 'kNN', linear: 'linear probe', finetune: 'fine-tune' };
