// TrainingConfig helpers shared by the worker and the page: defaults, validation (naming the
// offending setting), what a change costs (live / rebuild keeping the run / reset), the plan
// figures shown before anything is built, and conversions to the engine's own types.
// Pure: no GPU, no DOM.
import { customConfig, ConfigError, validateInputSize, type ModelConfig, type StepOptions } from '../model/config.ts';
import { validateAdamWConfig, AdamWConfigError, ADAMW_DEFAULTS, type AdamWConfig } from '../ops/adamw.ts';
import { memoryEstimate, macsPerImage, paramCounts } from '../train/estimates.ts';
import { keptCount } from '../train/masking.ts';
import { effectiveLr, makeLrSchedule, DEFAULT_BLR, LrScheduleError, type LrSchedule } from '../train/lr-schedule.ts';
import type { TrainingSettings } from '../io/native-checkpoint.ts';
import { MaskError } from '../ops/sparse-layout.ts';
import { WorkerError, type ConfigChangeLevel, type PlanInfo, type TrainingConfig } from './protocol.ts';

/** A small model that trains visibly on SwiftShader and in a second on a real GPU. */
export function defaultTrainingConfig(): TrainingConfig {
  return {
    depths: [2, 2, 6, 2],
    dims: [40, 80, 160, 320],
    decoderDim: 512,
    decoderDepth: 1,
    grn: true,
    inputSize: 160,
    seed: 0,
    batchSize: 16,
    maskRatio: 0.6,
    grnMode: 'per-sample',
    gelu: 'erf',
    normPix: true,
    denseEncoder: false,
    weightDecay: ADAMW_DEFAULTS.weightDecay,
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

const RESET_KEYS = ['depths', 'dims', 'decoderDim', 'decoderDepth', 'grn', 'inputSize', 'seed'] as const;
const REBUILD_KEYS = ['batchSize', 'maskRatio', 'grnMode', 'gelu', 'normPix', 'denseEncoder', 'weightDecay', 'beta1', 'beta2', 'eps'] as const;
const LIVE_KEYS = ['blr', 'warmupSteps', 'totalSteps', 'minLr', 'evalImages'] as const;

/** Every key of TrainingConfig, in the order above. */
export const CONFIG_KEYS: readonly (keyof TrainingConfig)[] = [...RESET_KEYS, ...REBUILD_KEYS, ...LIVE_KEYS];

const show = (v: unknown): string => (Array.isArray(v) ? v.join(',') : String(v));
const same = (a: unknown, b: unknown): boolean => show(a) === show(b);

export interface ConfigChange {
  level: ConfigChangeLevel;
  changed: (keyof TrainingConfig)[];
  /** e.g. 'inputSize 64 → 96', one per changed reset key. */
  resetReasons: string[];
}

/** What moving from `before` to `after` costs (the most expensive changed key decides). */
export function classifyChange(before: TrainingConfig, after: TrainingConfig): ConfigChange {
  const changed = CONFIG_KEYS.filter((k) => !same(before[k], after[k]));
  const resetReasons = RESET_KEYS.filter((k) => changed.includes(k)).map((k) => `${k} ${show(before[k])} → ${show(after[k])}`);
  let level: ConfigChangeLevel = 'none';
  if (resetReasons.length) level = 'reset';
  else if (REBUILD_KEYS.some((k) => changed.includes(k))) level = 'rebuild';
  else if (changed.length) level = 'live';
  return { level, changed, resetReasons };
}

function configError(field: keyof TrainingConfig | string, value: unknown, detail: string): WorkerError {
  return new WorkerError('config', `${field} = ${JSON.stringify(value)}: ${detail}`, `Change ${field} to an accepted value.`, { field, value });
}

const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v);

/**
 * Checks every field and returns a normalised copy; throws WorkerError kind 'config' whose
 * details.field names the offending setting.
 */
export function validateTrainingConfig(c: TrainingConfig): TrainingConfig {
  if (!c || typeof c !== 'object') throw configError('config', c, 'expected a TrainingConfig object');
  for (const k of CONFIG_KEYS) if (c[k] === undefined) throw configError(k, undefined, 'missing');
  if (typeof c.grn !== 'boolean') throw configError('grn', c.grn, 'must be true or false');
  try {
    customConfig([...c.depths], [...c.dims], c.decoderDim, c.decoderDepth, c.grn);
  } catch (e) {
    if (e instanceof ConfigError) {
      const field = /decoder width/.test(e.message) ? 'decoderDim' : /decoder depth/.test(e.message) ? 'decoderDepth' : /depth/.test(e.message) ? 'depths' : 'dims';
      throw configError(field, c[field as keyof TrainingConfig], e.message);
    }
    throw e;
  }
  try {
    validateInputSize(c.inputSize, c.inputSize);
  } catch (e) {
    throw configError('inputSize', c.inputSize, (e as Error).message);
  }
  if (!isInt(c.seed) || c.seed < 0 || c.seed > 2 ** 32 - 1) throw configError('seed', c.seed, 'must be an integer in 0..4294967295');
  if (!isInt(c.batchSize) || c.batchSize < 1 || c.batchSize > 4096) throw configError('batchSize', c.batchSize, 'must be an integer in 1..4096');
  const L = (c.inputSize / 32) ** 2;
  try {
    keptCount(L, c.maskRatio);
  } catch (e) {
    if (e instanceof MaskError) throw configError('maskRatio', c.maskRatio, e.message);
    throw e;
  }
  if (c.grnMode !== 'per-sample' && c.grnMode !== 'batch') throw configError('grnMode', c.grnMode, "must be 'per-sample' or 'batch'");
  if (c.gelu !== 'erf' && c.gelu !== 'tanh') throw configError('gelu', c.gelu, "must be 'erf' or 'tanh'");
  if (typeof c.normPix !== 'boolean') throw configError('normPix', c.normPix, 'must be true or false');
  if (typeof c.denseEncoder !== 'boolean') throw configError('denseEncoder', c.denseEncoder, 'must be true or false');
  try {
    validateAdamWConfig(adamwOf(c));
  } catch (e) {
    if (e instanceof AdamWConfigError) {
      const field = (['beta1', 'beta2', 'eps', 'weightDecay'] as const).find((k) => e.message.includes(k)) ?? 'weightDecay';
      throw configError(field, c[field], e.message);
    }
    throw e;
  }
  try {
    lrScheduleOf(c);
  } catch (e) {
    if (e instanceof LrScheduleError) {
      const field = e.setting === 'peakLr' ? 'blr' : e.setting === 'batch' ? 'batchSize' : e.setting;
      throw configError(field, (c as unknown as Record<string, unknown>)[field], e.message);
    }
    throw e;
  }
  if (!isInt(c.evalImages) || c.evalImages < 1 || c.evalImages > 64) throw configError('evalImages', c.evalImages, 'must be an integer in 1..64');
  return { ...c, depths: [...c.depths], dims: [...c.dims] };
}

export function modelOf(c: TrainingConfig): ModelConfig {
  return customConfig([...c.depths], [...c.dims], c.decoderDim, c.decoderDepth, c.grn);
}

export function stepOptionsOf(c: TrainingConfig): StepOptions {
  return { grnMode: c.grnMode, gelu: c.gelu, normPix: c.normPix, denseEncoder: c.denseEncoder };
}

export function adamwOf(c: TrainingConfig): AdamWConfig {
  return { beta1: c.beta1, beta2: c.beta2, eps: c.eps, weightDecay: c.weightDecay };
}

export function lrScheduleOf(c: TrainingConfig): LrSchedule {
  return makeLrSchedule({ blr: c.blr, batch: c.batchSize, warmupSteps: c.warmupSteps, totalSteps: c.totalSteps, minLr: c.minLr });
}

/** The native checkpoint's training settings. */
export function trainingSettingsOf(c: TrainingConfig): TrainingSettings {
  return { inputSize: c.inputSize, batchSize: c.batchSize, maskRatio: c.maskRatio, visiblePatches: patchesOf(c).V, blr: c.blr, warmupSteps: c.warmupSteps, totalSteps: c.totalSteps, seed: c.seed };
}

/**
 * Patches per image L and visible patches V for a config: the one place the worker turns the
 * page's mask ratio into the plan's visible count.
 */
export function patchesOf(c: Pick<TrainingConfig, 'inputSize' | 'maskRatio'>): { L: number; V: number } {
  const L = (c.inputSize / 32) ** 2;
  return { L, V: keptCount(L, c.maskRatio) };
}

/** Figures shown before (or after, with bytesAllocated) a plan is built. */
export function planInfo(c: TrainingConfig, bytesAllocated: number | null = null): PlanInfo {
  const model = modelOf(c);
  const counts = paramCounts(model);
  const { L, V } = patchesOf(c);
  const work = { inputSize: c.inputSize, visible: V, denseEncoder: c.denseEncoder };
  const macs = macsPerImage(model, work);
  const memory = memoryEstimate(model, { ...work, batchSize: c.batchSize });
  return {
    paramCount: counts.total,
    encoderParamCount: counts.encoder,
    forwardMacsPerImage: macs.forward,
    trainMacsPerImage: macs.trainingStep,
    bytesEstimate: memory.totalBytes,
    bytesAllocated,
    largestBufferBytes: memory.largestBufferBytes,
    largestBufferName: memory.largestBufferName,
    patches: L,
    visiblePatches: V,
    effectiveMaskRatio: 1 - V / L,
    peakLr: effectiveLr(c.blr, c.batchSize),
  };
}

/** Shorter side the dataset is decoded to for an input size: the evaluation resize S/0.875. */
export function decodeSizeFor(inputSize: number): number {
  return Math.trunc(inputSize / 0.875);
}
