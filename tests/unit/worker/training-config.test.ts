// TrainingConfig: what each change costs, validation naming the offending setting, and the
// plan figures (checked against the engine's own parameter table and hand-counted MACs).
import { describe, expect, it } from 'vitest';
import { paramTable } from '../../../src/model/parameters.ts';
import { isWorkerError, type TrainingConfig } from '../../../src/worker/protocol.ts';
import { CONFIG_KEYS, classifyChange, decodeSizeFor, defaultTrainingConfig, modelOf, planInfo, validateTrainingConfig } from '../../../src/worker/training-config.ts';

const tiny = (): TrainingConfig => ({ ...defaultTrainingConfig(), depths: [1, 1, 1, 1], dims: [8, 16, 24, 32], decoderDim: 16, decoderDepth: 1, inputSize: 64, batchSize: 2, maskRatio: 0.5, evalImages: 2 });

function fieldOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (isWorkerError(e)) return `${e.kind}:${String(e.details?.field)}`;
    throw e;
  }
  throw new Error('expected a rejection');
}

describe('classifyChange', () => {
  it('sorts every key into live, rebuild (run kept) or reset', () => {
    const base = tiny();
    const expectLevel = (patch: Partial<TrainingConfig>, level: string) => expect(classifyChange(base, { ...base, ...patch }).level, JSON.stringify(patch)).toBe(level);
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

describe('validateTrainingConfig', () => {
  it('accepts the defaults and names the offending setting otherwise', () => {
    expect(validateTrainingConfig(defaultTrainingConfig())).toEqual(defaultTrainingConfig());
    const base = tiny();
    expect(fieldOf(() => validateTrainingConfig({ ...base, inputSize: 70 }))).toBe('config:inputSize');
    expect(fieldOf(() => validateTrainingConfig({ ...base, maskRatio: 0.9 }))).toBe('config:maskRatio'); // L = 4 keeps 0
    expect(fieldOf(() => validateTrainingConfig({ ...base, depths: [1, 1, 1] }))).toBe('config:depths');
    expect(fieldOf(() => validateTrainingConfig({ ...base, dims: [8, 16, 24, 0] }))).toBe('config:dims');
    expect(fieldOf(() => validateTrainingConfig({ ...base, decoderDim: 0 }))).toBe('config:decoderDim');
    expect(fieldOf(() => validateTrainingConfig({ ...base, batchSize: 0 }))).toBe('config:batchSize');
    expect(fieldOf(() => validateTrainingConfig({ ...base, beta2: 1 }))).toBe('config:beta2');
    expect(fieldOf(() => validateTrainingConfig({ ...base, warmupSteps: 200, totalSteps: 100 }))).toBe('config:warmupSteps');
    expect(fieldOf(() => validateTrainingConfig({ ...base, blr: 1e9 }))).toBe('config:blr');
    expect(fieldOf(() => validateTrainingConfig({ ...base, grnMode: 'global' as never }))).toBe('config:grnMode');
    expect(fieldOf(() => validateTrainingConfig({ ...base, grn: 'off' as never }))).toBe('config:grn');
    expect(validateTrainingConfig({ ...base, grn: false }).grn).toBe(false);
    const { seed: _drop, ...noSeed } = base;
    expect(fieldOf(() => validateTrainingConfig(noSeed as TrainingConfig))).toBe('config:seed');
  });
});

describe('planInfo', () => {
  it('counts parameters as the engine does and MACs as hand-counted for a tiny model', () => {
    const c = tiny();
    const info = planInfo(c);
    expect(info.paramCount).toBe(paramTable(modelOf(c)).count);
    expect(info.patches).toBe(4);
    expect(info.visiblePatches).toBe(2);
    expect(info.effectiveMaskRatio).toBe(0.5);
    expect(info.peakLr).toBeCloseTo((c.blr * 2) / 256, 15);
    // Hand count (fvcore convention), V = 2 visible patches of 32×32 px, 2 masked:
    const V = 2;
    const block = (C: number, sites: number) => sites * (49 * C + 8 * C * C);
    let sites = V * 64;
    let enc = sites * 48 * 8 + block(8, sites);
    const dims = [8, 16, 24, 32];
    for (let s = 1; s < 4; s++) {
      sites /= 4;
      enc += sites * 4 * dims[s - 1]! * dims[s]! + block(dims[s]!, sites);
    }
    const dec = V * 32 * 16 + block(16, 4) + 2 * 16 * 3072;
    expect(info.forwardMacsPerImage).toBe(enc + dec);
    expect(info.trainMacsPerImage).toBe(3 * (enc + dec));
    expect(info.bytesEstimate).toBeGreaterThan(4 * 4 * info.paramCount); // params, grads, m, v at least
    expect(info.bytesAllocated).toBeNull();
  });

  it('without GRN: fewer parameters (the engine table of a no-GRN model), same MACs', () => {
    const on = planInfo(tiny());
    const off = planInfo({ ...tiny(), grn: false });
    expect(modelOf({ ...tiny(), grn: false }).grn).toBe(false);
    expect(off.paramCount).toBe(paramTable(modelOf({ ...tiny(), grn: false })).count);
    expect(on.paramCount - off.paramCount).toBe(8 * (8 + 16 + 24 + 32 + 16)); // 2·4C per block
    expect(off.forwardMacsPerImage).toBe(on.forwardMacsPerImage); // GRN is not a multiply-accumulate
    expect(off.bytesEstimate).toBeLessThan(on.bytesEstimate);
  });

  it('decodes images to the evaluation resize S/0.875', () => {
    expect(decodeSizeFor(224)).toBe(256);
    expect(decodeSizeFor(64)).toBe(73);
    expect(decodeSizeFor(160)).toBe(182);
  });
});
