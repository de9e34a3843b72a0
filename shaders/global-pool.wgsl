// Global average pool of the classifier head (spec §1): each sample's P rows of a row-major
// (N·P, C) matrix averaged into one row of y (N, C), and its backward.
//   forward:  y[n, c] = (1/P) Σ_p x[n·P + p, c]
//   backward: dX[n·P + p, c] = dY[n, c] / P   (overwrites dX)
// forward: one thread per output (n, c), walking its P rows (adjacent threads read adjacent
// columns, so the reads coalesce); no barrier, which SwiftShader runs far faster. The rows
// are summed in blocks of BLOCK, each block's sum then added to the total, so the rounding
// error grows with BLOCK + P / BLOCK rather than P (P reaches 4096).
// backward: one thread per dX element. Both have a `…4` entry point over vec4 views, used
// when C % 4 == 0 (a vec4 then never straddles two rows). Entry points reuse binding
// numbers with different variables; each uses only its own.

struct Params {
  N: u32,
  P: u32,   // rows per sample
  C: u32,   // columns (C / 4 in the …4 entry points)
  _pad: u32,
}

@group(0) @binding(0) var<uniform> p: Params;

const WG: u32 = 256u;
const BLOCK: u32 = 64u;

fn linear_index(wid: vec3<u32>, nwg: vec3<u32>, li: u32) -> u32 {
  return (wid.x + wid.y * nwg.x) * WG + li;
}

// ---- forward ----
@group(0) @binding(1) var<storage, read> fw_x: array<f32>;        // (N·P, C)
@group(0) @binding(2) var<storage, read_write> fw_y: array<f32>;  // (N, C)

@compute @workgroup_size(256)
fn forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
           @builtin(local_invocation_index) li: u32) {
  let idx = linear_index(wid, nwg, li);
  if (idx >= p.N * p.C) { return; }
  let n = idx / p.C;
  let c = idx % p.C;
  let base = n * p.P * p.C + c;
  var total = 0.0;
  for (var start = 0u; start < p.P; start += BLOCK) {
    let end = min(start + BLOCK, p.P);
    var s = 0.0;
    for (var row = start; row < end; row++) { s += fw_x[base + row * p.C]; }
    total += s;
  }
  fw_y[idx] = total / f32(p.P);
}

@group(0) @binding(1) var<storage, read> fw_x4: array<vec4<f32>>;       // (N·P, C/4)
@group(0) @binding(2) var<storage, read_write> fw_y4: array<vec4<f32>>; // (N, C/4)

@compute @workgroup_size(256)
fn forward4(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_index) li: u32) {
  let idx = linear_index(wid, nwg, li);
  if (idx >= p.N * p.C) { return; }
  let n = idx / p.C;
  let c = idx % p.C;
  let base = n * p.P * p.C + c;
  var total = vec4<f32>(0.0);
  for (var start = 0u; start < p.P; start += BLOCK) {
    let end = min(start + BLOCK, p.P);
    var s = vec4<f32>(0.0);
    for (var row = start; row < end; row++) { s += fw_x4[base + row * p.C]; }
    total += s;
  }
  fw_y4[idx] = total / f32(p.P);
}

// ---- backward ----
@group(0) @binding(1) var<storage, read> bw_dy: array<f32>;         // (N, C)
@group(0) @binding(2) var<storage, read_write> bw_dx: array<f32>;   // (N·P, C)

@compute @workgroup_size(256)
fn backward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_index) li: u32) {
  let idx = linear_index(wid, nwg, li);
  if (idx >= p.N * p.P * p.C) { return; }
  let n = idx / (p.P * p.C);
  let c = idx % p.C;
  bw_dx[idx] = bw_dy[n * p.C + c] / f32(p.P);
}

@group(0) @binding(1) var<storage, read> bw_dy4: array<vec4<f32>>;       // (N, C/4)
@group(0) @binding(2) var<storage, read_write> bw_dx4: array<vec4<f32>>; // (N·P, C/4)

@compute @workgroup_size(256)
fn backward4(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
             @builtin(local_invocation_index) li: u32) {
  let idx = linear_index(wid, nwg, li);
  if (idx >= p.N * p.P * p.C) { return; }
  let n = idx / (p.P * p.C);
  let c = idx % p.C;
  bw_dx4[idx] = bw_dy4[n * p.C + c] / f32(p.P);
}
