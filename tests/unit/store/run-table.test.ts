// The run table: what a run's evaluation stores, sorting by any column (runs without the figure
// last), and the comparison's verdict on accuracy with its noise rule (one binomial standard
// error of the winner's top-1 over its validation images); kNN-tracking points in the store.
import { describe, expect, it } from 'vitest';
import type { EvaluationResult } from '../../../src/store/evaluation-slice.ts';
import { accuracyOf, collapseOf, runEvaluationOf, type RunEvaluation } from '../../../src/store/run-evaluation.ts';
import type { RunRecord } from '../../../src/store/run-history.ts';
import { runsToJson } from '../../../src/store/run-history.ts';
import { accuracyVerdict, binomialStandardError, nextSort, sortRuns } from '../../../src/store/run-table.ts';
import { defaultSettings } from '../../../src/store/settings.ts';
import { createAppStore } from '../../../src/store/store.ts';

function run(name: string, loss: number, evaluation?: RunEvaluation, createdAt = 1): RunRecord {
  return {
    id: name, name, createdAt, settings: defaultSettings(), dataset: { name: 'demo', images: 300 }, steps: 10, finalLoss: loss, smoothedLoss: loss, meanImagesPerSec: 5, wallSeconds: 1,
    curves: { step: [1], loss: [loss], lr: [0], imagesPerSec: [5] }, evaluation,
  };
}
const knn = (top1: number, valCount = 200, collapse?: number[]): RunEvaluation => ({
  knn: { top1, baselineTop1: 0.5, valCount, classes: 10, pretrainStep: 10 },
  ...(collapse ? { collapse: { distance: collapse, baselineDistance: collapse.map(() => 0.45), images: 8, pretrainStep: 10 } } : {}),
});

describe('run evaluation', () => {
  it('keeps the latest result of each kind, the tracking curve and what the sweep judged by', () => {
    const probe = (top1: number, id: number): EvaluationResult => ({ id, kind: 'knn', pretrainStep: 5, data: 'fashion-demo', createdAt: 0, probe: { encoder: 'current', data: 'fashion-demo', method: 'knn', pretrainStep: 5, classes: ['a', 'b'], trainCount: 8, valCount: 2, top1, baselineTop1: 0.5 } });
    const collapse: EvaluationResult = { id: 3, kind: 'collapse', pretrainStep: 5, data: 'fashion-demo', createdAt: 0, collapse: { encoder: 'current', data: 'fashion-demo', pretrainStep: 5, images: 4, blocks: [], distance: [0.4, 0.2], baselineDistance: [0.45, 0.44] } };
    const e = runEvaluationOf([probe(0.5, 1), probe(1, 2), collapse], { step: [2, 4], top1: [0.5, 1], baselineTop1: 0.5, valCount: 2 }, 'knn')!;
    expect(e.knn).toEqual({ top1: 1, baselineTop1: 0.5, valCount: 2, classes: 2, pretrainStep: 5 });
    expect(e.judgedBy).toBe('knn');
    expect(e.knnTrack?.step).toEqual([2, 4]);
    expect(collapseOf(e, 'mean')).toBeCloseTo(0.3, 12);
    expect(collapseOf(e, 'last')).toBe(0.2);
    expect(collapseOf(e, 'last', true)).toBe(0.44);
    expect(runEvaluationOf([], null)).toBeUndefined();
    // stored with the run: IndexedDB keeps a structured clone, the JSON export the figures
    const r = run('r', 0.5, e);
    expect(structuredClone(r).evaluation).toEqual(e);
    expect((JSON.parse(runsToJson([r])) as { runs: RunRecord[] }).runs[0]!.evaluation).toEqual(e);
  });

  it('judges by the sweep\'s choice, else kNN, linear probe, fine-tune', () => {
    const fig = { top1: 0.3, baselineTop1: null, valCount: 10, classes: 2, pretrainStep: 1 };
    expect(accuracyOf({ linear: fig, finetune: { ...fig, top1: 0.9 } })?.kind).toBe('linear');
    expect(accuracyOf({ linear: fig, finetune: { ...fig, top1: 0.9 }, judgedBy: 'finetune' })?.top1).toBe(0.9);
    expect(accuracyOf({ judgedBy: 'knn', linear: fig })).toBeNull();
    expect(accuracyOf(undefined)).toBeNull();
  });
});

describe('run table sorting', () => {
  const runs = [run('a', 0.3, knn(0.6, 200, [0.4, 0.1])), run('b', 0.2), run('c', 0.4, knn(0.7, 200, [0.3, 0.3]))];
  it('sorts by a figure either way, runs without it last; ties keep the history order', () => {
    expect(sortRuns(runs, { key: 'accuracy', descending: true }).map((r) => r.name)).toEqual(['c', 'a', 'b']);
    expect(sortRuns(runs, { key: 'accuracy', descending: false }).map((r) => r.name)).toEqual(['a', 'c', 'b']);
    expect(sortRuns(runs, { key: 'loss', descending: false }).map((r) => r.name)).toEqual(['b', 'a', 'c']);
    expect(sortRuns(runs, { key: 'collapse', descending: true }, 'mean').map((r) => r.name)).toEqual(['c', 'a', 'b']);
    expect(sortRuns(runs, { key: 'collapse', descending: true }, 'last').map((r) => r.name)).toEqual(['c', 'a', 'b']);
    expect(sortRuns(runs, { key: 'collapse', descending: false }, 'last').map((r) => r.name)).toEqual(['a', 'c', 'b']);
    expect(sortRuns(runs, { key: 'steps', descending: true }).map((r) => r.name)).toEqual(['a', 'b', 'c']);
    expect(sortRuns(runs, { key: 'name', descending: true }).map((r) => r.name)).toEqual(['c', 'b', 'a']);
  });
  it('a header click flips its column; a new figure column starts with the best first', () => {
    expect(nextSort(null, 'accuracy')).toEqual({ key: 'accuracy', descending: true });
    expect(nextSort({ key: 'accuracy', descending: true }, 'accuracy')).toEqual({ key: 'accuracy', descending: false });
    expect(nextSort({ key: 'accuracy', descending: true }, 'loss')).toEqual({ key: 'loss', descending: false });
  });
});

describe('accuracy verdict', () => {
  it('names the winner when the lead is more than one binomial standard error', () => {
    // 0.70 on 200 images: SE = sqrt(0.7·0.3/200) = 3.24 pp; the lead is 10 pp
    const v = accuracyVerdict([run('mask 0.4', 0.3, knn(0.6)), run('mask 0.6', 0.4, knn(0.7)), run('loss only', 0.1)]);
    expect(v.winner?.name).toBe('mask 0.6');
    expect(v.runnerUp?.name).toBe('mask 0.4');
    expect(v.standardError).toBeCloseTo(Math.sqrt((0.7 * 0.3) / 200), 12);
    expect(v.withinNoise).toBe(false);
    expect(v.text).toBe('mask 0.6 won on kNN top-1: 70.0 % vs 60.0 % for mask 0.4 (next best), 10.0 pp ahead, more than one standard error (3.2 pp at 200 validation images); random init 50.0 %.');
  });
  it('says when the difference is within noise, and when there is nothing to compare', () => {
    const v = accuracyVerdict([run('GRN on', 0.3, knn(0.62)), run('GRN off', 0.3, knn(0.6))]);
    expect(v.withinNoise).toBe(true);
    expect(v.text).toMatch(/^No clear winner on kNN top-1: GRN on 62\.0 % vs GRN off 60\.0 %, a difference of 2\.0 pp, within one standard error \(3\.4 pp at 200 validation images\)/);
    expect(accuracyVerdict([run('x', 0.3, knn(0.6)), run('y', 0.2)]).text).toMatch(/Only one compared run/);
    expect(accuracyVerdict([run('x', 0.3)]).winner).toBeNull();
    expect(binomialStandardError(0.5, 0)).toBe(Infinity);
  });
});

describe('kNN tracking in the store', () => {
  it('collects points per run; a newer run starts over, an earlier step cuts the curve, a failure is kept', () => {
    const store = createAppStore();
    const add = (runId: number, step: number, top1: number) => store.getState().addKnnTrack({ type: 'knn-track', runId, step, top1, baselineTop1: 0.4, trainCount: 160, valCount: 40, classes: 10 });
    add(1, 10, 0.5);
    add(1, 20, 0.55);
    expect(store.getState().knnTrack).toMatchObject({ runId: 1, step: [10, 20], top1: [0.5, 0.55], baselineTop1: 0.4, valCount: 40 });
    add(1, 20, 0.6); // restored to step 10, tracked again
    expect(store.getState().knnTrack.top1).toEqual([0.5, 0.6]);
    add(0, 30, 0.9); // a late event of an older run
    expect(store.getState().knnTrack.step).toEqual([10, 20]);
    add(2, 5, 0.3);
    expect(store.getState().knnTrack).toMatchObject({ runId: 2, step: [5], top1: [0.3] });
    store.getState().addKnnTrack({ type: 'knn-track', runId: 2, step: 10, error: 'no labelled images' });
    expect(store.getState().knnTrack.error).toMatch(/stopped at step 10: no labelled images/);
    store.getState().clearKnnTrack(3);
    expect(store.getState().knnTrack).toMatchObject({ runId: 3, step: [] });
  });
});
