// Multiply-adds of the plain ConvNeXt V2 classifier's forward pass, the convention of the paper's
// GFLOPs column. The FLOPs of one FCMAE training step are counted in src/train/flops.ts.
import type { ModelConfig } from '../model/config.ts';
import { TAPS } from '../ops/flop-conventions.ts';

/**
 * Multiply-adds of the plain (unmasked) ConvNeXt V2 classifier's forward pass at an input
 * size, with a `classes`-way head: convolutions and linear layers only, the convention of
 * the paper's GFLOPs column (atto 0.55 at 224 px).
 */
export function encoderForwardMacs(config: Pick<ModelConfig, 'depths' | 'dims'>, height: number, width: number, classes = 1000): number {
  const d = config.dims;
  let macs = 0;
  let sites = (height / 4) * (width / 4);
  macs += sites * d[0]! * 48;
  for (let s = 0; s < 4; s++) {
    if (s > 0) {
      sites /= 4;
      macs += sites * d[s]! * 4 * d[s - 1]!;
    }
    const C = d[s]!;
    macs += config.depths[s]! * sites * (TAPS * C + 8 * C * C);
  }
  return macs + d[3]! * classes;
}
