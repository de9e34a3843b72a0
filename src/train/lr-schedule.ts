// Learning-rate schedule of the official FCMAE recipe (spec §5), evaluated every iteration:
// peak lr = blr·batch/256, linear warmup from 0, then half-cycle cosine down to minLr.
// The official code evaluates the same formula in fractional epochs (iteration / iterations
// per epoch); in steps it is identical. As there, step 0 runs at lr 0.
// Past totalSteps the official cosine would rise again; here the lr stays at minLr, so a
// playground run may continue after its planned end.

/** The recipe's base learning rate per 256 images. */
export const DEFAULT_BLR = 1.5e-4;

/** Above this AdamW moves every weight by about lr per step: no run learns anything. */
const MAX_SANE_LR = 1;

export interface LrSchedule {
  /** Learning rate at the end of warmup (blr·batch/256). */
  peakLr: number;
  /** Iterations of linear warmup from 0 to peakLr. */
  warmupSteps: number;
  /** Iterations in the whole run (warmup included). */
  totalSteps: number;
  /** Where the cosine ends (the recipe uses 0). */
  minLr: number;
}

export class LrScheduleError extends Error {
  override readonly name = 'LrScheduleError';
  constructor(
    /** The offending setting, e.g. 'warmupSteps'. */
    readonly setting: string,
    message: string,
  ) {
    super(message);
  }
}

/** lr = blr · batch / 256 (the linear scaling rule of the recipe). */
export function effectiveLr(blr: number, batch: number): number {
  if (!Number.isFinite(blr) || blr < 0) throw new LrScheduleError('blr', `base learning rate blr = ${blr} must be ≥ 0 and finite (the recipe uses ${DEFAULT_BLR})`);
  if (!Number.isInteger(batch) || batch < 1) throw new LrScheduleError('batch', `batch size ${batch} must be a positive integer`);
  return (blr * batch) / 256;
}

/** Throws an LrScheduleError naming the first absurd setting. */
export function validateLrSchedule(s: LrSchedule): void {
  const { peakLr, minLr, warmupSteps, totalSteps } = s;
  if (!Number.isFinite(peakLr) || peakLr < 0) throw new LrScheduleError('peakLr', `learning rate ${peakLr} must be ≥ 0 and finite`);
  if (peakLr > MAX_SANE_LR) {
    throw new LrScheduleError(
      'peakLr',
      `learning rate ${peakLr} is above ${MAX_SANE_LR}: AdamW would move every weight by about that much per step. ` +
        `The recipe uses blr·batch/256 = ${DEFAULT_BLR}·batch/256.`,
    );
  }
  if (!Number.isFinite(minLr) || minLr < 0) throw new LrScheduleError('minLr', `minimum learning rate ${minLr} must be ≥ 0 and finite`);
  if (minLr > peakLr) throw new LrScheduleError('minLr', `minimum learning rate ${minLr} is above the peak learning rate ${peakLr}`);
  if (!Number.isInteger(totalSteps) || totalSteps < 1) throw new LrScheduleError('totalSteps', `total steps ${totalSteps} must be a positive integer`);
  if (!Number.isInteger(warmupSteps) || warmupSteps < 0) throw new LrScheduleError('warmupSteps', `warmup steps ${warmupSteps} must be an integer ≥ 0`);
  if (warmupSteps > totalSteps) {
    throw new LrScheduleError('warmupSteps', `warmup steps ${warmupSteps} exceed total steps ${totalSteps} (the recipe warms up for 5% of the run: 40 of 800 epochs)`);
  }
}

/** A validated schedule from the recipe's settings: peak lr = blr·batch/256. */
export function makeLrSchedule(o: { blr?: number; batch: number; warmupSteps: number; totalSteps: number; minLr?: number }): LrSchedule {
  const s: LrSchedule = {
    peakLr: effectiveLr(o.blr ?? DEFAULT_BLR, o.batch),
    warmupSteps: o.warmupSteps,
    totalSteps: o.totalSteps,
    minLr: o.minLr ?? 0,
  };
  validateLrSchedule(s);
  return s;
}

/** Learning rate of iteration `step` (0-based; fractional steps allowed as in the official epochs). */
export function learningRateAt(step: number, s: LrSchedule): number {
  if (!Number.isFinite(step) || step < 0) throw new LrScheduleError('step', `step ${step} must be ≥ 0 and finite`);
  validateLrSchedule(s);
  const { peakLr, minLr, warmupSteps, totalSteps } = s;
  if (step < warmupSteps) return (peakLr * step) / warmupSteps;
  if (step >= totalSteps) return minLr;
  return minLr + (peakLr - minLr) * 0.5 * (1 + Math.cos((Math.PI * (step - warmupSteps)) / (totalSteps - warmupSteps)));
}
