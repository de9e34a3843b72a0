// Settings (what the page edits and the URL carries) → TrainingConfig (what the worker takes).
// The worker's extra knobs (AdamW betas and eps, minimum lr, evaluation images) keep their
// recipe defaults: the playground does not expose them.
import { defaultRunConfig } from '../train/run-config.ts';
import type { TrainingConfig } from '../worker/protocol.ts';
import { matchSize } from '../model/config.ts';
import { maxMaskRatio, type Settings } from './settings.ts';

export function trainingConfigOf(s: Settings, base: TrainingConfig = defaultRunConfig()): TrainingConfig {
  return {
    ...base,
    depths: [...s.depths],
    dims: [...s.dims],
    decoderDim: s.decoderDim,
    decoderDepth: s.decoderDepth,
    grn: s.grn,
    inputSize: s.inputSize,
    seed: s.seed,
    batchSize: s.batchSize,
    maskRatio: s.maskRatio,
    grnMode: s.grnMode,
    gelu: s.gelu,
    normPix: s.normPix,
    denseEncoder: s.denseEncoder,
    weightDecay: s.weightDecay,
    blr: s.blr,
    warmupSteps: s.warmupSteps,
    totalSteps: s.totalSteps,
  };
}

/**
 * The settings that reproduce a worker config (e.g. after loading a checkpoint of another
 * size), keeping the page's view settings; the size name is re-detected from depths/dims.
 */
export function settingsFromConfig(view: Settings, c: TrainingConfig): Settings {
  const next: Settings = {
    ...view,
    depths: [...c.depths],
    dims: [...c.dims],
    size: matchSize(c.depths, c.dims) ?? 'custom',
    decoderDim: c.decoderDim,
    decoderDepth: c.decoderDepth,
    grn: c.grn,
    inputSize: c.inputSize,
    seed: c.seed,
    batchSize: c.batchSize,
    maskRatio: c.maskRatio,
    grnMode: c.grnMode,
    gelu: c.gelu,
    normPix: c.normPix,
    denseEncoder: c.denseEncoder,
    weightDecay: c.weightDecay,
    blr: c.blr,
    warmupSteps: c.warmupSteps,
    totalSteps: c.totalSteps,
  };
  // keep the view's mask ratios usable at the (possibly new) input size
  const top = maxMaskRatio(next.inputSize);
  next.viewMaskRatio = Math.min(next.viewMaskRatio, top);
  next.sweepRatios = next.sweepRatios.map((r) => Math.min(r, top));
  return next;
}
