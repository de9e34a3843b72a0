// The FCMAE step benchmark: builds a Trainer per mask ratio, warms every pipeline up with
// untimed steps, then times S steps (ratios interleaved): wall-clock from upload to the loss
// on the host, and the GPU time of every phase of FcmaePlan (forwardPhases, backwardPhases,
// optimizerPhase), plus one profiled step with every dispatch timed on its own.
// Every benchmark step runs through src/train/step-loop.ts one at a time (depth 1), so a step's
// wall time has nothing queued behind it; with `inFlight` the same steps then also run with 2,
// 3, … steps in flight, as training runs them (the throughput of src/bench/pipelined.ts).
// Phase times come from timestamp queries (each phase its own compute pass with
// timestampWrites) when the device has 'timestamp-query'; otherwise
// from running growing prefixes of the phase list and differencing their wall-clock medians
// (noisier; the result names the method). FLOPs are the built plan's ledger (FcmaePlan.ledger():
// every dispatch's FLOPs as its op counts them, src/ops/flop-conventions.ts), memory is the plan
// arena's.
// Also the TF.js peer comparison: same weights and batch, loss checked equal first, then
// steps interleaved (ours, peer, ours, …) so both see the same background load.
// No Node or DOM imports: the CLI and the browser bench page share it.
import { encodeDispatches } from '../gpu/dispatch.ts';
import { throwIfFailed } from '../gpu/device.ts';
import type { Engine } from '../gpu/engine.ts';
import type { ModelConfig, StepOptions } from '../model/config.ts';
import type { Phase } from '../model/fcmae.ts';
import type { PlanLedger } from '../model/ledger.ts';
import { initialParams, paramTable } from '../model/parameters.ts';
import { ADAMW_DEFAULTS } from '../ops/adamw.ts';
import { describeVisible, maskRatioOf } from '../train/masking.ts';
import { runStepLoop, type QueuedStep } from '../train/step-loop.ts';
import { Trainer } from '../train/trainer.ts';
import { Random } from '../util/random.ts';
import { measurePipelined, type PipelinedResult } from './pipelined.ts';
import { summarize, type Summary } from './stats.ts';
import { Fence, PassTimer } from './timing.ts';
import { peerGradientNorms, TfjsFcmaePeer, tfjsAdapterName, type Tf } from './tfjs-peer.ts';

export type PhaseMethod = 'gpu-timestamps' | 'prefix-differencing' | 'off';

export interface StepBenchSettings {
  config: ModelConfig;
  batchSize: number;
  height: number;
  width: number;
  /** Patches kept visible per sample (the plan's key; a ratio becomes this once, at the edge). */
  visible: number;
  options: StepOptions;
  /** Timed steps. */
  steps: number;
  /** Untimed steps first (pipelines compiled at build; these run each once). */
  warmupSteps: number;
  seed: number;
  /** 'auto': timestamps when available, else prefix differencing. */
  phaseTiming: 'auto' | PhaseMethod;
  /** Starting weights (engine layout); default initialParams(seed). */
  params?: Float32Array;
  /** A fixed batch for every step; default random images (seeded) and a fresh mask per step. */
  batch?: { images: Float32Array; mask: Float32Array };
  /** Time what `grads` computes (forward + loss + backward, no optimizer) instead of a training step. */
  gradientsOnly?: boolean;
  /** Learning rate of the timed steps (a constant: the schedule does not change the cost). */
  learningRate?: number;
  /** Also measure the pipelined throughput with these many steps in flight (depth 1 beside them); default none. */
  inFlight?: number[];
}

/** Rounds of pipelined bursts per depth (alternating depths): the reported figure is their median. */
const PIPELINED_ROUNDS = 2;

export interface PhaseResult {
  name: string;
  /** Median GPU (or differenced) time per step, ms. */
  ms: number;
  flops: number;
  gflops: number;
}

export interface DispatchTime {
  phase: string;
  /** The dispatch's label (layer and op). */
  label: string;
  /** Its pipeline: shader file and entry point. */
  kernel: string;
  workgroups: [number, number, number];
  ms: number;
}

export interface StepBenchResult {
  model: string;
  batchSize: number;
  height: number;
  width: number;
  /** 1 − visiblePatches/patches, for display. */
  maskRatio: number;
  visiblePatches: number;
  patches: number;
  what: 'training step' | 'training step, encoder frozen' | 'gradients (as grads)';
  steps: number;
  stepMs: Summary;
  imagesPerSecond: number;
  phaseMethod: PhaseMethod;
  phases: PhaseResult[];
  /** Sum of the phases per step (timestamps only), ms. */
  gpuStepMs: Summary | null;
  memory: { bytesAllocated: number; peakBytes: number; buffers: number };
  flops: { total: number; forward: number; backward: number; optimizer: number; matmulAndConv: number };
  gflopsAchieved: number;
  /** Every dispatch of one extra step, each timed in its own pass (timestamps only; else empty). */
  dispatches: DispatchTime[];
  /** Non-empty dispatches and compute passes encoded per step (what the trainer encodes). */
  dispatchesPerStep: number;
  passesPerStep: number;
  /**
   * Host time per timed (untimestamped) step, medians: writing the batch, mask tables and AdamW
   * scalars (queue.writeBuffer), encoding every pass and submitting, and waiting from the submit
   * until the loss is mapped on the host (GPU work + readback latency).
   */
  host: { uploadMs: Summary; encodeMs: Summary; readbackWaitMs: Summary };
  /** Loss of the first timed step and of the last. */
  firstLoss: number;
  lastLoss: number;
  /** Steady-state throughput with 1, 2, 3, … steps in flight (settings.inFlight); empty when not measured. */
  pipelined: PipelinedResult[];
}

export function configName(c: ModelConfig): string {
  const dec = `decoder ${c.decoderDim}×${c.decoderDepth}`;
  return c.size ? `${c.size} (${dec})` : `depths ${c.depths.join(',')} dims ${c.dims.join(',')} (${dec})`;
}

/** Random normalised images (N, 3, H, W), about ImageNet-normalised statistics. */
export function randomImages(N: number, height: number, width: number, seed: number): Float32Array {
  return new Random(seed).normalArray(N * 3 * height * width);
}

const DEFAULT_LR = 1.5e-4;

/** One benchmark step's wall time and its host-side parts (ms). */
interface StepTiming {
  wallMs: number;
  /** setBatch + setOptimizerStep: the queue.writeBuffer calls of the step. */
  uploadMs: number;
  /** Creating the encoder, encoding every pass, finish() and submit(). */
  encodeMs: number;
  /** From the submit until the loss is mapped on the host. */
  readbackWaitMs: number;
  loss: number;
  phaseMs: number[] | null;
}

/** Kernels whose FLOPs count as matmul + convolution: the matmul passes (split-K reduce included) and the depthwise conv. */
export function isMatmulOrConvKernel(kernel: string): boolean {
  return /^(matmul|dwconv)[^:]*\.wgsl:/.test(kernel);
}

/**
 * The step's FLOPs from the plan's ledger: per phase of `phases`, forward (every phase not named
 * '… backward' nor 'optimizer'), backward, optimizer (0 when `phases` has none), and the matmul +
 * conv share (isMatmulOrConvKernel).
 */
export function ledgerFlops(ledger: PlanLedger, phases: readonly Phase[]): { byPhase: Map<string, number>; total: number; forward: number; backward: number; optimizer: number; matmulAndConv: number } {
  const names = new Set(phases.map((p) => p.name));
  const byPhase = new Map<string, number>();
  let forward = 0;
  let backward = 0;
  let optimizer = 0;
  let matmulAndConv = 0;
  for (const d of ledger.dispatches) {
    if (!names.has(d.phase)) continue;
    byPhase.set(d.phase, (byPhase.get(d.phase) ?? 0) + d.flops);
    if (d.phase === 'optimizer') optimizer += d.flops;
    else if (d.phase.endsWith(' backward')) backward += d.flops;
    else forward += d.flops;
    if (isMatmulOrConvKernel(d.kernel)) matmulAndConv += d.flops;
  }
  return { byPhase, total: forward + backward + optimizer, forward, backward, optimizer, matmulAndConv };
}

/** Dispatches (non-empty) and compute passes that encoding `phases` records. */
export function countDispatches(phases: readonly Phase[]): { dispatches: number; passes: number } {
  let dispatches = 0;
  for (const p of phases) for (const d of p.dispatches) if (d.workgroups.every((w) => w > 0)) dispatches++;
  return { dispatches, passes: phases.length };
}

/** Everything a timed step needs, shared by the benchmark and the peer comparison. */
class StepRunner {
  private readonly timer: PassTimer | null;
  private readonly fence: Fence;
  readonly phases: Phase[];

  constructor(
    readonly engine: Engine,
    readonly trainer: Trainer,
    readonly gradientsOnly: boolean,
    timestamps: boolean,
  ) {
    const plan = trainer.plan;
    this.phases = [...plan.forwardPhases, ...plan.backwardPhases, ...(gradientsOnly ? [] : [plan.optimizerPhase])];
    this.timer = timestamps ? PassTimer.create(engine, this.phases.length) : null;
    this.fence = new Fence(engine);
  }

  get hasTimer(): boolean {
    return this.timer !== null;
  }

  /**
   * Queues one step over `phases` (default all): upload, encode, submit; `result` resolves with
   * the wall time until the loss is on the host, the loss and per-phase GPU times when timed.
   */
  submit(images: Float32Array, mask: Float32Array, lr: number, phases = this.phases, timestamps = true): QueuedStep<StepTiming> {
    const { engine, trainer } = this;
    const plan = trainer.plan;
    const device = engine.ctx.device;
    const timer = timestamps && phases === this.phases ? this.timer : null;
    const encode = (encoder: GPUCommandEncoder) =>
      phases.forEach((phase, i) => {
        const pass = timer ? timer.beginPass(encoder, phase.name, i) : encoder.beginComputePass({ label: phase.name });
        encodeDispatches(pass, phase.dispatches);
        pass.end();
      });
    if (!this.gradientsOnly && phases === this.phases) {
      // a training step: the trainer's own submission, with the bench's timed passes
      if (trainer.settings.learningRate(trainer.stepCount + 1) !== lr) throw new Error(`internal: bench lr ${lr} differs from the trainer's`);
      const t0 = performance.now();
      const s = trainer.submit(images, mask, { encode, beforeSubmit: (encoder) => void timer?.resolve(encoder, phases.length) });
      const result = s.result.then(async ({ loss }) => {
        const t3 = performance.now();
        const phaseMs = timer ? await timer.read(phases.length) : null;
        return { wallMs: t3 - t0, uploadMs: s.uploadMs, encodeMs: s.encodeMs, readbackWaitMs: t3 - s.submittedAt, loss, phaseMs };
      });
      return { result };
    }
    if (phases.includes(plan.optimizerPhase)) throw new Error('internal: a bench step with the optimizer runs every phase');
    const t0 = performance.now();
    plan.setBatch(images, mask);
    const t1 = performance.now();
    const encoder = device.createCommandEncoder({ label: 'bench step' });
    encode(encoder);
    if (timer) timer.resolve(encoder, phases.length);
    const lossRead = engine.readback.copy(encoder, plan.loss, 0, 4);
    device.queue.submit([encoder.finish()]);
    const t2 = performance.now();
    const result = lossRead.read().then(async (buf) => {
      const loss = new Float32Array(buf)[0]!;
      const t3 = performance.now();
      throwIfFailed(engine.ctx, 'benchmark step');
      const phaseMs = timer ? await timer.read(phases.length) : null;
      return { wallMs: t3 - t0, uploadMs: t1 - t0, encodeMs: t2 - t1, readbackWaitMs: t3 - t2, loss, phaseMs };
    });
    return { result };
  }

  /**
   * One more step with every dispatch in its own timestamped pass: where the time goes inside
   * the phases. Pass boundaries add a little time of their own, so the sum exceeds a step.
   */
  async dispatchProfile(images: Float32Array, mask: Float32Array): Promise<DispatchTime[]> {
    const { engine, trainer } = this;
    const plan = trainer.plan;
    const device = engine.ctx.device;
    const list = this.phases.flatMap((phase) => phase.dispatches.filter((d) => d.workgroups.every((w) => w > 0)).map((d) => ({ phase: phase.name, d })));
    const timer = PassTimer.create(engine, list.length);
    if (!timer) return [];
    try {
      const encode = (encoder: GPUCommandEncoder) =>
        list.forEach(({ d }, i) => {
          const pass = timer.beginPass(encoder, d.label, i);
          encodeDispatches(pass, [d]);
          pass.end();
        });
      if (this.gradientsOnly) {
        plan.setBatch(images, mask);
        const encoder = device.createCommandEncoder({ label: 'bench dispatch profile' });
        encode(encoder);
        timer.resolve(encoder, list.length);
        await this.fence.submitAndWait(encoder, 'benchmark dispatch profile');
      } else {
        await trainer.submit(images, mask, { encode, beforeSubmit: (encoder) => void timer.resolve(encoder, list.length) }).result;
      }
      const times = await timer.read(list.length);
      return list.map(({ phase, d }, i) => ({ phase, label: d.label, kernel: d.pipeline.label, workgroups: d.workgroups, ms: times[i]! }));
    } finally {
      timer.destroy();
    }
  }

  /** Wall time of encoding only `phases` (plus the fence), for prefix differencing. */
  async prefixMs(phases: Phase[]): Promise<number> {
    const device = this.engine.ctx.device;
    const encoder = device.createCommandEncoder({ label: 'bench prefix' });
    for (const phase of phases) {
      const pass = encoder.beginComputePass({ label: phase.name });
      encodeDispatches(pass, phase.dispatches);
      pass.end();
    }
    const t0 = performance.now();
    await this.fence.submitAndWait(encoder, 'benchmark phase prefix');
    return performance.now() - t0;
  }

  destroy(): void {
    this.timer?.destroy();
    this.fence.destroy();
  }
}

function settingsParams(s: StepBenchSettings): Float32Array {
  return s.params ?? initialParams(paramTable(s.config), new Random(s.seed));
}

async function makeTrainer(engine: Engine, s: StepBenchSettings, params: Float32Array): Promise<Trainer> {
  const lr = s.learningRate ?? DEFAULT_LR;
  return Trainer.create(engine, { config: s.config, batchSize: s.batchSize, height: s.height, width: s.width, visible: s.visible, options: s.options, adamw: ADAMW_DEFAULTS, learningRate: () => lr, seed: s.seed }, params);
}

/**
 * Runs steps 1..count through the step loop one at a time (depth 1: a step's wall time is its
 * own, nothing queued behind it): `submit(n)` queues step n, `take` gets its result; the first
 * failure is thrown.
 */
async function runSerially<R>(count: number, submit: (n: number) => QueuedStep<R>, take: (result: R, n: number) => void = () => {}): Promise<void> {
  const end = await runStepLoop<void, R>({ submit: (n) => submit(n), deliver: take }, { first: 1, last: count, depth: 1 });
  if (end.failure) throw end.failure.error;
}

/** Run the step benchmark for one config and visible count. */
export async function benchStep(engine: Engine, s: StepBenchSettings, log: (line: string) => void = () => {}): Promise<StepBenchResult> {
  const [result] = await benchSweep(engine, s, [s.visible], log);
  return result!;
}

interface SweepEntry {
  s: StepBenchSettings;
  trainer: Trainer;
  runner: StepRunner;
  images: Float32Array;
  maskFor: () => Float32Array;
  wall: number[];
  upload: number[];
  encode: number[];
  readbackWait: number[];
  phaseSamples: number[][];
  gpuTotals: number[];
  losses: number[];
  pipelined: PipelinedResult[];
}

/**
 * The step benchmark at several visible counts (same weights and images). Every plan is built
 * and warmed up first, then the timed steps interleave the counts (step i of V = L, of
 * V = 19, …) so a change in background load hits all of them alike.
 */
export async function benchSweep(engine: Engine, base: StepBenchSettings, visibleCounts: number[], log: (line: string) => void = () => {}): Promise<StepBenchResult[]> {
  if (!visibleCounts.length) throw new RangeError('benchSweep: no visible counts');
  const L = (base.height / 32) * (base.width / 32);
  return benchVariants(engine, visibleCounts.map((visible) => ({ ...base, visible })), (s) => (visibleCounts.length > 1 ? ` (${s.visible}/${L} visible)` : ''), log);
}

/**
 * The step benchmark of several plans that share the batch shape, weights and timing settings
 * of the first (visible counts, step options such as a frozen encoder), timed interleaved as
 * benchSweep describes. `label` names a variant in the progress lines.
 */
export async function benchVariants(engine: Engine, variants: StepBenchSettings[], label: (s: StepBenchSettings) => string, log: (line: string) => void = () => {}): Promise<StepBenchResult[]> {
  const base = variants[0];
  if (!base) throw new RangeError('benchVariants: no variants');
  if (!Number.isInteger(base.steps) || base.steps < 1) throw new RangeError(`steps = ${base.steps} must be a positive integer`);
  const L = (base.height / 32) * (base.width / 32);
  const method: PhaseMethod = base.phaseTiming === 'auto' ? (engine.ctx.hasTimestamps ? 'gpu-timestamps' : 'prefix-differencing') : base.phaseTiming;
  if (method === 'gpu-timestamps' && !engine.ctx.hasTimestamps) throw new RangeError(`phase timing 'gpu-timestamps' needs the 'timestamp-query' feature, which this adapter lacks`);
  const lr = base.learningRate ?? DEFAULT_LR;
  const params = settingsParams(base);
  const entries: SweepEntry[] = [];
  try {
    for (const variant of variants) {
      const s = { ...variant, steps: base.steps, warmupSteps: base.warmupSteps, phaseTiming: base.phaseTiming };
      log(`  ${describeVisible(L, s.visible)}${s.options.freezeEncoder ? ', encoder frozen' : ''}: building the plan (pipelines compiled ahead), ${s.warmupSteps} warm-up step(s)`);
      const trainer = await makeTrainer(engine, s, params);
      const runner = new StepRunner(engine, trainer, s.gradientsOnly ?? false, method === 'gpu-timestamps');
      const images = s.batch?.images ?? randomImages(s.batchSize, s.height, s.width, s.seed + 1);
      const maskFor = () => s.batch?.mask ?? trainer.masksFor(trainer.stepCount + 1);
      entries.push({ s, trainer, runner, images, maskFor, wall: [], upload: [], encode: [], readbackWait: [], phaseSamples: runner.phases.map(() => []), gpuTotals: [], losses: [], pipelined: [] });
      await runSerially(s.warmupSteps, () => runner.submit(images, maskFor(), lr));
    }
    // The wall time comes from steps encoded exactly as the trainer encodes them (no
    // timestamp queries: they cost real time on a GPU); each is followed by a step of the same
    // ratio with timestamped phases, which gives the GPU time per phase.
    const steps: { i: number; e: SweepEntry; timestamps: boolean }[] = [];
    for (let i = 0; i < base.steps; i++) {
      for (const e of entries) for (const timestamps of e.runner.hasTimer ? [false, true] : [false]) steps.push({ i, e, timestamps });
    }
    await runSerially(
      steps.length,
      (n) => {
        const { e, timestamps } = steps[n - 1]!;
        return e.runner.submit(e.images, e.maskFor(), lr, e.runner.phases, timestamps);
      },
      (t, n) => {
        const { i, e, timestamps } = steps[n - 1]!;
        let note = '';
        if (!timestamps) {
          e.wall.push(t.wallMs);
          e.upload.push(t.uploadMs);
          e.encode.push(t.encodeMs);
          e.readbackWait.push(t.readbackWaitMs);
          e.losses.push(t.loss);
          if (e.runner.hasTimer) return; // logged with its timestamped twin
        } else if (t.phaseMs) {
          t.phaseMs.forEach((ms, k) => e.phaseSamples[k]!.push(ms));
          const gpu = t.phaseMs.reduce((x, y) => x + y, 0);
          e.gpuTotals.push(gpu);
          note = ` (timestamped step: GPU ${gpu.toFixed(1)} ms)`;
        }
        log(`  step ${i + 1}/${base.steps}${label(e.s)}: ${e.wall.at(-1)!.toFixed(1)} ms, loss ${e.losses.at(-1)!.toPrecision(6)}${note}`);
      },
    );
    if (base.inFlight?.length) {
      for (const e of entries) {
        log(`  pipelined throughput${label(e.s)}: depths ${[...new Set([1, ...base.inFlight])].join(', ')}, ${PIPELINED_ROUNDS} round(s) of ${base.steps + 1} steps each`);
        e.pipelined = await measurePipelined(base.inFlight, {
          steps: base.steps,
          rounds: PIPELINED_ROUNDS,
          batchSize: e.s.batchSize,
          submit: () => e.runner.submit(e.images, e.maskFor(), lr, e.runner.phases, false),
          log,
        });
      }
    }
    const results: StepBenchResult[] = [];
    for (const e of entries) results.push(await finishEntry(e, method, log));
    return results;
  } finally {
    for (const e of entries) {
      e.runner.destroy();
      e.trainer.destroy();
    }
  }
}

async function finishEntry(e: SweepEntry, method: PhaseMethod, log: (line: string) => void): Promise<StepBenchResult> {
  const { s, runner, trainer } = e;
  const plan = trainer.plan;
  let phaseMedians: number[] = [];
  if (method === 'gpu-timestamps') phaseMedians = e.phaseSamples.map((xs) => summarize(xs).median);
  else if (method === 'prefix-differencing') {
    // T_k = median wall time of phases [0, k); phase k−1 costs T_k − T_{k−1}
    const reps = Math.max(3, s.steps);
    const prefixMedians: number[] = [];
    for (let k = 0; k <= runner.phases.length; k++) {
      const xs: number[] = [];
      for (let r = 0; r < reps; r++) xs.push(await runner.prefixMs(runner.phases.slice(0, k)));
      prefixMedians.push(summarize(xs).median);
      log(`  prefix of ${k} phases: ${prefixMedians[k]!.toFixed(2)} ms`);
    }
    phaseMedians = runner.phases.map((_, k) => prefixMedians[k + 1]! - prefixMedians[k]!);
  }
  const dispatches = method === 'gpu-timestamps' ? await runner.dispatchProfile(e.images, e.maskFor()) : [];
  // the timed phases' FLOPs (no optimizer when timing gradients only)
  const flops = ledgerFlops(plan.ledger(), runner.phases);
  const total = flops.total;
  const stepMs = summarize(e.wall);
  const counts = countDispatches(runner.phases);
  const phases: PhaseResult[] = phaseMedians.map((ms, k) => {
    const name = runner.phases[k]!.name;
    const f = flops.byPhase.get(name) ?? 0;
    return { name, ms, flops: f, gflops: ms > 0 ? f / ms / 1e6 : 0 };
  });
  return {
    model: configName(s.config),
    batchSize: s.batchSize,
    height: s.height,
    width: s.width,
    maskRatio: maskRatioOf(plan.L, plan.V),
    visiblePatches: plan.V,
    patches: plan.L,
    what: s.gradientsOnly ? 'gradients (as grads)' : s.options.freezeEncoder ? 'training step, encoder frozen' : 'training step',
    steps: s.steps,
    stepMs,
    imagesPerSecond: s.batchSize / (stepMs.median / 1000),
    phaseMethod: method,
    phases,
    gpuStepMs: e.gpuTotals.length ? summarize(e.gpuTotals) : null,
    memory: { bytesAllocated: plan.arena.bytesAllocated, peakBytes: plan.arena.peakBytes, buffers: plan.arena.count },
    flops: { total, forward: flops.forward, backward: flops.backward, optimizer: flops.optimizer, matmulAndConv: flops.matmulAndConv },
    gflopsAchieved: total / stepMs.median / 1e6,
    dispatches,
    dispatchesPerStep: counts.dispatches,
    passesPerStep: counts.passes,
    host: { uploadMs: summarize(e.upload), encodeMs: summarize(e.encode), readbackWaitMs: summarize(e.readbackWait) },
    firstLoss: e.losses[0]!,
    lastLoss: e.losses[e.losses.length - 1]!,
    pipelined: e.pipelined,
  };
}

export class PeerMismatchError extends Error {
  override readonly name = 'PeerMismatchError';
}

export interface PeerComparison {
  settings: { model: string; batchSize: number; height: number; width: number; visiblePatches: number; patches: number; maskRatio: number };
  tfjsAdapter: string;
  loss: { ours: number; tfjs: number; relDiff: number };
  /** Largest relative difference of per-parameter gradient norms (layout-independent). */
  gradNormMaxRelDiff: { value: number; parameter: string };
  ours: Summary;
  tfjs: Summary;
  /** tfjs median / ours median: how many times faster ours is. */
  speedup: number;
  tfjsMemoryBytes: number | null;
}

/** Relative tolerance of the loss check: f32 sums in different orders over ~1e5 terms. */
export const PEER_LOSS_RTOL = 1e-3;

/**
 * The peer comparison: same weights and batch for both; the loss of the first step must agree
 * within PEER_LOSS_RTOL or nothing is timed (PeerMismatchError).
 */
export async function comparePeer(engine: Engine, tf: Tf, s: StepBenchSettings, log: (line: string) => void = () => {}): Promise<PeerComparison> {
  const table = paramTable(s.config);
  const params = settingsParams(s);
  const images = s.batch?.images ?? randomImages(s.batchSize, s.height, s.width, s.seed + 1);
  const trainer = await makeTrainer(engine, s, params);
  const mask = s.batch?.mask ?? trainer.masksFor(1);
  const runner = new StepRunner(engine, trainer, false, false);
  const peer = new TfjsFcmaePeer(tf, table, params, { config: s.config, batchSize: s.batchSize, height: s.height, width: s.width, options: s.options, adamw: ADAMW_DEFAULTS });
  const lr = s.learningRate ?? DEFAULT_LR;
  try {
    const ours = await trainer.gradients(images, mask);
    const theirs = await peerGradientNorms(peer, images, mask);
    const relDiff = Math.abs(ours.loss - theirs.loss) / Math.max(Math.abs(theirs.loss), 1e-30);
    let worst = { value: 0, parameter: '' };
    for (const spec of table.specs) {
      const g = ours.grads.subarray(spec.offset, spec.offset + spec.size);
      let sq = 0;
      for (let i = 0; i < g.length; i++) sq += g[i]! * g[i]!;
      const a = Math.sqrt(sq);
      const b = theirs.norms.get(spec.name) ?? Number.NaN;
      const rel = Math.abs(a - b) / Math.max(Math.abs(b), 1e-12);
      if (!(rel <= worst.value)) worst = { value: rel, parameter: spec.name };
    }
    log(`  loss: ours ${ours.loss.toPrecision(7)}, TF.js ${theirs.loss.toPrecision(7)} (relative difference ${relDiff.toExponential(2)}); gradient norms agree within ${worst.value.toExponential(2)} (worst: ${worst.parameter})`);
    if (!(relDiff <= PEER_LOSS_RTOL)) {
      throw new PeerMismatchError(`TF.js peer loss ${theirs.loss} differs from ours ${ours.loss} by ${relDiff.toExponential(2)} (> ${PEER_LOSS_RTOL}): the two steps do not compute the same thing, so timing them would mean nothing`);
    }
    // ours, peer, ours, …: both see the same background load
    const peerStep = (): QueuedStep<{ wallMs: number; loss: number }> => {
      const t0 = performance.now();
      return { result: peer.step(images, mask, lr).then((loss) => ({ wallMs: performance.now() - t0, loss })) };
    };
    const alternate = (n: number) => (n % 2 === 1 ? runner.submit(images, mask, lr) : peerStep());
    await runSerially(2 * s.warmupSteps, alternate);
    const oursMs: number[] = [];
    const tfjsMs: number[] = [];
    let oursLoss = NaN;
    await runSerially(2 * s.steps, alternate, ({ wallMs, loss }, n) => {
      if (n % 2 === 1) {
        oursMs.push(wallMs);
        oursLoss = loss;
        return;
      }
      tfjsMs.push(wallMs);
      log(`  step ${n / 2}/${s.steps}: ours ${oursMs[n / 2 - 1]!.toFixed(1)} ms (loss ${oursLoss.toPrecision(6)}), TF.js ${wallMs.toFixed(1)} ms (loss ${loss.toPrecision(6)})`);
    });
    const o = summarize(oursMs);
    const t = summarize(tfjsMs);
    const mem = tf.memory() as { numBytesInGPUAllocated?: number; numBytes?: number };
    return {
      settings: { model: configName(s.config), batchSize: s.batchSize, height: s.height, width: s.width, visiblePatches: trainer.plan.V, patches: trainer.plan.L, maskRatio: maskRatioOf(trainer.plan.L, trainer.plan.V) },
      tfjsAdapter: tfjsAdapterName(tf),
      loss: { ours: ours.loss, tfjs: theirs.loss, relDiff },
      gradNormMaxRelDiff: worst,
      ours: o,
      tfjs: t,
      speedup: t.median / o.median,
      tfjsMemoryBytes: mem.numBytesInGPUAllocated ?? mem.numBytes ?? null,
    };
  } finally {
    peer.dispose();
    runner.destroy();
    trainer.destroy();
  }
}
