// "Continue in PyTorch": the exact command lines of the official trainers
// (facebookresearch/ConvNeXt-V2 main_pretrain.py --resume, main_finetune.py --finetune) that
// continue a run on N GPUs with torchrun, with the effective-batch and learning-rate arithmetic,
// and a note for everything the official scripts cannot express. Shared by the CLI (convert
// --format official-pretrain) and the page (src/store/pytorch-command.ts).
//
// Facts about the official scripts this relies on: eff_batch = batch_size · update_freq ·
// world_size and lr = blr · eff_batch / 256 (when --lr is not given); an epoch is
// len(dataset) // eff_batch iterations; --resume restarts at the saved epoch + 1 with the
// saved optimizer and scaler, and keeps the command line's own args; --norm_pix_loss is a
// store_true flag; the data folder must hold ImageFolder classes under <data_path>/train;
// main_finetune.py --finetune reads the 'model' entry of an FCMAE checkpoint and remaps its
// sparse names itself. The fine-tuning values are TRAINING.md's ConvNeXt V2-Base recipe.
// torch ≥ 2.6 loads with weights_only=True by default, which refuses the argparse.Namespace
// under 'args' (in the official trainer's own checkpoints too): the lines set
// TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1, which older torch ignores.
import type { ModelConfig, StepOptions } from '../model/config.ts';
import type { TrainingSettings } from '../train/run-config.ts';
import type { AdamWSettings } from './native-checkpoint.ts';
import { officialEpochs, officialModelName } from './official-pretrain.ts';

/** The page's download name of the official-pretrain file, which its command lines name. */
export const OFFICIAL_PRETRAIN_FILE = 'fcmae-checkpoint.pth';

export interface OfficialCommandInput {
  config: Pick<ModelConfig, 'size' | 'depths' | 'dims' | 'decoderDim' | 'decoderDepth' | 'grn'>;
  options: StepOptions;
  training: Pick<TrainingSettings, 'inputSize' | 'batchSize' | 'maskRatio' | 'blr' | 'warmupSteps' | 'totalSteps' | 'seed'>;
  adamw: Pick<AdamWSettings, 'weightDecay' | 'decayRule'> | null;
  /** Steps already trained. */
  stepsDone: number;
  /** Images in the data set (iterations per official epoch = images // eff_batch). */
  datasetSize: number;
  /** GPUs on the machine (torchrun --nproc_per_node). */
  gpus: number;
  /** The official-pretrain checkpoint file to resume from. */
  checkpointFile: string;
}

export interface OfficialCommands {
  pretrain: string;
  finetune: string;
  /** Per-GPU batch, accumulation, effective batch, lr, epochs: one line each. */
  arithmetic: string[];
  perGpuBatch: number;
  updateFreq: number;
  effBatch: number;
  lr: number;
  epochs: number;
  warmupEpochs: number;
  /** Differences the commands cannot carry, one sentence each. */
  notes: string[];
}

/** Quote a shell argument only when needed. */
export function shellQuote(arg: string): string {
  return /^[\w./:=@%+-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

const lines = (head: string, args: [string, string][]) => [head, ...args.map(([k, v]) => (v === '' ? `  ${k}` : `  ${k} ${shellQuote(v)}`))].join(' \\\n');

/**
 * The torchrun command lines for N GPUs. The run's batch B is kept when N divides it (B/N per
 * GPU, update_freq 1); otherwise each GPU takes ceil(B/N) and the effective batch (and with it
 * lr = blr·eff/256 and the epoch length) changes, which a note says.
 */
export function officialCommandLines(c: OfficialCommandInput): OfficialCommands {
  const { config, options, training: t, gpus } = c;
  if (!Number.isInteger(gpus) || gpus < 1) throw new RangeError(`gpus ${gpus} must be a positive integer`);
  const notes: string[] = [];
  const perGpuBatch = Math.max(1, Math.ceil(t.batchSize / gpus));
  const updateFreq = 1;
  const effBatch = perGpuBatch * updateFreq * gpus;
  const lr = (t.blr * effBatch) / 256;
  const { itersPerEpoch, epochs, warmupEpochs } = officialEpochs({ batchSize: effBatch, totalSteps: t.totalSteps * (t.batchSize / effBatch), warmupSteps: t.warmupSteps * (t.batchSize / effBatch) }, c.datasetSize);
  const arithmetic = [
    `eff_batch = batch_size ${perGpuBatch} × update_freq ${updateFreq} × ${gpus} GPU${gpus === 1 ? '' : 's'} = ${effBatch}${effBatch === t.batchSize ? ' (this run\'s batch)' : ` (this run: ${t.batchSize})`}`,
    `lr = blr ${t.blr} × ${effBatch} / 256 = ${lr.toExponential(4)}`,
    `epoch = ${c.datasetSize} images // ${effBatch} = ${itersPerEpoch} iterations; --epochs ${epochs} --warmup_epochs ${warmupEpochs} cover the run's ${t.totalSteps} steps (${t.warmupSteps} of warmup)`,
  ];
  if (effBatch !== t.batchSize) notes.push(`${gpus} GPUs do not divide this run's batch ${t.batchSize}: each takes ${perGpuBatch}, so the effective batch is ${effBatch} and the lr ${lr.toExponential(4)} (linear scaling of blr): the trajectory departs from this run`);
  if (!config.size) {
    notes.push(
      `Custom sizes are not in models/fcmae.py: add def convnextv2_custom(**kwargs): return FCMAE(depths=[${config.depths.join(', ')}], dims=[${config.dims.join(', ')}], **kwargs). ` +
        'Fine-tuning needs the same in models/convnextv2.py with ConvNeXtV2.',
    );
  }
  if (!options.normPix) notes.push('This run uses plain-pixel targets: --norm_pix_loss is left out; check that main_pretrain.py does not set_defaults(norm_pix_loss=True), which no flag can undo.');
  if (!config.grn) notes.push('This run has no GRN (V1-style blocks); the official FCMAE model always has GRN: remove the GRN layers from models/convnextv2_sparse.py and models/convnextv2.py to match.');
  else if (options.grnMode === 'per-sample') notes.push('GRN statistics here are per sample; the official sparse GRN pools them over the whole batch.');
  if (options.gelu === 'tanh') notes.push('This run uses the tanh GELU approximation; the official model uses the exact (erf) GELU.');
  if (options.denseEncoder) notes.push('This run is the dense-encoder ablation; the official encoder is always sparse.');
  if (options.freezeEncoder) notes.push('This run is a decoder warm-up (encoder frozen); main_pretrain.py has no such switch and trains the encoder too: set requires_grad=False on model.encoder after it is built to keep it frozen.');
  if ((c.adamw?.decayRule ?? 'maintainers') !== 'official') {
    notes.push("This run used the maintainers' weight-decay rule; main_pretrain.py decays GRN gamma/beta and the mask token (its timm add_weight_decay), so from the resume on they are decayed.");
  }
  if (t.warmupSteps % itersPerEpoch !== 0 || t.totalSteps % itersPerEpoch !== 0) {
    notes.push(`The official schedule counts whole epochs of ${itersPerEpoch} iterations: ${t.totalSteps} steps with ${t.warmupSteps} of warmup round to ${epochs} epochs with ${warmupEpochs} of warmup.`);
  }
  notes.push('The official scripts read ImageFolder classes from <data_path>/train (fine-tuning also <data_path>/val): put the images in class subfolders there (one folder is enough to pretrain).');
  if (c.stepsDone > 0) notes.push(`--resume restores the weights, the AdamW state, the GradScaler and the epoch reached (${c.stepsDone} steps done here); data order and masks are the official script's own from there.`);
  const model = officialModelName(config);
  const torchrun = `TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1 torchrun --nproc_per_node=${gpus} main_pretrain.py`;
  const pretrain = lines(torchrun, [
    ['--model', model],
    ['--batch_size', String(perGpuBatch)],
    ['--update_freq', String(updateFreq)],
    ['--blr', String(t.blr)],
    ['--weight_decay', String(c.adamw?.weightDecay ?? 0.05)],
    ['--epochs', String(epochs)],
    ['--warmup_epochs', String(warmupEpochs)],
    ['--input_size', String(t.inputSize)],
    ['--mask_ratio', String(t.maskRatio)],
    ['--decoder_depth', String(config.decoderDepth)],
    ['--decoder_embed_dim', String(config.decoderDim)],
    ...(options.normPix ? [['--norm_pix_loss', ''] as [string, string]] : []),
    ['--seed', String(t.seed)],
    ['--data_path', '/path/to/dataset'],
    ['--output_dir', './output'],
    ['--resume', c.checkpointFile],
  ]);
  const ftFreq = Math.max(1, Math.round(1024 / (32 * gpus)));
  arithmetic.push(`fine-tuning: eff_batch = 32 × update_freq ${ftFreq} × ${gpus} = ${32 * ftFreq * gpus} (TRAINING.md: 1024), lr = 6.25e-4 × ${32 * ftFreq * gpus} / 256 = ${((6.25e-4 * 32 * ftFreq * gpus) / 256).toExponential(4)}`);
  const finetune = lines(`TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1 torchrun --nproc_per_node=${gpus} main_finetune.py`, [
    ['--model', model],
    ['--input_size', String(t.inputSize)],
    ['--batch_size', '32'],
    ['--update_freq', String(ftFreq)],
    ['--blr', '6.25e-4'],
    ['--epochs', '100'],
    ['--warmup_epochs', '20'],
    ['--layer_decay_type', 'group'],
    ['--layer_decay', '0.6'],
    ['--weight_decay', '0.05'],
    ['--drop_path', '0.1'],
    ['--nb_classes', 'N_CLASSES'],
    ['--finetune', c.checkpointFile],
    ['--data_path', '/path/to/dataset'],
    ['--output_dir', './output-finetune'],
  ]);
  return { pretrain, finetune, arithmetic, perGpuBatch, updateFreq, effBatch, lr, epochs, warmupEpochs, notes };
}
