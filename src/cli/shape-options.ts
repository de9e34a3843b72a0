// Input size and mask ratio flags checked as the engine checks them, failing as usage errors
// that name the flag. A mask ratio becomes the plan's visible count here, once.
import { ConfigError, validateInputSize } from '../model/config.ts';
import { MaskError } from '../ops/sparse-layout.ts';
import { keptCount } from '../train/masking.ts';
import { UsageError } from './args.ts';

/** The visible count int(L·(1 − ratio)) a --mask-ratio gives at this input size, or a usage error. */
export function checkMaskRatio(command: string, ratio: number, inputSize: number): number {
  const L = (inputSize / 32) ** 2;
  try {
    return keptCount(L, ratio);
  } catch (e) {
    if (e instanceof MaskError) throw new UsageError(`${command}: --mask-ratio ${ratio}: ${e.message}`);
    throw e;
  }
}

export function checkInputSize(command: string, size: number): void {
  try {
    validateInputSize(size, size);
  } catch (e) {
    if (e instanceof ConfigError) throw new UsageError(`${command}: --input-size ${size}: ${e.message}`);
    throw e;
  }
}
