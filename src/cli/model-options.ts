// Options shared by the commands that build a model: which network (--model or
// --depths/--dims, decoder) and the step options (--grn, --gelu, --norm-pix, --dense-encoder).
//
// --grn takes per-sample | batch (GRN statistics, a step option) or off: blocks without GRN
// (the ConvNeXt V1-style ablation), which is part of the model. A model read from a file has
// GRN or not already; --grn must then agree with it (checkGrnOption).
import { ConfigError, customConfig, modelConfig, SIZE_NAMES, type ModelConfig, type SizeName, type StepOptions } from '../model/config.ts';
import { UsageError, type OptionSpec, type Options } from './args.ts';
import type { CheckpointModelConfig, LoadReport } from '../io/name-schemes.ts';

/** The decoder's size: also for commands whose encoder comes from a checkpoint. */
export const DECODER_OPTION_SPEC = {
  'decoder-dim': { type: 'string' },
  'decoder-depth': { type: 'string' },
} satisfies OptionSpec;

export const MODEL_OPTION_SPEC = {
  model: { type: 'string' },
  depths: { type: 'string' },
  dims: { type: 'string' },
  ...DECODER_OPTION_SPEC,
} satisfies OptionSpec;

export const STEP_OPTION_SPEC = {
  grn: { type: 'string' },
  gelu: { type: 'string' },
  'norm-pix': { type: 'string' },
  'dense-encoder': { type: 'string' },
} satisfies OptionSpec;

export const GRN_CHOICES = ['per-sample', 'batch', 'off'] as const;

/** False for --grn off (blocks without GRN). */
export function grnFromOptions(o: Options): boolean {
  return o.choice('grn', GRN_CHOICES, 'per-sample') !== 'off';
}

/** A model fixed by a file has GRN or not: a --grn that says otherwise is refused. */
export function checkGrnOption(o: Options, fileName: string, grn: boolean): void {
  if (!o.has('grn')) return;
  const asked = o.choice('grn', GRN_CHOICES, 'per-sample');
  if (asked === 'off' && grn) throw new UsageError(`${o.command}: --grn off: ${fileName}'s blocks have GRN; --grn off builds a new model without it (drop the option)`);
  if (asked !== 'off' && !grn) throw new UsageError(`${o.command}: --grn ${asked}: ${fileName}'s blocks have no GRN, so there are no GRN statistics to choose (drop the option)`);
}

/**
 * The model of --model NAME or --depths a,b,c,d --dims a,b,c,d (+ decoder options, --grn off).
 * With neither given, `defaultSize` is used, or the command fails naming both ways.
 */
export function modelConfigFromOptions(o: Options, defaultSize?: SizeName): ModelConfig {
  const cmd = o.command;
  const decoderDim = o.number('decoder-dim', 512, { integer: true, min: 1, max: 4096 });
  const decoderDepth = o.number('decoder-depth', 1, { integer: true, min: 0, max: 16 });
  const grn = grnFromOptions(o);
  if (o.has('model')) {
    if (o.has('depths') || o.has('dims')) throw new UsageError(`${cmd}: --model and --depths/--dims both given; use one`);
    return modelConfig(o.choice('model', SIZE_NAMES, 'atto'), decoderDim, decoderDepth, grn);
  }
  const depths = o.intList('depths', 4);
  const dims = o.intList('dims', 4);
  if (!depths && !dims && defaultSize) return modelConfig(defaultSize, decoderDim, decoderDepth, grn);
  if (!depths || !dims) throw new UsageError(`${cmd}: give --model NAME (${SIZE_NAMES.join(', ')}) or both --depths a,b,c,d and --dims a,b,c,d`);
  try {
    return customConfig(depths, dims, decoderDim, decoderDepth, grn);
  } catch (e) {
    if (e instanceof ConfigError) throw new UsageError(`${cmd}: --depths ${depths} --dims ${dims}: ${e.message}`);
    throw e;
  }
}

/** Step options of the flags; --grn off leaves the (then unused) statistics at per-sample. */
export function stepOptionsFrom(o: Options): StepOptions {
  const grn = o.choice('grn', GRN_CHOICES, 'per-sample');
  return {
    grnMode: grn === 'off' ? 'per-sample' : grn,
    gelu: o.choice('gelu', ['erf', 'tanh'] as const, 'erf'),
    normPix: o.bool('norm-pix', true),
    denseEncoder: o.bool('dense-encoder', false),
  };
}

/** Problems that stop a checkpoint from becoming a model: missing and mis-shaped tensors. */
export function checkpointProblems(report: LoadReport): string[] {
  return [...report.missing.map((n) => `missing ${n}`), ...report.misShaped.map((m) => `mis-shaped ${m.name}: expected (${m.expected}) got (${m.got})`)];
}

/**
 * The model a checkpoint describes. Its decoder size comes from the file; only a file without a
 * decoder lets --decoder-dim / --decoder-depth choose one (it will be freshly initialised).
 * Whether its blocks have GRN comes from the file too (see checkGrnOption).
 */
export function checkpointModelConfig(o: Options, ckpt: { fileName: string; config: CheckpointModelConfig; report: LoadReport }): ModelConfig {
  const c = ckpt.config;
  const grn = c.grn ?? true;
  checkGrnOption(o, ckpt.fileName, grn);
  if (ckpt.report.decoderInFile) {
    for (const opt of ['decoder-dim', 'decoder-depth']) {
      if (o.has(opt)) throw new UsageError(`${o.command}: --${opt}: ${ckpt.fileName} has its own decoder (${c.decoderDepth}×${c.decoderDim})`);
    }
  }
  const decoderDim = o.number('decoder-dim', c.decoderDim, { integer: true, min: 1, max: 4096 });
  const decoderDepth = o.number('decoder-depth', c.decoderDepth, { integer: true, min: 0, max: 16 });
  return customConfig(c.depths, c.dims, decoderDim, decoderDepth, grn);
}
