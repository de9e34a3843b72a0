// Random FCMAE masks for tests, drawn with the production rule (src/train/masking.ts:
// keep floor(L·(1 − ratio)) patches per sample) and turned into a sparse layout.
import { layoutFromMask, type MaskLayout } from '../../src/ops/sparse-layout.ts';
import { generateMasks, keptCount } from '../../src/train/masking.ts';
import type { Random } from '../../src/util/random.ts';

export function randomLayout(rng: Random, N: number, gridH: number, gridW: number, ratio: number): MaskLayout {
  return layoutFromMask(generateMasks(N, gridH * gridW, keptCount(gridH * gridW, ratio), rng), N, gridH, gridW);
}
