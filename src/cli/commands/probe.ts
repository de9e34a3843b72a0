// `probe`: how good the encoder's frozen features are (evaluation-spec §3, §6): kNN (DINO's
// weighted rule) or a linear probe (MAE's BatchNorm-without-affine + Linear) from a labelled
// training folder to a labelled validation folder, with the same probe on a random
// initialisation of the same architecture beside it (at toy scale random convolutional features
// are strong under kNN; a pretrained figure means little without its baseline).
import { writeFileSync } from 'node:fs';
import { basename } from 'node:path';
import { classifierWeightsFrom, randomClassifierWeights } from '../../io/classifier-weights.ts';
import { openAnyCheckpoint } from '../../io/native-checkpoint.ts';
import { validateInputSize } from '../../model/config.ts';
import { classifyWith } from '../../train/classify-all.ts';
import { predictions } from '../../train/classification-metrics.ts';
import { knnPredict, KNN_DEFAULTS, LINEAR_PROBE_DEFAULTS, linearProbeLogits, trainLinearProbe, type Features } from '../../train/probes.ts';
import { Options, UsageError } from '../args.ts';
import type { CliContext } from '../context.ts';
import { evalImagesOf, loadLabelledFolder, type LabelledImages } from '../labelled-folder.ts';

export const probeUsage =
  'probe --checkpoint FILE --train DIR --val DIR --method knn|linear [--k 20] [--temperature 0.07] [--epochs 100] [--lr 0.1] [--input-size S] [--baseline true|false] [--seed S] --out R.json';

const CMD = 'probe';

interface ProbeResult {
  top1: number;
  predictions: number[];
}

export async function probeCommand(argv: string[], cli: CliContext): Promise<void> {
  const o = Options.parse(CMD, argv, {
    checkpoint: { type: 'string' },
    train: { type: 'string' },
    val: { type: 'string' },
    method: { type: 'string' },
    k: { type: 'string' },
    temperature: { type: 'string' },
    epochs: { type: 'string' },
    lr: { type: 'string' },
    'input-size': { type: 'string' },
    baseline: { type: 'string' },
    seed: { type: 'string' },
    'batch-size': { type: 'string' },
    out: { type: 'string' },
  });
  if (!o.has('method')) throw new UsageError(`${CMD}: --method is required (knn or linear)`);
  const method = o.choice('method', ['knn', 'linear'] as const, 'knn');
  const k = o.number('k', KNN_DEFAULTS.k, { integer: true, min: 1 });
  const temperature = o.number('temperature', KNN_DEFAULTS.temperature, { min: 1e-6 });
  const epochs = o.number('epochs', LINEAR_PROBE_DEFAULTS.epochs, { integer: true, min: 1, max: 100_000 });
  const lr = o.number('lr', LINEAR_PROBE_DEFAULTS.lr, { min: 0 });
  const size = o.number('input-size', 224, { integer: true, min: 32 });
  validateInputSize(size, size);
  const baseline = o.bool('baseline', true);
  const seed = o.number('seed', 0, { integer: true, min: 0, max: 2 ** 32 - 1 });
  const out = o.string('out');
  const ckptPath = o.string('checkpoint');
  const ckpt = openAnyCheckpoint(o.file('checkpoint', ckptPath), basename(ckptPath));
  const weights = classifierWeightsFrom(ckpt, 1, seed);
  if (!ckpt.tensors.has('norm.weight')) cli.warn(`no final norm in ${ckpt.fileName} (an FCMAE encoder has none): features use weight 1, bias 0, as fine-tuning starts`);

  const train = await loadLabelledFolder(o.string('train'), size, cli, CMD, 'train');
  const val = await loadLabelledFolder(o.string('val'), size, cli, CMD, 'val');
  for (const [flag, set] of [['train', train], ['val', val]] as const) {
    if (!set.classes.length) throw new UsageError(`${CMD}: --${flag} ${o.string(flag)}: no class subfolders; probes need one folder per class`);
  }
  if (train.classes.join('\n') !== val.classes.join('\n')) {
    throw new UsageError(`${CMD}: --val has classes (${val.classes.join(', ')}), --train has (${train.classes.join(', ')}); they must be the same folders`);
  }
  if (method === 'linear' && train.images.length < 2) throw new UsageError(`${CMD}: --train: a linear probe needs at least 2 training images`);
  const K = train.classes.length;
  const batchSize = o.number('batch-size', 32, { integer: true, min: 1, max: 4096 });
  const engine = await cli.engine();

  const run = async (w: { config: typeof weights.config; numClasses: number; flat: Float32Array }): Promise<ProbeResult> => {
    const featuresOf = async (set: LabelledImages): Promise<Features> => {
      const r = await classifyWith(engine, w, size, set.images.length, evalImagesOf(set.images, size), { batchSize });
      return { data: r.features, count: set.images.length, dim: w.config.dims[3]! };
    };
    const [ft, fv] = [await featuresOf(train), await featuresOf(val)];
    const predicted =
      method === 'knn'
        ? knnPredict(ft, train.labels, fv, { k, temperature, numClasses: K })
        : predictions(Float32Array.from(linearProbeLogits(trainLinearProbe(ft, train.labels, { numClasses: K, epochs, lr, momentum: LINEAR_PROBE_DEFAULTS.momentum }), fv)), fv.count, K);
    let right = 0;
    predicted.forEach((p, i) => (right += p === val.labels[i] ? 1 : 0));
    return { top1: right / predicted.length, predictions: [...predicted] };
  };

  const pretrained = await run(weights);
  const random = baseline ? await run(randomClassifierWeights(weights.config, 1, seed)) : null;
  const what = method === 'knn' ? `kNN (k ${Math.min(k, train.images.length)}, T ${temperature})` : `linear probe (${epochs} epochs, lr ${lr})`;
  writeFileSync(
    out,
    JSON.stringify(
      {
        method,
        top1: pretrained.top1,
        predictions: pretrained.predictions,
        baseline: random ? { encoder: `random initialisation (seed ${seed})`, top1: random.top1, predictions: random.predictions } : null,
        chance_top1: 1 / K,
        classes: train.classes,
        val_paths: val.paths,
        train_images: train.images.length,
        val_images: val.images.length,
        input_size: size,
        checkpoint: ckpt.fileName,
        settings: method === 'knn' ? { k, temperature } : { epochs, lr, momentum: LINEAR_PROBE_DEFAULTS.momentum },
      },
      null,
      2,
    ) + '\n',
  );
  cli.log(
    `${what}: top-1 ${(100 * pretrained.top1).toFixed(2)} % on ${val.images.length} images` +
      (random ? `; random-init baseline ${(100 * random.top1).toFixed(2)} %` : '') +
      `; chance ${(100 / K).toFixed(1)} %; ${out}`,
  );
}
