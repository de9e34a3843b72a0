// A sweep's runs: one fresh run per value of the chosen setting (mask ratio, GRN on/off, sparse
// or dense encoder, decoder depth or width), everything else as the page has it, same seed and
// data. Pure: the bridge trains them one after another (engine-bridge.ts runSweep).
import type { Settings, SweepAxis } from './settings.ts';

export interface SweepVariant {
  /** The run's name in the history ("mask 0.6", "GRN off", "decoder depth 2"). */
  name: string;
  /** The settings this run changes. */
  patch: Partial<Settings>;
}

export const SWEEP_AXIS_LABELS: Record<SweepAxis, string> = {
  maskRatio: 'Mask ratio',
  grn: 'GRN on / off',
  denseEncoder: 'Sparse / dense encoder',
  decoderDepth: 'Decoder depth',
  decoderDim: 'Decoder width',
};

/** The values a decoder sweep starts from when its axis is chosen (the paper's Table 1 grid). */
export const DEFAULT_SWEEP_VALUES: Partial<Record<SweepAxis, number[]>> = { decoderDepth: [1, 2, 4], decoderDim: [128, 256, 512] };

/** The runs of the sweep the settings describe, in order. */
export function sweepVariants(s: Settings): SweepVariant[] {
  switch (s.sweepAxis) {
    case 'maskRatio':
      return s.sweepRatios.map((r) => ({ name: `mask ${r}`, patch: { maskRatio: r } }));
    case 'grn':
      return [
        { name: 'GRN on', patch: { grn: true } },
        { name: 'GRN off', patch: { grn: false } },
      ];
    case 'denseEncoder':
      return [
        { name: 'sparse encoder', patch: { denseEncoder: false } },
        { name: 'dense encoder', patch: { denseEncoder: true } },
      ];
    case 'decoderDepth':
      return s.sweepValues.map((d) => ({ name: `decoder depth ${d}`, patch: { decoderDepth: d } }));
    case 'decoderDim':
      return s.sweepValues.map((d) => ({ name: `decoder width ${d}`, patch: { decoderDim: d } }));
  }
}

/** The settings of one sweep run: the page's, the variant's change, the sweep's length (warmup kept within it). */
export function sweepRunSettings(s: Settings, variant: SweepVariant): Settings {
  const next: Settings = { ...s, ...variant.patch, totalSteps: s.sweepSteps };
  next.warmupSteps = Math.min(s.warmupSteps, s.sweepSteps);
  return next;
}
