// Settings ⇄ URL query string, so an experiment is a link (TensorFlow Playground style). Every
// setting is written, defaults included, so a link keeps its meaning if defaults change later.
// Reading never throws: a bad or unknown parameter is skipped with a problem message naming it,
// and the rest of the link still applies.
import { MODEL_SIZES, matchSize } from '../model/config.ts';
import { checkSetting, defaultSettings, maxMaskRatio, SettingError, validateSettings, type SettingKey, type Settings } from './settings.ts';

type Kind = 'int' | 'num' | 'bool' | 'str' | 'ints' | 'nums';

/** URL parameter name and value kind of each setting, in the order they are written. */
export const URL_FIELDS: readonly { key: SettingKey; param: string; kind: Kind }[] = [
  { key: 'size', param: 'size', kind: 'str' },
  { key: 'depths', param: 'depths', kind: 'ints' },
  { key: 'dims', param: 'dims', kind: 'ints' },
  { key: 'inputSize', param: 'img', kind: 'int' },
  { key: 'decoderDim', param: 'dec_dim', kind: 'int' },
  { key: 'decoderDepth', param: 'dec_depth', kind: 'int' },
  { key: 'grn', param: 'grn_on', kind: 'bool' },
  { key: 'grnMode', param: 'grn', kind: 'str' },
  { key: 'gelu', param: 'gelu', kind: 'str' },
  { key: 'denseEncoder', param: 'dense_enc', kind: 'bool' },
  { key: 'batchSize', param: 'bs', kind: 'int' },
  { key: 'blr', param: 'blr', kind: 'num' },
  { key: 'warmupSteps', param: 'warmup', kind: 'int' },
  { key: 'totalSteps', param: 'steps', kind: 'int' },
  { key: 'weightDecay', param: 'wd', kind: 'num' },
  { key: 'weightDecayRule', param: 'wd_rule', kind: 'str' },
  { key: 'seed', param: 'seed', kind: 'int' },
  { key: 'normPix', param: 'norm_pix', kind: 'bool' },
  { key: 'freezeEncoder', param: 'freeze_enc', kind: 'bool' },
  { key: 'maskRatio', param: 'mask', kind: 'num' },
  { key: 'viewMaskRatio', param: 'view_mask', kind: 'num' },
  { key: 'viewMaskSeed', param: 'view_seed', kind: 'int' },
  { key: 'smoothing', param: 'smooth', kind: 'num' },
  { key: 'logScale', param: 'log', kind: 'bool' },
  { key: 'sweepRatios', param: 'sweep', kind: 'nums' },
  { key: 'sweepSteps', param: 'sweep_steps', kind: 'int' },
  { key: 'sweepAxis', param: 'sweep_axis', kind: 'str' },
  { key: 'sweepValues', param: 'sweep_values', kind: 'ints' },
  { key: 'sweepEval', param: 'sweep_eval', kind: 'str' },
  { key: 'knnEvery', param: 'knn_every', kind: 'int' },
  { key: 'evalSubset', param: 'eval_subset', kind: 'int' },
  { key: 'evalData', param: 'eval_data', kind: 'str' },
];

/** Shortest decimal that reads back as the same double (no 0.30000000000000004 in links). */
function formatNumber(x: number): string {
  return String(x);
}

function formatValue(kind: Kind, v: unknown): string {
  switch (kind) {
    case 'bool':
      return v ? '1' : '0';
    case 'ints':
    case 'nums':
      return (v as number[]).map(formatNumber).join(',');
    case 'int':
    case 'num':
      return formatNumber(v as number);
    case 'str':
      return String(v);
  }
}

function parseNumber(text: string): number {
  // Number('') is 0 and Number(' 1') is 1: reject anything that is not plainly a number.
  if (!/^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(text)) return NaN;
  return Number(text);
}

function parseValue(kind: Kind, text: string): unknown {
  switch (kind) {
    case 'bool':
      if (text === '1' || text === 'true') return true;
      if (text === '0' || text === 'false') return false;
      return text;
    case 'int':
    case 'num':
      return parseNumber(text);
    case 'ints':
    case 'nums':
      return text === '' ? [] : text.split(',').map(parseNumber);
    case 'str':
      return text;
  }
}

/** The query string (without '?') holding every setting. */
export function settingsToQuery(s: Settings): string {
  const q = new URLSearchParams();
  for (const f of URL_FIELDS) q.set(f.param, formatValue(f.kind, s[f.key]));
  // URLSearchParams escapes ',' as %2C; commas are legal in a query and keep links readable.
  return q.toString().replace(/%2C/g, ',');
}

export interface ParsedQuery {
  settings: Settings;
  /** One line per ignored parameter, naming it and why. */
  problems: string[];
  /** Settings the query gave explicitly (and that were accepted). */
  given: SettingKey[];
}

/**
 * Settings from a query string (with or without '?'), starting from the defaults. A named size
 * without depths/dims gets its preset; explicit depths/dims win over a size name they contradict.
 * A final cross-field check reverts any field that makes the whole inconsistent (e.g. warmup
 * longer than the run) and clamps mask ratios to keep one visible patch at the input size.
 */
export function settingsFromQuery(query: string): ParsedQuery {
  const q = new URLSearchParams(query.startsWith('?') ? query.slice(1) : query);
  const defaults = defaultSettings();
  const settings = defaultSettings();
  const problems: string[] = [];
  const given: SettingKey[] = [];
  const known = new Set(URL_FIELDS.map((f) => f.param));
  for (const f of URL_FIELDS) {
    const text = q.get(f.param);
    if (text === null) continue;
    try {
      (settings as unknown as Record<string, unknown>)[f.key] = checkSetting(f.key, parseValue(f.kind, text));
      given.push(f.key);
    } catch (e) {
      if (!(e instanceof SettingError)) throw e;
      problems.push(`URL parameter ${f.param}=${text} ignored: ${e.message}`);
    }
  }
  for (const name of q.keys()) if (!known.has(name)) problems.push(`URL parameter ${name} is unknown and was ignored`);
  if (settings.size !== 'custom') {
    const preset = MODEL_SIZES[settings.size];
    if (!given.includes('depths') && !given.includes('dims')) {
      settings.depths = [...preset.depths];
      settings.dims = [...preset.dims];
    } else if (preset.depths.join() !== settings.depths.join() || preset.dims.join() !== settings.dims.join()) {
      const size = matchSize(settings.depths, settings.dims) ?? 'custom';
      if (given.includes('size')) problems.push(`URL parameter size=${q.get('size')} does not match depths ${settings.depths.join(',')} / dims ${settings.dims.join(',')}; treated as ${size}`);
      settings.size = size;
    }
  }
  // Default mask ratios the link did not set may not fit its input size: clamp them quietly.
  const top = maxMaskRatio(settings.inputSize);
  for (const key of ['maskRatio', 'viewMaskRatio'] as const) if (!given.includes(key)) settings[key] = Math.min(settings[key], top);
  if (!given.includes('sweepRatios')) settings.sweepRatios = settings.sweepRatios.map((r) => Math.min(r, top));
  if (!given.includes('warmupSteps')) settings.warmupSteps = Math.min(settings.warmupSteps, settings.totalSteps);
  // Cross-field problems: revert the offending field to its default (clamped when a ratio).
  for (const e of validateSettings(settings)) {
    const param = URL_FIELDS.find((f) => f.key === e.key)!.param;
    problems.push(`URL parameter ${param} ignored: ${e.message}`);
    (settings as unknown as Record<string, unknown>)[e.key] = structuredClone(defaults[e.key]);
  }
  settings.maskRatio = Math.min(settings.maskRatio, top);
  settings.viewMaskRatio = Math.min(settings.viewMaskRatio, top);
  settings.sweepRatios = settings.sweepRatios.map((r) => Math.min(r, top));
  if (settings.warmupSteps > settings.totalSteps) settings.warmupSteps = settings.totalSteps;
  return { settings, problems, given };
}
