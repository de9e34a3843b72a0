// Fused AdamW (torch.optim.AdamW semantics) over the model's flat parameter buffer, built on
// shaders/adamw.wgsl: one dispatch updates every parameter.
// Layout contract: params, grads, m, v are flat f32 buffers of `count` elements; tensors that
// get weight decay occupy [0, decayCount), the rest (biases, norms, GRN, mask token) follow.
// The per-step values live in a small storage buffer of ADAMW_SCALARS_LENGTH floats that the
// trainer rewrites every step with adamwStepScalars(); step counts from 1 (torch increments
// its step before using it). When count is a multiple of 4 the kernel works on vec4 (pad the
// flat buffers with zeros to get there: a zero parameter with zero gradient stays zero).
// adamwGroupedUpdate (below, shaders/adamw-grouped.wgsl) is the fine-tuning variant: lr scale
// and weight decay per 64-float chunk instead of one decay boundary.
import type { BufferArena } from '../gpu/buffers.ts';
import { ceilDiv, linearGrid, makeDispatch, params, type Binding, type Dispatch } from '../gpu/dispatch.ts';
import type { Engine } from '../gpu/engine.ts';
import { ELEMENTWISE_FLOPS } from './flop-conventions.ts';

export interface AdamWConfig {
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  /** Which tensors decay (see WeightDecayRule); absent means 'maintainers'. */
  decayRule?: WeightDecayRule;
}

/**
 * Which tensors AdamW decays in pretraining (spec §5). 'official': what the official
 * main_pretrain.py does (timm's add_weight_decay: every tensor with more than one dimension
 * unless its name ends in `.bias`, so GRN gamma/beta and the mask token decay too).
 * 'maintainers': the maintainers' advice and this project's default (conv and linear weights
 * only; GRN, the mask token, norms and biases do not decay).
 */
export type WeightDecayRule = 'official' | 'maintainers';
export const WEIGHT_DECAY_RULES: readonly WeightDecayRule[] = ['maintainers', 'official'];

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
  /** Elements (vec4s on the vec4 path) each invocation updates; default adamwPerThread(engine). Tests force it. */
  perThread?: number;
}

/**
 * Elements each AdamW invocation updates: 1 on GPUs (one per thread is what they like); on CPU
 * drivers an invocation has a fixed cost comparable to the update itself, so each does
 * SOFTWARE_PER_THREAD. Measured on SwiftShader (2 cores, loaded machine, alternating in one
 * process): 7.26 M parameters (atto 96 px with its decoder) 527 → 281 ms per update, 110 K
 * (the tiny test net) 2.4 → 1.6 ms; 4 gains less, 16 or 32 no more than 8.
 */
export function adamwPerThread(engine: Engine): number {
  return engine.ctx.adapter.isSoftware ? SOFTWARE_PER_THREAD : 1;
}
const SOFTWARE_PER_THREAD = 8;

export function validateAdamWConfig(cfg: AdamWConfig, where = 'AdamW'): void {
  const { beta1, beta2, eps, weightDecay } = cfg;
  if (!(beta1 >= 0 && beta1 < 1)) throw new AdamWConfigError(`${where}: beta1 = ${beta1} must be in [0, 1) (the recipe uses 0.9)`);
  if (!(beta2 >= 0 && beta2 < 1)) throw new AdamWConfigError(`${where}: beta2 = ${beta2} must be in [0, 1) (the recipe uses 0.95)`);
  if (!(eps > 0 && Number.isFinite(eps))) throw new AdamWConfigError(`${where}: eps = ${eps} must be a positive finite number (the recipe uses 1e-8)`);
  if (!(weightDecay >= 0 && Number.isFinite(weightDecay))) {
    throw new AdamWConfigError(`${where}: weightDecay = ${weightDecay} must be ≥ 0 and finite (the recipe uses 0.05)`);
  }
  if (cfg.decayRule !== undefined && !WEIGHT_DECAY_RULES.includes(cfg.decayRule)) {
    throw new AdamWConfigError(`${where}: decayRule = ${JSON.stringify(cfg.decayRule)} must be 'official' or 'maintainers'`);
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
  const perThread = shape.perThread ?? adamwPerThread(engine);
  if (!Number.isInteger(perThread) || perThread < 1) throw new AdamWConfigError(`${label}: perThread = ${perThread} must be a positive integer`);
  const vec4 = count % 4 === 0;
  const threads = vec4 ? count / 4 : count;
  return [
    await makeDispatch(engine, arena, {
      label,
      kernel: { shader: 'adamw.wgsl', entryPoint: vec4 ? 'update_vec4' : 'update_scalar', constants: { PER_THREAD: perThread } },
      params: params().u32(count).u32(decayCount).f32(cfg.beta1).f32(cfg.beta2).f32(cfg.eps).f32(cfg.weightDecay).build(),
      buffers: [io.params, io.grads, io.m, io.v, io.scalars],
      workgroups: linearGrid(ceilDiv(threads, WORKGROUP * perThread)),
      flops: ELEMENTWISE_FLOPS.adamw * count, // every element updated, padding included
    }),
  ];
}

// ---- Grouped AdamW (fine-tuning parameter groups), shaders/adamw-grouped.wgsl ----
// torch.optim.AdamW with one param group per tensor: group lr = lr·lrScale (layer-wise lr
// decay) and group weight_decay = wd (0 on biases, norms and GRN). Every tensor of the flat
// buffer starts at a multiple of ADAMW_CHUNK_FLOATS floats (PARAM_ALIGN_FLOATS in
// src/model/parameters.ts), so a table of (lrScale, wd) per 64-float chunk describes the
// groups; the alignment padding after a tensor shares its last chunk (zero parameters with
// zero gradients stay zero whatever the group). Same per-step scalars buffer as adamwUpdate.
// Unlike shaders/adamw.wgsl, 1 − β1 and 1 − β2 are computed in float64 on the host, as torch
// passes them to its f32 kernels: 1 − f32(0.999) in f32 is 1.3e-5 off 0.001 (relative).

/** Floats per row of the grouped optimizer's chunk table (the parameter alignment). */
export const ADAMW_CHUNK_FLOATS = 64;

export interface AdamWGroupedShape {
  /** Elements in each flat buffer. */
  count: number;
  beta1: number;
  beta2: number;
  eps: number;
  /** Elements per invocation; default adamwPerThread(engine). Tests force it. */
  perThread?: number;
}

/** One tensor of the flat buffer and its optimizer group. */
export interface AdamWChunkGroup {
  /** First float, a multiple of ADAMW_CHUNK_FLOATS. */
  offset: number;
  /** Floats of the tensor (its padding up to the next chunk follows it). */
  size: number;
  lrScale: number;
  weightDecay: number;
}

/**
 * The (ceil(count / 64), 2) chunk table [lrScale, weightDecay] for adamwGroupedUpdate. Chunks
 * no tensor touches get (0, 0): they are not updated. Throws when a tensor is misaligned,
 * runs past count, or shares a chunk with another.
 */
export function adamwChunkTable(count: number, tensors: readonly AdamWChunkGroup[]): Float32Array {
  if (!Number.isInteger(count) || count < 1) throw new AdamWConfigError(`adamwChunkTable: count = ${count} must be a positive integer`);
  const chunks = Math.ceil(count / ADAMW_CHUNK_FLOATS);
  const table = new Float32Array(chunks * 2);
  const owner = new Int32Array(chunks).fill(-1);
  tensors.forEach((t, k) => {
    const where = `adamwChunkTable: tensor ${k} (offset ${t.offset}, size ${t.size})`;
    if (!Number.isInteger(t.offset) || t.offset < 0 || t.offset % ADAMW_CHUNK_FLOATS !== 0) {
      throw new AdamWConfigError(`${where} does not start at a multiple of ${ADAMW_CHUNK_FLOATS} floats (PARAM_ALIGN_FLOATS)`);
    }
    if (!Number.isInteger(t.size) || t.size < 1 || t.offset + t.size > count) throw new AdamWConfigError(`${where} does not fit in count = ${count}`);
    if (!(t.lrScale >= 0 && Number.isFinite(t.lrScale))) throw new AdamWConfigError(`${where}: lrScale = ${t.lrScale} must be ≥ 0 and finite`);
    if (!(t.weightDecay >= 0 && Number.isFinite(t.weightDecay))) throw new AdamWConfigError(`${where}: weightDecay = ${t.weightDecay} must be ≥ 0 and finite`);
    const first = t.offset / ADAMW_CHUNK_FLOATS;
    const last = Math.ceil((t.offset + t.size) / ADAMW_CHUNK_FLOATS);
    for (let c = first; c < last; c++) {
      if (owner[c] !== -1) throw new AdamWConfigError(`${where} shares chunk ${c} with tensor ${owner[c]}`);
      owner[c] = k;
      table[2 * c] = t.lrScale;
      table[2 * c + 1] = t.weightDecay;
    }
  });
  return table;
}

/**
 * One grouped AdamW step over all `count` parameters; element i uses chunk floor(i / 64) of
 * `chunkScales`. Encode it every step after writing `scalars` (adamwStepScalars(step, lr, betas)).
 */
export async function adamwGroupedUpdate(
  engine: Engine,
  arena: BufferArena,
  label: string,
  io: AdamWBuffers & {
    chunkScales: Binding; // (ceil(count / 64), 2) f32 [lrScale, weightDecay] of each chunk
  },
  shape: AdamWGroupedShape,
): Promise<Dispatch[]> {
  const { count, beta1, beta2, eps } = shape;
  validateAdamWConfig({ beta1, beta2, eps, weightDecay: 0 }, label);
  if (!Number.isInteger(count) || count < 1) throw new AdamWConfigError(`${label}: count = ${count} must be a positive integer`);
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
  const chunks = Math.ceil(count / ADAMW_CHUNK_FLOATS);
  const tableBytes = bindingBytes(io.chunkScales);
  if (tableBytes < chunks * 2 * 4) {
    throw new AdamWConfigError(
      `${label}: buffer 'chunkScales' holds ${tableBytes} bytes but count = ${count} needs (${chunks}, 2) floats = ${chunks * 8} bytes (see adamwChunkTable)`,
    );
  }
  const perThread = shape.perThread ?? adamwPerThread(engine);
  if (!Number.isInteger(perThread) || perThread < 1) throw new AdamWConfigError(`${label}: perThread = ${perThread} must be a positive integer`);
  const vec4 = count % 4 === 0;
  const threads = vec4 ? count / 4 : count;
  return [
    await makeDispatch(engine, arena, {
      label,
      kernel: { shader: 'adamw-grouped.wgsl', entryPoint: vec4 ? 'update_vec4' : 'update_scalar', constants: { PER_THREAD: perThread } },
      params: params().u32(count).f32(beta1).f32(beta2).f32(eps).f32(1 - beta1).f32(1 - beta2).u32(0).u32(0).build(),
      buffers: [io.params, io.grads, io.m, io.v, io.scalars, io.chunkScales],
      workgroups: linearGrid(ceilDiv(threads, WORKGROUP * perThread)),
      flops: ELEMENTWISE_FLOPS.adamw * count, // every element updated, padding included
    }),
  ];
}
