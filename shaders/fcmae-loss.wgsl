// FCMAE reconstruction loss over masked patches only (spec §4 Loss). The decoder predicts
// only masked patches: pred row i ↔ target row masked_rows[i] (global row n·L + p, ascending,
// so sample n owns pred rows [n·M, (n+1)·M)). M = masked patches per sample.
//   loss           = Σ_i mean_j (pred[i, j] − target[masked_rows[i], j])² / (N·M)
//   sample_loss[n] = the same mean over sample n's M rows (display only)
//   (M = 0, mask ratio 0: both are 0, not 0/0)
//   dPred[i, j]    = scale · 2·(pred − target) / (3072·N·M)
// Entry points (bindings in fcmae-loss-common.wgsl):
//   GPU plan (barrier trees; fcmae-loss-subgroups.wgsl has them with subgroup sums):
//     row_loss  one workgroup per pred row, tree sum over its 3072 values
//     reduce    one workgroup: per sample a strided sum and tree over its M row losses
//     small     one workgroup doing both, row after row, for few rows
//   software plan (CPU drivers: no barriers, or one):
//     rows_serial    one thread per pred row (vec4 loads), sums per 96 values then over the
//                    32 partials
//     reduce_serial  one thread: per sample in order, then the loss
//     small_serial   one workgroup, a thread per row, one barrier, then thread 0 reduces
//   backward  one thread per 4 elements (both plans)

//#include "fcmae-loss-common.wgsl"

// backward, as vec4 (a pred / target row is 768 of them)
@group(0) @binding(1) var<storage, read> bw_pred: array<vec4<f32>>;          // (N·M, 768)
@group(0) @binding(2) var<storage, read> bw_target: array<vec4<f32>>;        // (N·L, 768)
@group(0) @binding(3) var<storage, read> bw_rows: array<i32>;                // (N·M)
@group(0) @binding(4) var<storage, read_write> bw_dpred: array<vec4<f32>>;   // (N·M, 768)

var<workgroup> partial: array<f32, 256>;

fn workgroup_sum(v: f32, li: u32) -> f32 {
  partial[li] = v;
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride /= 2u) {
    if (li < stride) { partial[li] += partial[li + stride]; }
    workgroupBarrier();
  }
  let total = partial[0];
  workgroupBarrier();
  return total;
}

@compute @workgroup_size(256)
fn row_loss(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_index) li: u32) {
  let i = wid.x + wid.y * nwg.x; // uniform across the workgroup
  if (i >= p.N * p.M) { return; }
  let total = row_sum_workgroup(i, li);
  if (li == 0u) { rl_out[i] = total / f32(PATCH_VALUES); }
}

@compute @workgroup_size(256)
fn reduce(@builtin(local_invocation_index) li: u32) {
  reduce_workgroup(li);
}

@compute @workgroup_size(256)
fn small(@builtin(local_invocation_index) li: u32) {
  small_workgroup(li);
}

override SERIAL_WG: u32 = 4u; // few threads per workgroup: CPU drivers spread workgroups over cores

// The software-plan kernels' views of pred and target as vec4 (rows of 768): a quarter of
// the load instructions. rows_serial and small_serial bind both at the same numbers.
@group(0) @binding(1) var<storage, read> serial_pred4: array<vec4<f32>>;    // (N·M, 768)
@group(0) @binding(2) var<storage, read> serial_target4: array<vec4<f32>>;  // (N·L, 768)

// Σ_j (pred[i, j] − target[t, j])² by one thread: per 96 values (4 lanes × 24), then over
// the 32 partials.
fn row_sum_serial(i: u32, t: u32) -> f32 {
  let p_base = i * (PATCH_VALUES / 4u);
  let t_base = t * (PATCH_VALUES / 4u);
  var s = 0.0;
  for (var b = 0u; b < PATCH_VALUES / 4u; b += 24u) {
    var bs = vec4<f32>(0.0);
    for (var k = b; k < b + 24u; k++) {
      let d = serial_pred4[p_base + k] - serial_target4[t_base + k];
      bs += d * d;
    }
    s += (bs.x + bs.y) + (bs.z + bs.w);
  }
  return s;
}

@compute @workgroup_size(SERIAL_WG)
fn rows_serial(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
               @builtin(local_invocation_index) li: u32) {
  let i = (wid.x + wid.y * nwg.x) * SERIAL_WG + li;
  if (i >= p.N * p.M) { return; }
  rl_out[i] = row_sum_serial(i, u32(rl_rows[i])) / f32(PATCH_VALUES);
}

@compute @workgroup_size(1)
fn reduce_serial() {
  var total = 0.0;
  for (var n = 0u; n < p.N; n++) {
    var s = 0.0;
    for (var i = 0u; i < p.M; i++) { s += rd_row_loss[n * p.M + i]; }
    rd_sample[n] = select(0.0, s / f32(p.M), p.M > 0u);
    total += s;
  }
  rd_loss[0] = select(0.0, total / f32(p.N * p.M), p.M > 0u);
}

override SMALL_WG: u32 = 64u; // ≥ N·M: one thread per row
var<workgroup> small_rows: array<f32, 256>;

@compute @workgroup_size(SMALL_WG)
fn small_serial(@builtin(local_invocation_index) li: u32) {
  let NM = p.N * p.M;
  if (li < NM) { small_rows[li] = row_sum_serial(li, u32(rl_rows[li])) / f32(PATCH_VALUES); }
  workgroupBarrier();
  if (li == 0u) {
    var total = 0.0;
    for (var n = 0u; n < p.N; n++) {
      var s = 0.0;
      for (var i = 0u; i < p.M; i++) { s += small_rows[n * p.M + i]; }
      sm_sample[n] = select(0.0, s / f32(p.M), p.M > 0u);
      total += s;
    }
    sm_loss[0] = select(0.0, total / f32(p.N * p.M), p.M > 0u);
  }
}

@compute @workgroup_size(256)
fn backward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_index) li: u32) {
  let idx = (wid.x + wid.y * nwg.x) * WG + li; // vec4 index
  let ROW4 = PATCH_VALUES / 4u;
  if (idx >= p.N * p.M * ROW4) { return; }
  let i = idx / ROW4;
  let t = bw_target[u32(bw_rows[i]) * ROW4 + idx % ROW4];
  bw_dpred[idx] = p.grad_coef * (bw_pred[idx] - t);
}
