// Drop path (stochastic depth) on a residual branch: rows of a sample-major (rows, C) matrix
// scaled by a per-sample factor from a buffer the host rewrites every step
// (scale[n] ∈ {0, 1/(1 − p)}); row r belongs to sample floor(r / rows_per_sample).
//   add_scaled:  out[r, c] = x[r, c] + scale[n]·branch[r, c]   (forward of x + drop_path(branch))
//   scale_rows:  dst[r, c] = scale[n]·src[r, c]                (its backward for the branch)
// `…_inplace` variants bind the written buffer once (out = x, dst = src): WebGPU forbids a
// buffer bound both writable and read-only in one dispatch. `…4` variants work on vec4 views
// (the host uses them when C % 4 == 0, so a vec4 never straddles two rows). One element (or
// vec4) per thread. Each entry point uses only its own variables.

struct Params {
  count: u32,            // elements (vec4s in the …4 entry points): rows · C
  row_units: u32,        // elements (vec4s) per row: C (C / 4)
  rows_per_sample: u32,
  _pad: u32,
}

@group(0) @binding(0) var<uniform> p: Params;

fn linear_index(wid: vec3<u32>, nwg: vec3<u32>, li: u32) -> u32 {
  return (wid.x + wid.y * nwg.x) * 256u + li;
}

fn sample_of(i: u32) -> u32 {
  return (i / p.row_units) / p.rows_per_sample;
}

// ---- add_scaled: out = x + scale[n]·branch ----
@group(0) @binding(1) var<storage, read> as_x: array<f32>;
@group(0) @binding(2) var<storage, read> as_branch: array<f32>;
@group(0) @binding(3) var<storage, read> as_scale: array<f32>;
@group(0) @binding(4) var<storage, read_write> as_out: array<f32>;

@compute @workgroup_size(256)
fn add_scaled(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
              @builtin(local_invocation_index) li: u32) {
  let i = linear_index(wid, nwg, li);
  if (i >= p.count) { return; }
  as_out[i] = as_x[i] + as_scale[sample_of(i)] * as_branch[i];
}

@group(0) @binding(1) var<storage, read> as_x4: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> as_branch4: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> as_scale4: array<f32>;
@group(0) @binding(4) var<storage, read_write> as_out4: array<vec4<f32>>;

@compute @workgroup_size(256)
fn add_scaled4(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
               @builtin(local_invocation_index) li: u32) {
  let i = linear_index(wid, nwg, li);
  if (i >= p.count) { return; }
  as_out4[i] = as_x4[i] + as_scale4[sample_of(i)] * as_branch4[i];
}

// ---- add_scaled_inplace: x += scale[n]·branch ----
@group(0) @binding(1) var<storage, read_write> asi_x: array<f32>;
@group(0) @binding(2) var<storage, read> asi_branch: array<f32>;
@group(0) @binding(3) var<storage, read> asi_scale: array<f32>;

@compute @workgroup_size(256)
fn add_scaled_inplace(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                      @builtin(local_invocation_index) li: u32) {
  let i = linear_index(wid, nwg, li);
  if (i >= p.count) { return; }
  asi_x[i] = asi_x[i] + asi_scale[sample_of(i)] * asi_branch[i];
}

@group(0) @binding(1) var<storage, read_write> asi_x4: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> asi_branch4: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> asi_scale4: array<f32>;

@compute @workgroup_size(256)
fn add_scaled_inplace4(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                       @builtin(local_invocation_index) li: u32) {
  let i = linear_index(wid, nwg, li);
  if (i >= p.count) { return; }
  asi_x4[i] = asi_x4[i] + asi_scale4[sample_of(i)] * asi_branch4[i];
}

// ---- scale_rows: dst = scale[n]·src ----
@group(0) @binding(1) var<storage, read> sr_src: array<f32>;
@group(0) @binding(2) var<storage, read> sr_scale: array<f32>;
@group(0) @binding(3) var<storage, read_write> sr_dst: array<f32>;

@compute @workgroup_size(256)
fn scale_rows(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
              @builtin(local_invocation_index) li: u32) {
  let i = linear_index(wid, nwg, li);
  if (i >= p.count) { return; }
  sr_dst[i] = sr_scale[sample_of(i)] * sr_src[i];
}

@group(0) @binding(1) var<storage, read> sr_src4: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> sr_scale4: array<f32>;
@group(0) @binding(3) var<storage, read_write> sr_dst4: array<vec4<f32>>;

@compute @workgroup_size(256)
fn scale_rows4(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
               @builtin(local_invocation_index) li: u32) {
  let i = linear_index(wid, nwg, li);
  if (i >= p.count) { return; }
  sr_dst4[i] = sr_scale4[sample_of(i)] * sr_src4[i];
}

// ---- scale_rows_inplace: x *= scale[n] ----
@group(0) @binding(1) var<storage, read_write> sri_x: array<f32>;
@group(0) @binding(2) var<storage, read> sri_scale: array<f32>;

@compute @workgroup_size(256)
fn scale_rows_inplace(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                      @builtin(local_invocation_index) li: u32) {
  let i = linear_index(wid, nwg, li);
  if (i >= p.count) { return; }
  sri_x[i] = sri_scale[sample_of(i)] * sri_x[i];
}

@group(0) @binding(1) var<storage, read_write> sri_x4: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> sri_scale4: array<f32>;

@compute @workgroup_size(256)
fn scale_rows_inplace4(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                       @builtin(local_invocation_index) li: u32) {
  let i = linear_index(wid, nwg, li);
  if (i >= p.count) { return; }
  sri_x4[i] = sri_scale4[sample_of(i)] * sri_x4[i];
}
