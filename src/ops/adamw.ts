// Fused AdamW (torch.optim.AdamW semantics) over the model's flat parameter buffer, built on
// shaders/adamw.wgsl: one dispatch updates every parameter.
// Layout contract: params, grads, m, v are flat f32 buffers of `count` elements; tensors that
// get weight decay occupy [0, decayCount), the rest (biases, norms, GRN, mask token) follow.
// The per-step values live in a small storage buffer of ADAMW_SCALARS_LENGTH floats that the
// trainer rewrites every step with adamwStepScalars(); step counts from 1 (torch increments
// its step before using it). When count is a multiple of 4 the kernel works on vec4 (pad the
// flat buffers with zeros to get there: a zero parameter with zero gradient stays zero).
import type { BufferArena } from '../gpu/buffers.ts';
import { ceilDiv, linearGrid, makeDispatch, params, type Binding, type Dispatch } from '../gpu/dispatch.ts';
import type { Engine } from '../gpu/engine.ts';
import { ELEMENTWISE_FLOPS } from './flop-conventions.ts';

export interface AdamWConfig {
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
}

/** The FCMAE pretraining recipe (spec §5): betas (0.9, 0.95), eps 1e-8, weight decay 0.05. */
export const ADAMW_DEFAULTS: Readonly<AdamWConfig> = Object.freeze({ beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.05 });

/** Floats in the per-step scalars buffer (32 bytes). */
export const ADAMW_SCALARS_LENGTH = 8;

const WORKGROUP = 256;

export class AdamWConfigError extends Error {
  override readonly name = 'AdamWConfigError';
}

export interface AdamWBuffers {
  params: Binding; // (count) read-write
  grads: Binding; // (count)
  m: Binding; // (count) first moment, zero-initialised, read-write
  v: Binding; // (count) second moment, zero-initialised, read-write
  scalars: Binding; // (ADAMW_SCALARS_LENGTH) from adamwStepScalars(), rewritten every step
}

export interface AdamWShape extends Partial<AdamWConfig> {
  /** Elements in each flat buffer. */
  count: number;
  /** Elements [0, decayCount) get weight decay. */
  decayCount: number;
}

export function validateAdamWConfig(cfg: AdamWConfig, where = 'AdamW'): void {
  const { beta1, beta2, eps, weightDecay } = cfg;
  if (!(beta1 >= 0 && beta1 < 1)) throw new AdamWConfigError(`${where}: beta1 = ${beta1} must be in [0, 1) (the recipe uses 0.9)`);
  if (!(beta2 >= 0 && beta2 < 1)) throw new AdamWConfigError(`${where}: beta2 = ${beta2} must be in [0, 1) (the recipe uses 0.95)`);
  if (!(eps > 0 && Number.isFinite(eps))) throw new AdamWConfigError(`${where}: eps = ${eps} must be a positive finite number (the recipe uses 1e-8)`);
  if (!(weightDecay >= 0 && Number.isFinite(weightDecay))) {
    throw new AdamWConfigError(`${where}: weightDecay = ${weightDecay} must be ≥ 0 and finite (the recipe uses 0.05)`);
  }
}

/**
 * The per-step scalars for step `step` (1-based, as torch counts) at learning rate `lr`:
 * [lr, 1 − β1^t, 1 − β2^t, lr / (1 − β1^t), sqrt(1 − β2^t), t, 0, 0]. Derived values are
 * computed in float64 and rounded once, so the kernel's only f32 error is its own arithmetic.
 */
export function adamwStepScalars(step: number, lr: number, cfg: Pick<AdamWConfig, 'beta1' | 'beta2'> = ADAMW_DEFAULTS): Float32Array {
  if (!Number.isInteger(step) || step < 1) {
    throw new AdamWConfigError(`adamwStepScalars: step = ${step} must be an integer ≥ 1 (the first update is step 1, as in torch)`);
  }
  if (!(lr >= 0 && Number.isFinite(lr))) throw new AdamWConfigError(`adamwStepScalars: lr = ${lr} must be ≥ 0 and finite`);
  const { beta1, beta2 } = cfg;
  if (!(beta1 >= 0 && beta1 < 1) || !(beta2 >= 0 && beta2 < 1)) {
    throw new AdamWConfigError(`adamwStepScalars: betas (${beta1}, ${beta2}) must be in [0, 1)`);
  }
  const biasCorrection1 = 1 - beta1 ** step;
  const biasCorrection2 = 1 - beta2 ** step;
  return Float32Array.of(lr, biasCorrection1, biasCorrection2, lr / biasCorrection1, Math.sqrt(biasCorrection2), step, 0, 0);
}

function bindingBytes(b: Binding): number {
  if ('buffer' in b) return b.size ?? b.buffer.size - (b.offset ?? 0);
  return b.size;
}

/** The dispatch of one AdamW step over all `count` parameters. Encode it every step after writing `scalars`. */
export async function adamwUpdate(engine: Engine, arena: BufferArena, label: string, io: AdamWBuffers, shape: AdamWShape): Promise<Dispatch[]> {
  const cfg: AdamWConfig = {
    beta1: shape.beta1 ?? ADAMW_DEFAULTS.beta1,
    beta2: shape.beta2 ?? ADAMW_DEFAULTS.beta2,
    eps: shape.eps ?? ADAMW_DEFAULTS.eps,
    weightDecay: shape.weightDecay ?? ADAMW_DEFAULTS.weightDecay,
  };
  validateAdamWConfig(cfg, label);
  const { count, decayCount } = shape;
  if (!Number.isInteger(count) || count < 1) throw new AdamWConfigError(`${label}: count = ${count} must be a positive integer`);
  if (!Number.isInteger(decayCount) || decayCount < 0 || decayCount > count) {
    throw new AdamWConfigError(`${label}: decayCount = ${decayCount} must be an integer in [0, count = ${count}]`);
  }
  for (const name of ['params', 'grads', 'm', 'v'] as const) {
    const bytes = bindingBytes(io[name]);
    if (bytes < count * 4) {
      throw new AdamWConfigError(`${label}: buffer '${name}' holds ${bytes} bytes but count = ${count} needs ${count * 4}`);
    }
  }
  const scalarBytes = bindingBytes(io.scalars);
  if (scalarBytes < ADAMW_SCALARS_LENGTH * 4) {
    throw new AdamWConfigError(`${label}: scalars buffer holds ${scalarBytes} bytes, needs ${ADAMW_SCALARS_LENGTH * 4} (see adamwStepScalars)`);
  }
  const vec4 = count % 4 === 0;
  const threads = vec4 ? count / 4 : count;
  return [
    await makeDispatch(engine, arena, {
      label,
      kernel: { shader: 'adamw.wgsl', entryPoint: vec4 ? 'update_vec4' : 'update_scalar' },
      params: params().u32(count).u32(decayCount).f32(cfg.beta1).f32(cfg.beta2).f32(cfg.eps).f32(cfg.weightDecay).build(),
      buffers: [io.params, io.grads, io.m, io.v, io.scalars],
      workgroups: linearGrid(ceilDiv(threads, WORKGROUP)),
      flops: ELEMENTWISE_FLOPS.adamw * count, // every element updated, padding included
    }),
  ];
}
