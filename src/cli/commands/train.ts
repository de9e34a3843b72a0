// `train`: FCMAE pretraining on a folder of images, headless. Writes into the run folder:
//   metrics.jsonl                one JSON line per step {step, loss, lr, step_ms, images_per_s}
//   skipped.tsv                  every file of the folder that was not used, with its reason
//   checkpoint-NNNNNN.safetensors native checkpoints (weights, AdamW moments, settings), periodic + final
//   reconstruction-NNNNNN.png    grid: fixed evaluation images × (original | masked | prediction | pasted)
// Checkpoints every --checkpoint-every steps (0: only the last) and at the end; a NaN loss stops
// the run without writing over the last good checkpoint; Ctrl-C stops after saving one.
//
// Determinism: the run is src/train/run.ts's TrainingRun, as in the browser worker: the batch and
// the mask of step k come from streams keyed by (seed, k), and images are drawn epoch by epoch
// from a permutation keyed by (seed, epoch). Nothing depends on how the run got to step k, so
// `--resume` from a checkpoint with AdamW state repeats the continuing run's next losses exactly.
// `--checkpoint FILE` instead starts a new run from any readable file's weights
// (src/cli/start-from-checkpoint.ts); `--freeze-encoder` trains only what follows the encoder.
// The steps run through src/train/step-loop.ts, two in flight: the batch of step k+1 is
// augmented on the CPU and queued while the GPU still runs step k; a loss is awaited only once
// its successor is queued; a checkpoint waits for the steps before it.
import { appendFileSync, existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { makeEvalBatch } from '../../data/augment.ts';
import type { PixelImage } from '../../data/image.ts';
import { formatSkippedTsv } from '../../data/node-folder.ts';
import { isNativeCheckpoint, readNativeCheckpoint, writeNativeCheckpoint, type NativeCheckpoint } from '../../io/native-checkpoint.ts';
import { officialPretrainAsNative } from '../../io/official-pretrain.ts';
import { cliDefaultRunConfig, decodeSizeFor, WARMUP_FRACTION, lrScheduleOf, type TrainingSettings } from '../../train/run-config.ts';
import { checkedRunConfig } from '../run-config-flags.ts';
import { encodePng } from '../../io/png.ts';
import { type ModelConfig, type StepOptions } from '../../model/config.ts';
import { initialParams, isEncoderParam, paramTable } from '../../model/parameters.ts';
import { checkpointStart, type CheckpointStart } from '../start-from-checkpoint.ts';
import { flatOrThrow, stateDictFromFlat } from '../../model/state-dict.ts';
import { ADAMW_DEFAULTS, WEIGHT_DECAY_RULES, type AdamWConfig } from '../../ops/adamw.ts';
import { learningRateAt, type LrSchedule } from '../../train/lr-schedule.ts';
import { describeVisible } from '../../train/masking.ts';
import { evaluationMasks, evaluationSlots, TrainingRun, type StepBatch } from '../../train/run.ts';
import { runStepLoop } from '../../train/step-loop.ts';
import { pixelBatchSource } from '../../data/pixel-batch-source.ts';
import { NonFiniteLossError, Trainer, type StepResult } from '../../train/trainer.ts';
import { Random } from '../../util/random.ts';
import { Options, UsageError } from '../args.ts';
import { formatDuration, truncateMetrics } from '../progress.ts';
import type { CliContext } from '../context.ts';
import { MODEL_OPTION_SPEC, STEP_OPTION_SPEC, checkGrnOption, modelConfigFromOptions, stepOptionsFrom } from '../model-options.ts';
import { loadImageFolder, reconstructionGrid } from './reconstruct.ts';
import { checkInputSize, checkMaskRatio } from '../shape-options.ts';

/** What an unset flag means (the run configuration's CLI defaults). */
const RUN_DEFAULTS = cliDefaultRunConfig();

export const trainUsage =
  'train --data DIR (--model NAME | --depths a,b,c,d --dims a,b,c,d) [--decoder-dim D] [--decoder-depth K] [--input-size PX] [--batch-size N] ' +
  '[--mask-ratio R] [--steps S] [--blr X] [--warmup S] [--seed K] [--grn per-sample|batch|off] [--gelu erf|tanh] [--norm-pix true|false] ' +
  '[--weight-decay-rule maintainers|official] [--out DIR] [--checkpoint-every S] [--log-every S] [--eval-images N] [--resume FILE | --checkpoint FILE] [--freeze-encoder]\n' +
  '  --resume FILE: a native checkpoint, or an official main_pretrain.py checkpoint-N.pth (model, AdamW moments and step, args) — what cannot be taken is printed\n' +
  '  --checkpoint FILE: a new run (step 0, fresh AdamW) from any checkpoint file\'s weights; what the file lacks (e.g. the decoder of an encoder-only file) is freshly initialised\n' +
  '  --freeze-encoder: decoder warm-up; only proj, mask token, decoder and pred train, the encoder stays bit-identical\n' +
  '  --weight-decay-rule: maintainers (default; GRN and the mask token not decayed) or official (as main_pretrain.py: every tensor with more than one dimension except .bias)\n' +
  '  Continue in PyTorch: fcmae convert --in CHECKPOINT --format official-pretrain --out FILE.pth [--gpus N] prints the torchrun command lines';

/** Steps queued on the GPU before the oldest loss is awaited. */
const MAX_IN_FLIGHT = 2;
const CMD = 'train';

// ---- options -----------------------------------------------------------------------------------

interface RunPlan {
  config: ModelConfig;
  options: StepOptions;
  training: TrainingSettings;
  schedule: LrSchedule;
  out: string;
  dataDir: string;
  checkpointEvery: number;
  logEvery: number;
  evalImages: number;
  resume: { path: string; checkpoint: NativeCheckpoint } | null;
  /** --checkpoint: a new run from a file's weights (src/cli/start-from-checkpoint.ts). */
  start: CheckpointStart | null;
  /** AdamW constants and the weight-decay rule of the run. */
  adamw: AdamWConfig;
  /** Facts to print before the run (e.g. what an official checkpoint gave). */
  facts: string[];
  /** Warnings found while reading the options. */
  notes: string[];
}

const SPEC = {
  data: { type: 'string' },
  ...MODEL_OPTION_SPEC,
  'input-size': { type: 'string' },
  'batch-size': { type: 'string' },
  'mask-ratio': { type: 'string' },
  steps: { type: 'string' },
  blr: { type: 'string' },
  warmup: { type: 'string' },
  seed: { type: 'string' },
  ...STEP_OPTION_SPEC,
  out: { type: 'string' },
  'checkpoint-every': { type: 'string' },
  'log-every': { type: 'string' },
  'eval-images': { type: 'string' },
  resume: { type: 'string' },
  checkpoint: { type: 'string' },
  'freeze-encoder': { type: 'boolean' },
  'weight-decay-rule': { type: 'string' },
} as const;

/** Training settings from the flags; unset ones from `defaults` (or the built-in defaults). */
function trainingFromOptions(o: Options, defaults: TrainingSettings | null): TrainingSettings {
  const inputSize = o.number('input-size', defaults?.inputSize ?? RUN_DEFAULTS.inputSize, { integer: true });
  checkInputSize(CMD, inputSize);
  const batchSize = o.number('batch-size', defaults?.batchSize ?? RUN_DEFAULTS.batchSize, { integer: true, min: 1, max: 4096 });
  const maskRatio = o.number('mask-ratio', defaults?.maskRatio ?? RUN_DEFAULTS.maskRatio);
  // the ratio becomes the plan's visible count here, once; a file's own count holds at its own size
  const visiblePatches = defaults && !o.has('mask-ratio') && inputSize === defaults.inputSize ? defaults.visiblePatches : checkMaskRatio(CMD, maskRatio, inputSize);
  const totalSteps = o.number('steps', defaults?.totalSteps ?? RUN_DEFAULTS.totalSteps, { integer: true, min: 1 });
  const blr = o.number('blr', defaults?.blr ?? RUN_DEFAULTS.blr, { min: 0 });
  const warmupSteps = o.number('warmup', defaults && !o.has('steps') ? defaults.warmupSteps : Math.round(WARMUP_FRACTION * totalSteps), { integer: true, min: 0 });
  const seed = o.number('seed', defaults?.seed ?? RUN_DEFAULTS.seed, { integer: true, min: 0, max: 2 ** 32 - 1 });
  return { inputSize, batchSize, maskRatio, visiblePatches, blr, warmupSteps, totalSteps, seed };
}

function timestamp(): string {
  const d = new Date();
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}${p(d.getMonth() + 1)}${p(d.getDate())}-${p(d.getHours())}${p(d.getMinutes())}${p(d.getSeconds())}`;
}

function parseRun(argv: string[]): RunPlan {
  const o = Options.parse(CMD, argv, SPEC);
  const dataDir = o.string('data');
  const start = o.has('checkpoint') ? checkpointStart(o) : null;
  const freeze = o.has('freeze-encoder');
  let resume: RunPlan['resume'] = null;
  const facts: string[] = [];
  const notes: string[] = [];
  if (o.has('resume')) {
    const path = o.string('resume');
    const bytes = o.file('resume', path);
    try {
      const official = isNativeCheckpoint(bytes) ? null : officialPretrainAsNative(bytes, basename(path));
      if (official) {
        facts.push(`${basename(path)}: official FCMAE training checkpoint`, ...official.imported.notes);
        notes.push(...official.imported.untaken.map((u) => `not taken from ${basename(path)}: ${u}`));
      }
      resume = { path, checkpoint: official ? official.checkpoint : readNativeCheckpoint(bytes, basename(path)) };
    } catch (e) {
      throw new UsageError(`${CMD}: --resume ${(e as Error).message}`);
    }
  }
  const askedRule = o.has('weight-decay-rule') ? o.choice('weight-decay-rule', WEIGHT_DECAY_RULES, 'maintainers') : null;

  let config: ModelConfig;
  let options: StepOptions;
  let training: TrainingSettings;
  let adamw: AdamWConfig = { ...ADAMW_DEFAULTS, decayRule: askedRule ?? 'maintainers' };
  if (resume) {
    // A resumed run keeps every setting of its checkpoint (the model always); a flag that
    // disagrees is an error.
    const c = resume.checkpoint;
    const name = basename(resume.path);
    const conflict = (opt: string, given: string, stored: string) => {
      if (given !== stored) throw new UsageError(`${CMD}: --${opt} ${given} differs from ${name}'s ${stored}; a resumed run keeps its settings (drop the option or start a new run)`);
    };
    // GRN or not is part of the model, fixed by the weights even for a fresh start
    checkGrnOption(o, name, c.config.grn);
    if (o.has('model') || o.has('depths') || o.has('dims') || o.has('decoder-dim') || o.has('decoder-depth')) {
      const asked = o.has('model') || o.has('depths') || o.has('dims') ? modelConfigFromOptions(o) : { ...c.config, decoderDim: o.number('decoder-dim', c.config.decoderDim), decoderDepth: o.number('decoder-depth', c.config.decoderDepth) };
      const opt = o.has('model') ? 'model' : o.has('depths') ? 'depths' : o.has('dims') ? 'dims' : o.has('decoder-dim') ? 'decoder-dim' : 'decoder-depth';
      const describe = (m: ModelConfig) => `depths ${m.depths} dims ${m.dims} decoder ${m.decoderDepth}×${m.decoderDim}`;
      conflict(opt, describe(asked), describe(c.config));
    }
    const t = c.training;
    // A step-0 file without AdamW state (e.g. converted official weights) has no trajectory to
    // keep: the flags set up the run, only the model is fixed by the weights.
    const fresh = c.step === 0 && c.adamw === null;
    const asked = stepOptionsFrom(o);
    if (!fresh) {
      const numeric: [string, number][] = [
        ['input-size', t.inputSize],
        ['batch-size', t.batchSize],
        ['mask-ratio', t.maskRatio],
        ['blr', t.blr],
        ['warmup', t.warmupSteps],
        ['seed', t.seed],
      ];
      for (const [opt, stored] of numeric) if (o.has(opt)) conflict(opt, String(o.number(opt)), String(stored));
      if (o.has('grn') && c.config.grn) conflict('grn', asked.grnMode, c.options.grnMode);
      if (o.has('gelu')) conflict('gelu', asked.gelu, c.options.gelu);
      if (o.has('norm-pix')) conflict('norm-pix', String(asked.normPix), String(c.options.normPix));
      if (o.has('dense-encoder')) conflict('dense-encoder', String(asked.denseEncoder), String(c.options.denseEncoder));
      if (freeze && !c.options.freezeEncoder) conflict('freeze-encoder', 'true', 'false (the encoder trains)');
    }
    config = c.config;
    options = fresh
      ? {
          grnMode: o.has('grn') ? asked.grnMode : c.options.grnMode,
          gelu: o.has('gelu') ? asked.gelu : c.options.gelu,
          normPix: o.has('norm-pix') ? asked.normPix : c.options.normPix,
          denseEncoder: o.has('dense-encoder') ? asked.denseEncoder : c.options.denseEncoder,
          freezeEncoder: freeze || (c.options.freezeEncoder ?? false),
        }
      : c.options; // a frozen encoder stays frozen
    const totalSteps = o.number('steps', t.totalSteps, { integer: true, min: 1 });
    if (totalSteps <= c.step) {
      throw new UsageError(`${CMD}: --steps ${totalSteps}: ${name} is already at step ${c.step}${o.has('steps') ? '' : ' (its planned end)'}; pass --steps above ${c.step} to continue`);
    }
    if (!fresh && totalSteps !== t.totalSteps) {
      notes.push(`--steps ${totalSteps} differs from ${name}'s planned ${t.totalSteps}: the learning-rate schedule changes from here on, so the run departs from the original plan`);
    }
    if (fresh) training = trainingFromOptions(o, { ...t, totalSteps });
    else training = { ...t, totalSteps }; // the file's visible count was checked when it was read
    if (!fresh && c.adamw) {
      const fileRule = c.adamw.settings.decayRule ?? 'maintainers';
      if (askedRule) conflict('weight-decay-rule', askedRule, fileRule);
      adamw = { ...c.adamw.settings, decayRule: fileRule };
    }
  } else if (start) {
    // a new run: the file's model, its run's settings (native files) as defaults of unset flags
    config = start.config;
    const asked = stepOptionsFrom(o);
    const d = start.options;
    options = {
      grnMode: o.has('grn') || !d ? asked.grnMode : d.grnMode,
      gelu: o.has('gelu') || !d ? asked.gelu : d.gelu,
      normPix: o.has('norm-pix') || !d ? asked.normPix : d.normPix,
      denseEncoder: o.has('dense-encoder') || !d ? asked.denseEncoder : d.denseEncoder,
      freezeEncoder: freeze,
    };
    training = trainingFromOptions(o, start.training);
  } else {
    config = modelConfigFromOptions(o);
    options = { ...stepOptionsFrom(o), freezeEncoder: freeze };
    training = trainingFromOptions(o, null);
    if (freeze) notes.push('--freeze-encoder without --checkpoint: the encoder stays at its random initialisation');
  }
  const evalImages = o.number('eval-images', RUN_DEFAULTS.evalImages, { integer: true, min: 1, max: 64 });
  const schedule = lrScheduleOf(checkedRunConfig(CMD, config, options, training, evalImages));
  // A run that continues writes next to its checkpoint; one that starts (from weights or not) gets a new folder.
  const out = o.string('out', undefined) ?? (resume && resume.checkpoint.step > 0 ? dirname(resume.path) : join('runs', timestamp()));
  const checkpointEvery = o.number('checkpoint-every', 500, { integer: true, min: 0 });
  const logEvery = o.number('log-every', Math.max(1, Math.floor(training.totalSteps / 20)), { integer: true, min: 1 });
  return { config, options, training, schedule, out, dataDir, checkpointEvery, logEvery, evalImages, resume, start, adamw, facts, notes };
}

// ---- the run -----------------------------------------------------------------------------------

const pad = (k: number) => String(k).padStart(6, '0');



export async function trainCommand(argv: string[], cli: CliContext): Promise<void> {
  const run = parseRun(argv);
  for (const n of run.start?.notes ?? []) cli.warn(n);
  for (const f of run.facts) cli.log(f);
  for (const n of run.notes) cli.warn(`warning: ${n}`);
  const { config, options, training, schedule, out, resume } = run;
  const { inputSize: S, batchSize: B, visiblePatches: V, seed } = training;
  const L = (S / 32) ** 2;

  const metricsPath = join(out, 'metrics.jsonl');
  const continuing = resume !== null && resume.checkpoint.step > 0;
  if (!continuing && existsSync(metricsPath)) throw new UsageError(`${CMD}: --out ${out}: already holds a run (metrics.jsonl); choose another folder or --resume one of its checkpoints`);
  try {
    mkdirSync(out, { recursive: true });
  } catch (e) {
    throw new UsageError(`${CMD}: --out ${out}: ${(e as Error).message}`);
  }

  // ---- data
  // skipped.tsv is written before the no-images check: it is the answer to "why none?".
  const loaded = await loadImageFolder(run.dataDir, decodeSizeFor(S), cli, CMD, 'data', (d) => writeFileSync(join(out, 'skipped.tsv'), formatSkippedTsv(d.index.skipped)));
  const images: PixelImage[] = loaded.images;
  const dataSummary = { source: resolve(run.dataDir), imageCount: images.length };
  cli.log(`data: ${images.length} images from ${run.dataDir} (${loaded.index.skipped.length} skipped, see ${join(out, 'skipped.tsv')})`);
  if (images.length < B) cli.warn(`warning: ${images.length} images for batches of ${B}: images repeat within a batch`);
  if (continuing && resume.checkpoint.data.imageCount !== 0 && resume.checkpoint.data.imageCount !== images.length) {
    cli.warn(`warning: ${run.dataDir} has ${images.length} images, ${basename(resume.path)}'s run had ${resume.checkpoint.data.imageCount}: batches differ from the original run`);
  }
  const E = Math.min(run.evalImages, images.length);
  const evalBatch = makeEvalBatch(images, evaluationSlots(images.map((_, i) => i), E), S); // (E, 3, S, S)
  const evalMask = evaluationMasks(seed, E, L, V); // (E, L)

  // ---- model
  const table = paramTable(config);
  const adamw = resume?.checkpoint.adamw ?? null;
  const adamwSettings = run.adamw;
  const initial = resume
    ? flatOrThrow(table, resume.checkpoint.params, basename(resume.path))
    : run.start
      ? run.start.params(seed)
      : initialParams(table, new Random(seed));
  const engine = await cli.engine();
  const learningRate = (k: number) => learningRateAt(k - 1, schedule); // trainer steps are 1-based, the schedule 0-based
  const trainer = await Trainer.create(engine, { config, batchSize: B, height: S, width: S, visible: V, options, adamw: adamwSettings, learningRate, seed }, initial);
  let evalTrainer: Trainer | null = null;
  const startStep = resume?.checkpoint.step ?? 0;
  if (resume) {
    const m = adamw ? flatOrThrow(table, adamw.m, `${basename(resume.path)} AdamW m`) : null;
    const v = adamw ? flatOrThrow(table, adamw.v, `${basename(resume.path)} AdamW v`) : null;
    trainer.restoreState({ step: startStep, params: initial, m, v });
    if (!adamw && startStep > 0) {
      cli.warn(`warning: ${basename(resume.path)} has no AdamW state: the moments restart from zero, so the run will not continue exactly`);
    }
    truncateMetrics(metricsPath, startStep);
    cli.log(startStep > 0 ? `resuming from ${resume.path} at step ${startStep}` : `starting from the weights of ${resume.path}`);
  }
  if (run.start) cli.log(`starting a new run from the weights of ${run.start.path} (step 0, fresh AdamW)`);
  if (options.freezeEncoder) {
    const trained = table.specs.filter((s) => !isEncoderParam(s.name)).reduce((a, s) => a + s.size, 0);
    cli.log(`encoder frozen (decoder warm-up): only proj, mask token, decoder and pred train (${trained.toLocaleString('en')} parameters); no encoder backward`);
  }
  const c = config;
  cli.log(
    `model: ${c.size ?? 'custom'} (depths ${c.depths}, dims ${c.dims}, decoder ${c.decoderDepth}×${c.decoderDim}${c.grn ? '' : ', no GRN'}), ${table.count.toLocaleString('en')} parameters; ` +
      `${S}×${S} px, ${describeVisible(L, trainer.plan.V)} patches; batch ${B}; ` +
      `peak lr ${schedule.peakLr.toExponential(3)} (blr ${training.blr}), warmup ${schedule.warmupSteps}, ${training.totalSteps} steps; ` +
      `weight-decay rule ${adamwSettings.decayRule ?? 'maintainers'}; out ${out}`,
  );

  // ---- checkpoints and pictures
  let lastCheckpoint: { path: string; step: number } | null = resume ? { path: resume.path, step: startStep } : null;
  const save = async (k: number): Promise<void> => {
    const { params: flat, m, v } = await trainer.saveState();
    const bytes = writeNativeCheckpoint({
      config,
      options,
      training,
      step: k,
      data: dataSummary,
      params: stateDictFromFlat(table, flat),
      adamw: { step: k, settings: { ...adamwSettings }, m: stateDictFromFlat(table, m!), v: stateDictFromFlat(table, v!) },
    });
    const path = join(out, `checkpoint-${pad(k)}.safetensors`);
    writeFileSync(path + '.partial', bytes);
    renameSync(path + '.partial', path); // never leave a half-written checkpoint under the real name
    lastCheckpoint = { path, step: k };
    evalTrainer ??= await Trainer.create(engine, { config, batchSize: E, height: S, width: S, visible: V, options, learningRate: () => 0, seed }, flat);
    evalTrainer.plan.setParams(flat);
    const rec = await evalTrainer.reconstruct(evalBatch, evalMask);
    const png = join(out, `reconstruction-${pad(k)}.png`);
    writeFileSync(png, encodePng(reconstructionGrid(evalBatch, rec, E, S)));
    cli.log(`step ${k}: checkpoint ${path}; eval loss ${rec.loss.toPrecision(5)} on ${E} fixed images; grid ${png}`);
  };

  // ---- the loop (src/train/step-loop.ts): this driver records results and checkpoints at its pause points
  const stop = new AbortController();
  const onSigint = () => {
    stop.abort();
    cli.warn('interrupt: finishing the queued steps and saving a checkpoint (press Ctrl-C again to quit at once)');
  };
  process.once('SIGINT', onSigint);
  const recentMs: number[] = [];
  let lastDone = performance.now();
  let lastStep = startStep;
  const firstLosses: number[] = [];
  const lastLosses: number[] = [];

  const record = ({ step, loss, lr }: StepResult): void => {
    const now = performance.now();
    const stepMs = now - lastDone;
    lastDone = now;
    recentMs.push(stepMs);
    if (recentMs.length > 20) recentMs.shift();
    const imagesPerS = (B * 1000) / stepMs;
    appendFileSync(metricsPath, JSON.stringify({ step, loss, lr, step_ms: +stepMs.toFixed(3), images_per_s: +imagesPerS.toFixed(3) }) + '\n');
    if (firstLosses.length < 5) firstLosses.push(loss);
    lastLosses.push(loss);
    if (lastLosses.length > 5) lastLosses.shift();
    lastStep = step;
    if (step === startStep + 1 || step % run.logEvery === 0 || step === training.totalSteps) {
      const avgMs = recentMs.reduce((a, b) => a + b, 0) / recentMs.length;
      cli.log(
        `step ${step}/${training.totalSteps}  loss ${loss.toFixed(4)}  lr ${lr.toExponential(2)}  ${((B * 1000) / avgMs).toFixed(2)} img/s  ETA ${formatDuration(avgMs * (training.totalSteps - step))}`,
      );
    }
  };

  try {
    const trainingRun = new TrainingRun(trainer, pixelBatchSource(images));
    const end = await runStepLoop<StepBatch, StepResult>(
      {
        prepare: (k) => trainingRun.batchFor(k),
        submit: (_k, batch) => trainingRun.submit(batch),
        deliver: record,
        pauseAfter: (k) => run.checkpointEvery > 0 && k % run.checkpointEvery === 0 && k !== training.totalSteps,
        pause: async (k) => {
          await save(k);
          lastDone = performance.now(); // the pause for saving is not a training step's time
        },
      },
      { first: startStep + 1, last: training.totalSteps, depth: MAX_IN_FLIGHT, signal: stop.signal },
    );
    if (end.failure) {
      const f = end.failure;
      if (!(f.error instanceof NonFiniteLossError)) throw f.error;
      const kept = lastCheckpoint as { path: string; step: number } | null;
      throw new Error(
        `loss became ${f.error.loss} at step ${f.step}: training stopped; ` +
          (kept ? `last good checkpoint ${kept.path} (step ${kept.step})` : 'no checkpoint was written before it') +
          `; lower --blr (now ${training.blr}) or raise --warmup (now ${training.warmupSteps})`,
      );
    }
    if (lastStep > startStep && lastCheckpoint?.step !== lastStep) await save(lastStep);
    if (stop.signal.aborted) cli.log(`stopped at step ${lastStep} on request; resume with --resume ${lastCheckpoint?.path}`);
    const mean = (a: number[]) => a.reduce((x, y) => x + y, 0) / a.length;
    if (firstLosses.length && lastLosses.length) {
      cli.log(`done: loss ${mean(firstLosses).toFixed(4)} (mean of the first ${firstLosses.length} steps) → ${mean(lastLosses).toFixed(4)} (last ${lastLosses.length}); metrics ${metricsPath}`);
    }
  } finally {
    process.removeListener('SIGINT', onSigint);
    trainer.destroy(); // the loop settles only once its queued steps finished
    (evalTrainer as Trainer | null)?.destroy();
  }
}
