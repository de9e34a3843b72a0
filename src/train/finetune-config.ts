// Fine-tuning's settings in one place (as run-config.ts is pretraining's): the type, the two
// presets, validation with a reason per setting, and the schedule and groups they imply. The CLI
// parses flags into overrides of a preset; the worker receives the same object.
//
// Presets:
// - `official`: the official ImageNet-1K recipe for atto/femto/pico/nano (evaluation-spec §2,
//   from the official TRAINING.md / main_finetune.py): blr 2e-4 at batch 1024 (lr = blr·batch/256),
//   layer decay 0.9, weight decay 0.3 (femto 0.05), label smoothing 0.2, drop path 0.1 for atto and
//   nano, 0 for femto and pico, AdamW betas (0.9, 0.999), 600 epochs. The warmup length (5 % of
//   the steps) and the EMA (off) are this project's choice where the spec names none.
// - `small-data`: this project's recipe for a playground folder (hundreds of images, a few
//   hundred steps): the official structure with a stronger base lr (a batch of 32 at blr 2e-4
//   would move the weights at lr 2.5e-5, too slowly for a few hundred steps), milder
//   regularisation (label smoothing 0.1, drop path 0, weight decay 0.05) and layer decay 0.9.
import type { SizeName } from '../model/config.ts';
import { makeLrSchedule, type LrSchedule } from './lr-schedule.ts';
import type { ParamGroupSettings } from './param-groups.ts';

export interface FineTuneConfig {
  inputSize: number;
  batchSize: number;
  totalSteps: number;
  warmupSteps: number;
  /** Base lr per 256 images: peak lr = blr·batch/256. */
  blr: number;
  minLr: number;
  weightDecay: number;
  layerDecay: number;
  labelSmoothing: number;
  dropPath: number;
  /** EMA decay of the weights, or null for none. */
  emaDecay: number | null;
  seed: number;
  /** Evaluate on the validation images every this many steps (0: at the end only). */
  evalEvery: number;
}

export type FineTunePreset = 'official' | 'small-data';
export const FINETUNE_PRESETS: readonly FineTunePreset[] = ['official', 'small-data'];

export class FineTuneConfigError extends Error {
  override readonly name = 'FineTuneConfigError';
  constructor(
    readonly setting: keyof FineTuneConfig,
    message: string,
  ) {
    super(message);
  }
}

const OFFICIAL_WEIGHT_DECAY: Partial<Record<SizeName, number>> = { femto: 0.05 };
const OFFICIAL_DROP_PATH: Partial<Record<SizeName, number>> = { atto: 0.1, nano: 0.1, femto: 0, pico: 0 };

/** A preset for `size` (a custom model takes atto's numbers) over `totalSteps` steps. */
export function fineTunePreset(preset: FineTunePreset, o: { size?: SizeName; totalSteps: number; batchSize?: number; inputSize?: number; seed?: number }): FineTuneConfig {
  const totalSteps = o.totalSteps;
  const base = { inputSize: o.inputSize ?? 224, totalSteps, warmupSteps: Math.round(totalSteps * 0.05), minLr: 0, emaDecay: null, seed: o.seed ?? 0, evalEvery: 0 };
  if (preset === 'official') {
    const size = o.size ?? 'atto';
    return { ...base, batchSize: o.batchSize ?? 1024, blr: 2e-4, weightDecay: OFFICIAL_WEIGHT_DECAY[size] ?? 0.3, layerDecay: 0.9, labelSmoothing: 0.2, dropPath: OFFICIAL_DROP_PATH[size] ?? 0.1 };
  }
  return { ...base, inputSize: o.inputSize ?? 64, batchSize: o.batchSize ?? 32, blr: 2e-3, weightDecay: 0.05, layerDecay: 0.9, labelSmoothing: 0.1, dropPath: 0 };
}

export function validateFineTuneConfig(c: FineTuneConfig): FineTuneConfig {
  const bad = (k: keyof FineTuneConfig, why: string): never => {
    throw new FineTuneConfigError(k, `${k} ${String(c[k])}: ${why}`);
  };
  if (!Number.isInteger(c.inputSize) || c.inputSize < 32 || c.inputSize % 32 || c.inputSize > 1024) bad('inputSize', 'must be a multiple of 32 between 32 and 1024');
  if (!Number.isInteger(c.batchSize) || c.batchSize < 1 || c.batchSize > 4096) bad('batchSize', 'must be an integer in 1..4096');
  if (!Number.isInteger(c.totalSteps) || c.totalSteps < 1) bad('totalSteps', 'must be a positive integer');
  if (!Number.isInteger(c.warmupSteps) || c.warmupSteps < 0 || c.warmupSteps > c.totalSteps) bad('warmupSteps', `must be an integer in 0..${c.totalSteps} (the total steps)`);
  if (!(c.blr >= 0 && Number.isFinite(c.blr))) bad('blr', 'must be ≥ 0 and finite');
  if (!(c.weightDecay >= 0 && c.weightDecay < 10)) bad('weightDecay', 'must be in [0, 10) (the recipe uses 0.05–0.3)');
  if (!(c.layerDecay > 0 && c.layerDecay <= 1)) bad('layerDecay', 'must be in (0, 1] (1 = none; the recipe uses 0.9)');
  if (!(c.labelSmoothing >= 0 && c.labelSmoothing < 1)) bad('labelSmoothing', 'must be in [0, 1) (the recipe uses 0.2)');
  if (!(c.dropPath >= 0 && c.dropPath < 1)) bad('dropPath', 'must be in [0, 1) (the recipe uses 0–0.1 for the small sizes)');
  if (c.emaDecay !== null && !(c.emaDecay >= 0 && c.emaDecay < 1)) bad('emaDecay', 'must be in [0, 1) (timm uses 0.9999)');
  if (!Number.isInteger(c.seed) || c.seed < 0 || c.seed > 2 ** 32 - 1) bad('seed', 'must be an integer in 0..2³²−1');
  if (!Number.isInteger(c.evalEvery) || c.evalEvery < 0) bad('evalEvery', 'must be an integer ≥ 0');
  lrScheduleOfFineTune(c); // peak lr sanity
  return c;
}

/** The schedule: peak blr·batch/256, linear warmup, cosine to minLr (the official adjust_learning_rate, per step). */
export function lrScheduleOfFineTune(c: FineTuneConfig): LrSchedule {
  return makeLrSchedule({ blr: c.blr, batch: c.batchSize, warmupSteps: c.warmupSteps, totalSteps: c.totalSteps, minLr: c.minLr });
}

export function paramGroupSettingsOf(c: FineTuneConfig): ParamGroupSettings {
  return { layerDecay: c.layerDecay, weightDecay: c.weightDecay };
}
