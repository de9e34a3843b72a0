// The playground's fine-tuning checkpoint: a safetensors file holding the classifier's weights
// under canonical names (encoder.*, norm.*, head.*), AdamW's moments (adamw.m.*, adamw.v.*), the
// weights' EMA when kept (ema.*), and in its metadata the model, the class names, the step and
// every fine-tuning setting, so `finetune --resume` continues exactly and every other command
// (embed, convert, probes) opens it as an ordinary canonical checkpoint.
import { classifierParamTable } from '../model/parameters.ts';
import type { StateDict } from '../model/state-dict.ts';
import type { FineTuneConfig } from '../train/finetune-config.ts';
import { parseSafetensors, safetensorsFormat, writeSafetensors, type WriteTensor } from './safetensors.ts';
import { CheckpointError } from './zip.ts';

export const FINETUNE_FORMAT = 'convnextv2-finetune-playground';
export const FINETUNE_VERSION = 1;
const M = 'adamw.m.';
const V = 'adamw.v.';
const EMA = 'ema.';

export interface FineTuneCheckpoint {
  config: { depths: number[]; dims: number[]; grn: boolean };
  classes: string[];
  step: number;
  settings: FineTuneConfig;
  /** Where the run started from (a checkpoint's name, or "random initialisation"). */
  initialisedFrom: string;
  /** The data it trained on: the folder, the split (a fraction of it, or a separate validation folder), image counts. */
  data: { source: string; valSource: string | null; valFraction: number | null; trainCount: number; valCount: number };
  params: StateDict;
  adamw: { m: StateDict; v: StateDict } | null;
  ema: StateDict | null;
}

function checkNames(file: string, what: string, sd: StateDict, c: FineTuneCheckpoint['config'], K: number): void {
  const table = classifierParamTable(c, K);
  for (const spec of table.specs) {
    const t = sd.get(spec.name);
    if (!t) throw new CheckpointError(file, 'not-a-state-dict', `${what}: missing ${spec.name}`);
    if (t.data.length !== spec.size) throw new CheckpointError(file, 'not-a-state-dict', `${what}: ${spec.name} holds ${t.data.length} values, expected ${spec.size}`);
  }
  for (const name of sd.keys()) if (!table.byName.has(name)) throw new CheckpointError(file, 'not-a-state-dict', `${what}: ${name} is not a parameter of the classifier`);
}

export function writeFineTuneCheckpoint(c: FineTuneCheckpoint): Uint8Array {
  const file = 'fine-tuning checkpoint (writing)';
  const K = c.classes.length;
  checkNames(file, 'params', c.params, c.config, K);
  if (c.adamw) {
    checkNames(file, 'AdamW m', c.adamw.m, c.config, K);
    checkNames(file, 'AdamW v', c.adamw.v, c.config, K);
  }
  if (c.ema) checkNames(file, 'EMA', c.ema, c.config, K);
  const tensors: WriteTensor[] = [];
  const add = (prefix: string, sd: StateDict) => {
    for (const [name, t] of sd) tensors.push({ name: prefix + name, shape: t.shape, data: t.data });
  };
  add('', c.params);
  if (c.adamw) {
    add(M, c.adamw.m);
    add(V, c.adamw.v);
  }
  if (c.ema) add(EMA, c.ema);
  return writeSafetensors(tensors, {
    format: FINETUNE_FORMAT,
    format_version: String(FINETUNE_VERSION),
    config: JSON.stringify(c.config),
    classes: JSON.stringify(c.classes),
    step: String(c.step),
    settings: JSON.stringify(c.settings),
    initialised_from: c.initialisedFrom,
    data: JSON.stringify(c.data),
  });
}

/** Cheap header check. */
export function isFineTuneCheckpoint(bytes: Uint8Array): boolean {
  return safetensorsFormat(bytes) === FINETUNE_FORMAT;
}

function json<T>(file: string, metadata: Record<string, string>, key: string): T {
  const text = metadata[key];
  if (text === undefined) throw new CheckpointError(file, 'not-a-state-dict', `metadata '${key}' missing`);
  try {
    return JSON.parse(text) as T;
  } catch (e) {
    throw new CheckpointError(file, 'not-a-state-dict', `metadata '${key}' is not valid JSON (${(e as Error).message})`);
  }
}

export function readFineTuneCheckpoint(bytes: Uint8Array, fileName: string): FineTuneCheckpoint {
  const parsed = parseSafetensors(bytes, { source: fileName });
  const md = parsed.metadata;
  if (md.format !== FINETUNE_FORMAT) throw new CheckpointError(fileName, 'not-a-state-dict', `metadata format is '${md.format ?? '(absent)'}', not '${FINETUNE_FORMAT}'`);
  if (md.format_version !== String(FINETUNE_VERSION)) throw new CheckpointError(fileName, 'not-a-state-dict', `format version ${md.format_version} is not ${FINETUNE_VERSION} (written by another version of the playground)`);
  const config = json<FineTuneCheckpoint['config']>(fileName, md, 'config');
  const classes = json<string[]>(fileName, md, 'classes');
  if (!Array.isArray(classes) || !classes.length || !classes.every((x) => typeof x === 'string')) throw new CheckpointError(fileName, 'not-a-state-dict', "metadata 'classes' is not a list of class names");
  const step = Number(md.step);
  if (!Number.isSafeInteger(step) || step < 0) throw new CheckpointError(fileName, 'not-a-state-dict', `metadata step '${md.step}' is not an integer ≥ 0`);
  const split = (prefix: string): StateDict => {
    const sd: StateDict = new Map();
    for (const [name, t] of parsed.tensors) {
      const isPrefixed = name.startsWith(M) || name.startsWith(V) || name.startsWith(EMA);
      if (prefix === '' ? isPrefixed : !name.startsWith(prefix)) continue;
      sd.set(name.slice(prefix.length), { shape: t.shape, data: t.data });
    }
    return sd;
  };
  const params = split('');
  checkNames(fileName, 'params', params, config, classes.length);
  const m = split(M);
  const v = split(V);
  const ema = split(EMA);
  const adamw = m.size || v.size ? { m, v } : null;
  if (adamw) {
    checkNames(fileName, 'AdamW m', m, config, classes.length);
    checkNames(fileName, 'AdamW v', v, config, classes.length);
  }
  if (ema.size) checkNames(fileName, 'EMA', ema, config, classes.length);
  return {
    config,
    classes,
    step,
    settings: json<FineTuneConfig>(fileName, md, 'settings'),
    initialisedFrom: md.initialised_from ?? '',
    data: json<FineTuneCheckpoint['data']>(fileName, md, 'data'),
    params,
    adamw,
    ema: ema.size ? ema : null,
  };
}
