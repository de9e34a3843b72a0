// Every knob of an experiment (model, training, view) as one plain object, with its defaults and
// validation. Pure: the store, the URL codec and the worker bridge all go through here, so a
// value that reaches the engine has passed the same checks whichever way it came in.
//
// Surprises: `depths`/`dims` always hold the effective architecture, also for a named size
// (choosing a size copies its preset in; editing a preset's numbers turns the size 'custom').
// The input is square (one `inputSize`), a multiple of the 32-px mask patch.
import { MASK_PATCH, MODEL_SIZES, SIZE_NAMES, matchSize, type GrnMode, type SizeName } from '../model/config.ts';
import type { GeluForm } from '../ops/gelu.ts';
import { WEIGHT_DECAY_RULES, type WeightDecayRule } from '../ops/adamw.ts';
import { keptCount, largestMaskRatio } from '../train/masking.ts';
import { effectiveLr } from '../train/lr-schedule.ts';
import { defaultRunConfig, type RunConfig } from '../train/run-config.ts';
import type { LabelledSource } from '../worker/evaluation-protocol.ts';
import { QUICK_LOOK_BLR, QUICK_LOOK_WARMUP } from './training-presets.ts';

export type SizeChoice = SizeName | 'custom';

export interface Settings {
  // ---- model
  size: SizeChoice;
  /** Blocks per stage (4). */
  depths: number[];
  /** Channels per stage (4). */
  dims: number[];
  /** Square input side in pixels (multiple of 32). */
  inputSize: number;
  decoderDim: number;
  decoderDepth: number;
  /** GRN in every block (ConvNeXt V2); off: V1-style blocks without it (ablation). */
  grn: boolean;
  /** GRN statistics (unused when `grn` is off). */
  grnMode: GrnMode;
  gelu: GeluForm;
  /** Ablation: dense convolutions on the masked image instead of sparse ones. */
  denseEncoder: boolean;
  // ---- training
  /** Decoder warm-up: the encoder's weights stay as they are; only proj, mask token, decoder and pred train. */
  freezeEncoder: boolean;
  batchSize: number;
  /** Base learning rate per 256 images (effective lr = blr·batch/256). */
  blr: number;
  warmupSteps: number;
  totalSteps: number;
  weightDecay: number;
  /** Which tensors decay: the maintainers' advice (default) or the official main_pretrain.py rule (GRN, mask token too). */
  weightDecayRule: WeightDecayRule;
  seed: number;
  normPix: boolean;
  maskRatio: number;
  // ---- views
  /** Mask ratio of the reconstruction view (independent of training's). */
  viewMaskRatio: number;
  /** Seed of the reconstruction view's mask ("New mask" draws another). */
  viewMaskSeed: number;
  /** Debiased-EMA smoothing of the loss curve, 0 (raw) … 0.999. */
  smoothing: number;
  logScale: boolean;
  /** Mask ratios of the sweep experiment. */
  sweepRatios: number[];
  sweepSteps: number;
  // ---- evaluation (evaluation-spec; page-side, never sent as run configuration)
  /** Which setting the sweep varies (mask ratios: `sweepRatios`; decoder depth / width: `sweepValues`; GRN and the dense encoder: on and off). */
  sweepAxis: SweepAxis;
  /** Decoder depths or widths a decoder sweep runs. */
  sweepValues: number[];
  /** The measurement that ends each sweep run. */
  sweepEval: SweepEvaluation;
  /** Probe with kNN after every this many pretraining steps (0: off). */
  knnEvery: number;
  /** Labelled images of tracking and sweep probes (a class-balanced subset; keeps them cheap). */
  evalSubset: number;
  /** Labelled images: the demo set or the loaded data set's class folders. */
  evalData: LabelledSource;
}

export type SweepAxis = 'maskRatio' | 'grn' | 'denseEncoder' | 'decoderDepth' | 'decoderDim';
export const SWEEP_AXES: readonly SweepAxis[] = ['maskRatio', 'grn', 'denseEncoder', 'decoderDepth', 'decoderDim'];
export type SweepEvaluation = 'none' | 'knn' | 'linear' | 'finetune';
export const SWEEP_EVALUATIONS: readonly SweepEvaluation[] = ['none', 'knn', 'linear', 'finetune'];

/** The settings that are run-configuration fields, under the same names (the rest are the page's own). */
export const RUN_SETTING_KEYS = [
  'depths', 'dims', 'decoderDim', 'decoderDepth', 'grn', 'inputSize', 'seed', 'batchSize', 'maskRatio',
  'grnMode', 'gelu', 'normPix', 'denseEncoder', 'weightDecay', 'weightDecayRule', 'blr', 'warmupSteps', 'totalSteps',
  'freezeEncoder',
] as const satisfies readonly (keyof Settings & keyof RunConfig)[];

export type RunSettings = Pick<Settings, (typeof RUN_SETTING_KEYS)[number]>;

/** Those fields of `c` (depths and dims copied), with the size name detected from depths/dims. */
export function runSettingsOf(c: RunSettings): RunSettings & { size: SizeChoice } {
  const out = Object.fromEntries(RUN_SETTING_KEYS.map((k) => [k, c[k]])) as RunSettings;
  return { ...out, depths: [...c.depths], dims: [...c.dims], size: matchSize(c.depths, c.dims) ?? 'custom' };
}

/** The run's settings from the run configuration's defaults (src/train/run-config.ts); the view's own here. */
export const DEFAULT_SETTINGS: Readonly<Settings> = Object.freeze({
  ...runSettingsOf(defaultRunConfig()),
  viewMaskRatio: 0.6,
  viewMaskSeed: 1,
  smoothing: 0.9,
  logScale: false,
  sweepRatios: [0.2, 0.4, 0.6, 0.8],
  sweepSteps: 200,
  sweepAxis: 'maskRatio',
  sweepValues: [1, 2, 4],
  sweepEval: 'knn',
  knnEvery: 0,
  evalSubset: 200,
  evalData: 'fashion-demo',
  // the page opens on "Quick look" (training-presets.ts): the recipe's blr learns nothing visible at batch 16
  blr: QUICK_LOOK_BLR,
  warmupSteps: QUICK_LOOK_WARMUP,
} satisfies Settings);

export function defaultSettings(): Settings {
  return { ...DEFAULT_SETTINGS, depths: [...DEFAULT_SETTINGS.depths], dims: [...DEFAULT_SETTINGS.dims], sweepRatios: [...DEFAULT_SETTINGS.sweepRatios], sweepValues: [...DEFAULT_SETTINGS.sweepValues] };
}

export type SettingKey = keyof Settings;

/** A rejected setting: which one, the value tried, and what would be accepted. */
export class SettingError extends Error {
  override readonly name = 'SettingError';
  constructor(
    readonly key: SettingKey,
    readonly value: unknown,
    detail: string,
  ) {
    super(`${key} = ${show(value)}: ${detail}`);
  }
}

// JSON.stringify turns NaN (an unparsable number) into null: show values as typed instead.
function show(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(show).join(',')}]`;
  if (typeof v === 'number') return String(v);
  return JSON.stringify(v) ?? String(v);
}

// Limits a browser playground should accept; the engine's own validation is wider.
export const LIMITS = {
  inputSize: { min: MASK_PATCH, max: 1024, step: MASK_PATCH },
  depth: { min: 1, max: 64 },
  dim: { min: 1, max: 4096 },
  decoderDim: { min: 1, max: 4096 },
  decoderDepth: { min: 0, max: 16 },
  batchSize: { min: 1, max: 1024 },
  blr: { min: 0, max: 1 },
  steps: { min: 1, max: 10_000_000 },
  weightDecay: { min: 0, max: 1 },
  seed: { min: 0, max: 2 ** 32 - 1 },
  smoothing: { min: 0, max: 0.999 },
  sweepRuns: { min: 1, max: 12 },
  knnEvery: { min: 0, max: 1_000_000 },
  evalSubset: { min: 20, max: 100_000 },
} as const;

const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v);
const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

function intIn(key: SettingKey, v: unknown, min: number, max: number): number {
  if (!isInt(v) || v < min || v > max) throw new SettingError(key, v, `must be an integer in ${min}..${max}`);
  return v;
}

function numIn(key: SettingKey, v: unknown, min: number, max: number): number {
  if (!isNum(v) || v < min || v > max) throw new SettingError(key, v, `must be a number in [${min}, ${max}]`);
  return v;
}

function bool(key: SettingKey, v: unknown): boolean {
  if (typeof v !== 'boolean') throw new SettingError(key, v, 'must be true or false');
  return v;
}

function oneOf<T extends string>(key: SettingKey, v: unknown, allowed: readonly T[]): T {
  if (typeof v !== 'string' || !allowed.includes(v as T)) throw new SettingError(key, v, `must be one of ${allowed.join(', ')}`);
  return v as T;
}

function fourInts(key: SettingKey, v: unknown, min: number, max: number): number[] {
  if (!Array.isArray(v) || v.length !== 4 || !v.every((x) => isInt(x) && x >= min && x <= max)) {
    throw new SettingError(key, v, `needs 4 integers in ${min}..${max}, one per stage`);
  }
  return [...v] as number[];
}

/** Patches per image at this input size. */
export function patchCount(inputSize: number): number {
  return (inputSize / MASK_PATCH) ** 2;
}

/** The largest mask ratio that keeps one patch visible at this input size (0 for a single patch). */
export function maxMaskRatio(inputSize: number): number {
  return largestMaskRatio(patchCount(inputSize));
}

/**
 * Checks one setting on its own (cross-field rules are in `validateSettings`) and returns the
 * value to store; throws a SettingError naming it otherwise.
 */
export function checkSetting<K extends SettingKey>(key: K, value: unknown): Settings[K] {
  const v = value;
  const out = ((): unknown => {
    switch (key) {
      case 'size':
        return oneOf(key, v, [...SIZE_NAMES, 'custom'] as SizeChoice[]);
      case 'depths':
        return fourInts(key, v, LIMITS.depth.min, LIMITS.depth.max);
      case 'dims':
        return fourInts(key, v, LIMITS.dim.min, LIMITS.dim.max);
      case 'inputSize': {
        const n = intIn(key, v, LIMITS.inputSize.min, LIMITS.inputSize.max);
        if (n % MASK_PATCH !== 0) throw new SettingError(key, v, `must be a multiple of the ${MASK_PATCH}-px mask patch`);
        return n;
      }
      case 'decoderDim':
        return intIn(key, v, LIMITS.decoderDim.min, LIMITS.decoderDim.max);
      case 'decoderDepth':
        return intIn(key, v, LIMITS.decoderDepth.min, LIMITS.decoderDepth.max);
      case 'grnMode':
        return oneOf(key, v, ['per-sample', 'batch'] as GrnMode[]);
      case 'gelu':
        return oneOf(key, v, ['erf', 'tanh'] as GeluForm[]);
      case 'grn':
      case 'denseEncoder':
      case 'freezeEncoder':
      case 'normPix':
      case 'logScale':
        return bool(key, v);
      case 'batchSize':
        return intIn(key, v, LIMITS.batchSize.min, LIMITS.batchSize.max);
      case 'blr':
        return numIn(key, v, LIMITS.blr.min, LIMITS.blr.max);
      case 'warmupSteps':
        return intIn(key, v, 0, LIMITS.steps.max);
      case 'totalSteps':
      case 'sweepSteps':
        return intIn(key, v, LIMITS.steps.min, LIMITS.steps.max);
      case 'weightDecay':
        return numIn(key, v, LIMITS.weightDecay.min, LIMITS.weightDecay.max);
      case 'weightDecayRule':
        return oneOf(key, v, [...WEIGHT_DECAY_RULES]);
      case 'seed':
      case 'viewMaskSeed':
        return intIn(key, v, LIMITS.seed.min, LIMITS.seed.max);
      case 'maskRatio':
      case 'viewMaskRatio':
        // < 1; whether a patch stays visible depends on the input size (validateSettings)
        if (!isNum(v) || v < 0 || v >= 1) throw new SettingError(key, v, 'must be a number in [0, 1)');
        return v;
      case 'smoothing':
        return numIn(key, v, LIMITS.smoothing.min, LIMITS.smoothing.max);
      case 'sweepRatios': {
        if (!Array.isArray(v) || v.length < LIMITS.sweepRuns.min || v.length > LIMITS.sweepRuns.max || !v.every((x) => isNum(x) && x >= 0 && x < 1)) {
          throw new SettingError(key, v, `needs ${LIMITS.sweepRuns.min}..${LIMITS.sweepRuns.max} mask ratios in [0, 1)`);
        }
        return [...v];
      }
      case 'sweepAxis':
        return oneOf(key, v, [...SWEEP_AXES]);
      case 'sweepEval':
        return oneOf(key, v, [...SWEEP_EVALUATIONS]);
      case 'evalData':
        return oneOf(key, v, ['fashion-demo', 'dataset'] as LabelledSource[]);
      case 'knnEvery':
        return intIn(key, v, LIMITS.knnEvery.min, LIMITS.knnEvery.max);
      case 'evalSubset':
        return intIn(key, v, LIMITS.evalSubset.min, LIMITS.evalSubset.max);
      case 'sweepValues': {
        if (!Array.isArray(v) || v.length < LIMITS.sweepRuns.min || v.length > LIMITS.sweepRuns.max || !v.every((x) => isInt(x) && x >= 0)) {
          throw new SettingError(key, v, `needs ${LIMITS.sweepRuns.min}..${LIMITS.sweepRuns.max} whole numbers (decoder depths or widths)`);
        }
        return [...v];
      }
      default: {
        const never: never = key;
        throw new Error(`unknown setting ${String(never)}`);
      }
    }
  })();
  return out as Settings[K];
}

/**
 * Cross-field checks on a whole settings object; returns every problem (empty = usable).
 * Each names the setting to change.
 */
export function validateSettings(s: Settings): SettingError[] {
  const problems: SettingError[] = [];
  for (const key of Object.keys(DEFAULT_SETTINGS) as SettingKey[]) {
    try {
      checkSetting(key, s[key]);
    } catch (e) {
      if (e instanceof SettingError) problems.push(e);
      else throw e;
    }
  }
  if (problems.length > 0) return problems;
  const L = patchCount(s.inputSize);
  for (const key of ['maskRatio', 'viewMaskRatio'] as const) {
    try {
      keptCount(L, s[key]);
    } catch (e) {
      problems.push(new SettingError(key, s[key], (e as Error).message));
    }
  }
  s.sweepRatios.forEach((r) => {
    try {
      keptCount(L, r);
    } catch (e) {
      problems.push(new SettingError('sweepRatios', r, (e as Error).message));
    }
  });
  if (s.sweepAxis === 'decoderDepth' || s.sweepAxis === 'decoderDim') {
    const lim = s.sweepAxis === 'decoderDepth' ? LIMITS.decoderDepth : LIMITS.decoderDim;
    for (const x of s.sweepValues) if (x < lim.min || x > lim.max) problems.push(new SettingError('sweepValues', x, `a ${s.sweepAxis === 'decoderDepth' ? 'decoder depth' : 'decoder width'} must be in ${lim.min}..${lim.max}`));
  }
  if (s.warmupSteps > s.totalSteps) {
    problems.push(new SettingError('warmupSteps', s.warmupSteps, `exceeds the ${s.totalSteps} total steps (the recipe warms up for 5% of the run)`));
  }
  const lr = effectiveLr(s.blr, s.batchSize);
  if (lr > 1) problems.push(new SettingError('blr', s.blr, `gives an effective learning rate ${lr} > 1: no run learns anything`));
  if (s.size !== 'custom') {
    const preset = MODEL_SIZES[s.size];
    if (preset.depths.join() !== s.depths.join() || preset.dims.join() !== s.dims.join()) {
      problems.push(new SettingError('size', s.size, `depths/dims ${s.depths.join(',')} / ${s.dims.join(',')} are not the ${s.size} preset`));
    }
  }
  return problems;
}

/**
 * Apply one change and keep the object coherent: choosing a size copies its preset in,
 * editing depths/dims re-detects the size, changing the input size keeps mask ratios usable.
 * Throws SettingError for a value that is invalid on its own.
 */
export function applySetting<K extends SettingKey>(s: Settings, key: K, value: Settings[K]): Settings {
  const v = checkSetting(key, value);
  const next: Settings = { ...s, [key]: v };
  if (key === 'size' && v !== 'custom') {
    const preset = MODEL_SIZES[v as SizeName];
    next.depths = [...preset.depths];
    next.dims = [...preset.dims];
  }
  if (key === 'depths' || key === 'dims') next.size = matchSize(next.depths, next.dims) ?? 'custom';
  if (key === 'inputSize') {
    // Clamp mask ratios that would leave no visible patch at the new size.
    const top = maxMaskRatio(next.inputSize);
    next.maskRatio = Math.min(next.maskRatio, top);
    next.viewMaskRatio = Math.min(next.viewMaskRatio, top);
    next.sweepRatios = next.sweepRatios.map((r) => Math.min(r, top));
  }
  if (key === 'totalSteps') next.warmupSteps = Math.min(next.warmupSteps, next.totalSteps);
  return next;
}

/** Visible patches per image under a mask ratio at this input size. */
export function visiblePatches(inputSize: number, ratio: number): number {
  return keptCount(patchCount(inputSize), ratio);
}
