// The activation grid in the store: its block and image choice fitted to the model, the latest
// grid kept as data (older grids dropped: their maps are large), and nothing of it in the run
// history's evaluation summary.
import { describe, expect, it } from 'vitest';
import { activationGridBlocks, DEFAULT_ACTIVATION_GRID_CHOICE, fitActivationGridChoice, type EvaluationResult } from '../../../src/store/evaluation-slice.ts';
import { runEvaluationOf } from '../../../src/store/run-evaluation.ts';
import { createAppStore } from '../../../src/store/store.ts';
import type { ActivationGridResult } from '../../../src/worker/protocol.ts';

function gridResult(id: number, stage: number): Extract<EvaluationResult, { kind: 'grid' }> {
  const view = { width: 2, height: 2, channels: 8, count: 8, maps: new Float32Array(8 * 4).fill(0.5) };
  const grid: ActivationGridResult = { encoder: 'current', data: 'fashion-demo', pretrainStep: 5, stage, block: 0, image: 3, images: 1000, className: 'Bag', current: view, baseline: { ...view, maps: new Float32Array(32) } };
  return { id, kind: 'grid', pretrainStep: 5, data: 'fashion-demo', createdAt: 1, runId: 1, grid };
}

describe('activation grid choice', () => {
  it('lists every block, stage 0 block 0 first', () => {
    expect(activationGridBlocks([2, 1, 3, 1]).map((b) => `${b.stage}.${b.block}`)).toEqual(['0.0', '0.1', '1.0', '2.0', '2.1', '2.2', '3.0']);
  });

  it('fits a choice to the model: a block past the stage depth becomes its last, a missing stage the last stage, the image a whole number ≥ 0', () => {
    const depths = [2, 2, 6, 2];
    expect(fitActivationGridChoice(depths, DEFAULT_ACTIVATION_GRID_CHOICE)).toEqual({ stage: 2, block: 0, image: 0 });
    expect(fitActivationGridChoice(depths, { stage: 2, block: 5, image: 7 })).toEqual({ stage: 2, block: 5, image: 7 });
    expect(fitActivationGridChoice([1, 1, 1, 1], { stage: 2, block: 5, image: 7 })).toEqual({ stage: 2, block: 0, image: 7 });
    expect(fitActivationGridChoice(depths, { stage: 9, block: 1, image: -3 })).toEqual({ stage: 3, block: 1, image: 0 });
    expect(fitActivationGridChoice(depths, { stage: 1, block: 0, image: 2.7 })).toEqual({ stage: 1, block: 0, image: 2 });
  });
});

describe('activation grid results', () => {
  it('keeps the latest grid only, beside the other results, and its maps as data', () => {
    const store = createAppStore();
    const s = () => store.getState();
    expect(s().activationGridChoice).toEqual(DEFAULT_ACTIVATION_GRID_CHOICE);
    s().setActivationGridChoice({ stage: 1, block: 0, image: 3 });
    expect(s().activationGridChoice).toEqual({ stage: 1, block: 0, image: 3 });
    const knn: EvaluationResult = { id: 10, kind: 'knn', pretrainStep: 5, data: 'fashion-demo', createdAt: 1, runId: 1, probe: { encoder: 'current', data: 'fashion-demo', method: 'knn', pretrainStep: 5, classes: ['a', 'b'], trainCount: 8, valCount: 2, top1: 0.5, baselineTop1: 0.5 } };
    s().putEvaluationResult(gridResult(1, 1));
    s().putEvaluationResult(knn);
    s().putEvaluationResult(gridResult(2, 2));
    expect(s().evaluationResults.map((r) => r.id)).toEqual([10, 2]);
    const kept = s().evaluationResults.find((r) => r.kind === 'grid');
    expect(kept?.kind === 'grid' && kept.grid.stage).toBe(2);
    expect(kept?.kind === 'grid' && kept.grid.current.maps.length).toBe(32);
    // the same id replaces in place
    s().putEvaluationResult({ ...gridResult(2, 3) });
    expect(s().evaluationResults.map((r) => (r.kind === 'grid' ? `grid ${r.grid.stage}` : r.kind))).toEqual(['knn', 'grid 3']);
  });

  it('a grid adds nothing to the run history summary', () => {
    expect(runEvaluationOf([gridResult(1, 1)], null)).toBeUndefined();
  });
});
