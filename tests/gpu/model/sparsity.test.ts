// Sparsity is real: at mask ratio 0.75 the encoder's pointwise layers and depthwise convs
// allocate and dispatch over about a quarter of the rows of the dense (ratio 0) plan.
import { describe, expect, it } from 'vitest';
import { customConfig, DEFAULT_STEP_OPTIONS } from '../../../src/model/config.ts';
import { FcmaePlan } from '../../../src/model/fcmae.ts';
import type { Dispatch } from '../../../src/gpu/dispatch.ts';
import { keptCount } from '../../../src/train/masking.ts';
import { testEngine } from '../../helpers/gpu.ts';

const work = (d: Dispatch) => d.workgroups[0] * d.workgroups[1] * d.workgroups[2];

describe('sparse encoder work scales with the visible fraction', () => {
  it('ratio 0.75 vs 0 on a 4×4 grid: pwconv and dwconv workgroups and activation sizes ≈ 1/4', async () => {
    const engine = await testEngine();
    const config = customConfig([1, 1, 1, 1], [8, 16, 24, 32], 16, 1);
    const build = (ratio: number) =>
      FcmaePlan.build(engine, config, { batchSize: 2, height: 128, width: 128, visible: keptCount(16, ratio) }, DEFAULT_STEP_OPTIONS);
    const dense = await build(0);
    const sparse = await build(0.75);
    try {
      const pick = (plan: FcmaePlan, label: string) => plan.forwardPhases.flatMap((p) => p.dispatches).filter((d) => d.label.startsWith(label));
      for (const layer of ['encoder.stages.0.0/pwconv1', 'encoder.stages.0.0/pwconv2', 'encoder.stages.1.0/pwconv1', 'encoder.stages.0.0/dwconv']) {
        const d = pick(dense, layer).reduce((a, x) => a + work(x), 0);
        const s = pick(sparse, layer).reduce((a, x) => a + work(x), 0);
        expect(d, layer).toBeGreaterThan(0);
        expect(s / d, `${layer}: sparse ${s} vs dense ${d} workgroups`).toBeGreaterThan(0.2);
        expect(s / d, `${layer}: sparse ${s} vs dense ${d} workgroups`).toBeLessThan(0.3);
      }
      // rows of the stage-0 activations (one (rows, 4C) buffer): exactly V/L = 4/16 of dense
      expect(sparse.encV / dense.encV).toBe(0.25);
      expect(sparse.arena.bytesAllocated / dense.arena.bytesAllocated).toBeLessThan(0.6); // the decoder and loss are dense
    } finally {
      dense.destroy();
      sparse.destroy();
    }
  });
});
