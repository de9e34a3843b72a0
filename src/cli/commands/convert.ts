// `convert`: any checkpoint openCheckpoint understands (or a native one) → one of the formats
// people continue from: the playground's native safetensors, the official FCMAE pretraining
// .pth in its sparse layout (what the official fine-tuning script's --finetune reads), the
// official dense layout (the released *_fcmae.pt encoders; with `norm.*` + `head.*` when the
// source has a head, as main_finetune.py's checkpoints), timm safetensors (with `head.norm` +
// `head.fc` when there is a head), or a Hugging Face folder (config.json + model.safetensors:
// ConvNextV2ForImageClassification with a head, ConvNextV2Model without).
// Whatever a format has no place for is reported by name, never dropped silently; whatever an
// export has to invent (HF's final norm for an FCMAE encoder) is reported with its value.
// A final norm without a classifier (timm num_classes=0, HF ConvNextV2Model) is kept by the
// formats that have a place for it.
import { existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { HF_DEFAULT_IMAGE_SIZE, HfExportError, toHuggingFace } from '../../io/hf-config.ts';
import { fromCanonical, formatLoadReport, matchModelSize, schemeName, type CheckpointModelConfig, type NamedTensor, type NameScheme } from '../../io/name-schemes.ts';
import { isNativeCheckpoint, openAnyCheckpoint, readNativeCheckpoint, writeNativeCheckpoint } from '../../io/native-checkpoint.ts';
import { officialPretrainAsNative, writeOfficialPretrain } from '../../io/official-pretrain.ts';
import { officialCommandLines } from '../../io/official-commands.ts';
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
  'convert --in FILE|HF_DIR --out FILE|DIR --format native|official-sparse|official-dense|timm|hf|official-pretrain [--labels a,b,c] [--image-size S] [--seed K] [--decoder-dim D] [--decoder-depth K] [--timm-conv-mlp true|false] [--grn ...] [--gelu ...] [--norm-pix ...] [--gpus N] [--dataset-size N]\n' +
  '  official-pretrain: {model, optimizer, epoch, scaler, args} as main_pretrain.py saves it, from a training checkpoint (native with AdamW state, or official);\n' +
  '    prints the torchrun main_pretrain.py --resume and main_finetune.py --finetune command lines for --gpus N (default 1); --dataset-size sets the images per epoch\n' +
  '  native from an official training checkpoint keeps its AdamW moments, step and settings (train --resume reads either file)';

const FORMATS = ['native', 'official-sparse', 'official-dense', 'timm', 'hf', 'official-pretrain'] as const;
type Format = (typeof FORMATS)[number];

/** Settings a converted file gets when its source has none: the `train` command's defaults. */
/** What `train` would start with (recorded in a converted file, which has no settings of its own). */
const DEFAULT_TRAINING: TrainingSettings = trainingSettingsOf(cliDefaultRunConfig());

const DECODER = /^(proj\.|mask_token$|decoder\.|pred\.)/;
const CLASSIFIER = /^(norm|head)\./;

function listNames(names: string[]): string {
  return names.length <= 6 ? names.join(', ') : `${names.slice(0, 5).join(', ')} … (${names.length} in all)`;
}

/**
 * A final norm in a file without a head (timm num_classes=0, HF ConvNextV2Model): its file names,
 * or null. The reader loads it as `norm.*`.
 */
function headlessFinalNorm(ckpt: { config: CheckpointModelConfig; tensors: ReadonlyMap<string, NamedTensor>; scheme: NameScheme }): { tensors: Map<string, NamedTensor>; sources: string[] } | null {
  if (ckpt.config.numClasses !== null || !ckpt.tensors.has('norm.weight')) return null;
  return { tensors: new Map(), sources: ['norm.weight', 'norm.bias'].map((n) => schemeName(n, ckpt.scheme) ?? n) };
}

/** timm's own constructor for this model, as a Python expression that loads the file strictly. */
function timmModelCall(c: CheckpointModelConfig, numClasses: number, convMlp: boolean): string {
  const size = matchModelSize(c.depths, c.dims);
  const grn = c.grn !== false;
  // timm's convnextv2_* registrations: atto..nano with conv_mlp=True, the larger ones without.
  const timmConvMlp = size === 'atto' || size === 'femto' || size === 'pico' || size === 'nano';
  if (size && grn && convMlp === timmConvMlp) return `timm.create_model('convnextv2_${size}', num_classes=${numClasses})`;
  return (
    `timm.models.convnext.ConvNeXt(depths=(${c.depths.join(', ')}), dims=(${c.dims.join(', ')}), ` +
    `use_grn=${grn ? 'True' : 'False'}, ls_init_value=None${convMlp ? ', conv_mlp=True' : ''}, num_classes=${numClasses})`
  );
}

/** A Hugging Face folder given as --in: its weights file. */
function weightsInFolder(dir: string): string | null {
  for (const name of ['model.safetensors', 'pytorch_model.bin']) if (existsSync(join(dir, name))) return join(dir, name);
  return null;
}

export async function convertCommand(argv: string[], cli: CliContext): Promise<void> {
  const cmd = 'convert';
  const o = Options.parse(cmd, argv, {
    in: { type: 'string' },
    out: { type: 'string' },
    format: { type: 'string' },
    seed: { type: 'string' },
    'timm-conv-mlp': { type: 'string' },
    labels: { type: 'string' },
    'image-size': { type: 'string' },
    gpus: { type: 'string' },
    'dataset-size': { type: 'string' },
    ...DECODER_OPTION_SPEC,
    ...STEP_OPTION_SPEC,
  });
  let inPath = o.string('in');
  const out = o.string('out');
  if (!o.has('format')) throw new UsageError(`${cmd}: --format is required (${FORMATS.join(', ')})`);
  const format: Format = o.choice('format', FORMATS, 'native');
  const seed = o.number('seed', 0, { integer: true, min: 0, max: 2 ** 32 - 1 });
  for (const opt of ['labels', 'image-size']) {
    if (o.has(opt) && format !== 'hf') throw new UsageError(`${cmd}: --${opt} is for --format hf (config.json); ${format} files have no place for it`);
  }
  for (const opt of ['gpus', 'dataset-size']) {
    if (o.has(opt) && format !== 'official-pretrain') throw new UsageError(`${cmd}: --${opt} is for --format official-pretrain`);
  }
  const gpus = o.number('gpus', 1, { integer: true, min: 1, max: 4096 });
  const labels = o.has('labels') ? o.string('labels').split(',').map((l) => l.trim()) : undefined;
  const imageSize = o.number('image-size', HF_DEFAULT_IMAGE_SIZE, { integer: true, min: 32, max: 8192 });
  if (existsSync(inPath) && statSync(inPath).isDirectory()) {
    const weights = weightsInFolder(inPath);
    if (!weights) throw new UsageError(`${cmd}: --in ${inPath} is a folder without model.safetensors or pytorch_model.bin (a Hugging Face export holds one); give a checkpoint file`);
    inPath = weights;
  }
  const bytes = o.file('in', inPath);
  if (format === 'hf') {
    if (existsSync(out) && !statSync(out).isDirectory()) {
      throw new UsageError(`${cmd}: --out ${out} is an existing file; --format hf writes a folder (config.json + model.safetensors): give a folder path (it is created)`);
    }
    if (/\.(safetensors|pth?|bin)$/i.test(out)) cli.warn(`warning: --out ${out}: --format hf writes a folder of that name (config.json + model.safetensors)`);
  } else {
    const wantExt = format === 'native' || format === 'timm' ? '.safetensors' : '.pth';
    if (format === 'official-pretrain' && out.toLowerCase().endsWith('.safetensors')) throw new UsageError(`${cmd}: --out ${out}: official-pretrain writes a PyTorch .pth`);
    if (!out.toLowerCase().endsWith(wantExt) && !(wantExt === '.pth' && out.toLowerCase().endsWith('.pt'))) {
      cli.warn(`warning: --out ${out}: ${format} files are usually named *${wantExt}`);
    }
  }

  if (format === 'official-pretrain') return exportOfficialPretrain(bytes, basename(inPath), out, gpus, o.has('dataset-size') ? o.number('dataset-size', 1, { integer: true, min: 1 }) : null, cli);
  // an official training checkpoint keeps its optimizer state and settings in the native format
  const official = format === 'native' && !isNativeCheckpoint(bytes) ? officialPretrainAsNative(bytes, basename(inPath)) : null;
  if (official) {
    writeFileSync(out, writeNativeCheckpoint(official.checkpoint));
    for (const n of official.imported.notes) cli.log(n);
    for (const u of official.imported.untaken) cli.log(`not taken: ${u}`);
    cli.log(`${official.checkpoint.params.size} tensors and the AdamW state at step ${official.checkpoint.step} written to ${out} (native, safetensors)`);
    return;
  }
  const ckpt = openAnyCheckpoint(bytes, basename(inPath));
  const finalNorm = headlessFinalNorm(ckpt);
  const unexpected = ckpt.report.unexpected.filter((n) => !finalNorm?.sources.includes(n));
  // Only the native format initialises an absent decoder; the others have none to initialise.
  const readerNotes = format === 'native' ? ckpt.report.notes : ckpt.report.notes.filter((n) => !n.startsWith('decoder not in file'));
  for (const line of formatLoadReport({ ...ckpt.report, unexpected, notes: readerNotes })) cli.warn(line);
  if (finalNorm) cli.warn(`final norm without a classifier (${finalNorm.sources.join(', ')}): read as norm.*`);
  const problems = checkpointProblems(ckpt.report);
  if (problems.length) throw new Error(`${ckpt.fileName}: cannot convert an incomplete model: ${problems.join('; ')}`);
  if (unexpected.length) cli.warn(`not converted (unknown to the model): ${listNames(unexpected)}`);
  const numClasses = ckpt.config.numClasses;
  if (labels && numClasses === null) {
    throw new UsageError(`${cmd}: --labels: ${ckpt.fileName} has no classification head (head.weight, head.bias), so there are no classes to name`);
  }

  const config = checkpointModelConfig(o, ckpt);
  const dropped: string[] = [];
  const notes: string[] = [];
  /** What is written where (the hf format writes two files into a folder). */
  let files: { path: string; bytes: Uint8Array }[];
  /** The format as the last line names it. */
  let kind = `${format}, ${format === 'native' || format === 'timm' ? 'safetensors' : 'PyTorch zip'}`;
  let count = 0;
  let written: Uint8Array;

  if (format === 'native') {
    // The native file holds the whole engine state: an absent decoder is initialised (seeded).
    const params = stateDictFromFlat(paramTable(config), paramsWithOverrides(config, ckpt.tensors, seed));
    if (!ckpt.report.decoderInFile) notes.push(`decoder not in ${ckpt.fileName}: initialised with seed ${seed} (${config.decoderDepth}×${config.decoderDim}; --decoder-dim/--decoder-depth choose)`);
    const classifier = [...ckpt.tensors.keys(), ...(finalNorm?.tensors.keys() ?? [])].filter((n) => CLASSIFIER.test(n));
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
    files = [{ path: out, bytes: written }];
  } else if (format === 'hf') {
    const model = new Map<string, NamedTensor>([...ckpt.tensors, ...(finalNorm?.tensors ?? [])]);
    let hf: ReturnType<typeof toHuggingFace>;
    try {
      hf = toHuggingFace(model, ckpt.config, { labels, imageSize, fileName: ckpt.fileName });
    } catch (e) {
      if (e instanceof HfExportError && e.code === 'bad-labels') throw new UsageError(`${cmd}: ${e.message}`);
      throw e;
    }
    const decoderNames = hf.unused.filter((n) => DECODER.test(n));
    const otherNames = hf.unused.filter((n) => !DECODER.test(n));
    if (decoderNames.length) dropped.push(`decoder (${decoderNames.length} tensors: ${listNames(decoderNames)}): hf holds the encoder only`);
    if (otherNames.length) dropped.push(`no hf name for: ${listNames(otherNames)}`);
    if (ckpt.native?.adamw) dropped.push('AdamW state (use the native format to resume exactly)');
    if (hf.architecture === 'ConvNextV2ForImageClassification') {
      const names = Object.values(hf.config.id2label!);
      notes.push(`head: ConvNextV2ForImageClassification, ${numClasses} classes (${names.length <= 6 ? names.join(', ') : `${names.slice(0, 5).join(', ')} … ${names[names.length - 1]}`}${labels ? '' : '; --labels names them'})`);
    } else {
      notes.push(`no head in ${ckpt.fileName}: ConvNextV2Model (ConvNextV2ForImageClassification.from_pretrained(DIR, num_labels=K) adds a new classifier)`);
      if (finalNorm) notes.push(`final LayerNorm (layernorm.*) from ${listNames(finalNorm.sources)}`);
    }
    for (const init of hf.initialised) notes.push(`initialised: ${init.values} (${init.why})`);
    notes.push(`config.json: layer_norm_eps 1e-6 (the official and timm final norm; transformers' default is 1e-12), image_size ${imageSize}, drop_path_rate 0`);
    count = hf.tensors.size;
    kind = `hf, ${hf.architecture}, safetensors`;
    files = [
      { path: join(out, 'model.safetensors'), bytes: writeSafetensors(hf.tensors, { format: 'pt' }) },
      { path: join(out, 'config.json'), bytes: new TextEncoder().encode(JSON.stringify(hf.config, null, 2) + '\n') },
    ];
    mkdirSync(out, { recursive: true });
  } else {
    const scheme: NameScheme = format;
    const model = new Map<string, NamedTensor>();
    const decoderNames: string[] = [];
    const classifierNames: string[] = [];
    for (const [name, t] of [...ckpt.tensors, ...(finalNorm?.tensors ?? [])]) {
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
    const hasHead = model.has('head.weight');
    if (format === 'timm') {
      written = writeSafetensors(tensors, { format: 'pt' });
      if (hasHead) notes.push(`head written: head.norm + head.fc, ${numClasses} classes; ${timmModelCall(ckpt.config, numClasses!, timmConvMlp)} loads it with strict=True`);
      else if (tensors.has('head.norm.weight')) notes.push(`head.norm written, no classifier: ${timmModelCall(ckpt.config, 0, timmConvMlp)} loads it with strict=True`);
      else notes.push('no head.norm (FCMAE encoders have no final norm): load into timm with strict=False or train the head from scratch');
    } else {
      const epoch = typeof ckpt.extra.epoch === 'number' && Number.isInteger(ckpt.extra.epoch) ? ckpt.extra.epoch : (ckpt.native?.step ?? 0);
      const extras: Record<string, TorchExtra> = { epoch };
      written = writeTorchCheckpoint(tensors, extras);
      if (format === 'official-dense') {
        if (hasHead) {
          notes.push(`head written: norm + head, ${numClasses} classes; {'model': state dict, 'epoch': ${epoch}} (main_finetune.py's keys, without optimizer, scaler, args): its --resume loads it strictly (with --eval: evaluation only), --finetune keeps the encoder and re-initialises the head`);
        } else {
          notes.push(`no head in ${ckpt.fileName}: encoder only${model.has('norm.weight') ? ' and the final norm' : ''}, as the released *_fcmae.pt; {'model': state dict, 'epoch': ${epoch}}: main_finetune.py --finetune reads it (the head is initialised there)`);
        }
      }
    }
    files = [{ path: out, bytes: written }];
  }
  for (const f of files) writeFileSync(f.path, f.bytes);
  for (const n of notes) cli.log(n);
  for (const d of dropped) cli.log(`dropped: ${d}`);
  cli.log(`${count} tensors written to ${files.map((f) => f.path).join(' and ')} (${kind})`);
}

/** `convert --format official-pretrain`: a training checkpoint → main_pretrain.py's checkpoint, and the command lines that continue it. */
function exportOfficialPretrain(bytes: Uint8Array, fileName: string, out: string, gpus: number, datasetSize: number | null, cli: CliContext): void {
  const official = isNativeCheckpoint(bytes) ? null : officialPretrainAsNative(bytes, fileName);
  if (!official && !isNativeCheckpoint(bytes)) {
    throw new UsageError(`convert: --format official-pretrain needs a training checkpoint (a native checkpoint written by train, or an official checkpoint-N.pth); ${fileName} holds weights only: use --format official-sparse`);
  }
  const source = official ? official.checkpoint : readNativeCheckpoint(bytes, fileName);
  const images = datasetSize ?? (official?.imported.itersPerEpoch ? official.imported.itersPerEpoch * source.training.batchSize : source.data.imageCount);
  if (!(images >= 1)) throw new UsageError(`convert: ${fileName} does not say how many images its run had; pass --dataset-size N (the official epoch is N // batch iterations)`);
  const result = writeOfficialPretrain({ config: source.config, options: source.options, training: source.training, step: source.step, params: source.params, adamw: source.adamw, datasetSize: images });
  writeFileSync(out, result.bytes);
  for (const n of result.notes) cli.log(n);
  for (const w of result.warnings) cli.warn(`warning: ${w}`);
  cli.log(`${source.params.size} tensors with optimizer, epoch, scaler and args written to ${out} (official-pretrain, PyTorch zip)`);
  const lines = officialCommandLines({ config: source.config, options: source.options, training: source.training, adamw: source.adamw?.settings ?? null, stepsDone: source.step, datasetSize: images, gpus, checkpointFile: basename(out) });
  cli.log('');
  cli.log(`Continue in PyTorch (${gpus} GPU${gpus === 1 ? '' : 's'}), from a checkout of facebookresearch/ConvNeXt-V2:`);
  for (const l of lines.arithmetic) cli.log(`  ${l}`);
  cli.log(lines.pretrain);
  cli.log('then fine-tune the result:');
  cli.log(lines.finetune);
  for (const n of lines.notes) cli.log(`note: ${n}`);
}
