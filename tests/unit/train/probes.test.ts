// The probes against PyTorch on fixed features (tests/reference/gen_probe_fixtures.py): DINO's
// weighted kNN gives the same prediction for every validation image (two k / T settings), and
// the BatchNorm-without-affine + Linear probe the same per-epoch losses and validation logits.
import { describe, expect, it } from 'vitest';
import { knnPredict, linearProbeLogits, trainLinearProbe, type Features } from '../../../src/train/probes.ts';
import { compareClose } from '../../helpers/allclose.ts';
import { loadFixture } from '../../helpers/fixtures.ts';

const fx = loadFixture('train/probes');
const t = (name: string) => fx.tensors[name]!;
const feats = (name: string): Features => ({ data: Float64Array.from(t(name).data), count: t(name).shape[0]!, dim: t(name).shape[1]! });
const K = (fx.meta as { K: number }).K;
const trainY = Int32Array.from(t('train_y').data);

describe('probes vs PyTorch', () => {
  for (const [name, k, T] of [['knn_k20_t0.07', 20, 0.07], ['knn_k5_t0.5', 5, 0.5]] as const) {
    it(`kNN k=${k} T=${T}: every prediction`, () => {
      const got = knnPredict(feats('train_x'), trainY, feats('val_x'), { k, temperature: T, numClasses: K });
      expect([...got]).toEqual(Array.from(t(name).data, Math.round));
    });
  }

  it('kNN: k above the training count uses them all; the lowest class wins a tie', () => {
    const train: Features = { data: Float64Array.of(1, 0, 0, 1), count: 2, dim: 2 };
    const val: Features = { data: Float64Array.of(1, 1), count: 1, dim: 2 };
    expect([...knnPredict(train, [1, 0], val, { k: 20, temperature: 0.07, numClasses: 2 })]).toEqual([0]);
  });

  it('linear probe: per-epoch losses and validation logits', () => {
    const m = (fx.meta as { linear: { epochs: number; lr: number; momentum: number } }).linear;
    const probe = trainLinearProbe(feats('train_x'), trainY, { numClasses: K, ...m });
    const l = compareClose(probe.losses, t('linear_losses').data, { atol: 1e-12, rtol: 1e-10, label: 'losses' });
    expect(l.ok, l.message).toBe(true);
    const logits = linearProbeLogits(probe, feats('val_x'));
    const r = compareClose(logits, t('linear_val_logits').data, { atol: 1e-11, rtol: 1e-9, label: 'val logits', shape: t('linear_val_logits').shape });
    expect(r.ok, r.message).toBe(true);
  });
});
