// One training run, whatever drives it: the CLI, the browser worker and the tests draw the
// batch of step k through the same code, so the same seed, data and settings give the same
// images, masks and losses bit for bit in every driver, and a run restored at step k (Trainer
// state) continues exactly. The driver only decides when to step and what to do with results.
//
// Step k uses: slots from BatchOrder(size, batch, seed).slots(k), the official augmentation from
// the stream (seed, Augment, k), masks from (seed, Mask, k) (Trainer.masksFor). The fixed
// evaluation batch: `evaluationSlots` spread over the data set, masks from (seed, Eval, 0).
import type { Random } from '../util/random.ts';
import { BatchOrder } from './batch-order.ts';
import { generateMasks } from './masking.ts';
import { Stream, streamRandom } from './streams.ts';
import type { StepHooks, SubmittedStep, Trainer } from './trainer.ts';

/** Where a run's images come from: a folder in memory (data/pixel-batch-source.ts), the browser's lazily decoded data set (data/browser-dataset.ts). */
export interface BatchSource {
  /** Slots 0..size−1 that batches are drawn from. */
  readonly size: number;
  /** False for a slot whose image turned out unusable (e.g. failed to decode after the run began). */
  usable(slot: number): boolean;
  /**
   * Augmented training images (N, 3, S, S) of `slots`, in that order, drawing the augmentation
   * from `rng` image by image; null when one of the slots turned out unusable meanwhile (the
   * batch is then drawn again).
   */
  trainingImages(slots: Int32Array, inputSize: number, rng: Random, signal?: AbortSignal): Promise<Float32Array | null>;
}

/** The images of one step, ready to submit. */
export interface StepBatch {
  step: number;
  /** (N, 3, S, S) */
  images: Float32Array;
  slots: Int32Array;
}

/** `count` slots spread evenly over the usable ones (the fixed evaluation batch). */
export function evaluationSlots(usable: readonly number[], count: number): number[] {
  const n = usable.length;
  if (n === 0) throw new RangeError('no usable images for an evaluation batch');
  return Array.from({ length: count }, (_, i) => usable[Math.floor((i * n) / count) % n]!);
}

/** The fixed evaluation batch's masks (E, L): the same for every checkpoint of a run. */
export function evaluationMasks(seed: number, count: number, L: number, V: number): Float32Array {
  return generateMasks(count, L, V, streamRandom(seed, Stream.Eval, 0));
}

export class TrainingRun {
  private order: BatchOrder | null = null;

  constructor(
    readonly trainer: Trainer,
    readonly source: BatchSource,
    /** The run's seed (a reset may give an existing trainer a new one). */
    readonly seed: number = trainer.settings.seed,
  ) {}

  /** The step the next submit runs. */
  get nextStep(): number {
    return this.trainer.stepCount + 1;
  }

  private orderFor(): BatchOrder {
    const B = this.trainer.settings.batchSize;
    if (!this.order || this.order.count !== this.source.size || this.order.batchSize !== B) this.order = new BatchOrder(this.source.size, B, this.seed);
    return this.order;
  }

  /** The images of step `step` (default: the next one); a function of (seed, data, settings, step) only. */
  async batchFor(step = this.nextStep, signal?: AbortSignal): Promise<StepBatch> {
    const S = this.trainer.settings.height;
    if (this.trainer.settings.width !== S) throw new Error('internal: training batches are square');
    for (let attempt = 0; ; attempt++) {
      const slots = this.orderFor().slots(step, (s) => this.source.usable(s));
      const images = await this.source.trainingImages(slots, S, streamRandom(this.seed, Stream.Augment, step), signal);
      if (images) return { step, images, slots };
      if (attempt > this.source.size) throw new Error(`internal: the batch of step ${step} kept losing images`);
    }
  }

  /** Queues `batch` as the next step with its own masks. */
  submit(batch: StepBatch, hooks?: StepHooks): SubmittedStep {
    const next = this.nextStep;
    if (batch.step !== next) throw new Error(`internal: the batch of step ${batch.step} submitted as step ${next}`);
    return this.trainer.submit(batch.images, this.trainer.masksFor(next, this.seed), hooks);
  }
}
