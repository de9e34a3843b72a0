// Settings (what the page edits and the URL carries) ⇄ the run configuration (what the worker
// takes): the fields they share (RUN_SETTING_KEYS) go across under the same names. The worker's
// extra knobs (AdamW betas and eps, minimum lr, evaluation images) keep their recipe defaults:
// the playground does not expose them.
import { defaultRunConfig } from '../train/run-config.ts';
import type { TrainingConfig } from '../worker/protocol.ts';
import { maxMaskRatio, runSettingsOf, type Settings } from './settings.ts';

export function trainingConfigOf(s: Settings, base: TrainingConfig = defaultRunConfig()): TrainingConfig {
  const { size: _size, ...run } = runSettingsOf(s);
  return { ...base, ...run };
}

/**
 * The settings that reproduce a worker config (e.g. after loading a checkpoint of another
 * size), keeping the page's view settings; the size name is re-detected from depths/dims.
 */
export function settingsFromConfig(view: Settings, c: TrainingConfig): Settings {
  const next: Settings = { ...view, ...runSettingsOf(c) };
  // keep the view's mask ratios usable at the (possibly new) input size
  const top = maxMaskRatio(next.inputSize);
  next.viewMaskRatio = Math.min(next.viewMaskRatio, top);
  next.sweepRatios = next.sweepRatios.map((r) => Math.min(r, top));
  return next;
}
