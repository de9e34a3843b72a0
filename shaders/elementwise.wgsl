// Elementwise helpers of the model: add (out = a + b), accumulate (a += b), copy (dst = src),
// scale (x *= s, s a uniform fixed per plan) and scale_by (x *= s[0], s in a buffer the
// caller rewrites per step, e.g. a gradient-clipping factor).
// Each has a scalar entry point and a `…4` one over vec4 views of the same buffers, used by
// the host when the element count is a multiple of 4 (16-byte loads and stores). Entry
// points reuse binding numbers with different variables: legal, since no entry point uses two
// variables of the same binding. One element (or vec4) per thread; 1-D grid spread by
// linearGrid, hence the num_workgroups arithmetic and the bounds check.

struct Params {
  count: u32, // elements (vec4s in the …4 entry points)
  s: f32,     // scale factor of `scale`
  _pad0: u32,
  _pad1: u32,
}

@group(0) @binding(0) var<uniform> p: Params;

fn linear_index(wid: vec3<u32>, nwg: vec3<u32>, li: u32) -> u32 {
  return (wid.x + wid.y * nwg.x) * 256u + li;
}

// ---- add: out = a + b ----
@group(0) @binding(1) var<storage, read> add_a: array<f32>;
@group(0) @binding(2) var<storage, read> add_b: array<f32>;
@group(0) @binding(3) var<storage, read_write> add_out: array<f32>;

@compute @workgroup_size(256)
fn add(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
       @builtin(local_invocation_index) li: u32) {
  let i = linear_index(wid, nwg, li);
  if (i >= p.count) { return; }
  add_out[i] = add_a[i] + add_b[i];
}

@group(0) @binding(1) var<storage, read> add_a4: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> add_b4: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> add_out4: array<vec4<f32>>;

@compute @workgroup_size(256)
fn add4(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
  let i = linear_index(wid, nwg, li);
  if (i >= p.count) { return; }
  add_out4[i] = add_a4[i] + add_b4[i];
}

// ---- accumulate: a += b ----
@group(0) @binding(1) var<storage, read_write> acc_a: array<f32>;
@group(0) @binding(2) var<storage, read> acc_b: array<f32>;

@compute @workgroup_size(256)
fn accumulate(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
              @builtin(local_invocation_index) li: u32) {
  let i = linear_index(wid, nwg, li);
  if (i >= p.count) { return; }
  acc_a[i] = acc_a[i] + acc_b[i];
}

@group(0) @binding(1) var<storage, read_write> acc_a4: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> acc_b4: array<vec4<f32>>;

@compute @workgroup_size(256)
fn accumulate4(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
               @builtin(local_invocation_index) li: u32) {
  let i = linear_index(wid, nwg, li);
  if (i >= p.count) { return; }
  acc_a4[i] = acc_a4[i] + acc_b4[i];
}

// ---- copy: dst = src ----
@group(0) @binding(1) var<storage, read> copy_src: array<f32>;
@group(0) @binding(2) var<storage, read_write> copy_dst: array<f32>;

@compute @workgroup_size(256)
fn copy(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
  let i = linear_index(wid, nwg, li);
  if (i >= p.count) { return; }
  copy_dst[i] = copy_src[i];
}

@group(0) @binding(1) var<storage, read> copy_src4: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> copy_dst4: array<vec4<f32>>;

@compute @workgroup_size(256)
fn copy4(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
         @builtin(local_invocation_index) li: u32) {
  let i = linear_index(wid, nwg, li);
  if (i >= p.count) { return; }
  copy_dst4[i] = copy_src4[i];
}

// ---- scale: x *= p.s ----
@group(0) @binding(1) var<storage, read_write> scale_x: array<f32>;

@compute @workgroup_size(256)
fn scale(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
         @builtin(local_invocation_index) li: u32) {
  let i = linear_index(wid, nwg, li);
  if (i >= p.count) { return; }
  scale_x[i] = scale_x[i] * p.s;
}

@group(0) @binding(1) var<storage, read_write> scale_x4: array<vec4<f32>>;

@compute @workgroup_size(256)
fn scale4(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
          @builtin(local_invocation_index) li: u32) {
  let i = linear_index(wid, nwg, li);
  if (i >= p.count) { return; }
  scale_x4[i] = scale_x4[i] * p.s;
}

// ---- scale_by: x *= factor[0] ----
@group(0) @binding(1) var<storage, read_write> scale_by_x: array<f32>;
@group(0) @binding(2) var<storage, read> scale_by_factor: array<f32>; // (1)

@compute @workgroup_size(256)
fn scale_by(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_index) li: u32) {
  let i = linear_index(wid, nwg, li);
  if (i >= p.count) { return; }
  scale_by_x[i] = scale_by_x[i] * scale_by_factor[0];
}

@group(0) @binding(1) var<storage, read_write> scale_by_x4: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> scale_by_factor4: array<f32>; // (1)

@compute @workgroup_size(256)
fn scale_by4(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
             @builtin(local_invocation_index) li: u32) {
  let i = linear_index(wid, nwg, li);
  if (i >= p.count) { return; }
  scale_by_x4[i] = scale_by_x4[i] * scale_by_factor4[0];
}
