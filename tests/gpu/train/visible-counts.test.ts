// Plans keyed by the visible count: for every keep count 1 … L − 1 at L ∈ {4, 9, 16, 25, 49}
// (64 … 224 px), a plan builds, its loss equals a float64 loss of its own predictions over
// exactly the masked patches, and one training step runs with that loss. Tiny widths keep
// the 98 plans fast; the PyTorch fixtures keep3of9 and keep27of49 check gradients.
import { describe, expect, it } from 'vitest';
import { customConfig, DEFAULT_STEP_OPTIONS, PATCH_VALUES } from '../../../src/model/config.ts';
import { fcmaeLossRef, patchifyTargetRef } from '../../../src/reference/fcmae-loss.ts';
import { generateMasks } from '../../../src/train/masking.ts';
import { Trainer } from '../../../src/train/trainer.ts';
import { Random } from '../../../src/util/random.ts';
import { testEngine } from '../../helpers/gpu.ts';

const N = 2;
const config = customConfig([1, 1, 1, 1], [4, 8, 12, 16], 8, 1);

function images(side: number, seed: number): Float32Array {
  const rng = new Random(seed);
  const x = new Float32Array(N * 3 * side * side);
  for (let i = 0; i < x.length; i++) x[i] = rng.normal();
  return x;
}

describe('every visible count builds a plan and trains', () => {
  for (const grid of [2, 3, 4, 5, 7]) {
    const L = grid * grid;
    const side = grid * 32;
    it(`L = ${L} (${side} px): keep 1 … ${L - 1}`, async () => {
      const engine = await testEngine();
      const imgs = images(side, L);
      const { target } = patchifyTargetRef(imgs, N, grid, grid, true);
      const failures: string[] = [];
      for (let V = 1; V < L; V++) {
        const trainer = await Trainer.create(engine, { config, batchSize: N, height: side, width: side, visible: V, options: DEFAULT_STEP_OPTIONS, learningRate: () => 1e-3, seed: V });
        try {
          expect(trainer.plan.V).toBe(V);
          const mask = generateMasks(N, L, V, new Random(1000 + V));
          const rec = await trainer.reconstruct(imgs, mask);
          const maskedRows: number[] = [];
          for (let r = 0; r < N * L; r++) if (mask[r] === 1) maskedRows.push(r);
          expect(maskedRows.length).toBe(N * (L - V));
          const predMasked = new Float64Array(maskedRows.length * PATCH_VALUES);
          maskedRows.forEach((r, i) => predMasked.set(rec.pred.subarray(r * PATCH_VALUES, (r + 1) * PATCH_VALUES), i * PATCH_VALUES));
          const want = fcmaeLossRef(predMasked, target, maskedRows, N).loss;
          const rel = Math.abs(rec.loss - want) / want;
          if (!(rel < 1e-4)) failures.push(`V = ${V}: loss ${rec.loss} vs float64 ${want} (rel ${rel.toExponential(2)})`);
          const step = await trainer.step(imgs, mask);
          const stepRel = Math.abs(step.loss - rec.loss) / rec.loss;
          if (!(stepRel < 1e-5)) failures.push(`V = ${V}: step loss ${step.loss} vs forward ${rec.loss}`);
        } finally {
          trainer.destroy();
        }
      }
      expect(failures).toEqual([]);
    }, 300_000);
  }
});
