// The run configuration: one owner for every setting of a training run, whichever driver starts
// it (the page through the store and the worker, the CLI's flags, the bench). Its type, the
// defaults of each driver, validation that names the offending setting, what a change costs
// (live / rebuild keeping the run / reset), the conversions to the engine's own types, and the
// settings a checkpoint stores. Pure: no GPU, no DOM.
//
// The mask ratio is the setting people choose; the plan is keyed by the visible count it gives,
// V = int(L·(1 − ratio)) (patchesOf), converted here once.
import { customConfig, ConfigError, validateInputSize, type ModelConfig, type StepOptions, type GrnMode } from '../model/config.ts';
import type { GeluForm } from '../ops/gelu.ts';
import { validateAdamWConfig, AdamWConfigError, ADAMW_DEFAULTS, WEIGHT_DECAY_RULES, type AdamWConfig, type WeightDecayRule } from '../ops/adamw.ts';
import { keptCount } from './masking.ts';
import { makeLrSchedule, DEFAULT_BLR, LrScheduleError, type LrSchedule } from './lr-schedule.ts';
import { MaskError } from '../ops/sparse-layout.ts';

export interface RunConfig {
  // model (changing any of these needs a reset)
  depths: number[];
  dims: number[];
  decoderDim: number;
  decoderDepth: number;
  /** GRN in every block (ConvNeXt V2); false: V1-style blocks without it (ablation). */
  grn: boolean;
  /** Square input side, a multiple of 32. */
  inputSize: number;
  seed: number;
  // rebuilt in place, run kept
  batchSize: number;
  maskRatio: number;
  grnMode: GrnMode;
  gelu: GeluForm;
  normPix: boolean;
  denseEncoder: boolean;
  /** Decoder warm-up: the encoder's weights stay as they are; only proj, mask token, decoder and pred train. */
  freezeEncoder: boolean;
  weightDecay: number;
  /** Which tensors AdamW decays: 'maintainers' (default) or 'official' (GRN and mask token too; ops/adamw.ts). */
  weightDecayRule: WeightDecayRule;
  beta1: number;
  beta2: number;
  eps: number;
  // live
  /** Base learning rate per 256 images: peak lr = blr·batchSize/256. */
  blr: number;
  warmupSteps: number;
  totalSteps: number;
  minLr: number;
  /** Images in the fixed evaluation batch (reconstruction grids). */
  evalImages: number;
}

/** How the run was set up, as a checkpoint stores it: everything the schedule, batches and masks depend on. */
export interface TrainingSettings {
  /** Square input side, pixels (a multiple of 32). */
  inputSize: number;
  batchSize: number;
  /** The mask ratio the run was asked for (what its flags or page said). */
  maskRatio: number;
  /**
   * Patches kept visible per sample: the plan's key, int(L·(1 − maskRatio)) when the run
   * started from a ratio. Files written before this field existed get it from maskRatio.
   */
  visiblePatches: number;
  /** Base learning rate per 256 images. */
  blr: number;
  warmupSteps: number;
  totalSteps: number;
  seed: number;
}

/** The playground's start: a small model that trains visibly on SwiftShader and in a second on a real GPU. */
export function defaultRunConfig(): RunConfig {
  return {
    depths: [2, 2, 6, 2],
    dims: [40, 80, 160, 320],
    decoderDim: 512,
    decoderDepth: 1,
    grn: true,
    // the demo photos are 160 px crops: 5×5 = 25 mask patches
    inputSize: 160,
    seed: 0,
    batchSize: 16,
    maskRatio: 0.6,
    grnMode: 'per-sample',
    gelu: 'erf',
    normPix: true,
    denseEncoder: false,
    freezeEncoder: false,
    weightDecay: ADAMW_DEFAULTS.weightDecay,
    weightDecayRule: 'maintainers',
    beta1: ADAMW_DEFAULTS.beta1,
    beta2: ADAMW_DEFAULTS.beta2,
    eps: ADAMW_DEFAULTS.eps,
    blr: DEFAULT_BLR,
    warmupSteps: 50,
    totalSteps: 1000,
    minLr: 0,
    evalImages: 4,
  };
}

/** The recipe warms up for 5% of the run (40 of 800 epochs). */
export const WARMUP_FRACTION = 0.05;

/**
 * The CLI's start where it differs from the playground's: the recipe's 224-px input, batches
 * of 8, a warmup of 5% of the run, 8 evaluation images in the grids.
 */
export function cliDefaultRunConfig(): RunConfig {
  const c = defaultRunConfig();
  return { ...c, inputSize: 224, batchSize: 8, evalImages: 8, warmupSteps: Math.round(WARMUP_FRACTION * c.totalSteps) };
}

const RESET_KEYS = ['depths', 'dims', 'decoderDim', 'decoderDepth', 'grn', 'inputSize', 'seed'] as const;
const REBUILD_KEYS = ['batchSize', 'maskRatio', 'grnMode', 'gelu', 'normPix', 'denseEncoder', 'freezeEncoder', 'weightDecay', 'weightDecayRule', 'beta1', 'beta2', 'eps'] as const;
const LIVE_KEYS = ['blr', 'warmupSteps', 'totalSteps', 'minLr', 'evalImages'] as const;

/** Every key of RunConfig, in the order above. */
export const CONFIG_KEYS: readonly (keyof RunConfig)[] = [...RESET_KEYS, ...REBUILD_KEYS, ...LIVE_KEYS];

export type ConfigChangeLevel = 'none' | 'live' | 'rebuild' | 'reset';

const show = (v: unknown): string => (Array.isArray(v) ? v.join(',') : String(v));
const same = (a: unknown, b: unknown): boolean => show(a) === show(b);

export interface ConfigChange {
  level: ConfigChangeLevel;
  changed: (keyof RunConfig)[];
  /** e.g. 'inputSize 64 → 96', one per changed reset key. */
  resetReasons: string[];
}

/** What moving from `before` to `after` costs (the most expensive changed key decides). */
export function classifyChange(before: RunConfig, after: RunConfig): ConfigChange {
  const changed = CONFIG_KEYS.filter((k) => !same(before[k], after[k]));
  const resetReasons = RESET_KEYS.filter((k) => changed.includes(k)).map((k) => `${k} ${show(before[k])} → ${show(after[k])}`);
  let level: ConfigChangeLevel = 'none';
  if (resetReasons.length) level = 'reset';
  else if (REBUILD_KEYS.some((k) => changed.includes(k))) level = 'rebuild';
  else if (changed.length) level = 'live';
  return { level, changed, resetReasons };
}

/** A rejected setting: which one, the value tried, and why. */
export class RunConfigError extends Error {
  override readonly name = 'RunConfigError';
  constructor(
    readonly field: keyof RunConfig | 'config',
    readonly value: unknown,
    readonly detail: string,
  ) {
    super(`${field} = ${JSON.stringify(value)}: ${detail}`);
  }
}

const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v);

/** Checks every field and returns a normalised copy; throws a RunConfigError naming the offending setting. */
export function validateRunConfig(c: RunConfig): RunConfig {
  if (!c || typeof c !== 'object') throw new RunConfigError('config', c, 'expected a run configuration object');
  for (const k of CONFIG_KEYS) if (c[k] === undefined) throw new RunConfigError(k, undefined, 'missing');
  if (typeof c.grn !== 'boolean') throw new RunConfigError('grn', c.grn, 'must be true or false');
  try {
    customConfig([...c.depths], [...c.dims], c.decoderDim, c.decoderDepth, c.grn);
  } catch (e) {
    if (e instanceof ConfigError) {
      const field = /decoder width/.test(e.message) ? 'decoderDim' : /decoder depth/.test(e.message) ? 'decoderDepth' : /depth/.test(e.message) ? 'depths' : 'dims';
      throw new RunConfigError(field, c[field], e.message);
    }
    throw e;
  }
  try {
    validateInputSize(c.inputSize, c.inputSize);
  } catch (e) {
    throw new RunConfigError('inputSize', c.inputSize, (e as Error).message);
  }
  if (!isInt(c.seed) || c.seed < 0 || c.seed > 2 ** 32 - 1) throw new RunConfigError('seed', c.seed, 'must be an integer in 0..4294967295');
  if (!isInt(c.batchSize) || c.batchSize < 1 || c.batchSize > 4096) throw new RunConfigError('batchSize', c.batchSize, 'must be an integer in 1..4096');
  try {
    patchesOf(c);
  } catch (e) {
    if (e instanceof MaskError) throw new RunConfigError('maskRatio', c.maskRatio, e.message);
    throw e;
  }
  if (c.grnMode !== 'per-sample' && c.grnMode !== 'batch') throw new RunConfigError('grnMode', c.grnMode, "must be 'per-sample' or 'batch'");
  if (c.gelu !== 'erf' && c.gelu !== 'tanh') throw new RunConfigError('gelu', c.gelu, "must be 'erf' or 'tanh'");
  if (typeof c.normPix !== 'boolean') throw new RunConfigError('normPix', c.normPix, 'must be true or false');
  if (typeof c.denseEncoder !== 'boolean') throw new RunConfigError('denseEncoder', c.denseEncoder, 'must be true or false');
  if (typeof c.freezeEncoder !== 'boolean') throw new RunConfigError('freezeEncoder', c.freezeEncoder, 'must be true or false');
  if (!WEIGHT_DECAY_RULES.includes(c.weightDecayRule)) throw new RunConfigError('weightDecayRule', c.weightDecayRule, "must be 'maintainers' or 'official'");
  try {
    validateAdamWConfig(adamwOf(c));
  } catch (e) {
    if (e instanceof AdamWConfigError) {
      const field = (['beta1', 'beta2', 'eps', 'weightDecay'] as const).find((k) => e.message.includes(k)) ?? 'weightDecay';
      throw new RunConfigError(field, c[field], e.message);
    }
    throw e;
  }
  try {
    lrScheduleOf(c);
  } catch (e) {
    if (e instanceof LrScheduleError) {
      const field = (e.setting === 'peakLr' ? 'blr' : e.setting === 'batch' ? 'batchSize' : e.setting) as keyof RunConfig;
      throw new RunConfigError(field, c[field], e.message);
    }
    throw e;
  }
  if (!isInt(c.evalImages) || c.evalImages < 1 || c.evalImages > 64) throw new RunConfigError('evalImages', c.evalImages, 'must be an integer in 1..64');
  return { ...c, depths: [...c.depths], dims: [...c.dims] };
}

export function modelOf(c: RunConfig): ModelConfig {
  return customConfig([...c.depths], [...c.dims], c.decoderDim, c.decoderDepth, c.grn);
}

export function stepOptionsOf(c: RunConfig): StepOptions {
  return { grnMode: c.grnMode, gelu: c.gelu, normPix: c.normPix, denseEncoder: c.denseEncoder, freezeEncoder: c.freezeEncoder };
}

export function adamwOf(c: RunConfig): AdamWConfig {
  return { beta1: c.beta1, beta2: c.beta2, eps: c.eps, weightDecay: c.weightDecay, ...(c.weightDecayRule === 'official' ? { decayRule: 'official' as const } : {}) };
}

export function lrScheduleOf(c: Pick<RunConfig, 'blr' | 'batchSize' | 'warmupSteps' | 'totalSteps' | 'minLr'>): LrSchedule {
  return makeLrSchedule({ blr: c.blr, batch: c.batchSize, warmupSteps: c.warmupSteps, totalSteps: c.totalSteps, minLr: c.minLr });
}

/**
 * Patches per image L and visible patches V: the one place a run's mask ratio becomes the
 * plan's visible count (the official int(L·(1 − ratio))). Throws MaskError when none stays visible.
 */
export function patchesOf(c: Pick<RunConfig, 'inputSize' | 'maskRatio'>): { L: number; V: number } {
  const L = (c.inputSize / 32) ** 2;
  return { L, V: keptCount(L, c.maskRatio) };
}

/** Shorter side images are decoded to for an input size: the evaluation resize S/0.875 (torchvision's crop_pct). */
export function decodeSizeFor(inputSize: number): number {
  return Math.trunc(inputSize / 0.875);
}

/** The settings a checkpoint stores for this run. */
export function trainingSettingsOf(c: RunConfig): TrainingSettings {
  return { inputSize: c.inputSize, batchSize: c.batchSize, maskRatio: c.maskRatio, visiblePatches: patchesOf(c).V, blr: c.blr, warmupSteps: c.warmupSteps, totalSteps: c.totalSteps, seed: c.seed };
}

/**
 * A run configuration continuing a checkpoint: its model, step options, training settings and
 * AdamW constants over `base` (the settings a checkpoint does not store: minLr, evalImages).
 */
export function runConfigFromCheckpoint(
  base: RunConfig,
  file: { config: ModelConfig; options: StepOptions; training: TrainingSettings; adamwSettings?: Partial<AdamWConfig> | null },
): RunConfig {
  const { config: m, options: o, training: t } = file;
  const { decayRule, ...constants } = file.adamwSettings ?? {};
  return {
    ...base,
    depths: [...m.depths],
    dims: [...m.dims],
    decoderDim: m.decoderDim,
    decoderDepth: m.decoderDepth,
    grn: m.grn,
    grnMode: o.grnMode,
    gelu: o.gelu,
    normPix: o.normPix,
    denseEncoder: o.denseEncoder,
    freezeEncoder: o.freezeEncoder ?? false,
    inputSize: t.inputSize,
    batchSize: t.batchSize,
    maskRatio: t.maskRatio,
    blr: t.blr,
    warmupSteps: t.warmupSteps,
    totalSteps: t.totalSteps,
    seed: t.seed,
    ...constants,
    // a file without AdamW state has no rule of its own: the current one stays
    ...(file.adamwSettings ? { weightDecayRule: decayRule ?? 'maintainers' } : {}),
  };
}
