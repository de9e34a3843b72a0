// The training step's engine-side core: owns a plan, applies the learning-rate schedule, submits
// one command buffer per step and reads the loss back without stalling (the promise of step k
// resolves while step k+1 is already queued). The trainer's state (weights, AdamW moments, step)
// is read and written only through PlanTrainer's saveState / restoreState / copyStateFrom /
// encodeStateRead (optimizer-state.ts).
import { throwIfFailed } from '../gpu/device.ts';
import type { Engine } from '../gpu/engine.ts';
import type { ModelConfig, StepOptions } from '../model/config.ts';
import { FcmaePlan } from '../model/fcmae.ts';
import { initialParams } from '../model/parameters.ts';
import { assembleReconstruction, type Reconstruction } from '../model/reconstruction.ts';
import { Random } from '../util/random.ts';
import { ADAMW_DEFAULTS, type AdamWConfig } from '../ops/adamw.ts';
import { generateMasks } from './masking.ts';
import { assertPlanFits } from './estimates.ts';
import { PlanTrainer } from './optimizer-state.ts';
import { Stream, streamRandom } from './streams.ts';

export interface TrainerSettings {
  config: ModelConfig;
  batchSize: number;
  height: number;
  width: number;
  /** Patches kept visible per sample (1..L; L is the dense case): the plan's key. */
  visible: number;
  options: StepOptions;
  adamw?: AdamWConfig;
  /** Learning rate for optimizer step k (1-based). */
  learningRate: (step: number) => number;
  seed: number;
}

export interface StepResult {
  step: number;
  loss: number;
  lr: number;
  /** Wall time from submit to loss available, ms. */
  ms: number;
}

export type { TrainerState } from './optimizer-state.ts';

/** Ways a driver extends one step's submission without owning the step. */
export interface StepHooks {
  /** Encodes the step's work instead of the plain forward + backward + AdamW (e.g. with per-phase timestamps). */
  encode?: (encoder: GPUCommandEncoder) => void;
  /**
   * Called once the step and its loss copy are encoded, before submit: extra copies that ride
   * in the same submission (snapshots, timestamp resolves). The returned function runs after submit.
   */
  beforeSubmit?: (encoder: GPUCommandEncoder, step: number) => (() => void) | void;
}

/** A step on the GPU queue: its number and lr are known at once, its loss when `result` resolves. */
export interface SubmittedStep {
  step: number;
  lr: number;
  submittedAt: number;
  /** Host time writing the batch, masks and AdamW scalars, ms. */
  uploadMs: number;
  /** Host time encoding and submitting the command buffer, ms. */
  encodeMs: number;
  result: Promise<StepResult>;
}

/**
 * Encodes a step (the plan's work, or hooks.encode's) and a copy of its loss, submits it, and
 * returns at once; `result` resolves when the loss is back (a non-finite loss rejects with
 * NonFiniteLossError). The caller has uploaded the step's inputs since `uploadStart`.
 */
export function queueStep(
  engine: Engine,
  o: { step: number; lr: number; uploadStart: number; loss: GPUBuffer; hooks: StepHooks; encode: (encoder: GPUCommandEncoder) => void },
): SubmittedStep {
  const { step, lr, hooks } = o;
  const t1 = performance.now();
  const encoder = engine.ctx.device.createCommandEncoder({ label: `step ${step}` });
  if (hooks.encode) hooks.encode(encoder);
  else o.encode(encoder);
  const pending = engine.readback.copy(encoder, o.loss, 0, 4);
  const after = hooks.beforeSubmit?.(encoder, step);
  engine.ctx.device.queue.submit([encoder.finish()]);
  const submittedAt = performance.now();
  after?.();
  const result = pending.read().then((buf) => {
    throwIfFailed(engine.ctx, `training step ${step}`);
    const loss = new Float32Array(buf)[0]!;
    if (!Number.isFinite(loss)) throw new NonFiniteLossError(step, loss);
    return { step, loss, lr, ms: performance.now() - submittedAt };
  });
  return { step, lr, submittedAt, uploadMs: t1 - o.uploadStart, encodeMs: submittedAt - t1, result };
}

export class NonFiniteLossError extends Error {
  override readonly name = 'NonFiniteLossError';
  constructor(readonly step: number, readonly loss: number) {
    super(`loss became ${loss} at step ${step}: lower the learning rate (the last good weights are kept)`);
  }
}

export class Trainer extends PlanTrainer<FcmaePlan> {
  private constructor(
    engine: Engine,
    plan: FcmaePlan,
    readonly settings: TrainerSettings,
  ) {
    super(engine, plan);
  }

  static async create(engine: Engine, settings: TrainerSettings, params?: Float32Array): Promise<Trainer> {
    const { config, batchSize, height, width, visible, options } = settings;
    // Refuse before allocating anything: a buffer over the device's limit would only fail later,
    // as a validation error naming an internal buffer.
    assertPlanFits(config, { inputSize: height, height, width, visible, denseEncoder: options.denseEncoder, freezeEncoder: options.freezeEncoder ?? false, batchSize }, engine.ctx.device.limits);
    const plan = await FcmaePlan.build(engine, config, { batchSize, height, width, visible }, options, settings.adamw ?? ADAMW_DEFAULTS);
    const trainer = new Trainer(engine, plan, settings);
    plan.setParams(params ?? initialParams(plan.table, new Random(settings.seed)));
    return trainer;
  }

  get L(): number {
    return this.plan.L;
  }

  /** The masks (N, L) of step `step` of the run seeded `seed`: its own stream, the same in every driver. */
  masksFor(step: number, seed = this.settings.seed): Float32Array {
    return generateMasks(this.settings.batchSize, this.plan.L, this.plan.V, streamRandom(seed, Stream.Mask, step));
  }

  /**
   * Queues optimizer step stepCount + 1 on `images` (N, 3, H, W) and `mask` (N, L). `result`
   * resolves with the loss of this step (computed before the update).
   */
  submit(images: Float32Array, mask: Float32Array, hooks: StepHooks = {}): SubmittedStep {
    const { plan, engine } = this;
    if (engine.ctx.lostError) throw engine.ctx.lostError;
    const t0 = performance.now();
    plan.setBatch(images, mask);
    const step = this.steps + 1;
    const lr = this.settings.learningRate(step);
    plan.setOptimizerStep(step, lr);
    const submitted = queueStep(engine, { step, lr, uploadStart: t0, loss: plan.loss, hooks, encode: (encoder) => plan.encodeStep(encoder, { backward: true, optimizer: true }) });
    this.steps = step;
    return submitted;
  }

  /** One optimizer step (see submit); the masks default to the step's own stream. */
  step(images: Float32Array, mask: Float32Array = this.masksFor(this.steps + 1), hooks?: StepHooks): Promise<StepResult> {
    return this.submit(images, mask, hooks).result;
  }

  /** Loss and the gradient of every parameter (flat engine layout; 0 for a frozen encoder's), without updating. */
  async gradients(images: Float32Array, mask: Float32Array): Promise<{ loss: number; grads: Float32Array }> {
    const { plan, engine } = this;
    plan.setBatch(images, mask);
    const encoder = engine.ctx.device.createCommandEncoder({ label: 'gradients' });
    plan.encodeStep(encoder, { backward: true, optimizer: false });
    const lossRead = engine.readback.copy(encoder, plan.loss, 0, 4);
    engine.ctx.device.queue.submit([encoder.finish()]);
    const [lossBuf, grads] = await Promise.all([lossRead.read(), engine.readback.readF32(plan.grads)]);
    throwIfFailed(engine.ctx, 'gradient computation');
    return { loss: new Float32Array(lossBuf)[0]!, grads: plan.gradsInTableLayout(grads) };
  }

  /** Loss only (forward), e.g. for evaluation. */
  async evaluate(images: Float32Array, mask: Float32Array): Promise<number> {
    const { plan, engine } = this;
    plan.setBatch(images, mask);
    const encoder = engine.ctx.device.createCommandEncoder({ label: 'evaluate' });
    plan.encodeStep(encoder, { backward: false, optimizer: false });
    const lossRead = engine.readback.copy(encoder, plan.loss, 0, 4);
    engine.ctx.device.queue.submit([encoder.finish()]);
    const loss = new Float32Array(await lossRead.read())[0]!;
    throwIfFailed(engine.ctx, 'evaluation');
    return loss;
  }

  /** Reconstructions of `images` under `mask` with the current weights (no update). */
  async reconstruct(images: Float32Array, mask: Float32Array): Promise<Reconstruction & { loss: number; pred: Float32Array }> {
    const { plan, engine } = this;
    const { predAll, phase } = await plan.reconstructionPhase();
    plan.setBatch(images, mask);
    const encoder = engine.ctx.device.createCommandEncoder({ label: 'reconstruct' });
    plan.encodeStep(encoder, { backward: false, optimizer: false });
    plan.encodePhases(encoder, [phase]);
    const reads = [predAll, plan.patchMean, plan.patchVar, plan.loss].map((b) => engine.readback.copy(encoder, b, 0, b.size));
    engine.ctx.device.queue.submit([encoder.finish()]);
    const [pred, patchMean, patchVar, loss] = (await Promise.all(reads.map((r) => r.read()))).map((b) => new Float32Array(b));
    throwIfFailed(engine.ctx, 'reconstruction');
    const { batchSize: N, height, width } = plan.shape;
    const result = assembleReconstruction({ N, height, width, images, mask, pred: pred!, patchMean: patchMean!, patchVar: patchVar!, normPix: plan.options.normPix });
    return { ...result, loss: loss![0]!, pred: pred! };
  }

  destroy(): void {
    this.plan.destroy();
  }
}
