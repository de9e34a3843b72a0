// How the op builders count the FLOPs of a dispatch (Dispatch.flops), and the per-element
// figures they use: the one definition, which src/train/flops.ts (the step's hand-kept count)
// imports too. Counted from shapes, never measured.
//
// - A multiply-add is 2 FLOPs; a matmul is 2·M·N·K however it is split (split-K: the split
//   pass carries the 2·M·N·K, whose adds include the sum over the splits; the reduce pass
//   carries only the epilogue). The epilogue counts per output: bias 1, accumulate (C += …) 1,
//   a fused GELU geluForward. Accumulating into an existing output costs 1 per output in
//   every op (dX += …, dWeight += …).
// - The depthwise conv counts all 49 taps of every output (2 each), as if every neighbour were
//   visible: what a dense conv of the same rows costs.
// - Elementwise-style ops (LayerNorm, GELU, GRN, the loss, AdamW …) get the rough per-element
//   counts below; their kernels are bound by memory traffic, not arithmetic.
// - A sum of n terms counts n adds however the kernels cut it: a pass folding `in` rows of
//   partial sums into `out` counts in − out adds per column, the pass that finishes counts `in`
//   (so an op's total does not depend on its chunking, which may depend on the adapter); where
//   the per-element figure includes a sum, the finishing pass's share comes out of it.
// - Moving data (copy, gather, scatter, zero, im2col, the mask-token fill) is 0 FLOPs.
// - Finishing work on per-group statistics (GRN's G → Nx, its dG) counts per (group, channel).

/** Approximate arithmetic per element (see the header). */
export const ELEMENTWISE_FLOPS = {
  layerNormForward: 8, // mean, variance, normalise, scale, shift
  layerNormBackward: 13, // x̂, two row sums, dX, dWeight and dBias accumulation
  geluForward: 10, // erf by a rational approximation, then 0.5·x·(1 + erf)
  geluBackward: 14,
  grnForward: 6, // Σx² (2), then γ·x·Nx + β + x (4)
  grnBackward: 9, // dY·X and two sums (3), then dY·(1 + γ·Nx) + (X/G)·dG (6)
  bias: 1,
  residual: 1, // also any accumulate into an existing output (C += …, dX += …)
  add: 1, // out = a + b, a += b
  scale: 1, // x *= s
  maskRows: 2, // x·(1 − mask)
  columnSum: 1, // one add per summed element (bias gradients, the mask token's gradient)
  patchifyNormalise: 6, // per target value: mean, unbiased variance, normalise
  patchifyStats: 4, // the same without normalising (plain-pixel targets): mean and variance only
  lossForward: 3, // (p − t)², summed per patch (then 1 per patch for its mean, and lossReduceFlops)
  lossBackward: 3,
  adamw: 15, // per parameter: moments, bias corrections, decay, update (the grouped AdamW too)
  meanPoolForward: 1, // per input element: its add (then `scale` per output for the 1/P)
  meanPoolBackward: 1, // per dX element: dY / P
  crossEntropyRow: 5, // per logit, the row pass (forward, and again in the backward): max, x − max, exp, Σexp, Σ(x − max)
  crossEntropySample: 5, // per sample, closing the row pass: lse' = log Σexp, ℓ = lse' − (1 − ε)·x'_y − (ε/K)·Σx'
  crossEntropyBackward: 5, // per logit: x − max − lse', exp, − target, · scale/N
  addScaled: 2, // out = x + s·branch (drop path)
  ema: 3, // decay·ema + (1 − decay)·params
} as const;

/** How the per-element figures split over the passes of the multi-pass ops. */
export const PASS_FLOPS = {
  /** Of layerNormBackward: dY·x̂ and the two column sums, in the parameter-gradient passes (the dX pass has the rest). */
  layerNormBackwardParams: 3,
  /** Of grnForward: Σx², in the partial-sum pass (the apply pass has the rest). */
  grnForwardSums: 2,
  /** Of grnBackward: dY·X, Σ dY·X and Σ dY, in the partial-sum pass (the dX pass has the rest). */
  grnBackwardSums: 3,
  /** GRN forward per (group, channel): G = √Σx², Σ_c G, Nx = G / (mean + eps). */
  grnStatsForward: 4,
  /** GRN backward per (group, channel), stats pass: Nx·P, γ·P, the two channel sums, dG. */
  grnStatsBackward: 6,
  /** GRN backward per (group, channel), parameter pass: the sums over groups of dGamma and dBeta. */
  grnParamsBackward: 2,
} as const;

/** Taps of the 7×7 depthwise conv. */
export const TAPS = 49;

/**
 * FLOPs of the loss's reduce pass: the per-sample sums of the N·M row losses, N per-sample
 * means, their total and the loss's mean.
 */
export function lossReduceFlops(N: number, M: number): number {
  return N * M + 2 * N + 1;
}
