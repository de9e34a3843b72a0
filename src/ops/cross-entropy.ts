// Softmax cross-entropy with label smoothing for the classifier (spec §1), on
// shaders/cross-entropy.wgsl: exactly torch.nn.functional.cross_entropy(logits, y,
// label_smoothing=ε), mean reduction.
//   ℓ_n  = (1 − ε)·(−log p_{n,y_n}) + ε·(1/K)·Σ_k (−log p_{n,k}),  loss = mean_n ℓ_n
//   dLogits = scale · (softmax − (1 − ε)·onehot(y) − ε/K) / N
// Numerically stable: every row is shifted by its max before exp, and ℓ_n is formed from
// three non-negative terms (see the shader), so K reaches 1000 and beyond.
// Labels outside [0, K): the sample contributes loss 0 (ℓ_n = 0, still counted in the N of
// the mean) and a zero gradient row, and no out-of-bounds access happens. The host is
// expected to validate labels before upload; this only keeps a bad label from corrupting
// memory or the rest of the batch.
// Both ops run a row pass (stats_serial or stats_workgroup, into (N, 4) scratch from the
// arena: max, log Σ exp(x − max) and ℓ_n per row); the backward recomputes it rather than depend on the forward's
// buffers. FLOPs (src/ops/flop-conventions.ts): the row pass crossEntropyRow per logit plus
// crossEntropySample per sample; the reduce N adds and 1 divide; the gradient
// crossEntropyBackward per logit.
import type { BufferArena } from '../gpu/buffers.ts';
import { ceilDiv, linearGrid, makeDispatch, params, type Binding, type Dispatch } from '../gpu/dispatch.ts';
import type { Engine } from '../gpu/engine.ts';
import { ELEMENTWISE_FLOPS } from './flop-conventions.ts';
import { OpShapeError, requireCounts, requireElements } from './rows.ts';

const WG = 256;
/** Rows per workgroup of stats_serial (shaders/cross-entropy.wgsl SERIAL_WG). */
const SERIAL_WG = 64;
/** Below this K the serial row pass is used on GPUs too (a 256-thread workgroup would idle). */
const WORKGROUP_MIN_K = 256;

export interface CrossEntropyShape {
  /** Samples. */
  N: number;
  /** Classes (1 … ; 1000 and more are fine). */
  K: number;
  /** Label smoothing ε in [0, 1). */
  smoothing: number;
  /**
   * Row pass: 'serial' (one thread per row, no barrier) or 'workgroup' (one workgroup per
   * row); default 'serial' on software adapters or K < 256, else 'workgroup'.
   */
  plan?: 'serial' | 'workgroup';
}

export interface CrossEntropyBackwardShape extends CrossEntropyShape {
  /** Gradient of the objective with respect to the loss (1 by default; 1/k for k accumulated micro-batches). */
  scale?: number;
}

function checkShape(op: string, s: CrossEntropyShape): void {
  requireCounts(op, { N: s.N, K: s.K });
  if (s.N * s.K > 0xffffffff) throw new OpShapeError(`${op}: N·K = ${s.N * s.K} exceeds u32 indexing`);
  if (!(s.smoothing >= 0 && s.smoothing < 1)) {
    throw new OpShapeError(`${op}: smoothing = ${s.smoothing} must be in [0, 1) (the fine-tuning recipe uses 0.1–0.2)`);
  }
}

function uniforms(s: CrossEntropyShape, gradCoef: number): ArrayBuffer {
  const eps = s.smoothing;
  // Derived weights in float64, rounded once.
  return params()
    .u32(s.N)
    .u32(s.K)
    .f32(1 - eps)
    .f32(eps / s.K)
    .f32(1 - eps + eps / s.K)
    .f32(gradCoef)
    .u32(0)
    .u32(0)
    .build();
}

/** The row pass: stats (N, 4) = (max, lse', ℓ_n, 0) per row. */
async function rowStats(
  engine: Engine,
  arena: BufferArena,
  label: string,
  io: { logits: Binding; labels: Binding; stats: Binding },
  s: CrossEntropyShape,
  u: ArrayBuffer,
): Promise<Dispatch> {
  const plan = s.plan ?? (engine.ctx.adapter.isSoftware || s.K < WORKGROUP_MIN_K ? 'serial' : 'workgroup');
  if (plan !== 'serial' && plan !== 'workgroup') throw new OpShapeError(`${label}: plan = ${String(plan)} must be 'serial' or 'workgroup'`);
  return makeDispatch(engine, arena, {
    label: `${label}/rows`,
    kernel: { shader: 'cross-entropy.wgsl', entryPoint: plan === 'serial' ? 'stats_serial' : 'stats_workgroup' },
    params: u,
    buffers: [io.logits, io.labels, io.stats],
    workgroups: linearGrid(plan === 'serial' ? ceilDiv(s.N, SERIAL_WG) : s.N),
    flops: ELEMENTWISE_FLOPS.crossEntropyRow * s.N * s.K + ELEMENTWISE_FLOPS.crossEntropySample * s.N,
  });
}

/** loss (1) = mean_n ℓ_n and perSample (N) = ℓ_n. */
export async function crossEntropyForward(
  engine: Engine,
  arena: BufferArena,
  label: string,
  io: {
    logits: Binding; // (N, K)
    labels: Binding; // (N) int32 class of each sample
    loss: Binding; // (1)
    perSample: Binding; // (N) ℓ_n, as reduction='none'
  },
  shape: CrossEntropyShape,
): Promise<Dispatch[]> {
  checkShape(label, shape);
  const { N, K } = shape;
  requireElements(label, 'logits', io.logits, N * K, `(N, K) = (${N}, ${K})`);
  requireElements(label, 'labels', io.labels, N, `(N) = (${N})`);
  requireElements(label, 'loss', io.loss, 1, '(1)');
  requireElements(label, 'perSample', io.perSample, N, `(N) = (${N})`);
  const stats = arena.f32(`${label}/row-stats`, 4 * N); // (N, 4) max, lse', ℓ_n, 0
  const u = uniforms(shape, 0);
  return [
    await rowStats(engine, arena, label, { logits: io.logits, labels: io.labels, stats }, shape, u),
    await makeDispatch(engine, arena, {
      label: `${label}/reduce`,
      kernel: { shader: 'cross-entropy.wgsl', entryPoint: 'reduce' },
      params: u,
      buffers: [stats, io.loss, io.perSample],
      workgroups: [1],
      flops: ELEMENTWISE_FLOPS.columnSum * N + 1,
    }),
  ];
}

/** dLogits (N, K) = scale · (softmax − (1 − ε)·onehot(y) − ε/K) / N, overwritten. */
export async function crossEntropyBackward(
  engine: Engine,
  arena: BufferArena,
  label: string,
  io: {
    logits: Binding; // (N, K)
    labels: Binding; // (N) int32
    dLogits: Binding; // (N, K) overwritten
  },
  shape: CrossEntropyBackwardShape,
): Promise<Dispatch[]> {
  checkShape(label, shape);
  const { N, K } = shape;
  requireElements(label, 'logits', io.logits, N * K, `(N, K) = (${N}, ${K})`);
  requireElements(label, 'labels', io.labels, N, `(N) = (${N})`);
  requireElements(label, 'dLogits', io.dLogits, N * K, `(N, K) = (${N}, ${K})`);
  const scale = shape.scale ?? 1;
  if (!Number.isFinite(scale)) throw new OpShapeError(`${label}: scale = ${scale} must be finite`);
  const stats = arena.f32(`${label}/row-stats`, 4 * N); // (N, 4) max, lse', ℓ_n, 0
  const u = uniforms(shape, scale / N);
  return [
    await rowStats(engine, arena, label, { logits: io.logits, labels: io.labels, stats }, shape, u),
    await makeDispatch(engine, arena, {
      label,
      kernel: { shader: 'cross-entropy.wgsl', entryPoint: 'backward' },
      params: u,
      buffers: [io.logits, io.labels, stats, io.dLogits],
      workgroups: linearGrid(ceilDiv(N * K, WG)),
      flops: ELEMENTWISE_FLOPS.crossEntropyBackward * N * K,
    }),
  ];
}
