// The training loop's engine-side core: owns a plan, draws masks, applies the learning-rate
// schedule, submits one command buffer per step and reads the loss back without stalling
// (the promise of step k resolves while step k+1 is already queued).
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

export class NonFiniteLossError extends Error {
  override readonly name = 'NonFiniteLossError';
  constructor(readonly step: number, readonly loss: number) {
    super(`loss became ${loss} at step ${step}: lower the learning rate (the last good weights are kept)`);
  }
}

export class Trainer {
  /** Optimizer steps taken. */
  stepCount = 0;
  private maskRng: Random;

  private constructor(
    readonly engine: Engine,
    readonly plan: FcmaePlan,
    readonly settings: TrainerSettings,
  ) {
    this.maskRng = new Random(settings.seed ^ 0x5bd1e995);
  }

  static async create(engine: Engine, settings: TrainerSettings, params?: Float32Array): Promise<Trainer> {
    const { config, batchSize, height, width, visible, options } = settings;
    // Refuse before allocating anything: a buffer over the device's limit would only fail later,
    // as a validation error naming an internal buffer.
    assertPlanFits(config, { inputSize: height, height, width, visible, denseEncoder: options.denseEncoder, batchSize }, engine.ctx.device.limits);
    const plan = await FcmaePlan.build(engine, config, { batchSize, height, width, visible }, options, settings.adamw ?? ADAMW_DEFAULTS);
    const trainer = new Trainer(engine, plan, settings);
    plan.setParams(params ?? initialParams(plan.table, new Random(settings.seed)));
    return trainer;
  }

  get L(): number {
    return this.plan.L;
  }

  /** Masks for the next batch from the trainer's seeded generator. */
  nextMasks(): Float32Array {
    return generateMasks(this.settings.batchSize, this.plan.L, this.plan.V, this.maskRng);
  }

  /**
   * One optimizer step on `images` (N, 3, H, W). The returned promise resolves with the loss of
   * this step (computed before the update); the GPU work is queued at once.
   */
  step(images: Float32Array, mask: Float32Array = this.nextMasks()): Promise<StepResult> {
    const { plan, engine } = this;
    plan.setBatch(images, mask);
    const step = ++this.stepCount;
    const lr = this.settings.learningRate(step);
    plan.setOptimizerStep(step, lr);
    const encoder = engine.ctx.device.createCommandEncoder({ label: `step ${step}` });
    plan.encodeStep(encoder, { backward: true, optimizer: true });
    const pending = engine.readback.copy(encoder, plan.loss, 0, 4);
    const t0 = performance.now();
    engine.ctx.device.queue.submit([encoder.finish()]);
    return pending.read().then((buf) => {
      throwIfFailed(engine.ctx, `training step ${step}`);
      const loss = new Float32Array(buf)[0]!;
      if (!Number.isFinite(loss)) throw new NonFiniteLossError(step, loss);
      return { step, loss, lr, ms: performance.now() - t0 };
    });
  }

  /** Loss and the gradient of every parameter (flat engine layout), without updating. */
  async gradients(images: Float32Array, mask: Float32Array): Promise<{ loss: number; grads: Float32Array }> {
    const { plan, engine } = this;
    plan.setBatch(images, mask);
    const encoder = engine.ctx.device.createCommandEncoder({ label: 'gradients' });
    plan.encodeStep(encoder, { backward: true, optimizer: false });
    const lossRead = engine.readback.copy(encoder, plan.loss, 0, 4);
    engine.ctx.device.queue.submit([encoder.finish()]);
    const [lossBuf, grads] = await Promise.all([lossRead.read(), engine.readback.readF32(plan.grads)]);
    throwIfFailed(engine.ctx, 'gradient computation');
    return { loss: new Float32Array(lossBuf)[0]!, grads };
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

  /** Current parameters (flat engine layout). */
  readParams(): Promise<Float32Array> {
    return this.engine.readback.readF32(this.plan.params);
  }

  destroy(): void {
    this.plan.destroy();
  }
}
