// Settings ⇄ the run configuration: the page opens on the run's defaults, every shared
// setting is carried, and a config read back (e.g. from a checkpoint) restores the settings.
import { describe, expect, it } from 'vitest';
import { settingsFromConfig, trainingConfigOf } from '../../../src/store/engine-config.ts';
import { applySetting, defaultSettings, validateSettings } from '../../../src/store/settings.ts';
import { matchingTrainingPreset, QUICK_LOOK_BLR, QUICK_LOOK_WARMUP } from '../../../src/store/training-presets.ts';
import { CONFIG_KEYS, defaultRunConfig, validateRunConfig } from '../../../src/train/run-config.ts';

describe('engine config', () => {
  it('the page defaults are the worker defaults, with Quick look\'s learning rate and warmup', () => {
    expect(trainingConfigOf(defaultSettings())).toEqual({ ...defaultRunConfig(), blr: QUICK_LOOK_BLR, warmupSteps: QUICK_LOOK_WARMUP });
    expect(matchingTrainingPreset(defaultSettings())).toBe('quick');
  });

  it('carries every shared setting and passes the worker validation', () => {
    let s = applySetting(defaultSettings(), 'depths', [1, 1, 1, 1]);
    s = { ...s, dims: [8, 16, 24, 32], size: 'custom', inputSize: 64, decoderDim: 16, decoderDepth: 1, grn: false, seed: 5, batchSize: 2, maskRatio: 0.5, grnMode: 'batch', gelu: 'tanh', normPix: false, denseEncoder: true, weightDecay: 0.1, blr: 3e-4, warmupSteps: 2, totalSteps: 9 };
    const c = trainingConfigOf(s);
    expect(validateRunConfig(c)).toEqual(c);
    for (const k of CONFIG_KEYS) {
      if (k in s) expect(c[k], k).toEqual((s as unknown as Record<string, unknown>)[k]);
    }
    const back = settingsFromConfig({ ...defaultSettings(), smoothing: 0.5 }, c);
    expect(back).toEqual({ ...s, smoothing: 0.5, viewMaskRatio: 0.6, sweepRatios: [0.2, 0.4, 0.6, 0.75] });
    expect(validateSettings(back)).toEqual([]);
  });

  it('detects a preset size from the config', () => {
    const c = { ...defaultRunConfig(), depths: [3, 3, 9, 3], dims: [96, 192, 384, 768] };
    expect(settingsFromConfig(defaultSettings(), c).size).toBe('tiny');
  });
});
