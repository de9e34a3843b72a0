// `reconstruct`: what a checkpoint's decoder makes of masked images, as a grid PNG (rows =
// images; columns = original | masked input | reconstruction | reconstruction with the visible
// patches pasted back). Any checkpoint openCheckpoint understands works; an encoder-only file
// gets a freshly initialised decoder, which is said loudly since its pictures mean nothing.
// Also home of the helpers `train` shares: loading an image folder and drawing the grid.
import { writeFileSync } from 'node:fs';
import { basename } from 'node:path';
import { makeEvalBatch } from '../../data/augment.ts';
import { normalisedToRgba } from '../../data/display.ts';
import type { PixelImage } from '../../data/image.ts';
import { decodeFolder, indexFolder, type FolderIndex } from '../../data/node-folder.ts';
import { openAnyCheckpoint } from '../../io/native-checkpoint.ts';
import { formatLoadReport } from '../../io/name-schemes.ts';
import { encodePng, panelGrid, type RgbaImage } from '../../io/png.ts';
import type { ModelConfig, StepOptions } from '../../model/config.ts';
import { initialParams, paramTable, toEngineLayout } from '../../model/parameters.ts';
import type { Reconstruction } from '../../model/reconstruction.ts';
import type { StateDict } from '../../model/state-dict.ts';
import { describeVisible, generateMasks } from '../../train/masking.ts';
import { Trainer } from '../../train/trainer.ts';
import { Random } from '../../util/random.ts';
import { Options, UsageError } from '../args.ts';
import type { CliContext } from '../context.ts';
import { checkInputSize, checkMaskRatio } from '../shape-options.ts';
import { checkpointModelConfig, checkpointProblems, DECODER_OPTION_SPEC, STEP_OPTION_SPEC, stepOptionsFrom } from '../model-options.ts';
import { decodeSizeFor } from '../../train/run-config.ts';

export const reconstructUsage =
  'reconstruct --checkpoint FILE --images DIR --out FILE.png [--mask-ratio R] [--seed K] [--input-size PX] [--count N] [--decoder-dim D] [--decoder-depth K] [--grn per-sample|batch|off] [--gelu erf|tanh] [--norm-pix true|false]';

export interface LoadedFolder {
  index: FolderIndex;
  images: PixelImage[];
}

/**
 * Index + decode a folder; every skipped file is printed to stderr with its reason. Throws a
 * UsageError naming `option` when the folder cannot be opened or holds no decodable image.
 */
export async function loadImageFolder(
  dir: string,
  decodeSide: number,
  cli: CliContext,
  command: string,
  option: string,
  onDecoded?: (d: LoadedFolder) => void,
): Promise<LoadedFolder> {
  let index: FolderIndex;
  try {
    index = await indexFolder(dir);
  } catch (e) {
    throw new UsageError(`${command}: --${option} ${dir}: ${(e as Error).message}`);
  }
  const decoded = await decodeFolder(index, { shorterSide: decodeSide });
  for (const s of decoded.index.skipped) cli.warn(`skipped ${s.path}: ${s.reason} (${s.code})`);
  onDecoded?.(decoded);
  if (decoded.images.length === 0) {
    throw new UsageError(`${command}: --${option} ${dir}: no decodable images (${decoded.index.skipped.length} files skipped)`);
  }
  return decoded;
}

/** Grid rows = samples; columns = original | masked input | prediction | prediction pasted. */
export function reconstructionGrid(images: Float32Array, rec: Reconstruction, N: number, size: number): RgbaImage {
  const panel = (batch: Float32Array, n: number): RgbaImage => ({ width: size, height: size, data: normalisedToRgba(batch, n, size, size) });
  const rows: RgbaImage[][] = [];
  for (let n = 0; n < N; n++) rows.push([panel(images, n), panel(rec.maskedInput, n), panel(rec.predicted, n), panel(rec.pasted, n)]);
  return panelGrid(rows, 2);
}

/**
 * Flat engine parameters: the seeded initialisation, overwritten by every tensor the state
 * dict has (others, e.g. an absent decoder, keep their initial values).
 */
export function paramsWithOverrides(config: ModelConfig, tensors: StateDict, seed: number): Float32Array {
  const table = paramTable(config);
  const flat = initialParams(table, new Random(seed));
  for (const spec of table.specs) {
    const t = tensors.get(spec.name);
    if (t) flat.set(toEngineLayout(spec, t.data), spec.offset);
  }
  return flat;
}

export async function reconstructCommand(argv: string[], cli: CliContext): Promise<void> {
  const cmd = 'reconstruct';
  const o = Options.parse(cmd, argv, {
    checkpoint: { type: 'string' },
    images: { type: 'string' },
    out: { type: 'string' },
    'mask-ratio': { type: 'string' },
    seed: { type: 'string' },
    'input-size': { type: 'string' },
    count: { type: 'string' },
    ...DECODER_OPTION_SPEC,
    ...STEP_OPTION_SPEC,
  });
  const ckptPath = o.string('checkpoint');
  const dir = o.string('images');
  const out = o.string('out');
  if (!out.toLowerCase().endsWith('.png')) throw new UsageError(`${cmd}: --out ${out}: must name a .png file`);
  const seed = o.number('seed', 0, { integer: true, min: 0, max: 2 ** 32 - 1 });
  const count = o.number('count', 8, { integer: true, min: 1, max: 64 });
  const bytes = o.file('checkpoint', ckptPath);
  const ckpt = openAnyCheckpoint(bytes, basename(ckptPath));
  // A native file knows its run's input size, ratio and step options; the flags override them.
  const native = ckpt.native;
  const inputSize = o.number('input-size', native?.training.inputSize ?? 224, { integer: true });
  checkInputSize(cmd, inputSize);
  const L = (inputSize / 32) ** 2;
  // the flag's ratio becomes a count here; a native file's own count holds at its own input size
  const visible = o.has('mask-ratio') || !native
    ? checkMaskRatio(cmd, o.number('mask-ratio', 0.6), inputSize)
    : inputSize === native.training.inputSize
      ? native.training.visiblePatches
      : checkMaskRatio(cmd, native.training.maskRatio, inputSize);
  const defaults = stepOptionsFrom(o);
  const options: StepOptions = native
    ? {
        grnMode: o.has('grn') ? defaults.grnMode : native.options.grnMode,
        gelu: o.has('gelu') ? defaults.gelu : native.options.gelu,
        normPix: o.has('norm-pix') ? defaults.normPix : native.options.normPix,
        denseEncoder: o.has('dense-encoder') ? defaults.denseEncoder : native.options.denseEncoder,
      }
    : defaults;

  for (const line of formatLoadReport(ckpt.report)) cli.warn(line);
  const problems = checkpointProblems(ckpt.report);
  if (problems.length) throw new Error(`${ckpt.fileName}: ${problems.join('; ')}`);
  if (ckpt.report.classifier.length) cli.warn(`${ckpt.fileName}: classification head (${ckpt.report.classifier.join(', ')}) not used by FCMAE`);
  if (!ckpt.report.decoderInFile) cli.warn(`warning: ${ckpt.fileName} has no decoder: the reconstructions below come from a random decoder and are meaningless`);
  const config = checkpointModelConfig(o, ckpt);
  const flat = paramsWithOverrides(config, ckpt.tensors, seed);

  const { images } = await loadImageFolder(dir, decodeSizeFor(inputSize), cli, cmd, 'images');
  const N = Math.min(count, images.length);
  const batch = makeEvalBatch(images, Array.from({ length: N }, (_, i) => i), inputSize); // (N, 3, S, S)
  const mask = generateMasks(N, L, visible, new Random(seed)); // (N, L)

  const engine = await cli.engine();
  const trainer = await Trainer.create(engine, { config, batchSize: N, height: inputSize, width: inputSize, visible, options, learningRate: () => 0, seed }, flat);
  try {
    const rec = await trainer.reconstruct(batch, mask);
    writeFileSync(out, encodePng(reconstructionGrid(batch, rec, N, inputSize)));
    const how = rec.denormalisation === 'true-patch-statistics' ? '; predictions de-normalised with each true patch mean and std (norm-pix target)' : '';
    cli.log(`loss ${rec.loss.toPrecision(6)} on ${N} images, ${describeVisible(L, visible)} (${inputSize} px)${how}`);
    cli.log(`grid (original | masked input | reconstruction | reconstruction + visible patches) written to ${out}`);
  } finally {
    trainer.destroy();
  }
}
