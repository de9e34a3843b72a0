// `finetune`: the encoder as a classifier on a labelled folder (evaluation-spec §2, §5, §6),
// headless. Writes into --out:
//   metrics.jsonl                 {step, loss, lr} per step; {step, val_top1, val_loss} at each evaluation
//   report.json                   val top-1, per-class accuracy, confusion matrix, the settings
//   checkpoint-NNNNNN.safetensors fine-tuning checkpoints (weights with the head, AdamW, EMA, settings)
// The batch of step k is a function of (seed, data, settings, k) (data/labelled-batches.ts) and
// drop path of (seed, k) (ClassifierTrainer), so `--resume` continues exactly. The run is
// src/train/finetune-run.ts (the browser worker's too): the step loop, two in flight, with
// evaluations and checkpoints at pause points.
import { appendFileSync, existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { LabelledBatches, stratifiedSplit } from '../../data/labelled-batches.ts';
import { classifierWeightsFrom, randomClassifierWeights } from '../../io/classifier-weights.ts';
import { readFineTuneCheckpoint, writeFineTuneCheckpoint, type FineTuneCheckpoint } from '../../io/finetune-checkpoint.ts';
import { openAnyCheckpoint } from '../../io/native-checkpoint.ts';
import { MODEL_SIZES, SIZE_NAMES, type SizeName } from '../../model/config.ts';
import { classifierParamTable } from '../../model/parameters.ts';
import { flatOrThrow, stateDictFromFlat } from '../../model/state-dict.ts';
import { ClassifierTrainer } from '../../train/classifier-trainer.ts';
import { runFineTune, type FineTuneEvaluation } from '../../train/finetune-run.ts';
import { FineTuneConfigError, fineTunePreset, FINETUNE_PRESETS, lrScheduleOfFineTune, paramGroupSettingsOf, validateFineTuneConfig, type FineTuneConfig, type FineTunePreset } from '../../train/finetune-config.ts';
import { learningRateAt } from '../../train/lr-schedule.ts';
import { NonFiniteLossError, type StepResult } from '../../train/trainer.ts';
import { Options, UsageError } from '../args.ts';
import type { CliContext } from '../context.ts';
import { evalImagesOf, loadLabelledFolder, type LabelledImages } from '../labelled-folder.ts';
import { grnFromOptions } from '../model-options.ts';
import { formatDuration, StepClock, truncateMetrics } from '../progress.ts';

export const finetuneUsage =
  'finetune --data DIR [--val DIR | --val-fraction F] (--checkpoint FILE | --model NAME | --depths a,b,c,d --dims a,b,c,d [--grn off]) [--preset official|small-data] ' +
  '[--input-size PX] [--batch-size N] [--steps S | --epochs E] [--blr X] [--warmup S] [--weight-decay W] [--layer-decay D] [--label-smoothing E] [--drop-path P] [--ema DECAY] ' +
  '[--seed K] [--eval-every S] [--checkpoint-every S] [--log-every S] [--out DIR] [--resume FILE]';

const CMD = 'finetune';
const pad = (k: number) => String(k).padStart(6, '0');

const SPEC = {
  data: { type: 'string' },
  val: { type: 'string' },
  'val-fraction': { type: 'string' },
  checkpoint: { type: 'string' },
  model: { type: 'string' },
  depths: { type: 'string' },
  dims: { type: 'string' },
  grn: { type: 'string' },
  preset: { type: 'string' },
  'input-size': { type: 'string' },
  'batch-size': { type: 'string' },
  steps: { type: 'string' },
  epochs: { type: 'string' },
  blr: { type: 'string' },
  warmup: { type: 'string' },
  'weight-decay': { type: 'string' },
  'layer-decay': { type: 'string' },
  'label-smoothing': { type: 'string' },
  'drop-path': { type: 'string' },
  ema: { type: 'string' },
  seed: { type: 'string' },
  'eval-every': { type: 'string' },
  'checkpoint-every': { type: 'string' },
  'log-every': { type: 'string' },
  out: { type: 'string' },
  resume: { type: 'string' },
} as const;

/** The settings flags and the FineTuneConfig field each overrides. */
const SETTING_FLAGS: [string, keyof FineTuneConfig][] = [
  ['input-size', 'inputSize'],
  ['batch-size', 'batchSize'],
  ['blr', 'blr'],
  ['warmup', 'warmupSteps'],
  ['weight-decay', 'weightDecay'],
  ['layer-decay', 'layerDecay'],
  ['label-smoothing', 'labelSmoothing'],
  ['drop-path', 'dropPath'],
  ['seed', 'seed'],
  ['eval-every', 'evalEvery'],
];


interface Data {
  train: LabelledImages;
  val: LabelledImages;
  trainIndices: number[];
  valIndices: number[];
  valSource: string | null;
  valFraction: number | null;
}

async function loadData(o: Options, inputSize: number, seed: number, cli: CliContext, resumed: FineTuneCheckpoint | null): Promise<Data> {
  const dataDir = o.string('data');
  const train = await loadLabelledFolder(dataDir, inputSize, cli, CMD, 'data');
  if (!train.classes.length) throw new UsageError(`${CMD}: --data ${dataDir}: no class subfolders; fine-tuning needs one folder per class (ImageFolder: DIR/<class>/<image>)`);
  if (train.classes.length < 2) throw new UsageError(`${CMD}: --data ${dataDir}: one class (${train.classes[0]}); a classifier needs at least 2`);
  if (o.has('val') && o.has('val-fraction')) throw new UsageError(`${CMD}: --val and --val-fraction both given; use one`);
  const valDir = o.string('val', undefined) ?? resumed?.data.valSource ?? null;
  if (valDir) {
    const val = await loadLabelledFolder(valDir, inputSize, cli, CMD, 'val');
    if (val.classes.join('\n') !== train.classes.join('\n')) {
      throw new UsageError(`${CMD}: --val ${valDir} has classes (${val.classes.join(', ')}), --data has (${train.classes.join(', ')}); they must be the same folders`);
    }
    return { train, val, trainIndices: train.images.map((_, i) => i), valIndices: val.images.map((_, i) => i), valSource: resolve(valDir), valFraction: null };
  }
  const fraction = o.has('val-fraction') ? o.number('val-fraction', undefined, { min: 0.01, max: 0.9 }) : (resumed?.data.valFraction ?? 0.2);
  const split = stratifiedSplit(train.labels, fraction, seed);
  if (!split.val.length) throw new UsageError(`${CMD}: --data ${dataDir}: too few images to hold any back for validation (every class has 1); pass --val DIR`);
  return { train, val: train, trainIndices: split.train, valIndices: split.val, valSource: null, valFraction: fraction };
}

export async function finetuneCommand(argv: string[], cli: CliContext): Promise<void> {
  const o = Options.parse(CMD, argv, SPEC);
  const resumePath = o.string('resume', undefined);
  const resumed = resumePath ? readFineTuneCheckpoint(o.file('resume'), basename(resumePath)) : null;
  if (resumed) {
    const given = [...SETTING_FLAGS.map(([flag]) => flag), 'preset', 'checkpoint', 'model', 'depths', 'dims', 'grn', 'ema', 'epochs'].filter((f) => o.has(f));
    if (given.length) throw new UsageError(`${CMD}: --resume continues ${basename(resumePath!)} with its own settings; drop ${given.map((f) => `--${f}`).join(', ')} (only --steps may extend it)`);
  }

  // ---- settings: a preset, overridden by the flags (or the resumed run's own)
  let settings: FineTuneConfig;
  const source = resumed ? null : o.has('checkpoint') ? 'checkpoint' : o.has('model') || o.has('depths') ? 'fresh' : null;
  if (!resumed && !source) throw new UsageError(`${CMD}: say which encoder to fine-tune: --checkpoint FILE, or --model NAME / --depths --dims for a random initialisation`);
  const ckpt = source === 'checkpoint' ? openAnyCheckpoint(o.file('checkpoint'), basename(o.string('checkpoint'))) : null;
  if (resumed) {
    settings = { ...resumed.settings };
    if (o.has('steps')) {
      const steps = o.number('steps', undefined, { integer: true, min: 1 });
      if (steps <= resumed.step) throw new UsageError(`${CMD}: --steps ${steps}: ${basename(resumePath!)} is already at step ${resumed.step}`);
      settings.totalSteps = steps;
    }
    if (resumed.step >= settings.totalSteps) throw new UsageError(`${CMD}: ${basename(resumePath!)} is at step ${resumed.step}, its planned end; pass --steps above ${resumed.step} to continue`);
  } else {
    const preset = o.choice('preset', FINETUNE_PRESETS, 'small-data') as FineTunePreset;
    const size = (ckpt?.size ?? (o.has('model') ? o.choice('model', SIZE_NAMES, 'atto') : undefined)) as SizeName | undefined;
    settings = fineTunePreset(preset, { size, totalSteps: 1 });
    for (const [flag, key] of SETTING_FLAGS) {
      if (!o.has(flag)) continue;
      (settings as unknown as Record<string, number>)[key] = o.number(flag, undefined, key === 'inputSize' || key === 'batchSize' || key === 'warmupSteps' || key === 'seed' || key === 'evalEvery' ? { integer: true, min: 0 } : { min: 0 });
    }
    if (o.has('ema')) settings.emaDecay = o.number('ema', undefined, { min: 0, max: 0.999999 });
  }

  // ---- data (the split needs the seed; the steps may need the image count)
  const data = await loadData(o, settings.inputSize, settings.seed, cli, resumed);
  const classes = data.train.classes;
  if (resumed && resumed.classes.join('\n') !== classes.join('\n')) {
    throw new UsageError(`${CMD}: --data has classes (${classes.join(', ')}), ${basename(resumePath!)} was trained on (${resumed.classes.join(', ')})`);
  }
  if (!resumed) {
    if (o.has('steps') && o.has('epochs')) throw new UsageError(`${CMD}: --steps and --epochs both given; use one`);
    const epochs = o.has('epochs') ? o.number('epochs', undefined, { min: 0.01 }) : null;
    const steps = epochs !== null ? Math.max(1, Math.ceil((epochs * data.trainIndices.length) / settings.batchSize)) : o.number('steps', 200, { integer: true, min: 1 });
    settings.totalSteps = steps;
    if (!o.has('warmup')) settings.warmupSteps = Math.round(steps * 0.05);
  }
  try {
    validateFineTuneConfig(settings);
  } catch (e) {
    if (e instanceof FineTuneConfigError) throw new UsageError(`${CMD}: ${e.message}`);
    throw e;
  }
  if (resumed && resumed.data.trainCount !== data.trainIndices.length) {
    cli.warn(`warning: ${data.trainIndices.length} training images, ${basename(resumePath!)}'s run had ${resumed.data.trainCount}: batches differ from the original run`);
  }

  // ---- model
  const K = classes.length;
  let config: FineTuneCheckpoint['config'];
  let initial: Float32Array;
  let initialisedFrom: string;
  if (resumed) {
    config = resumed.config;
    initial = flatOrThrow(classifierParamTable(config, K), resumed.params, basename(resumePath!));
    initialisedFrom = resumed.initialisedFrom;
  } else if (ckpt) {
    const w = classifierWeightsFrom(ckpt, K, settings.seed);
    for (const n of w.notes) cli.warn(n);
    config = w.config;
    initial = w.flat;
    initialisedFrom = ckpt.fileName;
  } else {
    const depthsDims = o.has('model') ? null : { depths: o.intList('depths', 4), dims: o.intList('dims', 4) };
    if (depthsDims && (!depthsDims.depths || !depthsDims.dims)) throw new UsageError(`${CMD}: --depths and --dims go together`);
    const named = o.has('model') ? o.choice('model', SIZE_NAMES, 'atto') : null;
    config = named ? { depths: [...MODEL_SIZES[named].depths], dims: [...MODEL_SIZES[named].dims], grn: grnFromOptions(o) } : { depths: depthsDims!.depths!, dims: depthsDims!.dims!, grn: grnFromOptions(o) };
    initial = randomClassifierWeights(config, K, settings.seed).flat;
    initialisedFrom = 'random initialisation';
  }
  const table = classifierParamTable(config, K);
  const out = o.string('out', undefined) ?? (resumed ? dirname(resumePath!) : join('runs', `finetune-${new Date().toISOString().replace(/[:.]/g, '-')}`));
  const metricsPath = join(out, 'metrics.jsonl');
  if (!resumed && existsSync(metricsPath)) throw new UsageError(`${CMD}: --out ${out}: already holds a run (metrics.jsonl); choose another folder or --resume one of its checkpoints`);
  mkdirSync(out, { recursive: true });
  if (resumed) truncateMetrics(metricsPath, resumed.step);

  const schedule = lrScheduleOfFineTune(settings);
  const engine = await cli.engine();
  const trainer = await ClassifierTrainer.create(
    engine,
    {
      config,
      numClasses: K,
      batchSize: settings.batchSize,
      inputSize: settings.inputSize,
      options: { labelSmoothing: settings.labelSmoothing, dropPath: settings.dropPath, emaDecay: settings.emaDecay },
      groups: paramGroupSettingsOf(settings),
      learningRate: (k) => learningRateAt(k - 1, schedule),
      seed: settings.seed,
    },
    initial,
  );
  let evaluator: ClassifierTrainer | null = null;
  const startStep = resumed?.step ?? 0;
  if (resumed) {
    const m = resumed.adamw ? flatOrThrow(table, resumed.adamw.m, 'AdamW m') : null;
    const v = resumed.adamw ? flatOrThrow(table, resumed.adamw.v, 'AdamW v') : null;
    trainer.restoreState({ step: startStep, params: initial, m, v });
    if (resumed.ema && trainer.plan.ema) trainer.restoreEma(flatOrThrow(table, resumed.ema, 'EMA'));
    cli.log(`resuming from ${resumePath} at step ${startStep}`);
  }
  const S = settings.inputSize;
  cli.log(
    `fine-tuning: ${initialisedFrom}; depths ${config.depths}, dims ${config.dims}${config.grn ? '' : ', no GRN'}, ${table.count.toLocaleString('en')} parameters; ${K} classes (${classes.join(', ')}); ` +
      `${data.trainIndices.length} training / ${data.valIndices.length} validation images${data.valSource ? ` (from ${data.valSource})` : ` (${Math.round(data.valFraction! * 100)} % held out, stratified)`}; ` +
      `${S}×${S} px, batch ${settings.batchSize}, ${settings.totalSteps} steps; peak lr ${schedule.peakLr.toExponential(3)} (blr ${settings.blr}), warmup ${settings.warmupSteps}, ` +
      `layer decay ${settings.layerDecay}, weight decay ${settings.weightDecay}, label smoothing ${settings.labelSmoothing}, drop path ${settings.dropPath}${settings.emaDecay !== null ? `, EMA ${settings.emaDecay}` : ''}; out ${out}`,
  );

  // ---- evaluation and checkpoints
  const valLabels = Int32Array.from(data.valIndices, (i) => data.val.labels[i]!);
  let lastVal: FineTuneEvaluation | null = null;
  const onEvaluation = (e: FineTuneEvaluation) => {
    lastVal = e;
    appendFileSync(metricsPath, JSON.stringify({ step: e.step, val_top1: e.report.top1, val_loss: e.loss }) + '\n');
    cli.log(`step ${e.step}: val top-1 ${(100 * e.report.top1).toFixed(2)} % (${e.report.count} images, chance ${(100 / K).toFixed(1)} %), val loss ${e.loss.toFixed(4)}`);
    clock.skipPause();
  };
  const evaluatorFor = async (params: Float32Array, k: number): Promise<ClassifierTrainer> => {
    evaluator ??= await ClassifierTrainer.create(engine, { ...trainer.settings, batchSize: Math.min(64, data.valIndices.length), options: { labelSmoothing: settings.labelSmoothing } }, params);
    evaluator.restoreState({ step: k, params, m: null, v: null });
    return evaluator;
  };
  let lastCheckpoint: string | null = resumePath ?? null;
  const checkpointEvery = o.number('checkpoint-every', 0, { integer: true, min: 0 });
  const save = async (k: number) => {
    const state = await trainer.saveState(true);
    const ema = await trainer.readEma();
    const bytes = writeFineTuneCheckpoint({
      config,
      classes,
      step: k,
      settings,
      initialisedFrom,
      data: { source: resolve(o.string('data')), valSource: data.valSource, valFraction: data.valFraction, trainCount: data.trainIndices.length, valCount: data.valIndices.length },
      params: stateDictFromFlat(table, state.params),
      adamw: { m: stateDictFromFlat(table, state.m!), v: stateDictFromFlat(table, state.v!) },
      ema: ema ? stateDictFromFlat(table, ema) : null,
    });
    const path = join(out, `checkpoint-${pad(k)}.safetensors`);
    writeFileSync(path + '.partial', bytes);
    renameSync(path + '.partial', path);
    lastCheckpoint = path;
    cli.log(`step ${k}: checkpoint ${path}`);
    clock.skipPause();
  };

  // ---- the run
  const batches = new LabelledBatches(data.train.images, data.train.labels, data.trainIndices, settings.batchSize, S, settings.seed);
  const logEvery = o.number('log-every', Math.max(1, Math.floor(settings.totalSteps / 20)), { integer: true, min: 1 });
  const clock = new StepClock();
  const stop = new AbortController();
  const onSigint = () => {
    stop.abort();
    cli.warn('interrupt: finishing the queued steps and saving a checkpoint');
  };
  process.once('SIGINT', onSigint);
  const onStep = (r: StepResult) => {
    const ms = clock.tick();
    appendFileSync(metricsPath, JSON.stringify({ step: r.step, loss: r.loss, lr: r.lr, step_ms: +ms.toFixed(3) }) + '\n');
    if (r.step === startStep + 1 || r.step % logEvery === 0 || r.step === settings.totalSteps) {
      const avg = clock.averageMs;
      const val = lastVal as FineTuneEvaluation | null;
      cli.log(
        `step ${r.step}/${settings.totalSteps}  loss ${r.loss.toFixed(4)}  lr ${r.lr.toExponential(2)}  ${((settings.batchSize * 1000) / avg).toFixed(2)} img/s  ETA ${formatDuration(avg * (settings.totalSteps - r.step))}` +
          (val ? `  val top-1 ${(100 * val.report.top1).toFixed(2)} % (step ${val.step})` : ''),
      );
    }
  };
  try {
    const end = await runFineTune({
      trainer,
      settings,
      startStep,
      batchFor: (k) => batches.batchFor(k),
      validation: { count: data.valIndices.length, imagesOf: evalImagesOf(data.val.images, S, data.valIndices), labels: valLabels },
      evaluator: evaluatorFor,
      signal: stop.signal,
      onStep,
      onEvaluation,
      checkpointAfter: (k) => checkpointEvery > 0 && k % checkpointEvery === 0,
      onCheckpoint: save,
    });
    if (end.failure) {
      const f = end.failure;
      if (!(f.error instanceof NonFiniteLossError)) throw f.error;
      throw new Error(`loss became ${f.error.loss} at step ${f.step}: fine-tuning stopped; ${lastCheckpoint ? `last checkpoint ${lastCheckpoint}` : 'no checkpoint was written before it'}; lower --blr (now ${settings.blr}) or raise --warmup (now ${settings.warmupSteps})`);
    }
    if (end.lastStep > startStep && !lastCheckpoint?.endsWith(`checkpoint-${pad(end.lastStep)}.safetensors`)) await save(end.lastStep);
    if (!end.final) {
      cli.log(`stopped at step ${end.lastStep} on request; resume with --resume ${lastCheckpoint}`);
      return;
    }
    const report = end.final.report;
    const reportPath = join(out, 'report.json');
    writeFileSync(
      reportPath,
      JSON.stringify(
        {
          val_top1: report.top1,
          val_loss: end.final.loss,
          val_images: report.count,
          chance_top1: 1 / K,
          classes,
          per_class_accuracy: Object.fromEntries(classes.map((c, k) => [c, Number.isNaN(report.perClass[k]!) ? null : report.perClass[k]])),
          confusion_matrix: report.confusion,
          confusion_matrix_axes: 'rows: true class, columns: predicted class, in the order of classes',
          step: end.lastStep,
          initialised_from: initialisedFrom,
          model: config,
          settings,
          checkpoint: lastCheckpoint,
        },
        null,
        2,
      ) + '\n',
    );
    cli.log(`done: val top-1 ${(100 * report.top1).toFixed(2)} % on ${report.count} images (chance ${(100 / K).toFixed(1)} %); report ${reportPath}`);
  } finally {
    process.removeListener('SIGINT', onSigint);
    trainer.destroy();
    (evaluator as ClassifierTrainer | null)?.destroy();
  }
}

