// LR schedule: hand-computed values, the official per-iteration formula in fractional
// epochs (ConvNeXt-V2 utils/lr_sched.py adjust_learning_rate, transcribed below), and the
// validation messages.
import { describe, expect, it } from 'vitest';
import { DEFAULT_BLR, effectiveLr, learningRateAt, LrScheduleError, makeLrSchedule, validateLrSchedule, type LrSchedule } from '../../../src/train/lr-schedule.ts';
import { expectAllClose } from '../../helpers/allclose.ts';

/**
 * The official code, called every iteration with epoch = data_iter_step / len(data_loader) + epoch:
 *   if epoch < warmup_epochs: lr = args.lr * epoch / warmup_epochs
 *   else: lr = min_lr + (args.lr - min_lr) * 0.5 * (1 + cos(pi * (epoch - warmup_epochs) / (epochs - warmup_epochs)))
 */
function officialLr(epoch: number, a: { lr: number; minLr: number; warmupEpochs: number; epochs: number }): number {
  if (epoch < a.warmupEpochs) return (a.lr * epoch) / a.warmupEpochs;
  return a.minLr + (a.lr - a.minLr) * 0.5 * (1 + Math.cos((Math.PI * (epoch - a.warmupEpochs)) / (a.epochs - a.warmupEpochs)));
}

describe('effectiveLr', () => {
  it('blr · batch / 256', () => {
    expect(effectiveLr(1.5e-4, 4096)).toBeCloseTo(2.4e-3, 15);
    expect(effectiveLr(DEFAULT_BLR, 64)).toBeCloseTo(3.75e-5, 18);
    expect(effectiveLr(1e-3, 256)).toBe(1e-3);
    expect(() => effectiveLr(-1e-4, 8)).toThrow(/blr = -0\.0001 must be ≥ 0/);
    expect(() => effectiveLr(1e-4, 0)).toThrow(/batch size 0 must be a positive integer/);
  });
});

describe('learningRateAt', () => {
  const peak = 3.75e-5; // blr 1.5e-4 at batch 64
  const s = makeLrSchedule({ batch: 64, warmupSteps: 10, totalSteps: 110 });

  it('hand-computed points: warmup, peak, quarter, half, end', () => {
    const steps = [0, 5, 10, 35, 60, 85, 109, 110, 500];
    const want = [
      0, // warmup starts at 0, as the official code
      peak / 2,
      peak, // cos(0) = 1
      peak * (0.5 + Math.SQRT2 / 4), // a quarter of the cosine: 0.5·(1 + cos(π/4))
      peak / 2, // half-way: cos(π/2) = 0
      peak * (0.5 - Math.SQRT2 / 4),
      peak * 0.5 * (1 + Math.cos((Math.PI * 99) / 100)),
      0, // end of the run: minLr
      0, // past the end: stays at minLr (the official cosine would rise again)
    ];
    // Same formula in double: rounding only.
    expectAllClose(steps.map((t) => learningRateAt(t, s)), want, { atol: 0, rtol: 1e-14, label: 'lr at steps' });
  });

  it('minLr raises the floor of the cosine', () => {
    const m = makeLrSchedule({ blr: 1e-3, batch: 256, warmupSteps: 0, totalSteps: 4, minLr: 1e-4 });
    const want = [1e-3, 1e-4 + 9e-4 * 0.5 * (1 + Math.SQRT1_2), 1e-4 + 9e-4 * 0.5, 1e-4 + 9e-4 * 0.5 * (1 - Math.SQRT1_2), 1e-4];
    // Same formula in double: rounding only.
    expectAllClose([0, 1, 2, 3, 4].map((t) => learningRateAt(t, m)), want, { atol: 0, rtol: 1e-14, label: 'lr with minLr' });
  });

  it('equals the official formula evaluated in fractional epochs', () => {
    // 6 epochs of 7 iterations, 2 warmup epochs, minLr 1e-6.
    const itersPerEpoch = 7;
    const official = { lr: effectiveLr(1.5e-4, 32), minLr: 1e-6, warmupEpochs: 2, epochs: 6 };
    const sched = makeLrSchedule({ blr: 1.5e-4, batch: 32, warmupSteps: 2 * itersPerEpoch, totalSteps: 6 * itersPerEpoch, minLr: 1e-6 });
    const got: number[] = [];
    const want: number[] = [];
    for (let epoch = 0; epoch < official.epochs; epoch++) {
      for (let it = 0; it < itersPerEpoch; it++) {
        got.push(learningRateAt(epoch * itersPerEpoch + it, sched));
        want.push(officialLr(it / itersPerEpoch + epoch, official));
      }
    }
    // Steps vs fractional epochs differ only in the order of double roundings.
    expectAllClose(got, want, { atol: 1e-20, rtol: 1e-13, label: 'lr vs official (fractional epochs)' });
  });

  it('warmup over the whole run, and no warmup', () => {
    const all = makeLrSchedule({ blr: 2.56e-2, batch: 10, warmupSteps: 4, totalSteps: 4 }); // peak 1e-3
    expectAllClose([0, 1, 3, 4].map((t) => learningRateAt(t, all)), [0, 2.5e-4, 7.5e-4, 0], { atol: 1e-18, rtol: 1e-14, label: 'all warmup' });
    const none = makeLrSchedule({ blr: 2.56e-2, batch: 10, warmupSteps: 0, totalSteps: 2 });
    expectAllClose([0, 1].map((t) => learningRateAt(t, none)), [1e-3, 5e-4], { atol: 1e-18, rtol: 1e-14, label: 'no warmup' });
  });
});

describe('schedule validation', () => {
  const ok: LrSchedule = { peakLr: 1e-3, warmupSteps: 5, totalSteps: 100, minLr: 0 };
  const cases: [Partial<LrSchedule>, string, RegExp][] = [
    [{ peakLr: -1e-3 }, 'peakLr', /learning rate -0\.001 must be ≥ 0/],
    [{ peakLr: Number.NaN }, 'peakLr', /learning rate NaN/],
    [{ peakLr: 3 }, 'peakLr', /learning rate 3 is above 1/],
    [{ minLr: -1 }, 'minLr', /minimum learning rate -1 must be ≥ 0/],
    [{ minLr: 2e-3 }, 'minLr', /minimum learning rate 0\.002 is above the peak learning rate 0\.001/],
    [{ totalSteps: 0 }, 'totalSteps', /total steps 0 must be a positive integer/],
    [{ totalSteps: 10.5 }, 'totalSteps', /total steps 10\.5/],
    [{ warmupSteps: -1 }, 'warmupSteps', /warmup steps -1 must be an integer ≥ 0/],
    [{ warmupSteps: 101 }, 'warmupSteps', /warmup steps 101 exceed total steps 100/],
  ];
  for (const [change, setting, message] of cases) {
    it(`rejects ${JSON.stringify(change)}`, () => {
      const bad = { ...ok, ...change };
      expect(() => validateLrSchedule(bad)).toThrow(message);
      expect(() => learningRateAt(1, bad)).toThrow(message);
      try {
        validateLrSchedule(bad);
      } catch (e) {
        expect(e).toBeInstanceOf(LrScheduleError);
        expect((e as LrScheduleError).setting).toBe(setting);
      }
    });
  }
  it('rejects negative or non-finite steps', () => {
    expect(() => learningRateAt(-1, ok)).toThrow(/step -1 must be ≥ 0/);
    expect(() => learningRateAt(Number.POSITIVE_INFINITY, ok)).toThrow(/step Infinity/);
    expect(() => validateLrSchedule(ok)).not.toThrow();
  });
});
