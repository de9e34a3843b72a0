// The playground's own checkpoint format: a safetensors file holding the engine's full state
// under canonical names (every encoder and decoder parameter and the mask token, dense PyTorch
// shapes) plus, optionally, AdamW's moments as `adamw.m.<name>` / `adamw.v.<name>` in the same
// shapes, so a run resumes exactly where it stopped. Metadata (all strings, as safetensors
// requires) carries what is needed to rebuild the run: model config, step options, training
// settings, the step, a data summary and a SHA-256 of the settings.
//
// Pure TypeScript (no Node imports): the browser worker reads and writes it too.
// Surprises:
// - AdamW moments are stored in the canonical (PyTorch) layout like the weights. m and v are
//   elementwise, so the same permutation that maps a weight to the engine layout maps them.
// - The settings hash covers config, step options, training settings and the AdamW constants;
//   a file whose metadata was edited by hand is refused with 'hash-mismatch'.
// - config.grn (the no-GRN ablation) is stored only when false; absent means GRN, as in files
//   written before the option existed. Likewise adamw.decayRule is stored only when 'official'
//   (absent: the maintainers' rule), so older files keep their settings hash.
// - A canonical-scheme reader (openCheckpoint) sees the moments as unexpected tensors, so
//   openAnyCheckpoint below strips them before mapping names.
import { isFineTuneCheckpoint, readFineTuneCheckpoint, type FineTuneCheckpoint } from './finetune-checkpoint.ts';
import type { TrainingSettings } from '../train/run-config.ts';
import { customConfig, type ModelConfig, type StepOptions } from '../model/config.ts';
import type { WeightDecayRule } from '../ops/adamw.ts';
import { paramTable } from '../model/parameters.ts';
import type { StateDict } from '../model/state-dict.ts';
import { MaskError } from '../ops/sparse-layout.ts';
import { checkVisibleCount, keptCount } from '../train/masking.ts';
import { openCheckpoint, type OpenedCheckpoint } from './checkpoint.ts';
import { toCanonical } from './name-schemes.ts';
import { parseSafetensors, safetensorsFormat, writeSafetensors, type WriteTensor } from './safetensors.ts';

/** The value of the `format` metadata key that marks a native checkpoint. */
export const NATIVE_FORMAT = 'convnextv2-fcmae-playground';
export const NATIVE_VERSION = 1;
export const ADAMW_M_PREFIX = 'adamw.m.';
export const ADAMW_V_PREFIX = 'adamw.v.';


export interface AdamWSettings {
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  /** Stored only when 'official' (absent: the maintainers' rule, as every file before the option). */
  decayRule?: WeightDecayRule;
}

export interface DataSummary {
  /** Where the images came from (a folder, 'demo'...). */
  source: string;
  imageCount: number;
}

export interface AdamWState {
  /** Optimizer steps the moments include (equals the checkpoint's step). */
  step: number;
  settings: AdamWSettings;
  /** First and second moments, canonical names and shapes. */
  m: StateDict;
  v: StateDict;
}

export interface NativeCheckpointInput {
  config: ModelConfig;
  options: StepOptions;
  training: TrainingSettings;
  /** Optimizer steps taken. */
  step: number;
  data: DataSummary;
  /** Every parameter of the config, canonical names and shapes. */
  params: StateDict;
  adamw?: AdamWState | null;
}

export interface NativeCheckpoint extends Required<NativeCheckpointInput> {
  adamw: AdamWState | null;
  /** SHA-256 (hex) of the settings; see settingsHash. */
  settingsHash: string;
  metadata: Record<string, string>;
}

export type NativeCheckpointErrorCode =
  | 'not-native' // a valid safetensors file without the native format marker
  | 'bad-version'
  | 'bad-metadata' // a metadata entry missing, not JSON, or with wrong fields
  | 'hash-mismatch'
  | 'missing-tensor'
  | 'unexpected-tensor'
  | 'mis-shaped'
  | 'bad-input'; // writer: inconsistent arguments

export class NativeCheckpointError extends Error {
  override readonly name = 'NativeCheckpointError';
  constructor(
    readonly code: NativeCheckpointErrorCode,
    readonly file: string,
    /** The metadata key or tensor at fault. */
    readonly what: string,
    detail: string,
  ) {
    super(`${file}: ${what}: ${detail}`);
  }
}

// ---- SHA-256 (FIPS 180-4), small and synchronous so the worker needs no WebCrypto promise ----

const K256 = new Uint32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3,
  0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
  0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
  0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);

/** SHA-256 of bytes, as 64 lowercase hex digits. */
export function sha256Hex(bytes: Uint8Array): string {
  const h = new Uint32Array([0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]);
  const bitLength = bytes.length * 8;
  const padded = new Uint8Array(Math.ceil((bytes.length + 9) / 64) * 64);
  padded.set(bytes);
  padded[bytes.length] = 0x80;
  const view = new DataView(padded.buffer);
  view.setUint32(padded.length - 8, Math.floor(bitLength / 2 ** 32));
  view.setUint32(padded.length - 4, bitLength >>> 0);
  const w = new Uint32Array(64);
  const rotr = (x: number, n: number) => (x >>> n) | (x << (32 - n));
  for (let block = 0; block < padded.length; block += 64) {
    for (let t = 0; t < 16; t++) w[t] = view.getUint32(block + 4 * t);
    for (let t = 16; t < 64; t++) {
      const a = w[t - 15]!;
      const b = w[t - 2]!;
      const s0 = rotr(a, 7) ^ rotr(a, 18) ^ (a >>> 3);
      const s1 = rotr(b, 17) ^ rotr(b, 19) ^ (b >>> 10);
      w[t] = (w[t - 16]! + s0 + w[t - 7]! + s1) >>> 0;
    }
    let a = h[0]!, b = h[1]!, c = h[2]!, d = h[3]!, e = h[4]!, f = h[5]!, g = h[6]!, hh = h[7]!;
    for (let t = 0; t < 64; t++) {
      const t1 = (hh + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + K256[t]! + w[t]!) >>> 0;
      const t2 = ((rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c))) >>> 0;
      hh = g;
      g = f;
      f = e;
      e = (d + t1) >>> 0;
      d = c;
      c = b;
      b = a;
      a = (t1 + t2) >>> 0;
    }
    h[0] = h[0]! + a;
    h[1] = h[1]! + b;
    h[2] = h[2]! + c;
    h[3] = h[3]! + d;
    h[4] = h[4]! + e;
    h[5] = h[5]! + f;
    h[6] = h[6]! + g;
    h[7] = h[7]! + hh;
  }
  return Array.from(h, (x) => x.toString(16).padStart(8, '0')).join('');
}

// ---- settings hash ----------------------------------------------------------------------------

/** JSON with object keys sorted, so the hash does not depend on property order. */
function stableJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stableJson).join(',')}]`;
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o)
      .filter((k) => o[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${stableJson(o[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
}

/**
 * The config as stored. `grn` is written only when false, so a model with GRN has the metadata
 * and settings hash it had before the no-GRN option existed (files written then stay valid).
 */
function configRecord(c: ModelConfig): { depths: number[]; dims: number[]; decoderDim: number; decoderDepth: number; grn?: false } {
  return { depths: [...c.depths], dims: [...c.dims], decoderDim: c.decoderDim, decoderDepth: c.decoderDepth, ...(c.grn ? {} : { grn: false as const }) };
}

/**
 * SHA-256 of everything that defines a run's trajectory (config, step options, training
 * settings, AdamW constants). Two checkpoints of one run share it; the step does not enter.
 */
export function settingsHash(s: { config: ModelConfig; options: StepOptions; training: TrainingSettings; adamwSettings?: AdamWSettings | null }): string {
  const text = stableJson({ config: configRecord(s.config), options: optionsRecord(s.options), training: s.training, adamw: s.adamwSettings ?? null });
  return sha256Hex(new TextEncoder().encode(text));
}

/**
 * Step options as stored: freezeEncoder only when true, so files from before it existed (and
 * runs that do not freeze) keep their bytes and settings hash.
 */
function optionsRecord(o: StepOptions): StepOptions {
  const { freezeEncoder, ...rest } = o;
  return freezeEncoder ? { ...rest, freezeEncoder: true } : rest;
}

/** AdamW settings as stored and hashed: decayRule only when 'official'. */
function storedAdamWSettings(s: AdamWSettings): AdamWSettings {
  const { decayRule, ...constants } = s;
  return decayRule === 'official' ? { ...constants, decayRule } : constants;
}

// ---- writing ----------------------------------------------------------------------------------

function checkStateDict(file: string, sd: StateDict, config: ModelConfig, what: string, prefix = ''): void {
  const table = paramTable(config);
  for (const spec of table.specs) {
    const t = sd.get(spec.name);
    if (!t) throw new NativeCheckpointError('missing-tensor', file, prefix + spec.name, `${what} lacks this tensor (the config needs ${table.specs.length})`);
    if (t.shape.join() !== spec.torchShape.join()) {
      throw new NativeCheckpointError('mis-shaped', file, prefix + spec.name, `${what} has shape (${t.shape.join(', ')}), the config needs (${spec.torchShape.join(', ')})`);
    }
    if (t.data.length !== spec.size) throw new NativeCheckpointError('mis-shaped', file, prefix + spec.name, `${t.data.length} values for shape (${t.shape.join(', ')})`);
  }
  for (const name of sd.keys()) {
    if (!table.byName.has(name)) throw new NativeCheckpointError('unexpected-tensor', file, prefix + name, `not a parameter of the config (depths ${config.depths}, dims ${config.dims}${config.grn ? '' : ', no GRN'})`);
  }
}

/** Serialises a native checkpoint; throws NativeCheckpointError when the pieces disagree. */
export function writeNativeCheckpoint(input: NativeCheckpointInput): Uint8Array {
  const file = 'native checkpoint (writing)';
  const { config, options, training, step, data, params } = input;
  const adamw = input.adamw ?? null;
  if (!Number.isInteger(step) || step < 0) throw new NativeCheckpointError('bad-input', file, 'step', `${step} must be an integer ≥ 0`);
  checkStateDict(file, params, config, 'params');
  if (adamw) {
    if (adamw.step !== step) throw new NativeCheckpointError('bad-input', file, 'adamw.step', `${adamw.step} differs from the checkpoint step ${step}`);
    checkStateDict(file, adamw.m, config, 'AdamW m', ADAMW_M_PREFIX);
    checkStateDict(file, adamw.v, config, 'AdamW v', ADAMW_V_PREFIX);
  }
  const tensors: WriteTensor[] = [];
  for (const [name, t] of params) tensors.push({ name, shape: t.shape, data: t.data });
  if (adamw) {
    for (const [name, t] of adamw.m) tensors.push({ name: ADAMW_M_PREFIX + name, shape: t.shape, data: t.data });
    for (const [name, t] of adamw.v) tensors.push({ name: ADAMW_V_PREFIX + name, shape: t.shape, data: t.data });
  }
  const metadata: Record<string, string> = {
    format: NATIVE_FORMAT,
    format_version: String(NATIVE_VERSION),
    config: JSON.stringify(configRecord(config)),
    step_options: JSON.stringify(optionsRecord(options)),
    training: JSON.stringify(training),
    step: String(step),
    data: JSON.stringify(data),
    settings_hash: settingsHash({ config, options, training, adamwSettings: adamw ? storedAdamWSettings(adamw.settings) : null }),
  };
  if (adamw) {
    const { decayRule, ...constants } = adamw.settings;
    metadata.adamw = JSON.stringify({ step: adamw.step, ...constants, ...(decayRule === 'official' ? { decayRule } : {}) });
  }
  return writeSafetensors(tensors, metadata, { source: file });
}

// ---- reading ----------------------------------------------------------------------------------

type FieldKind = 'int' | 'number' | 'string' | 'bool' | 'int[]';

function field(file: string, key: string, obj: Record<string, unknown>, name: string, kind: FieldKind): unknown {
  const v = obj[name];
  const ok =
    kind === 'int'
      ? Number.isInteger(v)
      : kind === 'number'
        ? typeof v === 'number' && Number.isFinite(v)
        : kind === 'string'
          ? typeof v === 'string'
          : kind === 'bool'
            ? typeof v === 'boolean'
            : Array.isArray(v) && v.every((x) => Number.isInteger(x));
  if (!ok) throw new NativeCheckpointError('bad-metadata', file, `${key}.${name}`, `is ${JSON.stringify(v)}, expected ${kind === 'int[]' ? 'a list of integers' : `a ${kind}`}`);
  return v;
}

function jsonEntry(file: string, metadata: Record<string, string>, key: string): Record<string, unknown> {
  const text = metadata[key];
  if (text === undefined) throw new NativeCheckpointError('bad-metadata', file, key, 'metadata entry missing');
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new NativeCheckpointError('bad-metadata', file, key, `not valid JSON (${(e as Error).message})`);
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new NativeCheckpointError('bad-metadata', file, key, 'expected a JSON object');
  return v as Record<string, unknown>;
}

function intEntry(file: string, metadata: Record<string, string>, key: string): number {
  const text = metadata[key];
  if (text === undefined) throw new NativeCheckpointError('bad-metadata', file, key, 'metadata entry missing');
  const v = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(v)) throw new NativeCheckpointError('bad-metadata', file, key, `'${text}' is not an integer ≥ 0`);
  return v;
}

/** True when the bytes are a safetensors file whose header marks it as native (cheap: header only). */
export function isNativeCheckpoint(bytes: Uint8Array): boolean {
  return safetensorsFormat(bytes) === NATIVE_FORMAT;
}

/** Parses and validates a native checkpoint. Every refusal names the metadata key or tensor. */
export function readNativeCheckpoint(bytes: Uint8Array, fileName = 'checkpoint'): NativeCheckpoint {
  const file = fileName;
  const parsed = parseSafetensors(bytes, { source: file });
  const metadata = parsed.metadata;
  if (metadata.format !== NATIVE_FORMAT) {
    throw new NativeCheckpointError('not-native', file, 'format', `metadata format is ${metadata.format === undefined ? 'absent' : `'${metadata.format}'`}, not '${NATIVE_FORMAT}': open it with openCheckpoint instead`);
  }
  const version = intEntry(file, metadata, 'format_version');
  if (version !== NATIVE_VERSION) throw new NativeCheckpointError('bad-version', file, 'format_version', `version ${version}; this build reads version ${NATIVE_VERSION}`);

  const c = jsonEntry(file, metadata, 'config');
  let config: ModelConfig;
  try {
    config = customConfig(
      field(file, 'config', c, 'depths', 'int[]') as number[],
      field(file, 'config', c, 'dims', 'int[]') as number[],
      field(file, 'config', c, 'decoderDim', 'int') as number,
      field(file, 'config', c, 'decoderDepth', 'int') as number,
      c.grn === undefined ? true : (field(file, 'config', c, 'grn', 'bool') as boolean),
    );
  } catch (e) {
    if (e instanceof NativeCheckpointError) throw e;
    throw new NativeCheckpointError('bad-metadata', file, 'config', (e as Error).message);
  }

  const o = jsonEntry(file, metadata, 'step_options');
  const grnMode = field(file, 'step_options', o, 'grnMode', 'string');
  const gelu = field(file, 'step_options', o, 'gelu', 'string');
  if (grnMode !== 'per-sample' && grnMode !== 'batch') throw new NativeCheckpointError('bad-metadata', file, 'step_options.grnMode', `'${grnMode}' is not per-sample or batch`);
  if (gelu !== 'erf' && gelu !== 'tanh') throw new NativeCheckpointError('bad-metadata', file, 'step_options.gelu', `'${gelu}' is not erf or tanh`);
  const options: StepOptions = {
    grnMode,
    gelu,
    normPix: field(file, 'step_options', o, 'normPix', 'bool') as boolean,
    denseEncoder: field(file, 'step_options', o, 'denseEncoder', 'bool') as boolean,
    // stored only when true: absent in files of runs that train the whole model (and older files)
    ...(o.freezeEncoder === undefined ? {} : { freezeEncoder: field(file, 'step_options', o, 'freezeEncoder', 'bool') as boolean }),
  };

  const t = jsonEntry(file, metadata, 'training');
  const training: TrainingSettings = {
    inputSize: field(file, 'training', t, 'inputSize', 'int') as number,
    batchSize: field(file, 'training', t, 'batchSize', 'int') as number,
    maskRatio: field(file, 'training', t, 'maskRatio', 'number') as number,
    visiblePatches: 0, // set below, after the ratio and input size are checked
    blr: field(file, 'training', t, 'blr', 'number') as number,
    warmupSteps: field(file, 'training', t, 'warmupSteps', 'int') as number,
    totalSteps: field(file, 'training', t, 'totalSteps', 'int') as number,
    seed: field(file, 'training', t, 'seed', 'int') as number,
  };
  if (training.inputSize < 32 || training.inputSize % 32) throw new NativeCheckpointError('bad-metadata', file, 'training.inputSize', `${training.inputSize} is not a positive multiple of 32`);
  if (training.batchSize < 1) throw new NativeCheckpointError('bad-metadata', file, 'training.batchSize', `${training.batchSize} must be ≥ 1`);
  if (!(training.maskRatio >= 0 && training.maskRatio < 1)) throw new NativeCheckpointError('bad-metadata', file, 'training.maskRatio', `${training.maskRatio} must be in [0, 1)`);
  const L = (training.inputSize / 32) ** 2;
  const storedVisible = t.visiblePatches !== undefined;
  try {
    training.visiblePatches = storedVisible ? checkVisibleCount(L, field(file, 'training', t, 'visiblePatches', 'int') as number) : keptCount(L, training.maskRatio);
  } catch (e) {
    if (e instanceof MaskError) throw new NativeCheckpointError('bad-metadata', file, storedVisible ? 'training.visiblePatches' : 'training.maskRatio', e.message);
    throw e;
  }

  const step = intEntry(file, metadata, 'step');
  const d = jsonEntry(file, metadata, 'data');
  const data: DataSummary = { source: field(file, 'data', d, 'source', 'string') as string, imageCount: field(file, 'data', d, 'imageCount', 'int') as number };

  let adamwSettings: AdamWSettings | null = null;
  let adamwStep = 0;
  if (metadata.adamw !== undefined) {
    const a = jsonEntry(file, metadata, 'adamw');
    adamwStep = field(file, 'adamw', a, 'step', 'int') as number;
    adamwSettings = {
      beta1: field(file, 'adamw', a, 'beta1', 'number') as number,
      beta2: field(file, 'adamw', a, 'beta2', 'number') as number,
      eps: field(file, 'adamw', a, 'eps', 'number') as number,
      weightDecay: field(file, 'adamw', a, 'weightDecay', 'number') as number,
    };
    if (a.decayRule !== undefined) {
      if (a.decayRule !== 'official' && a.decayRule !== 'maintainers') throw new NativeCheckpointError('bad-metadata', file, 'adamw.decayRule', `'${String(a.decayRule)}' is not official or maintainers`);
      if (a.decayRule === 'official') adamwSettings.decayRule = 'official';
    }
    if (adamwStep !== step) throw new NativeCheckpointError('bad-metadata', file, 'adamw.step', `${adamwStep} differs from step ${step}`);
  }

  // an older file hashed its training settings without visiblePatches
  const { visiblePatches: _derived, ...trainingWithoutCount } = training;
  const expectedHash = settingsHash({ config, options, training: storedVisible ? training : (trainingWithoutCount as TrainingSettings), adamwSettings });
  if (metadata.settings_hash !== expectedHash) {
    throw new NativeCheckpointError(
      'hash-mismatch',
      file,
      'settings_hash',
      `stored ${metadata.settings_hash ?? '(absent)'} but the settings in the metadata hash to ${expectedHash}: the metadata was edited or damaged`,
    );
  }

  const params: StateDict = new Map();
  const m: StateDict = new Map();
  const v: StateDict = new Map();
  for (const [name, tensor] of parsed.tensors) {
    const entry = { shape: tensor.shape, data: tensor.data };
    if (name.startsWith(ADAMW_M_PREFIX)) m.set(name.slice(ADAMW_M_PREFIX.length), entry);
    else if (name.startsWith(ADAMW_V_PREFIX)) v.set(name.slice(ADAMW_V_PREFIX.length), entry);
    else params.set(name, entry);
  }
  checkStateDict(file, params, config, 'params');
  if (adamwSettings) {
    checkStateDict(file, m, config, 'AdamW m', ADAMW_M_PREFIX);
    checkStateDict(file, v, config, 'AdamW v', ADAMW_V_PREFIX);
  } else if (m.size || v.size) {
    throw new NativeCheckpointError('unexpected-tensor', file, [...m.keys(), ...v.keys()].map((k) => (m.has(k) ? ADAMW_M_PREFIX : ADAMW_V_PREFIX) + k)[0]!, 'AdamW moments without the adamw metadata entry');
  }
  // Order the state dicts as the parameter table does (the file stores them sorted by name).
  const order = (sd: StateDict): StateDict => new Map(paramTable(config).specs.map((s) => [s.name, sd.get(s.name)!]));
  return {
    config,
    options,
    training,
    step,
    data,
    params: order(params),
    adamw: adamwSettings ? { step: adamwStep, settings: adamwSettings, m: order(m), v: order(v) } : null,
    settingsHash: expectedHash,
    metadata,
  };
}

/**
 * openCheckpoint for any file, the playground's own included: a native (FCMAE) file is
 * validated by readNativeCheckpoint and its weights mapped like any canonical file (AdamW moments
 * are not model tensors and are not reported as unexpected); a fine-tuning checkpoint gives its
 * classifier weights the same way. `native` is set for native FCMAE files, `fineTune` for
 * fine-tuning checkpoints.
 */
export function openAnyCheckpoint(bytes: Uint8Array, fileName: string): OpenedCheckpoint & { native: NativeCheckpoint | null; fineTune: FineTuneCheckpoint | null } {
  if (isFineTuneCheckpoint(bytes)) {
    const fineTune = readFineTuneCheckpoint(bytes, fileName);
    const canonical = toCanonical(fineTune.params, { fileName, scheme: 'canonical' });
    return { ...canonical, fileName, container: 'safetensors', original: fineTune.params, metadata: {}, extra: {}, native: null, fineTune };
  }
  if (!isNativeCheckpoint(bytes)) return { ...openCheckpoint(bytes, fileName), native: null, fineTune: null };
  const native = readNativeCheckpoint(bytes, fileName);
  const canonical = toCanonical(native.params, { fileName, scheme: 'canonical' });
  return { ...canonical, fileName, container: 'safetensors', original: native.params, metadata: native.metadata, extra: {}, native, fineTune: null };
}
