// Fine-tuning's engine-side core, as Trainer is pretraining's: owns a classification plan,
// applies the learning-rate schedule and the official parameter groups, draws each step's drop
// path from the run's own stream (seed, DropPath, step), submits one command buffer per step and
// reads the loss back without stalling. Also the forward passes that evaluation and embedding
// need (no drop path, no update) and the gradients of one batch.
import { throwIfFailed } from '../gpu/device.ts';
import type { Engine } from '../gpu/engine.ts';
import { ClassifierPlan, type ClassifierOptions } from '../model/classifier.ts';
import type { ModelConfig } from '../model/config.ts';
import { classifierParamTable, initialParams } from '../model/parameters.ts';
import { assertClassifierFits } from './estimates.ts';
import { Random } from '../util/random.ts';
import { PlanTrainer } from './optimizer-state.ts';
import { chunkScalesOf, paramGroups, type ParamGroupEntry, type ParamGroupSettings } from './param-groups.ts';
import { Stream, streamRandom } from './streams.ts';
import { queueStep, type StepHooks, type StepResult, type SubmittedStep } from './trainer.ts';

export interface ClassifierTrainerSettings {
  config: Pick<ModelConfig, 'depths' | 'dims' | 'grn'>;
  numClasses: number;
  batchSize: number;
  /** Square input side (a multiple of 32). */
  inputSize: number;
  options?: Partial<ClassifierOptions>;
  groups: ParamGroupSettings;
  /** Learning rate for optimizer step k (1-based), before the groups' scales. */
  learningRate: (step: number) => number;
  seed: number;
}

/** What one forward pass gives (N rows each; padding samples included). */
export interface ClassifierOutputs {
  /** Mean loss over the real samples (labels ≥ 0); NaN when none has a label. */
  loss: number;
  perSample: Float32Array; // (N), 0 for padding samples
  logits: Float32Array; // (N, K)
  features: Float32Array; // (N, d3)
}

export class ClassifierTrainer extends PlanTrainer<ClassifierPlan> {
  readonly groups: ParamGroupEntry[];

  private constructor(
    engine: Engine,
    plan: ClassifierPlan,
    readonly settings: ClassifierTrainerSettings,
  ) {
    super(engine, plan);
    this.groups = paramGroups(plan.table, settings.config.depths, settings.groups);
    plan.setChunkScales(chunkScalesOf(plan.table, this.groups));
  }

  static async create(engine: Engine, settings: ClassifierTrainerSettings, params?: Float32Array): Promise<ClassifierTrainer> {
    const { config, numClasses, batchSize, inputSize } = settings;
    // refuse before allocating: a buffer over the device's limit would only fail later, as a validation error naming an internal buffer
    assertClassifierFits(config, { batchSize, inputSize, paramFloats: classifierParamTable(config, numClasses).totalFloats }, engine.ctx.device.limits);
    const plan = await ClassifierPlan.build(engine, config, { batchSize, height: inputSize, width: inputSize, numClasses }, settings.options ?? {});
    try {
      const trainer = new ClassifierTrainer(engine, plan, settings);
      const flat = params ?? initialParams(plan.table, new Random(settings.seed));
      plan.setParams(flat);
      if (plan.ema) engine.ctx.device.queue.writeBuffer(plan.ema, 0, flat.buffer, flat.byteOffset, flat.byteLength);
      return trainer;
    } catch (e) {
      plan.destroy();
      throw e;
    }
  }

  /** The per-sample drop-path scales of step `step`: 0 or 1/(1 − p), one set per block with p > 0; null without drop path. */
  dropScalesFor(step: number): Float32Array[] | null {
    const blocks = this.plan.dropBlocks.filter((b) => b.scale);
    if (!blocks.length) return null;
    const rng = streamRandom(this.settings.seed, Stream.DropPath, step);
    const N = this.plan.shape.batchSize;
    return blocks.map((b) => {
      const keep = 1 - b.rate;
      return Float32Array.from({ length: N }, () => (rng.uniform() < keep ? 1 / keep : 0));
    });
  }

  /** Queues optimizer step stepCount + 1 on `images` (N, 3, S, S) and `labels` (N); `result` resolves with its loss (before the update). */
  submit(images: Float32Array, labels: Int32Array, hooks: StepHooks = {}): SubmittedStep {
    const { plan, engine } = this;
    if (engine.ctx.lostError) throw engine.ctx.lostError;
    const t0 = performance.now();
    const step = this.steps + 1;
    plan.setBatch(images, labels);
    plan.setDropScales(this.dropScalesFor(step));
    const lr = this.settings.learningRate(step);
    plan.setOptimizerStep(step, lr);
    const submitted = queueStep(engine, { step, lr, uploadStart: t0, loss: plan.loss, hooks, encode: (encoder) => plan.encodeStep(encoder, { backward: true, optimizer: true }) });
    this.steps = step;
    return submitted;
  }

  step(images: Float32Array, labels: Int32Array, hooks?: StepHooks): Promise<StepResult> {
    return this.submit(images, labels, hooks).result;
  }

  private async run(label: string, images: Float32Array, labels: Int32Array, backward: boolean): Promise<ClassifierOutputs & { grads: Float32Array | null }> {
    const { plan, engine } = this;
    if (engine.ctx.lostError) throw engine.ctx.lostError;
    plan.setBatch(images, labels);
    plan.setDropScales(null);
    const encoder = engine.ctx.device.createCommandEncoder({ label });
    plan.encodeStep(encoder, { backward, optimizer: false });
    const reads = [plan.perSampleLoss, plan.logits, plan.features, ...(backward ? [plan.grads] : [])].map((b) => engine.readback.copy(encoder, b, 0, b.size));
    engine.ctx.device.queue.submit([encoder.finish()]);
    const [perSample, logits, features, grads] = (await Promise.all(reads.map((r) => r.read()))).map((b) => new Float32Array(b));
    throwIfFailed(engine.ctx, label);
    let sum = 0;
    let count = 0;
    labels.forEach((y, i) => {
      if (y >= 0) {
        sum += perSample![i]!;
        count++;
      }
    });
    return { loss: count ? sum / count : NaN, perSample: perSample!, logits: logits!, features: features!, grads: grads ?? null };
  }

  /** Logits, features and loss with the current weights (no drop path, no update); labels −1 mark padding or unlabelled samples. */
  forward(images: Float32Array, labels: Int32Array = new Int32Array(this.plan.shape.batchSize).fill(-1)): Promise<ClassifierOutputs> {
    return this.run('classifier forward', images, labels, false);
  }

  /**
   * The loss (the plan's own: mean over all N samples, which must all be labelled), logits,
   * features and every parameter's gradient (flat engine layout), without drop path or update.
   */
  async gradients(images: Float32Array, labels: Int32Array): Promise<ClassifierOutputs & { grads: Float32Array }> {
    if (labels.some((y) => y < 0)) throw new RangeError('gradients need a label for every sample');
    const r = await this.run('classifier gradients', images, labels, true);
    return { ...r, grads: r.grads! };
  }

  // ---- the weights' EMA --------------------------------------------------------------------

  /** The EMA of the weights (flat, engine layout), or null when the plan keeps none. */
  async readEma(): Promise<Float32Array | null> {
    const { plan, engine } = this;
    if (!plan.ema) return null;
    const ema = await engine.readback.readF32(plan.ema);
    throwIfFailed(engine.ctx, 'reading the EMA weights');
    return ema;
  }

  /** Writes the EMA of the weights (e.g. from a checkpoint). */
  restoreEma(flat: Float32Array): void {
    const { plan, engine } = this;
    if (!plan.ema) throw new Error('this plan keeps no EMA');
    if (flat.length !== plan.table.totalFloats) throw new RangeError(`EMA: ${flat.length} floats for a model of ${plan.table.totalFloats}`);
    engine.ctx.device.queue.writeBuffer(plan.ema, 0, flat.buffer, flat.byteOffset, flat.byteLength);
  }

  destroy(): void {
    this.plan.destroy();
  }
}
