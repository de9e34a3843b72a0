// GELU as a standalone elementwise op: forward y = gelu(x), backward dX (+)= dY·gelu'(x).
// FORM picks exact (erf, 1) or tanh (2); the formulas live in gelu-common.wgsl, shared with
// the matmul epilogue so both give identical values. The …4 entry points read vec4 views of
// the same buffers (host picks them when count % 4 == 0); binding numbers are reused across
// entry points with different variables, which is legal since no entry point uses both.
//#include "gelu-common.wgsl"

struct Params {
  count: u32, // elements (vec4s in the …4 entry points)
  _pad0: u32,
  _pad1: u32,
  _pad2: u32,
}

override FORM: u32 = 1u;           // 1 erf, 2 tanh (gelu_apply's codes)
override ACCUMULATE: bool = false; // backward: dX += result

@group(0) @binding(0) var<uniform> p: Params;

fn linear_index(wid: vec3<u32>, nwg: vec3<u32>, li: u32) -> u32 {
  return (wid.x + wid.y * nwg.x) * 256u + li;
}

@group(0) @binding(1) var<storage, read> fx: array<f32>;         // (count)
@group(0) @binding(2) var<storage, read_write> fy: array<f32>;   // (count)

@compute @workgroup_size(256)
fn forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
           @builtin(local_invocation_index) li: u32) {
  let i = linear_index(wid, nwg, li);
  if (i >= p.count) { return; }
  fy[i] = gelu_apply(fx[i], FORM);
}

@group(0) @binding(1) var<storage, read> fx4: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> fy4: array<vec4<f32>>;

@compute @workgroup_size(256)
fn forward4(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_index) li: u32) {
  let i = linear_index(wid, nwg, li);
  if (i >= p.count) { return; }
  let v = fx4[i];
  fy4[i] = vec4<f32>(gelu_apply(v.x, FORM), gelu_apply(v.y, FORM), gelu_apply(v.z, FORM), gelu_apply(v.w, FORM));
}

@group(0) @binding(1) var<storage, read> bx: array<f32>;         // (count)
@group(0) @binding(2) var<storage, read> bdY: array<f32>;        // (count)
@group(0) @binding(3) var<storage, read_write> bdX: array<f32>;  // (count)

@compute @workgroup_size(256)
fn backward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_index) li: u32) {
  let i = linear_index(wid, nwg, li);
  if (i >= p.count) { return; }
  var d = bdY[i] * gelu_apply_grad(bx[i], FORM);
  if (ACCUMULATE) { d += bdX[i]; }
  bdX[i] = d;
}

@group(0) @binding(1) var<storage, read> bx4: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> bdY4: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> bdX4: array<vec4<f32>>;

@compute @workgroup_size(256)
fn backward4(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
             @builtin(local_invocation_index) li: u32) {
  let i = linear_index(wid, nwg, li);
  if (i >= p.count) { return; }
  let v = bx4[i];
  let g = vec4<f32>(gelu_apply_grad(v.x, FORM), gelu_apply_grad(v.y, FORM),
                    gelu_apply_grad(v.z, FORM), gelu_apply_grad(v.w, FORM));
  var d = bdY4[i] * g;
  if (ACCUMULATE) { d += bdX4[i]; }
  bdX4[i] = d;
}
