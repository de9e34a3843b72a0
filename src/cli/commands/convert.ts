// `convert`: any checkpoint openCheckpoint understands (or a native one) → one of the formats
// people continue from: the playground's native safetensors, the official FCMAE pretraining
// .pth in its sparse layout (what the official fine-tuning script's --finetune reads), the
// official released dense layout (encoder only, as the *_fcmae.pt files), or timm safetensors.
// Whatever a format has no place for is reported by name, never dropped silently.
import { readFileSync, writeFileSync } from 'node:fs';
import { basename } from 'node:path';
import { fromCanonical, formatLoadReport, type NamedTensor, type NameScheme } from '../../io/name-schemes.ts';
import { openAnyCheckpoint, writeNativeCheckpoint } from '../../io/native-checkpoint.ts';
import { cliDefaultRunConfig, trainingSettingsOf, type TrainingSettings } from '../../train/run-config.ts';
import { writeTorchCheckpoint, type TorchExtra } from '../../io/pytorch.ts';
import { writeSafetensors } from '../../io/safetensors.ts';
import { paramTable } from '../../model/parameters.ts';
import { stateDictFromFlat } from '../../model/state-dict.ts';
import { Options, UsageError } from '../args.ts';
import type { CliContext } from '../context.ts';
import { checkpointModelConfig, checkpointProblems, DECODER_OPTION_SPEC, STEP_OPTION_SPEC, stepOptionsFrom } from '../model-options.ts';
import { paramsWithOverrides } from './reconstruct.ts';

export const convertUsage =
  'convert --in FILE --out FILE --format native|official-sparse|official-dense|timm [--seed K] [--decoder-dim D] [--decoder-depth K] [--timm-conv-mlp true|false] [--grn ...] [--gelu ...] [--norm-pix ...]';

const FORMATS = ['native', 'official-sparse', 'official-dense', 'timm'] as const;
type Format = (typeof FORMATS)[number];

/** Settings a converted file gets when its source has none: the `train` command's defaults. */
/** What `train` would start with (recorded in a converted file, which has no settings of its own). */
const DEFAULT_TRAINING: TrainingSettings = trainingSettingsOf(cliDefaultRunConfig());

const DECODER = /^(proj\.|mask_token$|decoder\.|pred\.)/;
const CLASSIFIER = /^(norm|head)\./;

function listNames(names: string[]): string {
  return names.length <= 6 ? names.join(', ') : `${names.slice(0, 5).join(', ')} … (${names.length} in all)`;
}

export async function convertCommand(argv: string[], cli: CliContext): Promise<void> {
  const cmd = 'convert';
  const o = Options.parse(cmd, argv, {
    in: { type: 'string' },
    out: { type: 'string' },
    format: { type: 'string' },
    seed: { type: 'string' },
    'timm-conv-mlp': { type: 'string' },
    ...DECODER_OPTION_SPEC,
    ...STEP_OPTION_SPEC,
  });
  const inPath = o.string('in');
  const out = o.string('out');
  if (!o.has('format')) throw new UsageError(`${cmd}: --format is required (${FORMATS.join(', ')})`);
  const format: Format = o.choice('format', FORMATS, 'native');
  const seed = o.number('seed', 0, { integer: true, min: 0, max: 2 ** 32 - 1 });
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(readFileSync(inPath));
  } catch (e) {
    throw new UsageError(`${cmd}: --in ${inPath}: ${(e as Error).message}`);
  }
  const wantExt = format === 'native' || format === 'timm' ? '.safetensors' : '.pth';
  if (!out.toLowerCase().endsWith(wantExt) && !(wantExt === '.pth' && out.toLowerCase().endsWith('.pt'))) {
    cli.warn(`warning: --out ${out}: ${format} files are usually named *${wantExt}`);
  }

  const ckpt = openAnyCheckpoint(bytes, basename(inPath));
  for (const line of formatLoadReport(ckpt.report)) cli.warn(line);
  const problems = checkpointProblems(ckpt.report);
  if (problems.length) throw new Error(`${ckpt.fileName}: cannot convert an incomplete model: ${problems.join('; ')}`);
  if (ckpt.report.unexpected.length) cli.warn(`not converted (unknown to the model): ${listNames(ckpt.report.unexpected)}`);

  const config = checkpointModelConfig(o, ckpt);
  const dropped: string[] = [];
  const notes: string[] = [];
  let written: Uint8Array;
  let count = 0;

  if (format === 'native') {
    // The native file holds the whole engine state: an absent decoder is initialised (seeded).
    const params = stateDictFromFlat(paramTable(config), paramsWithOverrides(config, ckpt.tensors, seed));
    if (!ckpt.report.decoderInFile) notes.push(`decoder not in ${ckpt.fileName}: initialised with seed ${seed} (${config.decoderDepth}×${config.decoderDim}; --decoder-dim/--decoder-depth choose)`);
    const classifier = [...ckpt.tensors.keys()].filter((n) => CLASSIFIER.test(n));
    if (classifier.length) dropped.push(`classification head (${listNames(classifier)}): FCMAE has none`);
    const native = ckpt.native;
    if (native) {
      written = writeNativeCheckpoint({ ...native, params });
      notes.push(`step ${native.step}, settings and ${native.adamw ? 'AdamW state' : 'no AdamW state'} kept`);
    } else {
      const options = stepOptionsFrom(o);
      const epoch = typeof ckpt.extra.epoch === 'number' ? ckpt.extra.epoch : null;
      written = writeNativeCheckpoint({
        config,
        options,
        training: DEFAULT_TRAINING,
        step: 0,
        data: { source: `converted from ${ckpt.fileName} (${ckpt.scheme}${epoch !== null ? `, epoch ${epoch}` : ''})`, imageCount: 0 },
        params,
      });
      notes.push('no training settings in the source: the train command\'s defaults are recorded; step 0, no AdamW state');
    }
    count = params.size;
  } else {
    const scheme: NameScheme = format;
    const model = new Map<string, NamedTensor>();
    const decoderNames: string[] = [];
    const classifierNames: string[] = [];
    for (const [name, t] of ckpt.tensors) {
      if (DECODER.test(name) && format !== 'official-sparse') decoderNames.push(name);
      else if (CLASSIFIER.test(name) && format === 'official-sparse') classifierNames.push(name);
      else model.set(name, t);
    }
    if (decoderNames.length) dropped.push(`decoder (${decoderNames.length} tensors: ${listNames(decoderNames)}): ${format} holds the encoder only`);
    if (classifierNames.length) dropped.push(`classification head (${listNames(classifierNames)}): FCMAE pretraining checkpoints have none`);
    if (format === 'official-sparse' && !ckpt.report.decoderInFile) notes.push(`decoder not in ${ckpt.fileName}: written without one (encoder only)`);
    // timm builds atto..nano with conv_mlp=True: fc1/fc2 are 1×1 convs there, Linear otherwise.
    const small = ckpt.size === 'atto' || ckpt.size === 'femto' || ckpt.size === 'pico' || ckpt.size === 'nano';
    const timmConvMlp = o.bool('timm-conv-mlp', small);
    const { tensors, skipped } = fromCanonical(model, scheme, { timmConvMlp });
    if (skipped.length) dropped.push(`no ${format} name for: ${listNames(skipped)}`);
    count = tensors.size;
    if (ckpt.native?.adamw) dropped.push('AdamW state (use the native format to resume exactly)');
    if (format === 'timm') {
      written = writeSafetensors(tensors, { format: 'pt' });
      if (!tensors.has('head.norm.weight')) notes.push('no head.norm (FCMAE encoders have no final norm): load into timm with strict=False or train the head from scratch');
    } else {
      const epoch = typeof ckpt.extra.epoch === 'number' && Number.isInteger(ckpt.extra.epoch) ? ckpt.extra.epoch : (ckpt.native?.step ?? 0);
      const extras: Record<string, TorchExtra> = { epoch };
      written = writeTorchCheckpoint(tensors, extras);
    }
  }
  writeFileSync(out, written);
  for (const n of notes) cli.log(n);
  for (const d of dropped) cli.log(`dropped: ${d}`);
  cli.log(`${count} tensors written to ${out} (${format}${format === 'timm' ? ', safetensors' : format === 'native' ? ', safetensors' : ', PyTorch zip'})`);
}
