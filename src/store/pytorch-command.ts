// "Continue in PyTorch" for the page: the page's settings as a run, handed to the command-line
// builder the CLI shares (src/io/official-commands.ts): the exact torchrun lines of the official
// main_pretrain.py --resume and main_finetune.py --finetune for N GPUs, with the effective batch
// and lr arithmetic and a note for every setting the official scripts cannot express.
import { customConfig } from '../model/config.ts';
import { officialCommandLines, type OfficialCommands } from '../io/official-commands.ts';
import type { Settings } from './settings.ts';

export interface PytorchCommand extends OfficialCommands {
  /** The main_pretrain.py line (same as `pretrain`). */
  command: string;
}

export interface CommandContext {
  /** Images in the dataset (for steps → epochs). */
  datasetSize: number;
  /** The official-pretrain checkpoint file to resume from. */
  checkpointFile: string;
  /** Steps already trained. */
  stepsDone: number;
  /** GPUs for torchrun --nproc_per_node (default 1). */
  gpus?: number;
}

export function pytorchCommand(s: Settings, ctx: CommandContext): PytorchCommand {
  const config = customConfig([...s.depths], [...s.dims], s.decoderDim, s.decoderDepth, s.grn);
  const lines = officialCommandLines({
    config,
    options: { grnMode: s.grnMode, gelu: s.gelu, normPix: s.normPix, denseEncoder: s.denseEncoder, freezeEncoder: s.freezeEncoder },
    training: { inputSize: s.inputSize, batchSize: s.batchSize, maskRatio: s.maskRatio, blr: s.blr, warmupSteps: s.warmupSteps, totalSteps: s.totalSteps, seed: s.seed },
    adamw: { weightDecay: s.weightDecay, decayRule: s.weightDecayRule },
    stepsDone: ctx.stepsDone,
    datasetSize: ctx.datasetSize,
    gpus: ctx.gpus ?? 1,
    checkpointFile: ctx.checkpointFile,
  });
  return { ...lines, command: lines.pretrain };
}

