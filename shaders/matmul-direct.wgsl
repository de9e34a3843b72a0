// Matrix multiply for software adapters (SwiftShader and other CPU Vulkan drivers): the
// contract of matmul.wgsl (matmul-common.wgsl: C[M,N] (+)= op(A)·op(B) (+ bias) then GELU,
// split-K partials), with no workgroup memory and no barriers.
//
// Why a second kernel: a CPU driver runs each workgroup as a set of 4-lane SIMD groups and
// implements workgroupBarrier() by switching between them (coroutines), and a read from
// workgroup memory costs the same per-lane gather as a read from a storage buffer. Tiling
// through shared memory therefore buys nothing there and every barrier costs a lot. Instead each
// invocation keeps an 8×8 block of C in registers and streams its 8 rows of op(A) and 8 columns
// of op(B) straight from the buffers (the CPU's caches do the reuse): 16 loads per 64 FMAs.
// Measured on SwiftShader (2 cores), 512³: 0.17 GFLOP/s with matmul.wgsl, ~2.2 GFLOP/s here.
// The block is spelled out as named vec4 accumulators on purpose: an array indexed in a loop
// is kept in memory by the driver and runs ~4× slower.
//
// Addressing without branches: op(A)[m, k] = A[oa(m) + k·sa] and op(B)[k, n] = B[ob(n) + k·sb],
// where (oa, sa) = (m·K, 1) for A stored (M,K) and (m, M) for A stored (K,M) (TRANS_A);
// (ob, sb) = (n, N) for B stored (K,N) and (n·K, 1) for B stored (N,K) (TRANS_B).
// Rows and columns past the edge read a clamped (valid) index and are never stored.
//#include "matmul-common.wgsl"

// Workgroup 4×4 invocations, each an 8×8 block: a 32×32 tile of C (src/ops/matmul.ts: tile 32).
const WG: u32 = 4u;

fn a_offset(m: u32) -> u32 {
  let mc = min(m, p.M - 1u);
  return select(mc * p.K, mc, TRANS_A);
}

fn b_offset(n: u32) -> u32 {
  let nc = min(n, p.N - 1u);
  return select(nc, nc * p.K, TRANS_B);
}

// Row m of the block: columns n0..n0+3 from lo, n0+4..n0+7 from hi (spelled out: a vector
// indexed by a loop counter is another trip through memory on a CPU driver), the bias of those
// columns (bias_lo, bias_hi: zero without one) added first. Every buffer access is a per-lane
// gather or scatter on a CPU driver, the main cost of a small matmul's epilogue: the block's
// 8 biases are loaded once, not once per row.
fn store_row(m: u32, n0: u32, lo: vec4<f32>, hi: vec4<f32>, bias_lo: vec4<f32>, bias_hi: vec4<f32>, z: u32) {
  let biased = HAS_BIAS && !SPLIT;
  let a = select(lo, lo + bias_lo, biased);
  let b = select(hi, hi + bias_hi, biased);
  store_c_biased(m, n0, a.x, z);
  store_c_biased(m, n0 + 1u, a.y, z);
  store_c_biased(m, n0 + 2u, a.z, z);
  store_c_biased(m, n0 + 3u, a.w, z);
  store_c_biased(m, n0 + 4u, b.x, z);
  store_c_biased(m, n0 + 5u, b.y, z);
  store_c_biased(m, n0 + 6u, b.z, z);
  store_c_biased(m, n0 + 7u, b.w, z);
}

// bias[n] for the block's column n (clamped: columns past N are never stored), 0 without a bias or when split.
fn bias_at(n: u32) -> f32 {
  if (HAS_BIAS && !SPLIT) { return bias[min(n, p.N - 1u)]; }
  return 0.0;
}

@compute @workgroup_size(WG, WG, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
        @builtin(num_workgroups) nwg: vec3<u32>) {
  let m0 = (wid.y * WG + lid.y) * 8u;
  let n0 = (wid.x * WG + lid.x) * 8u;
  if (m0 >= p.M || n0 >= p.N) { return; }
  let k_begin = wid.z * p.k_chunk;
  let k_end = min(p.K, k_begin + p.k_chunk);
  let sa = select(1u, p.M, TRANS_A);
  let sb = select(p.N, 1u, TRANS_B);

  let oa0 = a_offset(m0); let oa1 = a_offset(m0 + 1u); let oa2 = a_offset(m0 + 2u); let oa3 = a_offset(m0 + 3u);
  let oa4 = a_offset(m0 + 4u); let oa5 = a_offset(m0 + 5u); let oa6 = a_offset(m0 + 6u); let oa7 = a_offset(m0 + 7u);
  let ob0 = b_offset(n0); let ob1 = b_offset(n0 + 1u); let ob2 = b_offset(n0 + 2u); let ob3 = b_offset(n0 + 3u);
  let ob4 = b_offset(n0 + 4u); let ob5 = b_offset(n0 + 5u); let ob6 = b_offset(n0 + 6u); let ob7 = b_offset(n0 + 7u);

  // c{row}{a: columns 0..3, b: columns 4..7}
  var c0a = vec4<f32>(); var c0b = vec4<f32>(); var c1a = vec4<f32>(); var c1b = vec4<f32>();
  var c2a = vec4<f32>(); var c2b = vec4<f32>(); var c3a = vec4<f32>(); var c3b = vec4<f32>();
  var c4a = vec4<f32>(); var c4b = vec4<f32>(); var c5a = vec4<f32>(); var c5b = vec4<f32>();
  var c6a = vec4<f32>(); var c6b = vec4<f32>(); var c7a = vec4<f32>(); var c7b = vec4<f32>();
  // ROW_SUMS: Σ_k op(A)[m0 + i, k], rows 0..3 and 4..7 (every thread adds; the n0 = 0 ones store)
  var ra = vec4<f32>(); var rb = vec4<f32>();

  for (var k = k_begin; k < k_end; k++) {
    let ka = k * sa;
    let kb = k * sb;
    let b0 = vec4(B[ob0 + kb], B[ob1 + kb], B[ob2 + kb], B[ob3 + kb]);
    let b1 = vec4(B[ob4 + kb], B[ob5 + kb], B[ob6 + kb], B[ob7 + kb]);
    let a0 = vec4(A[oa0 + ka]); c0a = fma(a0, b0, c0a); c0b = fma(a0, b1, c0b);
    let a1 = vec4(A[oa1 + ka]); c1a = fma(a1, b0, c1a); c1b = fma(a1, b1, c1b);
    let a2 = vec4(A[oa2 + ka]); c2a = fma(a2, b0, c2a); c2b = fma(a2, b1, c2b);
    let a3 = vec4(A[oa3 + ka]); c3a = fma(a3, b0, c3a); c3b = fma(a3, b1, c3b);
    let a4 = vec4(A[oa4 + ka]); c4a = fma(a4, b0, c4a); c4b = fma(a4, b1, c4b);
    let a5 = vec4(A[oa5 + ka]); c5a = fma(a5, b0, c5a); c5b = fma(a5, b1, c5b);
    let a6 = vec4(A[oa6 + ka]); c6a = fma(a6, b0, c6a); c6b = fma(a6, b1, c6b);
    let a7 = vec4(A[oa7 + ka]); c7a = fma(a7, b0, c7a); c7b = fma(a7, b1, c7b);
    if (ROW_SUMS) {
      ra += vec4(a0.x, a1.x, a2.x, a3.x);
      rb += vec4(a4.x, a5.x, a6.x, a7.x);
    }
  }

  let bl = vec4(bias_at(n0), bias_at(n0 + 1u), bias_at(n0 + 2u), bias_at(n0 + 3u));
  let bh = vec4(bias_at(n0 + 4u), bias_at(n0 + 5u), bias_at(n0 + 6u), bias_at(n0 + 7u));
  store_row(m0, n0, c0a, c0b, bl, bh, wid.z);
  store_row(m0 + 1u, n0, c1a, c1b, bl, bh, wid.z);
  store_row(m0 + 2u, n0, c2a, c2b, bl, bh, wid.z);
  store_row(m0 + 3u, n0, c3a, c3b, bl, bh, wid.z);
  store_row(m0 + 4u, n0, c4a, c4b, bl, bh, wid.z);
  store_row(m0 + 5u, n0, c5a, c5b, bl, bh, wid.z);
  store_row(m0 + 6u, n0, c6a, c6b, bl, bh, wid.z);
  store_row(m0 + 7u, n0, c7a, c7b, bl, bh, wid.z);
  if (ROW_SUMS && n0 == 0u) {
    store_row_sum(m0, ra.x, wid.z, nwg.z); store_row_sum(m0 + 1u, ra.y, wid.z, nwg.z);
    store_row_sum(m0 + 2u, ra.z, wid.z, nwg.z); store_row_sum(m0 + 3u, ra.w, wid.z, nwg.z);
    store_row_sum(m0 + 4u, rb.x, wid.z, nwg.z); store_row_sum(m0 + 5u, rb.y, wid.z, nwg.z);
    store_row_sum(m0 + 6u, rb.z, wid.z, nwg.z); store_row_sum(m0 + 7u, rb.w, wid.z, nwg.z);
  }
}
