// GRN backward pass 4, elementwise: dX = dY·(1 + gamma·Nx) + (X / G)·dG.
// X / G is taken as 0 where G = 0 (X is then 0 in that channel for the whole group), so
// the gradient stays finite; dividing X by G (|X/G| ≤ 1) rather than dG by G keeps a tiny
// non-zero G from overflowing.
// GELU_FORM (1 erf, 2 tanh; 0 off): GRN's input is a GELU output and its backward is fused
// here: dX = gelu'(pre)·(the above), with pre the GELU input (a block's pwconv1 output); one
// elementwise pass instead of two, the same arithmetic as gelu.wgsl's backward.
//#include "gelu-common.wgsl"

struct Params {
  C: u32,
  groupRows: u32,
  total: u32, // rows · C
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;        // (rows, C)
@group(0) @binding(2) var<storage, read> dY: array<f32>;       // (rows, C)
@group(0) @binding(3) var<storage, read> gamma: array<f32>;    // (C)
@group(0) @binding(4) var<storage, read> norm: array<f32>;     // Nx (groups, C)
@group(0) @binding(5) var<storage, read> gnorm: array<f32>;    // G (groups, C)
@group(0) @binding(6) var<storage, read> dG: array<f32>;       // (groups, C)
@group(0) @binding(7) var<storage, read_write> dX: array<f32>; // (rows, C)
@group(0) @binding(8) var<storage, read> pre: array<f32>;      // (rows, C) GELU input; any buffer when GELU_FORM = 0

override GELU_FORM: u32 = 0u;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
  let idx = (wid.x + wid.y * nwg.x) * 256u + li;
  if (idx >= p.total) { return; }
  let row = idx / p.C;
  let c = idx - row * p.C;
  let i = (row / p.groupRows) * p.C + c;
  let G = gnorm[i];
  let v = x[idx];
  let xOverG = select(0.0, v / G, G > 0.0);
  var d = dY[idx] * (1.0 + gamma[c] * norm[i]) + xOverG * dG[i];
  if (GELU_FORM != 0u) { d = d * gelu_apply_grad(pre[idx], GELU_FORM); }
  dX[idx] = d;
}
