// Model-level parity with the PyTorch reference (tests/reference/fcmae_reference.py): the loss
// and every parameter gradient of one FCMAE step, for each fixture config (no_grn: blocks
// without GRN), then a 5-step AdamW loss trajectory. Runs the production plan
// (src/model/fcmae.ts) on Dawn.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseSafetensors } from '../../../src/io/safetensors.ts';
import { stateDictFromFlat } from '../../../src/model/state-dict.ts';
import { FIXTURE_DIR } from '../../helpers/fixtures.ts';
import { testEngine } from '../../helpers/gpu.ts';
import { expectAllClose } from '../../helpers/allclose.ts';
import { compareGradients, GRADIENT_TOLERANCE, loadModelFixture, MODEL_FIXTURES, trainerForFixture } from '../../helpers/model-fixtures.ts';

const load = loadModelFixture;

async function trainerFor(name: string, lr = 1e-3) {
  const f = load(name);
  const trainer = await trainerForFixture(await testEngine(), f, lr);
  return { f, trainer };
}

describe('FCMAE step vs PyTorch', () => {
  for (const name of MODEL_FIXTURES) {
    it(`${name}: loss and every parameter gradient`, async () => {
      const { f, trainer } = await trainerFor(name);
      try {
        // GRN dispatches exist exactly when the model has GRN (no_grn: none, forward or backward)
        const labels = [...trainer.plan.forwardPhases, ...trainer.plan.backwardPhases].flatMap((p) => p.dispatches.map((d) => d.label));
        expect(labels.some((l) => /\/grn/.test(l)), 'GRN dispatches').toBe(f.expected.config.grn ?? true);
        const { loss, grads } = await trainer.gradients(f.imgs, f.mask);
        // f32 engine vs f64 reference through a whole network: 1e-4 relative on the loss.
        expect(Math.abs(loss - f.expected.loss) / Math.abs(f.expected.loss), `loss ${loss} vs ${f.expected.loss}`).toBeLessThan(1e-4);
        const got = stateDictFromFlat(trainer.plan.table, grads);
        // Each tensor within GRADIENT_TOLERANCE of its largest reference gradient (the reason is
        // written beside the constant in tests/helpers/model-fixtures.ts).
        const { failures, worst, worstName } = compareGradients(f.grads, got, GRADIENT_TOLERANCE);
        expect(failures, `${failures.length} gradients differ (worst ${worst.toExponential(2)}, ${worstName}):\n${failures.join('\n')}`).toEqual([]);
        expect(got.size).toBe(f.grads.size);
      } finally {
        trainer.destroy();
      }
    });
  }

  it('base: predictions of every patch match the reference (reconstruction path)', async () => {
    const { f, trainer } = await trainerFor('base');
    try {
      const r = await trainer.reconstruct(f.imgs, f.mask);
      const dir = join(FIXTURE_DIR, 'model', 'base');
      const want = parseSafetensors(new Uint8Array(readFileSync(join(dir, 'outputs.safetensors')))).tensors.get('pred')!.data;
      let maxAbs = 0;
      for (const v of want) maxAbs = Math.max(maxAbs, Math.abs(v));
      // (N, L, 3072) both patch-major; relative to the largest prediction, as for gradients.
      expectAllClose(r.pred, want, { atol: 2e-4 * maxAbs, rtol: 0, label: 'pred (N·L, 3072)', shape: [want.length / 3072, 3072] });
      expect(Math.abs(r.loss - f.expected.loss) / f.expected.loss).toBeLessThan(1e-4);
      // reconstruction panels: visible patches of the pasted image are the input itself
      const L = f.mask.length / f.expected.batch;
      expect(r.denormalisation).toBe('true-patch-statistics');
      const W = f.expected.config.input_w;
      const p0 = [...f.mask.slice(0, L)].findIndex((m) => m === 0);
      const at = (Math.floor(p0 / (W / 32)) * 32) * W + (p0 % (W / 32)) * 32;
      expect(r.pasted[at]).toBe(f.imgs[at]);
      expect(r.maskedInput[at]).toBe(f.imgs[at]);
    } finally {
      trainer.destroy();
    }
  });

  it('pixels inside masked patches reach the loss only through the target', async () => {
    const { f, trainer } = await trainerFor('base');
    try {
      const before = await trainer.reconstruct(f.imgs, f.mask);
      const changed = Float32Array.from(f.imgs);
      const { batch: N, config } = f.expected;
      const H = config.input_h;
      const W = config.input_w;
      const gw = W / 32;
      const L = (H / 32) * gw;
      for (let n = 0; n < N; n++)
        for (let p = 0; p < L; p++) {
          if (f.mask[n * L + p] !== 1) continue;
          for (let c = 0; c < 3; c++)
            for (let y = 0; y < 32; y++)
              for (let x = 0; x < 32; x++) changed[((n * 3 + c) * H + Math.floor(p / gw) * 32 + y) * W + (p % gw) * 32 + x] = Math.sin(x * y + c);
        }
      const after = await trainer.reconstruct(changed, f.mask);
      // every prediction is bit-identical: the encoder never sees masked pixels
      let same = true;
      for (let i = 0; i < before.pred.length && same; i++) same = before.pred[i] === after.pred[i];
      expect(same).toBe(true);
      expect(after.loss).not.toBe(before.loss); // the target changed
    } finally {
      trainer.destroy();
    }
  });

  it('base: 5 AdamW steps follow the PyTorch loss trajectory', async () => {
    const { f, trainer } = await trainerFor('base', load('base').expected.adamw.lr);
    try {
      const losses: number[] = [];
      for (let k = 0; k < f.expected.adamw.steps; k++) losses.push((await trainer.step(f.imgs, f.mask)).loss);
      losses.push(await trainer.evaluate(f.imgs, f.mask));
      const want = f.expected.adamw.losses;
      for (let k = 0; k < want.length; k++) {
        // AdamW normalises each update, so f32 gradient noise moves weights by up to ~lr per
        // step; 5e-4 relative on the loss after 5 steps.
        expect(Math.abs(losses[k]! - want[k]!) / want[k]!, `step ${k}: ${losses[k]} vs ${want[k]}`).toBeLessThan(5e-4);
      }
    } finally {
      trainer.destroy();
    }
  });
});
