// `embed`: the encoder's features (the pooled LayerNorm output, timm's pre-logits) and, when the
// checkpoint has a head, its logits, for a batch file or a folder of images (evaluation-spec §6).
import { readFileSync, writeFileSync } from 'node:fs';
import { basename } from 'node:path';
import { classifierWeightsFrom } from '../../io/classifier-weights.ts';
import { openAnyCheckpoint } from '../../io/native-checkpoint.ts';
import { parseSafetensors, writeSafetensors, type WriteTensor } from '../../io/safetensors.ts';
import { validateInputSize } from '../../model/config.ts';
import { classifyWith } from '../../train/classify-all.ts';
import { Options, UsageError } from '../args.ts';
import type { CliContext } from '../context.ts';
import { evalImagesOf, loadLabelledFolder } from '../labelled-folder.ts';

export const embedUsage = 'embed --checkpoint FILE (--batch FILE | --images DIR [--input-size S]) --out FILE.safetensors [--batch-size B] [--gelu erf|tanh]';

export async function embedCommand(argv: string[], cli: CliContext): Promise<void> {
  const cmd = 'embed';
  const o = Options.parse(cmd, argv, {
    checkpoint: { type: 'string' },
    batch: { type: 'string' },
    images: { type: 'string' },
    'input-size': { type: 'string' },
    'batch-size': { type: 'string' },
    out: { type: 'string' },
    gelu: { type: 'string' },
  });
  if (o.has('batch') === o.has('images')) throw new UsageError(`${cmd}: give exactly one of --batch FILE and --images DIR`);
  if (o.has('batch') && o.has('input-size')) throw new UsageError(`${cmd}: --input-size applies to --images only (a batch file has its own size)`);
  const ckptPath = o.string('checkpoint');
  const out = o.string('out');
  const gelu = o.choice('gelu', ['erf', 'tanh'] as const, 'erf');
  const bytes = o.file('checkpoint', ckptPath);
  const ckpt = openAnyCheckpoint(bytes, basename(ckptPath));
  const hasHead = ckpt.config.numClasses !== null && ckpt.tensors.has('head.weight');
  // Without a head the plan still needs one: a 1-class head whose logits are not written.
  const weights = classifierWeightsFrom(ckpt, hasHead ? ckpt.config.numClasses : 1, 0);
  if (!ckpt.tensors.has('norm.weight')) cli.warn(`no final norm in ${ckpt.fileName} (an FCMAE encoder has none): features use weight 1, bias 0, as fine-tuning starts`);

  let count: number;
  let size: number;
  let imagesOf: (start: number, n: number) => Float32Array;
  let labels: Int32Array | null = null;
  if (o.has('batch')) {
    const path = o.string('batch');
    const file = parseSafetensors(new Uint8Array(readFileSync(path)), { source: basename(path) });
    const imgs = file.tensors.get('imgs');
    if (!imgs || imgs.shape.length !== 4 || imgs.shape[1] !== 3) throw new UsageError(`${cmd}: ${basename(path)}: needs 'imgs' (N, 3, H, W)`);
    const [N, , H, W] = imgs.shape as [number, number, number, number];
    if (H !== W) throw new UsageError(`${cmd}: ${basename(path)}: imgs is ${H}×${W}; square inputs only`);
    validateInputSize(H, W);
    count = N;
    size = H;
    imagesOf = (start, n) => imgs.data.slice(start * 3 * H * W, (start + n) * 3 * H * W);
  } else {
    size = o.number('input-size', 224, { integer: true, min: 32 });
    validateInputSize(size, size);
    const dir = o.string('images');
    const folder = await loadLabelledFolder(dir, size, cli, cmd, 'images');
    count = folder.images.length;
    imagesOf = evalImagesOf(folder.images, size);
    labels = folder.labels;
    cli.log(`images: ${count} from ${dir}${folder.classes.length ? ` in ${folder.classes.length} classes (${folder.classes.join(', ')})` : ' (unlabelled)'}`);
  }
  const batchSize = o.number('batch-size', Math.min(count, 32), { integer: true, min: 1, max: 4096 });
  const r = await classifyWith(await cli.engine(), weights, size, count, imagesOf, { batchSize, gelu });
  const d3 = weights.config.dims[3]!;
  const tensors: WriteTensor[] = [{ name: 'features', shape: [count, d3], data: r.features }];
  if (hasHead) tensors.push({ name: 'logits', shape: [count, weights.numClasses], data: r.logits });
  if (labels) tensors.push({ name: 'labels', shape: [count], data: BigInt64Array.from(labels, (y) => BigInt(y)) });
  writeFileSync(out, writeSafetensors(tensors, { source: ckpt.fileName, input_size: String(size) }));
  cli.log(`features (${count}, ${d3})${hasHead ? `, logits (${count}, ${weights.numClasses})` : ''}${labels ? ', labels' : ''} written to ${out}`);
}
