// FCMAE decoder input (spec §4 Decoder): x = proj(encoder)·(1 − m) + mask_token·m, built
// directly on the dense decoder grid. The encoder's proj output exists only at visible
// patches (sparse rows), so the "multiply by (1 − m)" is a placement:
//   fill:          X[n·L + p] = P[n·V + v] if v = patch_to_visible[n·L + p] ≥ 0, else mask_token
//   grad_visible:  dP[n·V + v] = dX[n·L + visible_patches[n·V + v]]
//   token_partial: partials[k] (+)= Σ over masked rows of chunk k of dX (GPU plan: the first
//                  pass of dMaskToken, column-sum.wgsl sums the partials; with one chunk it
//                  writes dMaskToken itself, ACCUMULATE adding to it)
//   token_serial:  dMaskToken (+)= Σ over masked rows of dX, a thread per column and no
//                  barrier (software plan: CPU drivers), one pass for any row count
// Each entry point binds its own set, so their variables share binding numbers (allowed in
// WGSL across entry points); the names say which entry point owns them.

struct Params {
  N: u32,
  L: u32, // patches per sample (dense grid rows per sample)
  V: u32, // visible patches per sample
  D: u32, // decoder width
  rows_per_chunk: u32, // token_partial only
  _pad0: u32,
  _pad1: u32,
  _pad2: u32,
}

@group(0) @binding(0) var<uniform> p: Params;

// fill
@group(0) @binding(1) var<storage, read> fill_proj: array<f32>;           // (N·V, D)
@group(0) @binding(2) var<storage, read> fill_token: array<f32>;          // (D)
@group(0) @binding(3) var<storage, read> fill_to_visible: array<i32>;     // (N·L) rank or −1
@group(0) @binding(4) var<storage, read_write> fill_x: array<f32>;        // (N·L, D)

// grad_visible
@group(0) @binding(1) var<storage, read> gv_dx: array<f32>;               // (N·L, D)
@group(0) @binding(2) var<storage, read> gv_visible: array<i32>;          // (N·V) patch index
@group(0) @binding(3) var<storage, read_write> gv_dproj: array<f32>;      // (N·V, D)

// token_partial, token_serial
@group(0) @binding(1) var<storage, read> tp_dx: array<f32>;               // (N·L, D)
@group(0) @binding(2) var<storage, read> tp_to_visible: array<i32>;       // (N·L) rank or −1
@group(0) @binding(3) var<storage, read_write> tp_partials: array<f32>;   // (chunks, D); token_serial (D)

override ACCUMULATE: bool = false; // token_partial with one chunk, token_serial: add to dMaskToken

const WG: u32 = 256u;

@compute @workgroup_size(256)
fn fill(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
  let idx = (wid.x + wid.y * nwg.x) * WG + li;
  if (idx >= p.N * p.L * p.D) { return; }
  let row = idx / p.D;
  let c = idx % p.D;
  let v = fill_to_visible[row];
  var value: f32;
  if (v >= 0) {
    let n = row / p.L;
    value = fill_proj[(n * p.V + u32(v)) * p.D + c];
  } else {
    value = fill_token[c];
  }
  fill_x[idx] = value;
}

@compute @workgroup_size(256)
fn grad_visible(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                @builtin(local_invocation_index) li: u32) {
  let idx = (wid.x + wid.y * nwg.x) * WG + li;
  if (idx >= p.N * p.V * p.D) { return; }
  let vrow = idx / p.D; // n·V + v
  let c = idx % p.D;
  let n = vrow / p.V;
  let patch_id = u32(gv_visible[vrow]);
  gv_dproj[idx] = gv_dx[(n * p.L + patch_id) * p.D + c];
}

// Same shape of work as column-sum.wgsl (32 columns × 8 row lanes), but a row counts only
// when its patch is masked.
const TC: u32 = 32u;
const LANES: u32 = 8u;
var<workgroup> lane_sums: array<f32, 256>;

@compute @workgroup_size(32, 8, 1)
fn token_partial(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let c = wid.x * TC + lid.x;
  let chunk = wid.y;
  let rows = p.N * p.L;
  let r0 = chunk * p.rows_per_chunk;
  let r1 = min(rows, r0 + p.rows_per_chunk);
  var s = 0.0;
  if (c < p.D) {
    for (var r = r0 + lid.y; r < r1; r += LANES) {
      if (tp_to_visible[r] < 0) { s += tp_dx[r * p.D + c]; }
    }
  }
  lane_sums[lid.y * TC + lid.x] = s;
  workgroupBarrier();
  for (var stride = LANES / 2u; stride > 0u; stride /= 2u) {
    if (lid.y < stride) { lane_sums[lid.y * TC + lid.x] += lane_sums[(lid.y + stride) * TC + lid.x]; }
    workgroupBarrier();
  }
  if (lid.y == 0u && c < p.D) {
    var total = lane_sums[lid.x];
    if (ACCUMULATE) { total += tp_partials[chunk * p.D + c]; }
    tp_partials[chunk * p.D + c] = total;
  }
}

override SERIAL_WG: u32 = 4u; // few threads per workgroup: CPU drivers spread workgroups over cores
const SERIAL_BLOCK: u32 = 64u; // rows summed apart before joining the total (rounding)

@compute @workgroup_size(SERIAL_WG)
fn token_serial(@builtin(global_invocation_id) gid: vec3<u32>) {
  let c = gid.x;
  if (c >= p.D) { return; }
  let rows = p.N * p.L;
  var total = 0.0;
  for (var r0 = 0u; r0 < rows; r0 += SERIAL_BLOCK) {
    var s = 0.0;
    for (var r = r0; r < min(rows, r0 + SERIAL_BLOCK); r++) {
      if (tp_to_visible[r] < 0) { s += tp_dx[r * p.D + c]; }
    }
    total += s;
  }
  if (ACCUMULATE) { total += tp_partials[c]; }
  tp_partials[c] = total;
}
