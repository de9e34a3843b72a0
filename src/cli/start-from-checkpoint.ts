// `train --checkpoint FILE`: a NEW run (step 0, fresh AdamW, its own data order) from the weights
// of any file openAnyCheckpoint reads: this project's FCMAE or fine-tuning checkpoints, the
// official sparse or dense FCMAE layouts, the released encoder-only `*_fcmae.pt`, timm, Hugging
// Face. Unlike --resume it keeps nothing of the file's run but the weights (and, for a native
// file, its settings as the defaults of unset flags). The model comes from the file; whatever the
// file lacks (the decoder of an encoder-only file) is freshly initialised from the run's seed,
// and the command says so. Flags that contradict the file are refused, naming the flag.
import { basename } from 'node:path';
import { openAnyCheckpoint } from '../io/native-checkpoint.ts';
import { formatLoadReport } from '../io/name-schemes.ts';
import type { ModelConfig, StepOptions } from '../model/config.ts';
import { isEncoderParam, paramTable } from '../model/parameters.ts';
import type { TrainingSettings } from '../train/run-config.ts';
import { Options, UsageError } from './args.ts';
import { paramsWithOverrides } from './commands/reconstruct.ts';
import { checkpointModelConfig, checkpointProblems, modelConfigFromOptions } from './model-options.ts';

export interface CheckpointStart {
  path: string;
  config: ModelConfig;
  /** Step options the file's run had (native files), as defaults for unset flags. */
  options: StepOptions | null;
  /** Training settings the file's run had (native files), as defaults for unset flags. */
  training: TrainingSettings | null;
  /** Lines to print: the load report and what is freshly initialised. */
  notes: string[];
  /** Flat engine parameters once the seed is known: the file's tensors over a seeded initialisation. */
  params(seed: number): Float32Array;
}

const describe = (m: ModelConfig) => `depths ${m.depths} dims ${m.dims} decoder ${m.decoderDepth}×${m.decoderDim}${m.grn ? '' : ' no GRN'}`;

/** Reads --checkpoint, checks the model flags against it and says what the file lacks. */
export function checkpointStart(o: Options): CheckpointStart {
  const cmd = o.command;
  if (o.has('resume')) throw new UsageError(`${cmd}: --checkpoint and --resume both given: --resume continues a run exactly, --checkpoint starts a new one from a file's weights; use one`);
  const path = o.string('checkpoint');
  const name = basename(path);
  const bytes = o.file('checkpoint', path);
  let ckpt: ReturnType<typeof openAnyCheckpoint>;
  try {
    ckpt = openAnyCheckpoint(bytes, name);
  } catch (e) {
    throw new UsageError(`${cmd}: --checkpoint ${path}: ${(e as Error).message}`);
  }
  const problems = checkpointProblems(ckpt.report);
  if (problems.length) throw new UsageError(`${cmd}: --checkpoint ${path}: ${problems.join('; ')}`);
  // the file fixes the encoder (and its decoder, when it has one); --decoder-* only for a file without
  let config: ModelConfig;
  try {
    config = checkpointModelConfig(o, ckpt);
  } catch (e) {
    if (e instanceof UsageError) throw new UsageError(`${e.message}; --checkpoint takes the model from the file (drop the option)`);
    throw e;
  }
  for (const opt of ['model', 'depths', 'dims'] as const) {
    if (!o.has(opt)) continue;
    const asked = modelConfigFromOptions(o);
    if (asked.depths.join() !== config.depths.join() || asked.dims.join() !== config.dims.join()) {
      throw new UsageError(`${cmd}: --${opt}: ${describe(asked)} differs from ${name}'s ${describe(config)}; --checkpoint takes the model from the file (drop the option)`);
    }
  }
  const notes = formatLoadReport(ckpt.report);
  if (ckpt.report.classifier.length) notes.push(`${name}: classification head (${ckpt.report.classifier.join(', ')}) not used by FCMAE`);
  const table = paramTable(config);
  const fresh = table.specs.filter((s) => !ckpt.tensors.has(s.name));
  if (fresh.some((s) => isEncoderParam(s.name))) throw new UsageError(`${cmd}: --checkpoint ${path}: lacks encoder tensors (${fresh.filter((s) => isEncoderParam(s.name)).map((s) => s.name).slice(0, 3).join(', ')} …)`);
  if (fresh.length) {
    notes.push(
      `${name} has no decoder: proj, mask token, decoder (${config.decoderDepth}×${config.decoderDim}) and pred are freshly initialised ` +
        `(${fresh.length} tensors, ${fresh.reduce((a, s) => a + s.size, 0).toLocaleString('en')} parameters, from the run's seed)`,
    );
  }
  return {
    path,
    config,
    options: ckpt.native?.options ?? null,
    training: ckpt.native?.training ?? null,
    notes,
    params: (seed) => paramsWithOverrides(config, ckpt.tensors, seed),
  };
}
