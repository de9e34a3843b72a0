// Tiled matrix multiply: C[M,N] (+)= op(A)[M,K] · op(B)[K,N] (+ bias[N]), then an optional
// GELU epilogue. op(A) = A stored (M,K) row-major, or Aᵀ with A stored (K,M) when TRANS_A;
// op(B) = B stored (K,N), or Bᵀ with B stored (N,K) when TRANS_B (a linear layer's weight).
// The three products of a linear layer: forward x·Wᵀ (TRANS_B), dInput dY·W, dWeight dYᵀ·x
// (TRANS_A, split over K).
//
// Tiling: one 64×64 tile of C per workgroup of 16×16 threads, each thread a 4×4 register
// block (rows ty+16i, columns tx+16j: conflict-free reads of the shared tiles), K in steps of 16.
// Split-K: workgroup z handles K range [z·k_chunk, (z+1)·k_chunk) and writes its partial
// product into C + z·M·N (no bias, no epilogue); matmul_reduce.wgsl sums the partials.
//
// Dimension letters: M rows of C, N columns of C, K reduction length, S split count.
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

override TRANS_A: bool = false;
override TRANS_B: bool = false;
override HAS_BIAS: bool = false;
override ACCUMULATE: bool = false; // C += result instead of C = result
override EPILOGUE: u32 = 0u;       // 0 none, 1 GELU erf, 2 GELU tanh
override SPLIT: bool = false;      // write partials (S, M, N)

const BM: u32 = 64u;
const BN: u32 = 64u;
const BK: u32 = 16u;

var<workgroup> As: array<array<f32, 64>, 16>; // [k][m]
var<workgroup> Bs: array<array<f32, 64>, 16>; // [k][n]

fn load_a(m: u32, k: u32) -> f32 {
  if (m >= p.M || k >= p.K) { return 0.0; }
  if (TRANS_A) { return A[k * p.M + m]; }
  return A[m * p.K + k];
}

fn load_b(k: u32, n: u32) -> f32 {
  if (k >= p.K || n >= p.N) { return 0.0; }
  if (TRANS_B) { return B[n * p.K + k]; }
  return B[k * p.N + n];
}

@compute @workgroup_size(16, 16, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let tx = lid.x;
  let ty = lid.y;
  let t = ty * 16u + tx;
  let m0 = wid.y * BM;
  let n0 = wid.x * BN;
  let k_begin = wid.z * p.k_chunk;
  let k_end = min(p.K, k_begin + p.k_chunk);

  var acc: array<array<f32, 4>, 4>;
  for (var i = 0u; i < 4u; i++) { for (var j = 0u; j < 4u; j++) { acc[i][j] = 0.0; } }

  for (var k0 = k_begin; k0 < k_end; k0 += BK) {
    // Each thread loads 4 elements of each tile; the index order follows the stored layout
    // so that neighbouring threads read neighbouring addresses.
    for (var e = 0u; e < 4u; e++) {
      let idx = t + e * 256u;
      var mm: u32; var ka: u32;
      if (TRANS_A) { ka = idx / BM; mm = idx % BM; } else { mm = idx / BK; ka = idx % BK; }
      let kga = k0 + ka;
      As[ka][mm] = select(0.0, load_a(m0 + mm, kga), kga < k_end);
      var nn: u32; var kb: u32;
      if (TRANS_B) { nn = idx / BK; kb = idx % BK; } else { kb = idx / BN; nn = idx % BN; }
      let kgb = k0 + kb;
      Bs[kb][nn] = select(0.0, load_b(kgb, n0 + nn), kgb < k_end);
    }
    workgroupBarrier();
    for (var k = 0u; k < BK; k++) {
      var a: array<f32, 4>;
      var b: array<f32, 4>;
      for (var i = 0u; i < 4u; i++) { a[i] = As[k][ty + 16u * i]; }
      for (var j = 0u; j < 4u; j++) { b[j] = Bs[k][tx + 16u * j]; }
      for (var i = 0u; i < 4u; i++) {
        for (var j = 0u; j < 4u; j++) { acc[i][j] = fma(a[i], b[j], acc[i][j]); }
      }
    }
    workgroupBarrier();
  }

  let base = select(0u, wid.z * p.M * p.N, SPLIT);
  for (var i = 0u; i < 4u; i++) {
    let m = m0 + ty + 16u * i;
    if (m >= p.M) { continue; }
    for (var j = 0u; j < 4u; j++) {
      let n = n0 + tx + 16u * j;
      if (n >= p.N) { continue; }
      var v = acc[i][j];
      let o = base + m * p.N + n;
      if (!SPLIT) {
        if (HAS_BIAS) { v += bias[n]; }
        v = gelu_apply(v, EPILOGUE);
        if (ACCUMULATE) { v += C[o]; }
      }
      C[o] = v;
    }
  }
}
