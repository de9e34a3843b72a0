// Options shared by the commands that build a model: which network (--model or
// --depths/--dims, decoder) and the step options (--grn, --gelu, --norm-pix, --dense-encoder).
import { ConfigError, customConfig, modelConfig, SIZE_NAMES, type ModelConfig, type SizeName, type StepOptions } from '../model/config.ts';
import { UsageError, type OptionSpec, type Options } from './args.ts';
import type { CheckpointModelConfig, LoadReport } from '../io/name-schemes.ts';

export const MODEL_OPTION_SPEC = {
  model: { type: 'string' },
  depths: { type: 'string' },
  dims: { type: 'string' },
  'decoder-dim': { type: 'string' },
  'decoder-depth': { type: 'string' },
} satisfies OptionSpec;

export const STEP_OPTION_SPEC = {
  grn: { type: 'string' },
  gelu: { type: 'string' },
  'norm-pix': { type: 'string' },
  'dense-encoder': { type: 'string' },
} satisfies OptionSpec;

/**
 * The model of --model NAME or --depths a,b,c,d --dims a,b,c,d (+ decoder options). With
 * neither given, `defaultSize` is used, or the command fails naming both ways.
 */
export function modelConfigFromOptions(o: Options, defaultSize?: SizeName): ModelConfig {
  const cmd = o.command;
  const decoderDim = o.number('decoder-dim', 512, { integer: true, min: 1, max: 4096 });
  const decoderDepth = o.number('decoder-depth', 1, { integer: true, min: 0, max: 16 });
  if (o.has('model')) {
    if (o.has('depths') || o.has('dims')) throw new UsageError(`${cmd}: --model and --depths/--dims both given; use one`);
    return modelConfig(o.choice('model', SIZE_NAMES, 'atto'), decoderDim, decoderDepth);
  }
  const depths = o.intList('depths', 4);
  const dims = o.intList('dims', 4);
  if (!depths && !dims && defaultSize) return modelConfig(defaultSize, decoderDim, decoderDepth);
  if (!depths || !dims) throw new UsageError(`${cmd}: give --model NAME (${SIZE_NAMES.join(', ')}) or both --depths a,b,c,d and --dims a,b,c,d`);
  try {
    return customConfig(depths, dims, decoderDim, decoderDepth);
  } catch (e) {
    if (e instanceof ConfigError) throw new UsageError(`${cmd}: --depths ${depths} --dims ${dims}: ${e.message}`);
    throw e;
  }
}

export function stepOptionsFrom(o: Options): StepOptions {
  return {
    grnMode: o.choice('grn', ['per-sample', 'batch'] as const, 'per-sample'),
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
 */
export function checkpointModelConfig(o: Options, ckpt: { fileName: string; config: CheckpointModelConfig; report: LoadReport }): ModelConfig {
  const c = ckpt.config;
  if (ckpt.report.decoderInFile) {
    for (const opt of ['decoder-dim', 'decoder-depth']) {
      if (o.has(opt)) throw new UsageError(`${o.command}: --${opt}: ${ckpt.fileName} has its own decoder (${c.decoderDepth}×${c.decoderDim})`);
    }
  }
  const decoderDim = o.number('decoder-dim', c.decoderDim, { integer: true, min: 1, max: 4096 });
  const decoderDepth = o.number('decoder-depth', c.decoderDepth, { integer: true, min: 0, max: 16 });
  return customConfig(c.depths, c.dims, decoderDim, decoderDepth);
}
