// `finetune-grads`: the loss, logits, features and every parameter gradient of one
// classification step (no drop path, no update) for a checkpoint and a labelled batch, written
// under the checkpoint's own names and shapes (evaluation-spec §6) — what a researcher compares
// with timm's or transformers' autograd.
import { writeFileSync } from 'node:fs';
import { basename } from 'node:path';
import { classifierWeightsFrom } from '../../io/classifier-weights.ts';
import { inFileLayout } from '../../io/file-layout.ts';
import { openAnyCheckpoint } from '../../io/native-checkpoint.ts';
import { writeSafetensors, type WriteTensor } from '../../io/safetensors.ts';
import { stateDictFromFlat } from '../../model/state-dict.ts';
import { ClassifierTrainer } from '../../train/classifier-trainer.ts';
import { Options, UsageError } from '../args.ts';
import { readLabelledBatchFile } from '../batch-file.ts';
import type { CliContext } from '../context.ts';

export const finetuneGradsUsage = 'finetune-grads --checkpoint FILE --batch FILE --out FILE [--label-smoothing E] [--classes K] [--gelu erf|tanh] [--seed S]';

export async function finetuneGradsCommand(argv: string[], cli: CliContext): Promise<void> {
  const cmd = 'finetune-grads';
  const o = Options.parse(cmd, argv, {
    checkpoint: { type: 'string' },
    batch: { type: 'string' },
    out: { type: 'string' },
    'label-smoothing': { type: 'string' },
    classes: { type: 'string' },
    gelu: { type: 'string' },
    seed: { type: 'string' },
  });
  const ckptPath = o.string('checkpoint');
  const out = o.string('out');
  const smoothing = o.number('label-smoothing', 0, { min: 0, max: 0.999 });
  const gelu = o.choice('gelu', ['erf', 'tanh'] as const, 'erf');
  const seed = o.number('seed', 0, { integer: true, min: 0, max: 2 ** 32 - 1 });
  const bytes = o.file('checkpoint', ckptPath);
  const ckpt = openAnyCheckpoint(bytes, basename(ckptPath));
  const classes = o.has('classes') ? o.number('classes', undefined, { integer: true, min: 1 }) : ckpt.config.numClasses;
  if (classes === null) throw new UsageError(`${cmd}: ${ckpt.fileName} has no classification head; pass --classes K to initialise one`);
  const weights = classifierWeightsFrom(ckpt, classes, seed);
  for (const n of weights.notes) cli.warn(n);
  const batch = readLabelledBatchFile(o.string('batch'), weights.numClasses);
  if (batch.height !== batch.width) throw new UsageError(`${cmd}: the batch is ${batch.height}×${batch.width}; square inputs only`);

  const engine = await cli.engine();
  const trainer = await ClassifierTrainer.create(
    engine,
    {
      config: weights.config,
      numClasses: weights.numClasses,
      batchSize: batch.N,
      inputSize: batch.height,
      options: { gelu, labelSmoothing: smoothing },
      groups: { layerDecay: 1, weightDecay: 0 },
      learningRate: () => 0,
      seed,
    },
    weights.flat,
  );
  try {
    const r = await trainer.gradients(batch.imgs, batch.labels);
    const grads = inFileLayout(stateDictFromFlat(trainer.plan.table, r.grads), ckpt);
    if (grads.notInFile.length) cli.warn(`gradients of tensors ${ckpt.fileName} lacks (or holds at another size), under ${ckpt.scheme} names: ${grads.notInFile.join(', ')}`);
    const K = weights.numClasses;
    const d3 = weights.config.dims[3]!;
    const tensors: WriteTensor[] = [
      { name: 'loss', shape: [1], data: Float32Array.of(r.loss) },
      { name: 'logits', shape: [batch.N, K], data: r.logits },
      { name: 'features', shape: [batch.N, d3], data: r.features },
      ...[...grads.tensors].map(([name, t]) => ({ name, shape: t.shape, data: t.data })),
    ];
    writeFileSync(out, writeSafetensors(tensors, { scheme: ckpt.scheme, source: ckpt.fileName, label_smoothing: String(smoothing) }));
    cli.log(`loss ${r.loss.toPrecision(7)}; logits (${batch.N}, ${K}), features (${batch.N}, ${d3}) and ${grads.tensors.size} gradients (${ckpt.scheme} layout) written to ${out}`);
  } finally {
    trainer.destroy();
  }
}
