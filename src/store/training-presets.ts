// The Training panel's presets: "Paper recipe" (the official pretraining settings, fcmae-spec §5)
// and "Quick look" (a learning rate a playground session can see learn in a few minutes). Each is
// a patch of settings; applying one keeps everything else (model, data, seed). Pure.
//
// Why Quick look exists: the recipe's blr 1.5e-4 is scaled for batch 4096 (lr 2.4e-3); at the
// page's batch 16 the same rule gives lr 9.4e-6, and the loss barely moves in hundreds of steps
// (README "Defaults that visibly learn" has the measured step counts). The page opens on Quick
// look; Paper recipe is one click away.
import { MASK_PATCH } from '../model/config.ts';
import { largestMaskRatio } from '../train/masking.ts';
import type { Settings } from './settings.ts';

export type TrainingPresetId = 'paper' | 'quick';

export interface TrainingPreset {
  id: TrainingPresetId;
  label: string;
  /** One line the panel shows under the buttons. */
  description: string;
  /** The settings it sets, given the current ones (warmup follows the run length). */
  patch(s: Settings): Partial<Settings>;
}

/** The official recipe: 40 of 800 epochs warm up. */
export const PAPER_WARMUP_FRACTION = 0.05;
export const PAPER_BLR = 1.5e-4;
/** Quick look's base lr: lr = 0.01·batch/256 (6.25e-4 at batch 16). */
export const QUICK_LOOK_BLR = 0.01;
export const QUICK_LOOK_WARMUP = 20;

/** `ratio`, lowered where the input size holds too few patches to keep one visible (settings.ts imports this file: no import back). */
const ratioAt = (s: Settings, ratio: number) => Math.min(ratio, largestMaskRatio((s.inputSize / MASK_PATCH) ** 2));

export const TRAINING_PRESETS: readonly TrainingPreset[] = [
  {
    id: 'paper',
    label: 'Paper recipe',
    description: 'The official FCMAE pretraining: blr 1.5e-4 (lr = blr·batch/256), weight decay 0.05, warmup 5 % of the run, mask ratio 0.6, normalised-pixel target, decoder 512 wide × 1 block. Made for batch 4096: at a small batch it learns slowly.',
    patch: (s) => ({ blr: PAPER_BLR, weightDecay: 0.05, warmupSteps: Math.round(PAPER_WARMUP_FRACTION * s.totalSteps), maskRatio: ratioAt(s, 0.6), normPix: true, decoderDim: 512, decoderDepth: 1 }),
  },
  {
    id: 'quick',
    label: 'Quick look',
    description: 'A learning rate that shows a falling loss within minutes: blr 0.01 (lr 6.25e-4 at batch 16), warmup 20 steps, weight decay 0.05, mask ratio 0.6, normalised-pixel target; the model is kept.',
    patch: (s) => ({ blr: QUICK_LOOK_BLR, weightDecay: 0.05, warmupSteps: Math.min(QUICK_LOOK_WARMUP, s.totalSteps), maskRatio: ratioAt(s, 0.6), normPix: true }),
  },
];

export function trainingPreset(id: TrainingPresetId): TrainingPreset {
  return TRAINING_PRESETS.find((p) => p.id === id)!;
}

/** Which preset the settings match now (null when edited away from both). */
export function matchingTrainingPreset(s: Settings): TrainingPresetId | null {
  for (const p of TRAINING_PRESETS) {
    const patch = p.patch(s);
    if ((Object.keys(patch) as (keyof Settings)[]).every((k) => JSON.stringify(patch[k]) === JSON.stringify(s[k]))) return p.id;
  }
  return null;
}
