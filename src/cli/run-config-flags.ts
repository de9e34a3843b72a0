// The CLI's flags against the run configuration's owner (src/train/run-config.ts): a command's
// settings become a RunConfig and are validated there, a rejection naming the flag to change.
import type { ModelConfig, StepOptions } from '../model/config.ts';
import { ADAMW_DEFAULTS } from '../ops/adamw.ts';
import { defaultRunConfig, runConfigFromCheckpoint, RunConfigError, validateRunConfig, type RunConfig, type TrainingSettings } from '../train/run-config.ts';
import { UsageError } from './args.ts';

/** The flag that sets each run-config field. */
const FLAG_OF: Partial<Record<keyof RunConfig | 'config', string>> = {
  depths: 'depths',
  dims: 'dims',
  decoderDim: 'decoder-dim',
  decoderDepth: 'decoder-depth',
  grn: 'grn',
  inputSize: 'input-size',
  seed: 'seed',
  batchSize: 'batch-size',
  maskRatio: 'mask-ratio',
  grnMode: 'grn',
  gelu: 'gelu',
  normPix: 'norm-pix',
  denseEncoder: 'dense-encoder',
  freezeEncoder: 'freeze-encoder',
  blr: 'blr',
  warmupSteps: 'warmup',
  totalSteps: 'steps',
  minLr: 'blr',
  evalImages: 'eval-images',
};

/**
 * The run configuration of the command's settings, validated by its owner (src/train/run-config.ts);
 * a rejection names the flag to change.
 */
export function checkedRunConfig(cmd: string, config: ModelConfig, options: StepOptions, training: TrainingSettings, evalImages: number): RunConfig {
  const c = runConfigFromCheckpoint({ ...defaultRunConfig(), evalImages }, { config, options, training, adamwSettings: ADAMW_DEFAULTS });
  try {
    return validateRunConfig(c);
  } catch (e) {
    if (e instanceof RunConfigError) throw new UsageError(`${cmd}: --${FLAG_OF[e.field] ?? e.field}: ${e.detail}`);
    throw e;
  }
}

