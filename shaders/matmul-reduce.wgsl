// Second pass of a split-K matmul: C[M,N] (+)= Σ_s partial[s, M, N] (+ bias[N]), then the
// same GELU epilogue as matmul.wgsl. One thread per element of C.
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

override HAS_BIAS: bool = false;
override ACCUMULATE: bool = false;
override EPILOGUE: u32 = 0u;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
  let idx = (wid.x + wid.y * nwg.x) * 256u + li;
  let total = p.M * p.N;
  if (idx >= total) { return; }
  var v = 0.0;
  for (var s = 0u; s < p.splits; s++) { v += partial[s * total + idx]; }
  if (HAS_BIAS) { v += bias[idx % p.N]; }
  v = gelu_apply(v, EPILOGUE);
  if (ACCUMULATE) { v += C[idx]; }
  C[idx] = v;
}
