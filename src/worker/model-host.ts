// The worker's GPU and model: the device (acquired on first use, again after a loss), the model
// the run trains (its Trainer, the config it was built for, the phase profiler), and the
// evaluation plans of other shapes that reconstructions need. Builds happen under the GPU lock
// (no step is submitted meanwhile) and inside error scopes, so an out-of-memory or validation
// error is pinned to the build that caused it; a plan too large for the device is refused before
// anything is allocated. After a device loss the GPU lock is a new one: work still holding the
// old lock waits on a device that is gone (in Chrome a read-back on a crashed GPU process may
// never settle) and must not keep the rebuild waiting.
import { acquireGpu } from '../gpu/device.ts';
import { createEngine, type Engine } from '../gpu/engine.ts';
import { GpuRuntimeError, type GpuDeviceLostError } from '../gpu/errors.ts';
import type { ShaderSources } from '../gpu/shader-library.ts';
import { assertPlanFits, PlanTooLargeError } from '../train/estimates.ts';
import { adamwOf, modelOf, patchesOf, stepOptionsOf, type RunConfig } from '../train/run-config.ts';
import { Trainer } from '../train/trainer.ts';
import { PhaseProfiler } from './profiler.ts';
import { WorkerError } from './protocol.ts';
import { Mutex } from './scheduling.ts';

export interface Model {
  trainer: Trainer;
  /** The config the plan was built for (live keys may have moved on since). */
  built: RunConfig;
  profiler: PhaseProfiler | null;
}

/** Evaluation plans kept at once (reconstructions at other batch sizes or mask ratios). */
const EVAL_PLANS = 2;

/** The page's form of a plan refused for size (estimates.ts: assertPlanFits). */
function tooLarge(e: PlanTooLargeError): WorkerError {
  return new WorkerError('too-large', `this configuration does not fit the GPU: ${e.reason}`, 'Lower the batch size, the input size or the model size.', { bytes: e.estimate.largestBufferBytes, buffer: e.estimate.largestBufferName });
}

export class ModelHost {
  engine: Engine | null = null;
  model: Model | null = null;
  /** Held while building plans and submitting steps (a new one after each device loss). */
  private lock = new Mutex();
  private evalTrainers = new Map<string, Trainer>();
  private disposed = false;

  constructor(
    private readonly shaders: ShaderSources,
    private readonly gpuProvider: () => GPU | undefined,
    private readonly hooks: {
      /** Learning rate of optimizer step k (1-based), read at every step (live settings). */
      lrAt(step: number): number;
      /** The device of `engine` went away. */
      onDeviceLost(engine: Engine, err: GpuDeviceLostError): void;
    },
  ) {}

  get gpuLock(): Mutex {
    return this.lock;
  }

  /** `work` on `engine`'s device, or its loss error once that device is lost (whichever comes first). */
  untilLost<T>(engine: Engine, work: Promise<T>): Promise<T> {
    return Promise.race([work, engine.ctx.lost.then((err) => Promise.reject(err ?? engine.ctx.lostError))]);
  }

  /** A read that failed because the device went away reports the loss, not "mapAsync failed". */
  async deviceAware(engine: Engine, e: unknown): Promise<unknown> {
    if (engine.ctx.lostError) return engine.ctx.lostError;
    const lost = await Promise.race([engine.ctx.lost, new Promise<null>((r) => setTimeout(() => r(null), 500))]);
    return lost ?? e;
  }

  /** Whether the current device was lost. */
  get lost(): boolean {
    return !!this.engine?.ctx.lostError;
  }

  async ensureEngine(): Promise<Engine> {
    if (this.disposed) throw new WorkerError('disposed', 'the engine worker was disposed', 'Reload the page.');
    if (this.engine && !this.engine.ctx.lostError) return this.engine;
    const ctx = await acquireGpu(this.gpuProvider());
    const engine = createEngine(ctx, this.shaders);
    this.engine = engine;
    void ctx.lost.then((err) => {
      if (this.engine === engine && !this.disposed) this.hooks.onDeviceLost(engine, err);
    });
    return engine;
  }

  /** GPU objects are gone (device lost): drop them; the next build acquires a new device. */
  forgetGpu(): void {
    this.lock = new Mutex();
    this.model = null;
    this.evalTrainers.clear();
    this.engine = null;
  }

  /** Refuses a config too large for the device before its weights are even drawn. */
  async assertFits(c: RunConfig): Promise<void> {
    try {
      assertPlanFits(modelOf(c), { inputSize: c.inputSize, visible: patchesOf(c).V, denseEncoder: c.denseEncoder, freezeEncoder: c.freezeEncoder, batchSize: c.batchSize }, (await this.ensureEngine()).ctx.device.limits);
    } catch (e) {
      throw e instanceof PlanTooLargeError ? tooLarge(e) : e;
    }
  }

  /** A Trainer for `c` (another batch size or visible count for evaluation plans) starting from `params`. */
  async buildTrainer(c: RunConfig, params: Float32Array, batchSize = c.batchSize, visible = patchesOf(c).V): Promise<Trainer> {
    return this.gpuLock.run(async () => {
      const engine = await this.ensureEngine();
      const device = engine.ctx.device;
      device.pushErrorScope('out-of-memory');
      device.pushErrorScope('validation');
      let trainer: Trainer | null = null;
      let failure: unknown = null;
      try {
        const settings = { config: modelOf(c), batchSize, height: c.inputSize, width: c.inputSize, visible, options: stepOptionsOf(c), adamw: adamwOf(c), learningRate: (k: number) => this.hooks.lrAt(k), seed: c.seed };
        trainer = await Trainer.create(engine, settings, params);
      } catch (e) {
        failure = e;
      }
      const validation = await device.popErrorScope();
      const oom = await device.popErrorScope();
      if (oom || validation || failure) trainer?.destroy();
      if (failure instanceof PlanTooLargeError) throw tooLarge(failure);
      if (oom) throw new GpuRuntimeError('out-of-memory', oom.message, 'building the training plan');
      if (validation) throw new GpuRuntimeError('validation', validation.message, 'building the training plan');
      if (failure) throw failure;
      return trainer!;
    });
  }

  /** `trainer` becomes the model (the previous one must have been destroyed or replaced). */
  install(trainer: Trainer, c: RunConfig): void {
    this.model?.profiler?.destroy();
    this.model = { trainer, built: { ...c }, profiler: PhaseProfiler.create(trainer.engine, trainer.plan) };
  }

  destroyModel(): void {
    for (const t of this.evalTrainers.values()) if (t !== this.model?.trainer) t.destroy();
    this.evalTrainers.clear();
    this.model?.profiler?.destroy();
    this.model?.trainer.destroy();
    this.model = null;
  }

  /** A plan of the model for N images keeping V patches: the model's own when the shape matches. */
  async evalTrainer(N: number, V: number): Promise<Trainer> {
    const model = this.model;
    if (!model) throw new WorkerError('internal', 'no model to evaluate', 'Reload the page.');
    const plan = model.trainer.plan;
    if (plan.shape.batchSize === N && plan.V === V) return model.trainer;
    const key = `${N}:${V}`;
    let t = this.evalTrainers.get(key);
    if (!t) {
      while (this.evalTrainers.size >= EVAL_PLANS) {
        const [k, old] = this.evalTrainers.entries().next().value as [string, Trainer];
        old.destroy();
        this.evalTrainers.delete(k);
      }
      t = await this.buildTrainer(model.built, new Float32Array(plan.table.totalFloats), N, V);
      this.evalTrainers.set(key, t);
    }
    return t;
  }

  /** Whether `trainer` is still one of this host's plans (not destroyed by a rebuild meanwhile). */
  owns(trainer: Trainer): boolean {
    return trainer === this.model?.trainer || [...this.evalTrainers.values()].includes(trainer);
  }

  dispose(): void {
    this.disposed = true;
    this.destroyModel();
    this.engine?.ctx.device.destroy();
    this.engine = null;
  }
}
