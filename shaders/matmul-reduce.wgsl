// Second pass of a split-K matmul: C[M,N] (+)= Σ_s partial[s, M, N] (+ bias[N]), then the
// same GELU epilogue (pre-activation store, addend) as matmul.wgsl. One thread per element of C.
// ROW_SUMS: M more threads sum the row-sum partials (S, M) stored after the (S, M, N) ones
// into row_sums (+= with ACCUMULATE, as C).
//#include "gelu-common.wgsl"

struct Params {
  M: u32,
  N: u32,
  splits: u32,
  _pad: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> partial: array<f32>; // (S, M, N)
@group(0) @binding(2) var<storage, read_write> C: array<f32>; // (M, N)
@group(0) @binding(3) var<storage, read> bias: array<f32>;    // (N)
@group(0) @binding(4) var<storage, read_write> row_sums: array<f32>; // (M); any buffer when !ROW_SUMS
@group(0) @binding(5) var<storage, read> addend: array<f32>;          // (M, N); any buffer when !HAS_ADDEND
@group(0) @binding(6) var<storage, read_write> pre: array<f32>;        // (M, N); any buffer when !STORE_PRE

override HAS_BIAS: bool = false;
override ACCUMULATE: bool = false;
override EPILOGUE: u32 = 0u;
override ROW_SUMS: bool = false;
override HAS_ADDEND: bool = false;
override STORE_PRE: bool = false;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
  let idx = (wid.x + wid.y * nwg.x) * 256u + li;
  let total = p.M * p.N;
  if (idx >= total) {
    let m = idx - total;
    if (!ROW_SUMS || m >= p.M) { return; }
    var r = 0.0;
    let base = p.splits * total;
    for (var s = 0u; s < p.splits; s++) { r += partial[base + s * p.M + m]; }
    if (ACCUMULATE) { r += row_sums[m]; }
    row_sums[m] = r;
    return;
  }
  var v = 0.0;
  for (var s = 0u; s < p.splits; s++) { v += partial[s * total + idx]; }
  if (HAS_BIAS) { v += bias[idx % p.N]; }
  if (STORE_PRE) { pre[idx] = v; }
  v = gelu_apply(v, EPILOGUE);
  if (HAS_ADDEND) { v += addend[idx]; }
  if (ACCUMULATE) { v += C[idx]; }
  C[idx] = v;
}
