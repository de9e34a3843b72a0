// The counters of arithmetic against published figures (the ConvNeXt V2 paper's GFLOPs column,
// which counts multiply-adds at 224 px with a 1000-class head) and against counts done by hand.
import { describe, expect, it } from 'vitest';
import { encoderMacs } from '../../../src/train/estimates.ts';
import { customConfig, MODEL_SIZES, modelConfig, type SizeName } from '../../../src/model/config.ts';
import { paramTable } from '../../../src/model/parameters.ts';
import { ELEMENTWISE_FLOPS, lossReduceFlops, PASS_FLOPS } from '../../../src/ops/flop-conventions.ts';
import { fcmaeStepFlops } from '../../../src/train/flops.ts';

describe('encoderMacs (dense, all 49 patches at 224 px) + the 1000-class head', () => {
  // Paper values are rounded to 2–3 significant digits (and tiny's 4.47 to 0.5%): 0.6% tolerance.
  const published: [SizeName, number][] = [['atto', 0.55], ['femto', 0.78], ['pico', 1.37], ['nano', 2.45], ['tiny', 4.47], ['base', 15.4], ['large', 34.4], ['huge', 115]];
  for (const [size, gmacs] of published) {
    it(`${size} at 224 px is ${gmacs} GMACs`, () => {
      const got = (encoderMacs(modelConfig(size), 49) + MODEL_SIZES[size].dims[3]! * 1000) / 1e9;
      expect(Math.abs(got - gmacs) / gmacs, `${size}: counted ${got.toFixed(4)} G`).toBeLessThan(0.006);
    });
  }
});

describe('fcmaeStepFlops', () => {
  it('counts a one-block model by hand', () => {
    const c = customConfig([1, 1, 1, 1], [8, 16, 24, 32], 16, 1);
    const f = fcmaeStepFlops(c, { batchSize: 2, height: 64, width: 64, visible: 2 }); // L = 4, V = 2, M = 2
    const rows0 = 2 * 2 * 64; // N·V·r² at r = 8
    const n0 = rows0 * 8;
    const stage0 =
      2 * 49 * n0 + n0 + // dwconv with bias
      ELEMENTWISE_FLOPS.layerNormForward * n0 +
      2 * rows0 * 32 * 8 + 4 * n0 + // pwconv1 + bias
      (ELEMENTWISE_FLOPS.geluForward + ELEMENTWISE_FLOPS.grnForward) * 4 * n0 +
      PASS_FLOPS.grnStatsForward * 2 * 32 + // GRN statistics per (sample, channel)
      2 * rows0 * 8 * 32 + 2 * n0; // pwconv2 + bias + residual
    expect(f.byPhase.get('stage 0')).toBe(stage0);
    const NM = 2 * 2;
    expect(f.byPhase.get('loss')).toBe(ELEMENTWISE_FLOPS.patchifyNormalise * 2 * 4 * 3072 + 2 * NM * 3072 * 16 + NM * 3072 + ELEMENTWISE_FLOPS.lossForward * NM * 3072 + NM + lossReduceFlops(2, 2));
    expect(f.byPhase.get('stem')).toBe(2 * rows0 * 8 * 48 + n0 + ELEMENTWISE_FLOPS.layerNormForward * n0);
    expect(f.optimizer).toBe(ELEMENTWISE_FLOPS.adamw * paramTable(c).totalFloats); // AdamW updates the alignment padding too
    expect(f.total).toBe(f.forward + f.backward + f.optimizer);
    expect([...f.byPhase.values()].reduce((a, b) => a + b, 0)).toBe(f.total);
  });

  it('scales the encoder with the visible fraction and keeps the decoder fixed', () => {
    const c = modelConfig('atto');
    const dense = fcmaeStepFlops(c, { batchSize: 1, height: 224, width: 224, visible: 49 });
    const masked = fcmaeStepFlops(c, { batchSize: 1, height: 224, width: 224, visible: 19 });
    // everything but GRN's per-(sample, channel) statistics, which do not depend on the rows
    const grnStats: Record<string, number> = {
      'stage 0': PASS_FLOPS.grnStatsForward * 2 * 4 * 40,
      'stage 2 backward': (PASS_FLOPS.grnStatsBackward + PASS_FLOPS.grnParamsBackward) * 6 * 4 * 160,
      'downsample 3': 0,
    };
    for (const [phase, stats] of Object.entries(grnStats)) {
      expect((masked.byPhase.get(phase)! - stats) / (dense.byPhase.get(phase)! - stats)).toBeCloseTo(19 / 49, 12);
    }
    expect(masked.byPhase.get('decoder')).toBe(dense.byPhase.get('decoder')! - 2 * (49 - 19) * 512 * 320 - (49 - 19) * 512); // only proj shrinks
    // the dense-encoder ablation costs the dense encoder but masked-patch loss
    const ablation = fcmaeStepFlops(c, { batchSize: 1, height: 224, width: 224, visible: 19 }, { denseEncoder: true });
    expect(ablation.byPhase.get('stage 1')).toBe(dense.byPhase.get('stage 1'));
    expect(ablation.byPhase.get('loss')).toBe(masked.byPhase.get('loss'));
    // the forward matmul + conv work of the encoder at ratio 0 is twice the paper's multiply-adds (no head)
    const encoderForward = dense.entries.filter((e) => !e.phase.endsWith('backward') && /stem|stage|downsample/.test(e.phase) && (e.kind === 'matmul' || e.kind === 'conv'));
    const biasAndResidual = encoderForward.reduce((a, e) => a + e.flops, 0) - 2 * encoderMacs(c, 49);
    expect(biasAndResidual / dense.forward).toBeLessThan(0.01);
    expect(biasAndResidual).toBeGreaterThan(0);
  });

  it('without GRN: no grn entries, and exactly GRN forward + backward per 4C element fewer', () => {
    const shape = { batchSize: 2, height: 64, width: 96, visible: 3 }; // L = 6, V = 3
    const on = fcmaeStepFlops(customConfig([1, 2, 1, 1], [8, 16, 24, 32], 16, 2), shape);
    const off = fcmaeStepFlops(customConfig([1, 2, 1, 1], [8, 16, 24, 32], 16, 2, false), shape);
    expect(off.entries.filter((e) => e.op === 'grn')).toEqual([]);
    // 4C elements per row in every block: rows N·V·r² per stage, N·L in the decoder
    const grn4n = 4 * (2 * 3 * 64 * 8 + 2 * 2 * 3 * 16 * 16 + 2 * 3 * 4 * 24 + 2 * 3 * 32 + 2 * 2 * 6 * 16);
    const perElement = ELEMENTWISE_FLOPS.grnForward + ELEMENTWISE_FLOPS.grnBackward;
    // GRN statistics: per (sample, channel) of every block, 4C = 32, 64, 64, 96, 128, 64, 64
    const perStat = PASS_FLOPS.grnStatsForward + PASS_FLOPS.grnStatsBackward + PASS_FLOPS.grnParamsBackward;
    const stats = 2 * 4 * (8 + 2 * 16 + 24 + 32 + 2 * 16);
    const optimizer = ELEMENTWISE_FLOPS.adamw * (paramTable(customConfig([1, 2, 1, 1], [8, 16, 24, 32], 16, 2)).totalFloats - paramTable(customConfig([1, 2, 1, 1], [8, 16, 24, 32], 16, 2, false)).totalFloats);
    expect(on.total - off.total).toBe(perElement * grn4n + perStat * stats + optimizer);
    expect(on.matmulAndConv).toBe(off.matmulAndConv);
    // 2 blocks of 4C = 64 on N·V·r² = 96 rows, and their N·4C statistics
    expect(on.byPhase.get('stage 1')! - off.byPhase.get('stage 1')!).toBe(ELEMENTWISE_FLOPS.grnForward * 4 * 2 * 2 * 3 * 16 * 16 + PASS_FLOPS.grnStatsForward * 2 * 2 * 64);
  });

  it('rejects shapes the plan would reject', () => {
    const c = modelConfig('atto');
    expect(() => fcmaeStepFlops(c, { batchSize: 1, height: 100, width: 224, visible: 1 })).toThrow(/multiple of 32/);
    expect(() => fcmaeStepFlops(c, { batchSize: 1, height: 224, width: 224, visible: 0 })).toThrow(/visible = 0/);
  });
});
