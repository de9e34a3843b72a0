// The state a run continues from — flat weights, AdamW moments, step count — read and written
// the same way for every plan that trains with AdamW over one flat parameter buffer (the FCMAE
// plan, the classification plan). Trainers own the step count; these functions move the bytes.
import { throwIfFailed } from '../gpu/device.ts';
import { upload, type PendingRead } from '../gpu/buffers.ts';
import type { Engine } from '../gpu/engine.ts';
import type { ParamTable } from '../model/parameters.ts';

/** Everything a run needs to continue exactly: flat parameters and AdamW moments (engine layout). */
export interface TrainerState {
  /** Optimizer steps taken. */
  step: number;
  params: Float32Array;
  /** AdamW moments; null = zero (a fresh run, or a file that has none). */
  m: Float32Array | null;
  v: Float32Array | null;
}

/** What these functions need of a plan. */
export interface OptimizedPlan {
  readonly table: ParamTable;
  readonly params: GPUBuffer;
  readonly adamM: GPUBuffer;
  readonly adamV: GPUBuffer;
}

/** Writes weights and moments (null: zero); queued before any later step. Throws on a size or step mismatch before writing anything. */
export function writeTrainerState(engine: Engine, plan: OptimizedPlan, state: TrainerState): void {
  const n = plan.table.totalFloats;
  for (const [what, a] of [['parameters', state.params], ['AdamW m', state.m], ['AdamW v', state.v]] as const) {
    if (a && a.length !== n) throw new RangeError(`${what}: ${a.length} floats for a model of ${n}`);
  }
  if (!Number.isInteger(state.step) || state.step < 0) throw new RangeError(`step ${state.step} must be an integer ≥ 0`);
  const device = engine.ctx.device;
  upload(device, plan.params, state.params);
  if (state.m) upload(device, plan.adamM, state.m);
  if (state.v) upload(device, plan.adamV, state.v);
  if (!state.m || !state.v) {
    const encoder = device.createCommandEncoder({ label: 'reset AdamW moments' });
    if (!state.m) encoder.clearBuffer(plan.adamM);
    if (!state.v) encoder.clearBuffer(plan.adamV);
    device.queue.submit([encoder.finish()]);
  }
}

/** Encodes copies of the weights (and moments) as they stand after the work already in `encoder`; read() after it is submitted. */
export function encodeTrainerStateRead(engine: Engine, plan: OptimizedPlan, encoder: GPUCommandEncoder, step: number, withMoments = true): { read(): Promise<TrainerState> } {
  const bytes = plan.table.totalFloats * 4;
  const reads: PendingRead[] = [plan.params, ...(withMoments ? [plan.adamM, plan.adamV] : [])].map((b) => engine.readback.copy(encoder, b, 0, bytes));
  return {
    read: async () => {
      const [p, m, v] = await Promise.all(reads.map((r) => r.read()));
      return { step, params: new Float32Array(p!), m: m ? new Float32Array(m) : null, v: v ? new Float32Array(v) : null };
    },
  };
}

/** Weights and moments as they stand after every queued step. */
export async function readTrainerState(engine: Engine, plan: OptimizedPlan, step: number, withMoments = true): Promise<TrainerState> {
  const encoder = engine.ctx.device.createCommandEncoder({ label: 'save trainer state' });
  const pending = encodeTrainerStateRead(engine, plan, encoder, step, withMoments);
  engine.ctx.device.queue.submit([encoder.finish()]);
  const state = await pending.read();
  throwIfFailed(engine.ctx, 'reading the trainer state');
  return state;
}

/** Copies `from`'s weights (and, unless weightsOnly, its moments) into `to` on the GPU: the same model, any plan shape. */
export function copyTrainerState(engine: Engine, from: OptimizedPlan, to: OptimizedPlan, weightsOnly = false): void {
  const bytes = to.table.totalFloats * 4;
  if (from.table.totalFloats * 4 !== bytes) throw new RangeError('copyStateFrom: the two trainers hold different models');
  const encoder = engine.ctx.device.createCommandEncoder({ label: weightsOnly ? 'copy weights' : 'carry trainer state' });
  encoder.copyBufferToBuffer(from.params, 0, to.params, 0, bytes);
  if (!weightsOnly) {
    encoder.copyBufferToBuffer(from.adamM, 0, to.adamM, 0, bytes);
    encoder.copyBufferToBuffer(from.adamV, 0, to.adamV, 0, bytes);
  }
  engine.ctx.device.queue.submit([encoder.finish()]);
}

/**
 * What every trainer has: a plan trained with AdamW, the number of optimizer steps taken, and
 * its state read and written through the functions above (the only way drivers touch weights
 * and moments).
 */
export class PlanTrainer<P extends OptimizedPlan> {
  protected steps = 0;

  protected constructor(
    readonly engine: Engine,
    readonly plan: P,
  ) {}

  /** Optimizer steps taken (the next step is stepCount + 1). */
  get stepCount(): number {
    return this.steps;
  }

  /** Writes weights, moments (null: zero) and the step count; queued before any later step. */
  restoreState(state: TrainerState): void {
    writeTrainerState(this.engine, this.plan, state);
    this.steps = state.step;
  }

  /** Encodes copies of the weights (and moments) as they stand after the work already in `encoder`; read() after it is submitted. */
  encodeStateRead(encoder: GPUCommandEncoder, withMoments = true): { read(): Promise<TrainerState> } {
    return encodeTrainerStateRead(this.engine, this.plan, encoder, this.steps, withMoments);
  }

  /** Weights, moments and step count as they stand after every queued step. */
  saveState(withMoments = true): Promise<TrainerState> {
    return readTrainerState(this.engine, this.plan, this.steps, withMoments);
  }

  /** Takes over `other`'s weights (and, unless weightsOnly, its moments and step count) on the GPU: the same model, any plan shape. */
  copyStateFrom(other: PlanTrainer<P>, weightsOnly = false): void {
    copyTrainerState(this.engine, other.plan, this.plan, weightsOnly);
    if (!weightsOnly) this.steps = other.steps;
  }
}
