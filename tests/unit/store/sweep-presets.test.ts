// Sweeps over any ablation axis, the one-click paper ablations, and the training presets: the
// runs a sweep trains, the settings a preset sets (and that they pass validation), and the URL
// keeping the evaluation settings.
import { describe, expect, it } from 'vitest';
import { ABLATION_PRESETS, ablationPatch, matchingAblationPreset } from '../../../src/store/ablation-presets.ts';
import { applySetting, defaultSettings, validateSettings, type Settings } from '../../../src/store/settings.ts';
import { sweepRunSettings, sweepVariants } from '../../../src/store/sweep-plan.ts';
import { matchingTrainingPreset, trainingPreset } from '../../../src/store/training-presets.ts';
import { settingsFromQuery, settingsToQuery } from '../../../src/store/url-state.ts';
import { effectiveLr } from '../../../src/train/lr-schedule.ts';

const withPatch = (s: Settings, patch: Partial<Settings>): Settings => ({ ...s, ...patch });

describe('sweep plan', () => {
  it('one run per value of the axis, named after it, everything else as the page has it', () => {
    const s = { ...defaultSettings(), sweepRatios: [0.4, 0.6], sweepSteps: 30, warmupSteps: 50 };
    expect(sweepVariants(s).map((v) => v.name)).toEqual(['mask 0.4', 'mask 0.6']);
    expect(sweepVariants({ ...s, sweepAxis: 'grn' }).map((v) => v.patch)).toEqual([{ grn: true }, { grn: false }]);
    expect(sweepVariants({ ...s, sweepAxis: 'denseEncoder' }).map((v) => v.name)).toEqual(['sparse encoder', 'dense encoder']);
    expect(sweepVariants({ ...s, sweepAxis: 'decoderDepth', sweepValues: [1, 2, 4] }).map((v) => v.patch)).toEqual([{ decoderDepth: 1 }, { decoderDepth: 2 }, { decoderDepth: 4 }]);
    expect(sweepVariants({ ...s, sweepAxis: 'decoderDim', sweepValues: [128, 512] }).map((v) => v.name)).toEqual(['decoder width 128', 'decoder width 512']);
    const run = sweepRunSettings(s, sweepVariants(s)[1]!);
    expect([run.maskRatio, run.totalSteps, run.warmupSteps, run.seed, run.blr]).toEqual([0.6, 30, 30, s.seed, s.blr]);
  });

  it('refuses decoder values outside the decoder limits, naming the setting', () => {
    const s = { ...defaultSettings(), sweepAxis: 'decoderDepth' as const, sweepValues: [1, 40] };
    expect(validateSettings(s).map((e) => e.key)).toEqual(['sweepValues']);
    expect(() => applySetting(defaultSettings(), 'sweepValues', [])).toThrow(/sweepValues/);
    expect(() => applySetting(defaultSettings(), 'sweepEval', 'accuracy' as never)).toThrow(/sweepEval/);
  });
});

describe('ablation presets', () => {
  it('reproduce the paper grids, each with an evaluation and the paper figures beside', () => {
    const grids = ABLATION_PRESETS.map((p) => sweepVariants(withPatch(defaultSettings(), ablationPatch(p))).map((v) => v.name));
    expect(grids).toEqual([
      ['mask 0.4', 'mask 0.5', 'mask 0.6', 'mask 0.7', 'mask 0.8'],
      ['GRN on', 'GRN off'],
      ['sparse encoder', 'dense encoder'],
      ['decoder depth 1', 'decoder depth 2', 'decoder depth 4'],
      ['decoder width 128', 'decoder width 256', 'decoder width 512'],
    ]);
    for (const p of ABLATION_PRESETS) {
      const s = withPatch(defaultSettings(), ablationPatch(p));
      expect(validateSettings(s), p.id).toEqual([]);
      expect(p.evaluation).not.toBe('none');
      expect(p.paper).toMatch(/^paper \(ConvNeXt-Base, IN-1K fine-tune/);
      expect(matchingAblationPreset(s)?.id).toBe(p.id);
    }
    expect(ABLATION_PRESETS[0]!.paper).toMatch(/0\.6 highest/);
    expect(ABLATION_PRESETS[2]!.paper).toMatch(/83\.7.*79\.3/);
    expect(matchingAblationPreset(defaultSettings())).toBeNull();
  });
});

describe('training presets', () => {
  it('Paper recipe is the official settings; Quick look a learning rate 67× the recipe\'s at batch 16', () => {
    const s = { ...defaultSettings(), totalSteps: 800 };
    const paper = withPatch(s, trainingPreset('paper').patch(s));
    expect([paper.blr, paper.weightDecay, paper.warmupSteps, paper.maskRatio, paper.normPix, paper.decoderDim, paper.decoderDepth]).toEqual([1.5e-4, 0.05, 40, 0.6, true, 512, 1]);
    expect(matchingTrainingPreset(paper)).toBe('paper');
    const quick = withPatch(s, trainingPreset('quick').patch(s));
    expect(effectiveLr(quick.blr, 16) / effectiveLr(paper.blr, 16)).toBeCloseTo(66.67, 1);
    expect(matchingTrainingPreset(quick)).toBe('quick');
    expect(matchingTrainingPreset({ ...quick, blr: 0.02 })).toBeNull();
    // a 64-px input holds 4 patches: the recipe's 0.6 keeps one visible, a small input lowers it
    const tiny = { ...s, inputSize: 32, maskRatio: 0 };
    expect(trainingPreset('quick').patch(tiny).maskRatio).toBe(0);
  });
});

describe('evaluation settings in the URL', () => {
  it('round-trip; a bad value is skipped with a message naming it', () => {
    const s: Settings = { ...defaultSettings(), sweepAxis: 'decoderDim', sweepValues: [128, 256], sweepEval: 'linear', knnEvery: 25, evalSubset: 300, evalData: 'dataset' };
    const q = settingsToQuery(s);
    expect(q).toContain('sweep_axis=decoderDim');
    expect(q).toContain('knn_every=25');
    expect(settingsFromQuery(q)).toMatchObject({ settings: s, problems: [] });
    const bad = settingsFromQuery('knn_every=-3&sweep_eval=loss');
    expect(bad.problems.join('\n')).toMatch(/sweep_eval=loss ignored[\s\S]*knn_every=-3 ignored/);
    expect(bad.settings.knnEvery).toBe(0);
  });
});
