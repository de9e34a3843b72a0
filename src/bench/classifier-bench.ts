// The fine-tuning step benchmark (`fcmae bench --task finetune`): times ClassifierTrainer's
// training step (dense encoder, pool, LayerNorm, head, cross-entropy, backward, grouped AdamW)
// the way step-bench.ts times the FCMAE step: untimed warm-up steps, then S steps one at a time
// through src/train/step-loop.ts (depth 1), each timed from upload to the loss on the host and
// encoded exactly as the trainer encodes it; with 'timestamp-query' each is followed by a twin
// step with one timestamped compute pass per phase, and one extra step times every dispatch on
// its own. FLOPs and dispatch/pass counts come from the built plan (step-bench's ledgerFlops and
// countDispatches over plan.ledger() and its phases), memory from the plan's arena.
// Optionally the FCMAE step of the same encoder (same input size, batch and images; a mask ratio
// and decoder of its own) runs interleaved with it, step i of one then step i of the other, so a
// change in background load hits both alike; the report gives the ratio of their step times.
// Results have step-bench's StepBenchResult shape (the classification encoder is the sparse
// layout with every patch visible, i.e. the dense network), so report.ts's step report, JSON and
// dispatch tables serve both tasks.
// No Node or DOM imports: the CLI and a browser page could share it.
import type { BufferArena } from '../gpu/buffers.ts';
import { encodeDispatches } from '../gpu/dispatch.ts';
import type { Engine } from '../gpu/engine.ts';
import type { ModelConfig, StepOptions } from '../model/config.ts';
import type { Phase } from '../model/fcmae.ts';
import type { PlanLedger } from '../model/ledger.ts';
import { ADAMW_DEFAULTS } from '../ops/adamw.ts';
import { ClassifierTrainer } from '../train/classifier-trainer.ts';
import { fineTunePreset, paramGroupSettingsOf } from '../train/finetune-config.ts';
import { describeVisible, formatMaskRatio, maskRatioOf } from '../train/masking.ts';
import { runStepLoop, type QueuedStep } from '../train/step-loop.ts';
import { Trainer, type StepHooks, type SubmittedStep } from '../train/trainer.ts';
import { Random } from '../util/random.ts';
import { bytes, formatTable, ms, num, spread } from './format.ts';
import { stepReport, stepResultJson } from './report.ts';
import { summarize } from './stats.ts';
import { configName, countDispatches, ledgerFlops, randomImages, type DispatchTime, type PhaseResult, type StepBenchResult } from './step-bench.ts';
import { PassTimer } from './timing.ts';

export interface ClassifierBenchSettings {
  /** The encoder (depths, dims, GRN); its decoder is used by the FCMAE comparison only. */
  config: ModelConfig;
  numClasses: number;
  batchSize: number;
  /** Square input side (a multiple of 32). */
  inputSize: number;
  /** Drop-path rate of the last block (0: off, the default: a step without it costs the same work). */
  dropPath: number;
  /** GELU form for both steps, GRN mode and targets for the FCMAE step (the classifier's GRN is per sample). */
  options: StepOptions;
  /** Timed steps (per task). */
  steps: number;
  /** Untimed steps first (per task). */
  warmupSteps: number;
  seed: number;
  /** 'auto': GPU timestamps per phase when the adapter has them, else none. */
  phaseTiming: 'auto' | 'gpu-timestamps' | 'off';
  /** Also time the FCMAE step of the same encoder, `visible` patches kept per sample; null: not. */
  pretrain: { visible: number } | null;
  /** Learning rate of every timed step (a constant: the schedule does not change the cost). */
  learningRate?: number;
}

/** A classification step's result: step-bench's figures plus what only a classifier has. */
export interface FinetuneStepResult extends StepBenchResult {
  numClasses: number;
  dropPath: number;
}

export interface ClassifierBenchResult {
  finetune: FinetuneStepResult;
  /** The FCMAE step of the same encoder, timed interleaved; null without the comparison. */
  pretrain: StepBenchResult | null;
  /** Classification / FCMAE: step time medians, FLOPs per step, peak plan memory, dispatches per step. */
  ratio: { stepTime: number; flops: number; memory: number; dispatches: number } | null;
}

const DEFAULT_LR = 1.5e-4;

/** The encoder's name (a classifier has no decoder). */
export function encoderName(c: Pick<ModelConfig, 'size' | 'depths' | 'dims'>): string {
  return c.size ?? `depths ${c.depths.join(',')} dims ${c.dims.join(',')}`;
}

/** Seeded labels (N) in [0, K). */
export function randomLabels(N: number, numClasses: number, seed: number): Int32Array {
  const rng = new Random(seed);
  return Int32Array.from({ length: N }, () => rng.int(numClasses));
}

/** What the timing loop needs of either trainer: its phases, its plan's ledger and arena, and a step on its fixed batch. */
interface TimedTask {
  label: string;
  /** The model as the report names it. */
  model: string;
  /** forward, backward, optimizer: every pass a training step encodes. */
  phases: Phase[];
  arena: BufferArena;
  ledger(): PlanLedger;
  patches: number;
  visible: number;
  /** Queues the next optimizer step on the task's batch (its own encoding unless hooks.encode). */
  submit(hooks: StepHooks): SubmittedStep;
  destroy(): void;
}

interface StepSample {
  wallMs: number;
  uploadMs: number;
  encodeMs: number;
  readbackWaitMs: number;
  loss: number;
  phaseMs: number[] | null;
}

interface TaskSamples {
  task: TimedTask;
  timer: PassTimer | null;
  wall: number[];
  upload: number[];
  encode: number[];
  readbackWait: number[];
  losses: number[];
  phaseSamples: number[][];
  gpuTotals: number[];
}

async function classifierTask(engine: Engine, s: ClassifierBenchSettings, lr: number, images: Float32Array): Promise<TimedTask> {
  const { config } = s;
  const groups = paramGroupSettingsOf(fineTunePreset('official', { size: config.size, totalSteps: 1 }));
  const trainer = await ClassifierTrainer.create(engine, {
    config,
    numClasses: s.numClasses,
    batchSize: s.batchSize,
    inputSize: s.inputSize,
    options: { gelu: s.options.gelu, dropPath: s.dropPath },
    groups,
    learningRate: () => lr,
    seed: s.seed,
  });
  const labels = randomLabels(s.batchSize, s.numClasses, s.seed + 2);
  const plan = trainer.plan;
  return {
    label: 'classification',
    model: encoderName(config),
    phases: [...plan.forwardPhases, ...plan.backwardPhases, plan.optimizerPhase],
    arena: plan.arena,
    ledger: () => plan.ledger(),
    patches: plan.L,
    visible: plan.L,
    submit: (hooks) => trainer.submit(images, labels, hooks),
    destroy: () => trainer.destroy(),
  };
}

async function fcmaeTask(engine: Engine, s: ClassifierBenchSettings, visible: number, lr: number, images: Float32Array): Promise<TimedTask> {
  const trainer = await Trainer.create(engine, { config: s.config, batchSize: s.batchSize, height: s.inputSize, width: s.inputSize, visible, options: s.options, adamw: ADAMW_DEFAULTS, learningRate: () => lr, seed: s.seed });
  const plan = trainer.plan;
  return {
    label: 'FCMAE',
    model: configName(s.config),
    phases: [...plan.forwardPhases, ...plan.backwardPhases, plan.optimizerPhase],
    arena: plan.arena,
    ledger: () => plan.ledger(),
    patches: plan.L,
    visible: plan.V,
    // a fresh mask per step from the run's stream, as `fcmae bench` draws them
    submit: (hooks) => trainer.submit(images, trainer.masksFor(trainer.stepCount + 1), hooks),
    destroy: () => trainer.destroy(),
  };
}

/** Encodes `phases`, each its own compute pass stamped into slot i of `timer`. */
const timedEncode = (timer: PassTimer, phases: readonly Phase[]) => (encoder: GPUCommandEncoder) =>
  phases.forEach((phase, i) => {
    const pass = timer.beginPass(encoder, phase.name, i);
    encodeDispatches(pass, phase.dispatches);
    pass.end();
  });

/** One step of `t`: plain (as the trainer encodes it) or with a timestamped pass per phase. */
function timedStep(t: TaskSamples, timestamps: boolean): QueuedStep<StepSample> {
  const timer = timestamps ? t.timer : null;
  const phases = t.task.phases;
  const hooks: StepHooks = timer ? { encode: timedEncode(timer, phases), beforeSubmit: (encoder) => void timer.resolve(encoder, phases.length) } : {};
  const t0 = performance.now();
  const s = t.task.submit(hooks);
  const result = s.result.then(async ({ loss }) => {
    const t3 = performance.now();
    const phaseMs = timer ? await timer.read(phases.length) : null;
    return { wallMs: t3 - t0, uploadMs: s.uploadMs, encodeMs: s.encodeMs, readbackWaitMs: t3 - s.submittedAt, loss, phaseMs };
  });
  return { result };
}

/** One more step with every non-empty dispatch in its own timestamped pass (the sum exceeds a step: pass boundaries cost too). */
async function dispatchProfile(engine: Engine, task: TimedTask): Promise<DispatchTime[]> {
  const list = task.phases.flatMap((phase) => phase.dispatches.filter((d) => d.workgroups.every((w) => w > 0)).map((d) => ({ phase: phase.name, d })));
  const timer = PassTimer.create(engine, list.length);
  if (!timer) return [];
  try {
    const encode = (encoder: GPUCommandEncoder) =>
      list.forEach(({ d }, i) => {
        const pass = timer.beginPass(encoder, d.label, i);
        encodeDispatches(pass, [d]);
        pass.end();
      });
    await task.submit({ encode, beforeSubmit: (encoder) => void timer.resolve(encoder, list.length) }).result;
    const times = await timer.read(list.length);
    return list.map(({ phase, d }, i) => ({ phase, label: d.label, kernel: d.pipeline.label, workgroups: d.workgroups, ms: times[i]! }));
  } finally {
    timer.destroy();
  }
}

async function runSerially<R>(count: number, submit: (n: number) => QueuedStep<R>, take: (result: R, n: number) => void = () => {}): Promise<void> {
  const end = await runStepLoop<void, R>({ submit: (n) => submit(n), deliver: take }, { first: 1, last: count, depth: 1 });
  if (end.failure) throw end.failure.error;
}

function resultOf(t: TaskSamples, s: ClassifierBenchSettings, method: StepBenchResult['phaseMethod'], dispatches: DispatchTime[]): StepBenchResult {
  const { task } = t;
  const flops = ledgerFlops(task.ledger(), task.phases);
  const counts = countDispatches(task.phases);
  const stepMs = summarize(t.wall);
  const phases: PhaseResult[] =
    method === 'gpu-timestamps'
      ? task.phases.map((phase, k) => {
          const msMedian = summarize(t.phaseSamples[k]!).median;
          const f = flops.byPhase.get(phase.name) ?? 0;
          return { name: phase.name, ms: msMedian, flops: f, gflops: msMedian > 0 ? f / msMedian / 1e6 : 0 };
        })
      : [];
  return {
    model: task.model,
    batchSize: s.batchSize,
    height: s.inputSize,
    width: s.inputSize,
    maskRatio: maskRatioOf(task.patches, task.visible),
    visiblePatches: task.visible,
    patches: task.patches,
    what: 'training step',
    steps: s.steps,
    stepMs,
    imagesPerSecond: s.batchSize / (stepMs.median / 1000),
    phaseMethod: method,
    phases,
    gpuStepMs: t.gpuTotals.length ? summarize(t.gpuTotals) : null,
    memory: { bytesAllocated: task.arena.bytesAllocated, peakBytes: task.arena.peakBytes, buffers: task.arena.count },
    flops: { total: flops.total, forward: flops.forward, backward: flops.backward, optimizer: flops.optimizer, matmulAndConv: flops.matmulAndConv },
    gflopsAchieved: flops.total / stepMs.median / 1e6,
    dispatches,
    dispatchesPerStep: counts.dispatches,
    passesPerStep: counts.passes,
    host: { uploadMs: summarize(t.upload), encodeMs: summarize(t.encode), readbackWaitMs: summarize(t.readbackWait) },
    firstLoss: t.losses[0]!,
    lastLoss: t.losses[t.losses.length - 1]!,
    pipelined: [], // the classification step is timed one at a time only
  };
}

/** The classification step benchmark, and the FCMAE step of the same encoder when `s.pretrain` asks for it. */
export async function benchClassifier(engine: Engine, s: ClassifierBenchSettings, log: (line: string) => void = () => {}): Promise<ClassifierBenchResult> {
  if (!Number.isInteger(s.steps) || s.steps < 1) throw new RangeError(`steps = ${s.steps} must be a positive integer`);
  if (!Number.isInteger(s.numClasses) || s.numClasses < 2) throw new RangeError(`classes = ${s.numClasses} must be an integer ≥ 2`);
  const method: StepBenchResult['phaseMethod'] = s.phaseTiming === 'auto' ? (engine.ctx.hasTimestamps ? 'gpu-timestamps' : 'off') : s.phaseTiming;
  if (method === 'gpu-timestamps' && !engine.ctx.hasTimestamps) throw new RangeError(`phase timing 'gpu-timestamps' needs the 'timestamp-query' feature, which this adapter lacks`);
  const lr = s.learningRate ?? DEFAULT_LR;
  const images = randomImages(s.batchSize, s.inputSize, s.inputSize, s.seed + 1);
  const L = (s.inputSize / 32) ** 2;
  const tasks: TaskSamples[] = [];
  try {
    const builders: [string, () => Promise<TimedTask>][] = [['classification step (dense encoder)', () => classifierTask(engine, s, lr, images)]];
    if (s.pretrain) {
      const visible = s.pretrain.visible;
      builders.push([`FCMAE step (${describeVisible(L, visible)})`, () => fcmaeTask(engine, s, visible, lr, images)]);
    }
    for (const [what, build] of builders) {
      log(`  ${what}: building the plan (pipelines compiled ahead), ${s.warmupSteps} warm-up step(s)`);
      const task = await build();
      const t: TaskSamples = { task, timer: null, wall: [], upload: [], encode: [], readbackWait: [], losses: [], phaseSamples: task.phases.map(() => []), gpuTotals: [] };
      tasks.push(t);
      if (method === 'gpu-timestamps') t.timer = PassTimer.create(engine, task.phases.length);
      await runSerially(s.warmupSteps, () => timedStep(t, false));
    }
    // step i of every task before step i + 1 of any; each plain step followed by its timestamped twin
    const order: { i: number; t: TaskSamples; timestamps: boolean }[] = [];
    for (let i = 0; i < s.steps; i++) for (const t of tasks) for (const timestamps of t.timer ? [false, true] : [false]) order.push({ i, t, timestamps });
    await runSerially(
      order.length,
      (n) => timedStep(order[n - 1]!.t, order[n - 1]!.timestamps),
      (r, n) => {
        const { i, t, timestamps } = order[n - 1]!;
        let note = '';
        if (!timestamps) {
          t.wall.push(r.wallMs);
          t.upload.push(r.uploadMs);
          t.encode.push(r.encodeMs);
          t.readbackWait.push(r.readbackWaitMs);
          t.losses.push(r.loss);
          if (t.timer) return; // logged with its timestamped twin
        } else if (r.phaseMs) {
          r.phaseMs.forEach((v, k) => t.phaseSamples[k]!.push(v));
          const gpu = r.phaseMs.reduce((a, b) => a + b, 0);
          t.gpuTotals.push(gpu);
          note = ` (timestamped step: GPU ${gpu.toFixed(1)} ms)`;
        }
        log(`  step ${i + 1}/${s.steps} ${t.task.label}: ${t.wall.at(-1)!.toFixed(1)} ms, loss ${t.losses.at(-1)!.toPrecision(6)}${note}`);
      },
    );
    const results: StepBenchResult[] = [];
    for (const t of tasks) {
      const profile = method === 'gpu-timestamps' ? await dispatchProfile(engine, t.task) : [];
      results.push(resultOf(t, s, method, profile));
    }
    const finetune: FinetuneStepResult = { ...results[0]!, numClasses: s.numClasses, dropPath: s.dropPath };
    const pretrain = results[1] ?? null;
    const ratio = pretrain
      ? {
          stepTime: finetune.stepMs.median / pretrain.stepMs.median,
          flops: finetune.flops.total / pretrain.flops.total,
          memory: finetune.memory.peakBytes / pretrain.memory.peakBytes,
          dispatches: finetune.dispatchesPerStep / pretrain.dispatchesPerStep,
        }
      : null;
    return { finetune, pretrain, ratio };
  } finally {
    for (const t of tasks) {
      t.timer?.destroy();
      t.task.destroy();
    }
  }
}

// ---- reports: step-bench's text and JSON, titled for the classification step

export function classifierStepTitle(r: FinetuneStepResult): string {
  return `classification training step (fine-tuning): ${r.model}, ${r.height}×${r.width} px, batch ${r.batchSize}, ${r.numClasses} classes, drop path ${r.dropPath > 0 ? r.dropPath : 'off'}, dense encoder (all ${r.patches} patches)`;
}

/** The comparison table: both steps' figures side by side and their ratio. */
export function finetuneVsPretrainTable(r: ClassifierBenchResult): string {
  const p = r.pretrain;
  if (!p || !r.ratio) return '';
  const row = (name: string, x: StepBenchResult) => [name, ms(x.stepMs.median), spread(x.stepMs.relSpread), num(x.imagesPerSecond), num(x.flops.total / 1e9), num(x.gflopsAchieved), String(x.dispatchesPerStep), String(x.passesPerStep), bytes(x.memory.peakBytes)];
  return [
    `classification vs FCMAE training step (same encoder, input, batch and images; steps interleaved):`,
    formatTable(
      ['step', 'step ms', 'spread', 'images/s', 'GFLOP/step', 'GFLOP/s', 'dispatches', 'passes', 'memory'],
      [row('classification (dense encoder)', r.finetune), row(`FCMAE (mask ratio ${formatMaskRatio(p.maskRatio)}, ${p.visiblePatches}/${p.patches} visible)`, p)],
    ),
    `ratio classification / FCMAE: step time ${num(r.ratio.stepTime)}×, FLOPs ${num(r.ratio.flops)}×, memory ${num(r.ratio.memory)}×, dispatches ${num(r.ratio.dispatches)}× (medians)`,
  ].join('\n');
}

export function classifierBenchReport(r: ClassifierBenchResult, adapter: string): string {
  // step-bench's report of the same figures, under the classification step's own title
  const body = stepReport(r.finetune, adapter).split('\n').slice(1);
  const parts = [[classifierStepTitle(r.finetune), ...body].join('\n')];
  if (r.pretrain) parts.push(stepReport(r.pretrain, adapter), finetuneVsPretrainTable(r));
  return parts.join('\n\n');
}

/** The JSON document's task-specific part: results (step-bench's keys, plus task and classes) and the comparison. */
export function classifierBenchJson(r: ClassifierBenchResult) {
  return {
    results: [
      { task: 'finetune', num_classes: r.finetune.numClasses, drop_path: r.finetune.dropPath, ...stepResultJson(r.finetune) },
      ...(r.pretrain ? [{ task: 'pretrain', ...stepResultJson(r.pretrain) }] : []),
    ],
    comparison: r.ratio
      ? {
          finetune_vs_pretrain_step_time: r.ratio.stepTime,
          finetune_vs_pretrain_gflop: r.ratio.flops,
          finetune_vs_pretrain_peak_memory: r.ratio.memory,
          finetune_vs_pretrain_dispatches: r.ratio.dispatches,
        }
      : undefined,
  };
}
