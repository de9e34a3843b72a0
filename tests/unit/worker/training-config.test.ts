// The worker's side of the run configuration: rejections as WorkerErrors naming the field, and
// the plan figures (checked against the engine's own parameter table and hand-counted MACs).
import { describe, expect, it } from 'vitest';
import { paramTable } from '../../../src/model/parameters.ts';
import { defaultRunConfig, modelOf } from '../../../src/train/run-config.ts';
import { isWorkerError, type TrainingConfig } from '../../../src/worker/protocol.ts';
import { planInfo, validateTrainingConfig } from '../../../src/worker/training-config.ts';

const tiny = (): TrainingConfig => ({ ...defaultRunConfig(), depths: [1, 1, 1, 1], dims: [8, 16, 24, 32], decoderDim: 16, decoderDepth: 1, inputSize: 64, batchSize: 2, maskRatio: 0.5, evalImages: 2 });

describe('validateTrainingConfig', () => {
  it('passes a good config through and rejects a bad one as a WorkerError naming the field', () => {
    expect(validateTrainingConfig(tiny())).toEqual(tiny());
    let caught: unknown = null;
    try {
      validateTrainingConfig({ ...tiny(), inputSize: 70 });
    } catch (e) {
      caught = e;
    }
    expect(isWorkerError(caught)).toBe(true);
    const e = caught as { kind: string; details?: { field?: string; value?: unknown }; message: string; suggestion: string };
    expect([e.kind, e.details?.field, e.details?.value]).toEqual(['config', 'inputSize', 70]);
    expect(e.message).toMatch(/^inputSize = 70: /);
    expect(e.suggestion).toBe('Change inputSize to an accepted value.');
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
});
