// Feature collapse (evaluation-spec §4) against timm: for a GRN model and a no-GRN model
// (the fine-tuning fixtures' weights and batches), the engine's per-image, per-block distance
// — from Gram matrices computed on the GPU — equals the float64 PyTorch computation on timm's
// own activations (tests/reference/gen_collapse_fixtures.py).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openCheckpoint } from '../../../src/io/checkpoint.ts';
import { classifierWeightsFrom } from '../../../src/io/classifier-weights.ts';
import { parseSafetensors } from '../../../src/io/safetensors.ts';
import { activationMaps, cosineDistanceFromGram, featureCollapse } from '../../../src/train/feature-collapse.ts';
import { compareClose } from '../../helpers/allclose.ts';
import { ROOT } from '../../helpers/cli.ts';
import { loadFixture } from '../../helpers/fixtures.ts';
import { testEngine } from '../../helpers/gpu.ts';

const fx = loadFixture('train/collapse');

describe('feature collapse vs timm', () => {
  it('identical channels give 0, orthogonal ones (1 − 1/C′)/2', () => {
    expect(cosineDistanceFromGram(Float64Array.of(4, 4, 4, 4), 2)).toBeCloseTo(0, 12);
    expect(cosineDistanceFromGram(Float64Array.of(1, 0, 0, 9), 2)).toBeCloseTo(0.25, 12);
  });

  for (const name of ['timm_96_k7', 'timm_nogrn_k3']) {
    it(name, async () => {
      const engine = await testEngine();
      const dir = join(ROOT, 'tests/fixtures/finetune', name);
      const w = classifierWeightsFrom(openCheckpoint(new Uint8Array(readFileSync(join(dir, 'weights.safetensors'))), 'weights.safetensors'), null, 0);
      const imgs = parseSafetensors(new Uint8Array(readFileSync(join(dir, 'batch.safetensors')))).tensors.get('imgs')!;
      const [N, , S] = imgs.shape as [number, number, number];
      const per = 3 * S * S;
      const r = await featureCollapse(engine, w, S, N, (i) => imgs.data.slice(i * per, (i + 1) * per));
      const want = fx.tensors[`${name}.per_image`]!;
      expect([r.perImage.length, r.perImage[0]!.length]).toEqual(want.shape);
      const c = compareClose(r.perImage.flat(), want.data, { atol: 2e-6, rtol: 0, label: `${name} distances`, shape: want.shape });
      console.log(`${name}: max |engine − timm| ${c.maxDiff.toExponential(2)} over ${want.data.length} (image, block) values`);
      expect(c.ok, c.message).toBe(true);
      expect(r.blocks[0]).toMatchObject({ stage: 0, block: 0, normalisedIndex: 0 });
      expect(r.blocks.at(-1)!.normalisedIndex).toBe(1);
    }, 120_000);
  }

  it('activation maps (Fig. 3): stage 1 block 0 of an image, each of the first 64 channels min-max scaled, equal timm\'s', async () => {
    const engine = await testEngine();
    const dir = join(ROOT, 'tests/fixtures/finetune/timm_96_k7');
    const w = classifierWeightsFrom(openCheckpoint(new Uint8Array(readFileSync(join(dir, 'weights.safetensors'))), 'weights.safetensors'), null, 0);
    const imgs = parseSafetensors(new Uint8Array(readFileSync(join(dir, 'batch.safetensors')))).tensors.get('imgs')!;
    const got = await activationMaps(engine, w, 96, imgs.data.slice(0, 3 * 96 * 96), 1, 0);
    const want = fx.tensors['timm_96_k7.activation_1_0']!; // (H, W, C′)
    const [H, W, C] = want.shape as [number, number, number];
    expect([got.height, got.width, got.channels, got.maps.length]).toEqual([H, W, C, Math.min(64, C)]);
    let worst = 0;
    got.maps.forEach((m, c) => {
      const ref = Array.from({ length: H * W }, (_, i) => want.data[i * C + c]!);
      const lo = Math.min(...ref);
      const hi = Math.max(...ref);
      ref.forEach((v, i) => (worst = Math.max(worst, Math.abs(m[i]! - (v - lo) / (hi - lo)))));
    });
    console.log(`activation maps: max |engine − timm| ${worst.toExponential(2)} (scaled to [0, 1])`);
    expect(worst).toBeLessThan(1e-4);
  }, 120_000);
});
