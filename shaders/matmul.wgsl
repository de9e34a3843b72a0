// Tiled matrix multiply for GPUs; the contract (layouts, options, split-K) is in
// matmul-common.wgsl. The three products of a linear layer: forward x·Wᵀ (TRANS_B), dInput dY·W,
// dWeight dYᵀ·x (TRANS_A, split over K).
//
// Tiling: one 64×64 tile of C per workgroup of 16×16 threads, each thread a 4×4 register
// block (rows ty+16i, columns tx+16j: conflict-free reads of the shared tiles), K in steps of 16.
//
// Dimension letters: M rows of C, N columns of C, K reduction length, S split count.
//#include "matmul-common.wgsl"

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
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
        @builtin(num_workgroups) nwg: vec3<u32>) {
  let tx = lid.x;
  let ty = lid.y;
  let t = ty * 16u + tx;
  let m0 = wid.y * BM;
  let n0 = wid.x * BN;
  let k_begin = wid.z * p.k_chunk;
  let k_end = min(p.K, k_begin + p.k_chunk);

  var acc: array<array<f32, 4>, 4>;
  for (var i = 0u; i < 4u; i++) { for (var j = 0u; j < 4u; j++) { acc[i][j] = 0.0; } }
  // ROW_SUMS: Σ_k op(A)[row, k] of this thread's 4 rows, added by the tx = 0 threads of the first column tile
  let sums_rows = ROW_SUMS && wid.x == 0u && tx == 0u;
  var rs: array<f32, 4>;
  for (var i = 0u; i < 4u; i++) { rs[i] = 0.0; }

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
      if (sums_rows) { for (var i = 0u; i < 4u; i++) { rs[i] += a[i]; } }
      for (var i = 0u; i < 4u; i++) {
        for (var j = 0u; j < 4u; j++) { acc[i][j] = fma(a[i], b[j], acc[i][j]); }
      }
    }
    workgroupBarrier();
  }

  for (var i = 0u; i < 4u; i++) {
    for (var j = 0u; j < 4u; j++) { store_c(m0 + ty + 16u * i, n0 + tx + 16u * j, acc[i][j], wid.z); }
  }
  if (sums_rows) {
    for (var i = 0u; i < 4u; i++) { store_row_sum(m0 + ty + 16u * i, rs[i], wid.z, nwg.z); }
  }
}
