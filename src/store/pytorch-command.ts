// "Continue in PyTorch": the command line of the official FCMAE trainer
// (facebookresearch/ConvNeXt-V2 main_pretrain.py) that continues this run, with a note for
// every setting the official script cannot express, so nothing is silently different.
//
// Facts about the official script this relies on: models are named convnextv2_<size>; the
// data folder must hold ImageFolder classes under <data_path>/train; the schedule is in
// epochs of len(dataset) // batch iterations; --norm_pix_loss is a store_true flag (there is
// no flag to turn it off, so plain-pixel targets need an edit); GRN statistics there are
// taken over the whole batch; GELU is the exact (erf) form; there is no dense-encoder switch and
// no switch to leave GRN out.
import type { Settings } from './settings.ts';

export interface PytorchCommand {
  command: string;
  /** Epochs the step count corresponds to at this dataset size. */
  epochs: number;
  warmupEpochs: number;
  /** Differences the command cannot carry, each a sentence. */
  notes: string[];
}

export interface CommandContext {
  /** Images in the dataset (for steps → epochs). */
  datasetSize: number;
  /** The checkpoint file name to resume from (official-sparse PyTorch download). */
  checkpointFile: string;
  /** Steps already trained (so --epochs covers the rest of the planned run). */
  stepsDone: number;
}

/** Quote a shell argument only when needed. */
function sh(arg: string): string {
  return /^[\w./:=@%+-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

export function pytorchCommand(s: Settings, ctx: CommandContext): PytorchCommand {
  const notes: string[] = [];
  const stepsPerEpoch = Math.max(1, Math.floor(ctx.datasetSize / s.batchSize));
  const epochs = Math.max(1, Math.ceil(s.totalSteps / stepsPerEpoch));
  const warmupEpochs = Math.round(s.warmupSteps / stepsPerEpoch);
  const model = s.size === 'custom' ? 'convnextv2_custom' : `convnextv2_${s.size}`;
  if (s.size === 'custom') {
    notes.push(
      `Custom sizes are not in models/fcmae.py: add def convnextv2_custom(**kwargs): return FCMAE(depths=[${s.depths.join(', ')}], dims=[${s.dims.join(', ')}], **kwargs).`,
    );
  }
  if (!s.normPix) notes.push('This run uses plain-pixel targets: --norm_pix_loss is left out; check that main_pretrain.py does not set_defaults(norm_pix_loss=True), which no flag can undo.');
  if (!s.grn) notes.push('This run has no GRN (V1-style blocks); the official FCMAE model always has GRN: remove the GRN layers from models/convnextv2_sparse.py and models/convnextv2.py to match.');
  else if (s.grnMode === 'per-sample') notes.push('GRN statistics here are per sample; the official sparse GRN pools them over the whole batch.');
  if (s.gelu === 'tanh') notes.push('This run uses the tanh GELU approximation; the official model uses the exact (erf) GELU.');
  if (s.denseEncoder) notes.push('This run is the dense-encoder ablation; the official encoder is always sparse.');
  if (s.warmupSteps % stepsPerEpoch !== 0 || s.totalSteps % stepsPerEpoch !== 0) {
    notes.push(`The official schedule counts whole epochs of ${stepsPerEpoch} iterations: ${s.totalSteps} steps with ${s.warmupSteps} of warmup round to ${epochs} epochs with ${warmupEpochs} of warmup.`);
  }
  notes.push(`The official script reads ImageFolder classes from <data_path>/train: put the images in class subfolders there (one folder is enough).`);
  if (ctx.stepsDone > 0) notes.push(`--resume restores the weights, the optimizer state and the epoch reached (${ctx.stepsDone} steps done here).`);
  const args: [string, string][] = [
    ['--model', model],
    ['--batch_size', String(s.batchSize)],
    ['--update_freq', '1'],
    ['--blr', String(s.blr)],
    ['--weight_decay', String(s.weightDecay)],
    ['--epochs', String(epochs)],
    ['--warmup_epochs', String(warmupEpochs)],
    ['--input_size', String(s.inputSize)],
    ['--mask_ratio', String(s.maskRatio)],
    ['--decoder_depth', String(s.decoderDepth)],
    ['--decoder_embed_dim', String(s.decoderDim)],
    ...(s.normPix ? [['--norm_pix_loss', ''] as [string, string]] : []),
    ['--seed', String(s.seed)],
    ['--data_path', '/path/to/dataset'],
    ['--output_dir', './output'],
    ['--resume', ctx.checkpointFile],
  ];
  const command = ['python main_pretrain.py', ...args.map(([k, v]) => (v === '' ? `  ${k}` : `  ${k} ${sh(v)}`))].join(' \\\n');
  return { command, epochs, warmupEpochs, notes };
}
