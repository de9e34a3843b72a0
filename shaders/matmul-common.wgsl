// What the two matmul kernels share (matmul.wgsl for GPUs, matmul-direct.wgsl for CPU drivers):
// the parameters, bindings and options of their one contract, and the epilogue that writes an
// element of C. Included by both; never compiled on its own.
//   C[M,N] (+)= op(A)[M,K] · op(B)[K,N] (+ bias[N]), then an optional GELU epilogue
//   (the value before it optionally stored to `pre`), then (+ addend[M,N]);
//   op(A) = A stored (M,K), or Aᵀ with A stored (K,M) when TRANS_A;
//   op(B) = B stored (K,N), or Bᵀ with B stored (N,K) when TRANS_B (a linear layer's weight).
// Split-K: workgroup z handles K range [z·k_chunk, (z+1)·k_chunk) and writes its partial
// product into C + z·M·N (no bias, no epilogue); matmul-reduce.wgsl sums the partials.
// ROW_SUMS (a linear layer's bias gradient fused into its weight gradient dYᵀ·x): also
//   row_sums[m] (+)= Σ_k op(A)[m, k], summed by the workgroups of the first column tile from
//   the op(A) values they load anyway; split: partial z goes to C + S·M·N + z·M, and the
//   reduce pass writes row_sums. Saves a column-sum pass per bias.
//#include "gelu-common.wgsl"

struct Params {
  M: u32,
  N: u32,
  K: u32,
  k_chunk: u32, // K per split (K when not split)
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> A: array<f32>;
@group(0) @binding(2) var<storage, read> B: array<f32>;
@group(0) @binding(3) var<storage, read_write> C: array<f32>; // (M, N), or (S, M, N) when SPLIT
@group(0) @binding(4) var<storage, read> bias: array<f32>;    // (N); bound to any buffer when !HAS_BIAS
@group(0) @binding(5) var<storage, read_write> row_sums: array<f32>; // (M); any buffer when !ROW_SUMS or SPLIT
@group(0) @binding(6) var<storage, read> addend: array<f32>;          // (M, N); any buffer when !HAS_ADDEND
@group(0) @binding(7) var<storage, read_write> pre: array<f32>;        // (M, N); any buffer when !STORE_PRE

override TRANS_A: bool = false;
override TRANS_B: bool = false;
override HAS_BIAS: bool = false;
override ACCUMULATE: bool = false; // C += result instead of C = result
override EPILOGUE: u32 = 0u;       // 0 none, 1 GELU erf, 2 GELU tanh
override SPLIT: bool = false;      // write partials (S, M, N)
override ROW_SUMS: bool = false;   // also Σ_k op(A)[m, k] (see above)
override HAS_ADDEND: bool = false; // C = … + addend after the epilogue (a block's residual input)
override STORE_PRE: bool = false;  // also store the value before the GELU epilogue (what GELU's backward reads)

// Element (m, n) of C (and of pre), or of split `z`'s partials, from its accumulated sum; nothing outside C.
fn store_c(m: u32, n: u32, acc: f32, z: u32) {
  var v = acc;
  if (HAS_BIAS && !SPLIT && m < p.M && n < p.N) { v += bias[n]; }
  store_c_biased(m, n, v, z);
}

// store_c for a sum the bias was already added to (matmul-direct.wgsl loads each column's bias
// once per invocation instead of once per element: the same f32 add, a gather saved per element).
fn store_c_biased(m: u32, n: u32, acc: f32, z: u32) {
  if (m >= p.M || n >= p.N) { return; }
  var v = acc;
  let o = select(0u, z * p.M * p.N, SPLIT) + m * p.N + n;
  if (!SPLIT) {
    if (STORE_PRE) { pre[o] = v; }
    v = gelu_apply(v, EPILOGUE);
    if (HAS_ADDEND) { v += addend[o]; }
    if (ACCUMULATE) { v += C[o]; }
  }
  C[o] = v;
}

// Row sum m of op(A) over this workgroup's K range; `splits` = S (num_workgroups.z).
fn store_row_sum(m: u32, s: f32, z: u32, splits: u32) {
  if (m >= p.M) { return; }
  if (SPLIT) {
    C[splits * p.M * p.N + z * p.M + m] = s;
    return;
  }
  var v = s;
  if (ACCUMULATE) { v += row_sums[m]; }
  row_sums[m] = v;
}
