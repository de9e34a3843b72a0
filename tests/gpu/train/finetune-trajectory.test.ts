// Five fine-tuning steps against torch.optim.AdamW over the official parameter groups
// (tests/fixtures/finetune/adamw_layer_decay, from timm's ConvNeXt in float64): layer-wise lr
// decay 0.75 ("single" mode), weight decay 0.05 except 1-D tensors, biases and GRN, betas
// (0.9, 0.999), label smoothing 0.1, the fixture's own lr per step. The loss of every step and
// the weights after steps 1 and 5, under timm's names; and the groups themselves.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openCheckpoint } from '../../../src/io/checkpoint.ts';
import { classifierWeightsFrom } from '../../../src/io/classifier-weights.ts';
import { inFileLayout } from '../../../src/io/file-layout.ts';
import { parseSafetensors } from '../../../src/io/safetensors.ts';
import { stateDictFromFlat } from '../../../src/model/state-dict.ts';
import { ClassifierTrainer } from '../../../src/train/classifier-trainer.ts';
import { paramGroups } from '../../../src/train/param-groups.ts';
import { schemeName } from '../../../src/io/name-schemes.ts';
import { ROOT } from '../../helpers/cli.ts';
import { testEngine } from '../../helpers/gpu.ts';

const DIR = join(ROOT, 'tests/fixtures/finetune/adamw_layer_decay');
const read = (f: string) => parseSafetensors(new Uint8Array(readFileSync(join(DIR, f))), { source: f });

describe('fine-tuning AdamW trajectory vs torch over the official groups', () => {
  const expected = JSON.parse(readFileSync(join(DIR, 'expected.json'), 'utf8')) as { lr: number[]; loss: number[]; smoothing: number; N: number; H: number; K: number; steps: number };
  const groups = JSON.parse(readFileSync(join(DIR, 'groups.json'), 'utf8')) as { layer_decay: number; weight_decay: number; params: Record<string, { official: string; layer_id: number; lr_scale: number; weight_decay: number }> };
  const weightsBytes = new Uint8Array(readFileSync(join(DIR, 'weights.safetensors')));
  const ckpt = openCheckpoint(weightsBytes, 'weights.safetensors');

  it('every tensor gets the official layer id, lr scale and weight decay', () => {
    const w = classifierWeightsFrom(ckpt, null, 0);
    const mine = paramGroups(w.table, w.config.depths, { layerDecay: groups.layer_decay, weightDecay: groups.weight_decay });
    expect(mine.length).toBe(Object.keys(groups.params).length);
    for (const g of mine) {
      const timmName = schemeName(g.name, 'timm')!;
      const want = groups.params[timmName];
      expect(want, timmName).toBeDefined();
      expect([g.officialName, g.layerId, g.weightDecay], timmName).toEqual([want!.official, want!.layer_id, want!.weight_decay]);
      expect(Math.abs(g.lrScale - want!.lr_scale), timmName).toBeLessThan(1e-15);
    }
  });

  it('losses and weights after steps 1 and 5', async () => {
    const engine = await testEngine();
    const w = classifierWeightsFrom(ckpt, null, 0);
    expect(w.headFromFile).toBe(true);
    const trainer = await ClassifierTrainer.create(
      engine,
      {
        config: w.config,
        numClasses: w.numClasses,
        batchSize: expected.N,
        inputSize: expected.H,
        options: { labelSmoothing: expected.smoothing },
        groups: { layerDecay: groups.layer_decay, weightDecay: groups.weight_decay },
        learningRate: (k) => expected.lr[k - 1]!,
        seed: 0,
      },
      w.flat,
    );
    try {
      // the fit check's estimate of the largest activations is the plan's own buffer
      const h = trainer.plan.ledger().buffers.find((b) => b.name === 'encoder.stages.0.0/h')!;
      expect(h.bytes).toBe(expected.N * ((expected.H / 32) ** 2) * 64 * 4 * w.config.dims[0]! * 4);
      const batches = read('batches.safetensors').tensors;
      const traj = read('trajectory.safetensors').tensors;
      const imgs = batches.get('imgs')!.data;
      const labels = batches.get('labels')!.data;
      const per = expected.N * 3 * expected.H * expected.H;
      const losses: number[] = [];
      const compareAfter = async (step: number) => {
        const { params } = await trainer.saveState(false);
        const got = inFileLayout(stateDictFromFlat(trainer.plan.table, params), ckpt).tensors;
        let worst = 0;
        let worstName = '';
        for (const [name, t] of got) {
          const want = traj.get(`after${step}.${name}`);
          expect(want, name).toBeDefined();
          const initial = ckpt.original.get(name)!.data;
          // relative to how far torch moved the tensor this far (the update is what is tested)
          let moved = 0;
          let diff = 0;
          for (let i = 0; i < t.data.length; i++) {
            moved = Math.max(moved, Math.abs(want!.data[i]! - initial[i]!));
            diff = Math.max(diff, Math.abs(t.data[i]! - want!.data[i]!));
          }
          const rel = diff / Math.max(moved, 1e-12);
          if (rel > worst) {
            worst = rel;
            worstName = name;
          }
        }
        console.log(`after step ${step}: worst ${worstName}, |engine − torch| = ${(worst * 100).toFixed(3)} % of torch's update`);
        expect(worst, `${worstName}`).toBeLessThan(step === 1 ? 2e-3 : 5e-3);
      };
      for (let k = 1; k <= expected.steps; k++) {
        const r = await trainer.step(imgs.slice((k - 1) * per, k * per), Int32Array.from(labels.slice((k - 1) * expected.N, k * expected.N)));
        losses.push(r.loss);
        if (k === 1) await compareAfter(1);
      }
      await compareAfter(5);
      losses.forEach((l, i) => expect(Math.abs(l - expected.loss[i]!) / expected.loss[i]!, `loss of step ${i + 1}: ${l} want ${expected.loss[i]}`).toBeLessThan(1e-4));
    } finally {
      trainer.destroy();
    }
  });
});
