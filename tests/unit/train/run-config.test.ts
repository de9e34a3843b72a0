// The run configuration: what each change costs, validation naming the offending setting, the
// ratio → visible count conversion, and the settings a checkpoint stores coming back exactly.
import { describe, expect, it } from 'vitest';
import { modelConfig } from '../../../src/model/config.ts';
import { CONFIG_KEYS, classifyChange, decodeSizeFor, defaultRunConfig, patchesOf, RunConfigError, runConfigFromCheckpoint, stepOptionsOf, trainingSettingsOf, validateRunConfig, modelOf, adamwOf, type RunConfig } from '../../../src/train/run-config.ts';

const tiny = (): RunConfig => ({ ...defaultRunConfig(), depths: [1, 1, 1, 1], dims: [8, 16, 24, 32], decoderDim: 16, decoderDepth: 1, inputSize: 64, batchSize: 2, maskRatio: 0.5, evalImages: 2 });

function fieldOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (e instanceof RunConfigError) return `config:${e.field}`;
    throw e;
  }
  throw new Error('expected a rejection');
}

describe('classifyChange', () => {
  it('sorts every key into live, rebuild (run kept) or reset', () => {
    const base = tiny();
    const expectLevel = (patch: Partial<RunConfig>, level: string) => expect(classifyChange(base, { ...base, ...patch }).level, JSON.stringify(patch)).toBe(level);
    expectLevel({}, 'none');
    for (const patch of [{ blr: 1e-3 }, { warmupSteps: 5 }, { totalSteps: 7 }, { minLr: 1e-6 }, { evalImages: 3 }]) expectLevel(patch, 'live');
    for (const patch of [{ maskRatio: 0.75 }, { batchSize: 4 }, { grnMode: 'batch' as const }, { gelu: 'tanh' as const }, { normPix: false }, { denseEncoder: true }, { weightDecay: 0 }, { beta1: 0.8 }, { beta2: 0.9 }, { eps: 1e-6 }]) {
      expectLevel(patch, 'rebuild');
    }
    for (const patch of [{ depths: [1, 1, 2, 1] }, { dims: [8, 16, 24, 40] }, { decoderDim: 32 }, { decoderDepth: 2 }, { grn: false }, { inputSize: 96 }, { seed: 3 }]) expectLevel(patch, 'reset');
    expect(classifyChange(base, { ...base, grn: false }).resetReasons).toEqual(['grn true → false']);
    const c = classifyChange(base, { ...base, inputSize: 96, blr: 1e-3, maskRatio: 0.25 });
    expect(c.level).toBe('reset');
    expect(c.resetReasons).toEqual(['inputSize 64 → 96']);
    expect(c.changed.sort()).toEqual(['blr', 'inputSize', 'maskRatio']);
    expect(new Set(CONFIG_KEYS).size).toBe(Object.keys(base).length);
  });
});

describe('validateRunConfig', () => {
  it('accepts the defaults and names the offending setting otherwise', () => {
    expect(validateRunConfig(defaultRunConfig())).toEqual(defaultRunConfig());
    const base = tiny();
    expect(fieldOf(() => validateRunConfig({ ...base, inputSize: 70 }))).toBe('config:inputSize');
    expect(fieldOf(() => validateRunConfig({ ...base, maskRatio: 0.9 }))).toBe('config:maskRatio'); // L = 4 keeps 0
    expect(fieldOf(() => validateRunConfig({ ...base, depths: [1, 1, 1] }))).toBe('config:depths');
    expect(fieldOf(() => validateRunConfig({ ...base, dims: [8, 16, 24, 0] }))).toBe('config:dims');
    expect(fieldOf(() => validateRunConfig({ ...base, decoderDim: 0 }))).toBe('config:decoderDim');
    expect(fieldOf(() => validateRunConfig({ ...base, batchSize: 0 }))).toBe('config:batchSize');
    expect(fieldOf(() => validateRunConfig({ ...base, beta2: 1 }))).toBe('config:beta2');
    expect(fieldOf(() => validateRunConfig({ ...base, warmupSteps: 200, totalSteps: 100 }))).toBe('config:warmupSteps');
    expect(fieldOf(() => validateRunConfig({ ...base, blr: 1e9 }))).toBe('config:blr');
    expect(fieldOf(() => validateRunConfig({ ...base, grnMode: 'global' as never }))).toBe('config:grnMode');
    expect(fieldOf(() => validateRunConfig({ ...base, grn: 'off' as never }))).toBe('config:grn');
    expect(validateRunConfig({ ...base, grn: false }).grn).toBe(false);
    const { seed: _drop, ...noSeed } = base;
    expect(fieldOf(() => validateRunConfig(noSeed as RunConfig))).toBe('config:seed');
  });
});

describe('conversions', () => {
  it('the mask ratio becomes the official int(L·(1 − ratio)) visible count, once', () => {
    expect(patchesOf({ inputSize: 96, maskRatio: 2 / 3 })).toEqual({ L: 9, V: 3 }); // 9·(1/3) = 3.0000000000000004 → 3
    expect(patchesOf({ inputSize: 224, maskRatio: 0.6 })).toEqual({ L: 49, V: 19 });
    expect(patchesOf({ inputSize: 64, maskRatio: 0 })).toEqual({ L: 4, V: 4 });
    expect(fieldOf(() => validateRunConfig({ ...tiny(), maskRatio: 0.8 }))).toBe('config:maskRatio'); // int(4·0.2) = 0
  });

  it('decodes images to the evaluation resize S/0.875', () => {
    expect(decodeSizeFor(224)).toBe(256);
    expect(decodeSizeFor(64)).toBe(73);
    expect(decodeSizeFor(160)).toBe(182);
  });

  it("a checkpoint's settings give back the run configuration that wrote them", () => {
    const c: RunConfig = { ...tiny(), grn: false, gelu: 'tanh', normPix: false, seed: 9, blr: 3e-4, warmupSteps: 3, totalSteps: 30, beta2: 0.99, weightDecay: 0.01 };
    const stored = { config: modelOf(c), options: stepOptionsOf(c), training: trainingSettingsOf(c), adamwSettings: adamwOf(c) };
    expect(stored.training.visiblePatches).toBe(2);
    const back = runConfigFromCheckpoint({ ...defaultRunConfig(), minLr: 1e-6, evalImages: 5 }, stored);
    expect(back).toEqual({ ...c, minLr: 1e-6, evalImages: 5 });
    // a file of a named size (atto) comes back with its architecture
    const atto = runConfigFromCheckpoint(tiny(), { ...stored, config: modelConfig('atto') });
    expect([atto.depths, atto.dims, atto.decoderDim, atto.grn]).toEqual([[2, 2, 6, 2], [40, 80, 160, 320], 512, true]);
  });

  it('the weight-decay rule goes to the AdamW settings and back; a file without AdamW state keeps the current rule', () => {
    const c: RunConfig = { ...tiny(), weightDecayRule: 'official' };
    expect(adamwOf(c).decayRule).toBe('official');
    expect(adamwOf(tiny())).not.toHaveProperty('decayRule');
    const stored = { config: modelOf(c), options: stepOptionsOf(c), training: trainingSettingsOf(c) };
    expect(runConfigFromCheckpoint(tiny(), { ...stored, adamwSettings: adamwOf(c) })).toEqual(c);
    expect(runConfigFromCheckpoint(tiny(), { ...stored, adamwSettings: adamwOf(tiny()) }).weightDecayRule).toBe('maintainers');
    expect(runConfigFromCheckpoint(c, { ...stored, adamwSettings: null }).weightDecayRule).toBe('official');
    expect(() => validateRunConfig({ ...c, weightDecayRule: 'sometimes' as never })).toThrow(/weightDecayRule/);
    expect(classifyChange(tiny(), c).level).toBe('rebuild');
  });
});
