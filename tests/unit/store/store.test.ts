// The store's slices driven as the page drives them (outside React, like worker callbacks):
// settings with validation, live metrics summarised once per frame, snapshots thinning,
// comparison selection, and the ETA/duration figures.
import { describe, expect, it } from 'vitest';
import { LiveMetrics, type MetricPoint } from '../../../src/store/live-metrics.ts';
import { appendSnapshot } from '../../../src/store/recon-slice.ts';
import { debiasedEma } from '../../../src/store/series.ts';
import { createAppStore } from '../../../src/store/store.ts';
import { etaSeconds, formatDuration } from '../../../src/store/training-slice.ts';
import type { RunRecord } from '../../../src/store/run-history.ts';
import { defaultSettings } from '../../../src/store/settings.ts';

describe('settings slice', () => {
  it('applies valid values and keeps a per-field error for invalid ones', () => {
    const store = createAppStore();
    const s = store.getState();
    expect(s.setSetting('batchSize', 4)).toBeNull();
    expect(store.getState().settings.batchSize).toBe(4);
    const err = store.getState().setSetting('batchSize', 0);
    expect(err).toMatch(/batchSize = 0: must be an integer in 1\.\.1024/);
    expect(store.getState().settings.batchSize).toBe(4); // unchanged
    expect(store.getState().settingErrors.batchSize).toBe(err);
    store.getState().setSetting('batchSize', 8);
    expect(store.getState().settingErrors.batchSize).toBeUndefined();
  });

  it('size → preset, and stores are independent', () => {
    const a = createAppStore();
    const b = createAppStore();
    a.getState().setSetting('size', 'pico');
    expect(a.getState().settings.dims).toEqual([64, 128, 256, 512]);
    expect(b.getState().settings.size).toBe('atto');
  });
});

describe('live metrics → store, once per frame', () => {
  function points(from: number, n: number): MetricPoint[] {
    return Array.from({ length: n }, (_, i) => ({ step: from + i, loss: 1 / (from + i), lr: 1e-4, imagesPerSec: 100 + from + i, stepMs: 10 + ((from + i) % 3), wallMs: 12 * (from + i) }));
  }

  it('many batches in one frame → one summary and one redraw, with the right numbers', () => {
    const store = createAppStore();
    store.getState().resetRun(200);
    const frames: (() => void)[] = [];
    let redraws = 0;
    const live = new LiveMetrics({
      onSummary: (s) => store.getState().applyMetricsSummary(s),
      smoothing: () => store.getState().settings.smoothing,
      requestFrame: (cb) => frames.push(cb),
    });
    live.subscribe(() => redraws++);
    live.push(points(1, 30));
    live.push(points(31, 20));
    expect(frames.length).toBe(1);
    expect(store.getState().run.step).toBe(0); // nothing until the frame runs
    frames.shift()!();
    expect(redraws).toBe(1);
    const run = store.getState().run;
    expect(run.step).toBe(50);
    expect(run.loss).toBe(1 / 50);
    const all = points(1, 50);
    const smoothing = store.getState().settings.smoothing;
    expect(run.smoothedLoss).toBe(debiasedEma(all.map((p) => p.loss), smoothing)[49]);
    // pace = mean of the last 20 points
    const last20 = all.slice(-20);
    expect(run.imagesPerSec).toBeCloseTo(last20.reduce((a, p) => a + p.imagesPerSec, 0) / 20, 12);
    const stepMs = last20.reduce((a, p) => a + p.stepMs, 0) / 20;
    expect(run.stepMs).toBeCloseTo(stepMs, 12);
    expect(run.etaSeconds).toBeCloseTo((150 * stepMs) / 1000, 9);
    // a frame with nothing new does nothing
    live.invalidate();
    frames.shift()!();
    expect(redraws).toBe(2);
    live.reset();
    expect(live.series.length).toBe(0);
    expect(live.lastStep).toBe(0);
  });
});

describe('training figures', () => {
  it('eta and durations', () => {
    expect(etaSeconds(10, 110, 50)).toBeCloseTo(5, 12);
    expect(etaSeconds(0, 10, null)).toBeNull();
    expect(etaSeconds(10, 10, 50)).toBe(0);
    expect(formatDuration(42.4)).toBe('42 s');
    expect(formatDuration(185)).toBe('3 min 05 s');
    expect(formatDuration(7620)).toBe('2 h 07 min');
    expect(formatDuration(null)).toBe('—');
  });

  it('errors stop the run and Start clears them', () => {
    const store = createAppStore();
    store.getState().setRunStatus('running');
    store.getState().setRunError({ message: 'loss became NaN at step 7', advice: 'lower the learning rate', canContinue: true });
    expect(store.getState().run.status).toBe('stopped');
    store.getState().setRunStatus('running');
    expect(store.getState().run.error).toBeNull();
  });
});

describe('reconstruction snapshots', () => {
  const frame = (step: number, runId = 1) => ({ step, runId });

  it('keep increasing steps, replace a repeated step, thin out when full keeping first and newest', () => {
    let list: { step: number; runId: number }[] = [];
    for (let s = 1; s <= 8; s++) list = appendSnapshot(list, frame(s * 10), 8);
    expect(list.map((f) => f.step)).toEqual([10, 20, 30, 40, 50, 60, 70, 80]);
    list = appendSnapshot(list, frame(90), 8);
    expect(list.map((f) => f.step)).toEqual([10, 30, 50, 70, 90]);
    // a frame of an older step (weights restored after an error) drops the later ones
    list = appendSnapshot(list, frame(60), 8);
    expect(list.map((f) => f.step)).toEqual([10, 30, 50, 60]);
    // a new run replaces the old run's snapshots
    list = appendSnapshot(list, frame(5, 2), 8);
    expect(list.map((f) => f.step)).toEqual([5]);
  });
});

describe('experiments slice', () => {
  const run = (id: string): RunRecord => ({
    id, name: id, createdAt: 0, settings: defaultSettings(), dataset: { name: 'demo', images: 10 }, steps: 1, finalLoss: 1, smoothedLoss: 1, meanImagesPerSec: 1, wallSeconds: 1,
    curves: { step: [1], loss: [1], lr: [0], imagesPerSec: [1] },
  });

  it('compare selection follows deletions', () => {
    const store = createAppStore();
    store.getState().setRuns([run('a'), run('b'), run('c')]);
    store.getState().toggleCompare('a');
    store.getState().toggleCompare('c');
    expect(store.getState().compareIds).toEqual(['a', 'c']);
    store.getState().removeRun('a');
    expect(store.getState().compareIds).toEqual(['c']);
    store.getState().toggleCompare('c');
    expect(store.getState().compareIds).toEqual([]);
    store.getState().setCompare(['b', 'c']);
    store.getState().setRuns([run('b')]);
    expect(store.getState().compareIds).toEqual(['b']);
  });
});
