// One-click ablations: the paper's ablations (ConvNeXt V2, CVPR 2023, Table 1 / Fig. 5 / App. D;
// fcmae-spec §7, evaluation-spec) set up as sweeps at toy scale, each ending in an evaluation of
// the encoder, with the paper's ImageNet-1K fine-tuning figures beside for reference. The paper's
// figures come from ConvNeXt-Base pretrained 800 epochs on ImageNet: a playground run of minutes
// on a few hundred images can show the measurement, not reproduce the numbers. Pure.
import type { Settings, SweepAxis, SweepEvaluation } from './settings.ts';

export interface AblationPreset {
  id: string;
  label: string;
  axis: SweepAxis;
  /** Mask ratios (axis maskRatio) or decoder depths / widths. */
  values?: number[];
  evaluation: SweepEvaluation;
  /** The paper's figures, cited as such. */
  paper: string;
}

export const ABLATION_PRESETS: readonly AblationPreset[] = [
  {
    id: 'mask-ratio',
    label: 'Mask ratio 0.4–0.8',
    axis: 'maskRatio',
    values: [0.4, 0.5, 0.6, 0.7, 0.8],
    evaluation: 'knn',
    paper: 'paper (ConvNeXt-Base, IN-1K fine-tune, App. D): 0.5–0.7 best, 0.6 highest',
  },
  {
    id: 'grn',
    label: 'GRN on vs off',
    axis: 'grn',
    evaluation: 'knn',
    paper: 'paper (ConvNeXt-Base, IN-1K fine-tune, Table 2): FCMAE with GRN 84.6 vs 83.7 without; without GRN the features collapse (Fig. 4: last-layer distance ≈ 0.2 vs 0.41–0.49)',
  },
  {
    id: 'sparse',
    label: 'Sparse vs dense encoder',
    axis: 'denseEncoder',
    evaluation: 'knn',
    paper: 'paper (ConvNeXt-Base, IN-1K fine-tune, Table 1): sparse convolutions 83.7, dense 79.3 (masked regions leak through dense convolutions)',
  },
  {
    id: 'decoder-depth',
    label: 'Decoder depth 1 / 2 / 4',
    axis: 'decoderDepth',
    values: [1, 2, 4],
    evaluation: 'knn',
    paper: 'paper (ConvNeXt-Base, IN-1K fine-tune, Table 1): depth 1 best (83.7), deeper no better and slower',
  },
  {
    id: 'decoder-width',
    label: 'Decoder width 128 / 256 / 512',
    axis: 'decoderDim',
    values: [128, 256, 512],
    evaluation: 'knn',
    paper: 'paper (ConvNeXt-Base, IN-1K fine-tune, Table 1): width 512 or 256 best (83.7)',
  },
];

/** The settings a preset sets (the sweep's axis, values and evaluation); steps, model and data stay. */
export function ablationPatch(p: AblationPreset): Partial<Settings> {
  const patch: Partial<Settings> = { sweepAxis: p.axis, sweepEval: p.evaluation };
  if (p.axis === 'maskRatio' && p.values) patch.sweepRatios = [...p.values];
  else if (p.values) patch.sweepValues = [...p.values];
  return patch;
}

/** The preset the sweep settings match (its axis, values and evaluation), or null. */
export function matchingAblationPreset(s: Settings): AblationPreset | null {
  return (
    ABLATION_PRESETS.find((p) => {
      const patch = ablationPatch(p);
      return (Object.keys(patch) as (keyof Settings)[]).every((k) => JSON.stringify(patch[k]) === JSON.stringify(s[k]));
    }) ?? null
  );
}
