// FCMAE reconstruction loss over masked patches only (spec §4 Loss). The decoder predicts
// only masked patches: pred row i ↔ target row masked_rows[i] (global row n·L + p, ascending,
// so sample n owns pred rows [n·M, (n+1)·M)). M = masked patches per sample.
//   loss           = Σ_i mean_j (pred[i, j] − target[masked_rows[i], j])² / (N·M)
//   sample_loss[n] = the same mean over sample n's M rows (display only)
//   (M = 0, mask ratio 0: both are 0, not 0/0)
//   dPred[i, j]    = scale · 2·(pred − target) / (3072·N·M)
// Entry points: row_loss (one workgroup per pred row, tree sum over its 3072 values),
// reduce (one workgroup: per sample a strided sum and tree over its M row losses), backward
// (one thread per element). Variables of different entry points share binding numbers.

struct Params {
  N: u32,
  M: u32,          // masked patches per sample
  grad_coef: f32,  // backward: scale · 2 / (3072·N·M)
  _pad: u32,
}

@group(0) @binding(0) var<uniform> p: Params;

// row_loss
@group(0) @binding(1) var<storage, read> rl_pred: array<f32>;          // (N·M, 3072)
@group(0) @binding(2) var<storage, read> rl_target: array<f32>;        // (N·L, 3072)
@group(0) @binding(3) var<storage, read> rl_rows: array<i32>;          // (N·M) target row of each pred row
@group(0) @binding(4) var<storage, read_write> rl_out: array<f32>;     // (N·M) per-patch mean squared error

// reduce
@group(0) @binding(1) var<storage, read> rd_row_loss: array<f32>;      // (N·M)
@group(0) @binding(2) var<storage, read_write> rd_loss: array<f32>;    // (1)
@group(0) @binding(3) var<storage, read_write> rd_sample: array<f32>;  // (N)

// backward
@group(0) @binding(1) var<storage, read> bw_pred: array<f32>;          // (N·M, 3072)
@group(0) @binding(2) var<storage, read> bw_target: array<f32>;        // (N·L, 3072)
@group(0) @binding(3) var<storage, read> bw_rows: array<i32>;          // (N·M)
@group(0) @binding(4) var<storage, read_write> bw_dpred: array<f32>;   // (N·M, 3072)

const WG: u32 = 256u;
const PATCH_VALUES: u32 = 3072u;
const PER_THREAD: u32 = 12u;

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
  let t_base = u32(rl_rows[i]) * PATCH_VALUES;
  let p_base = i * PATCH_VALUES;
  var s = 0.0;
  for (var k = 0u; k < PER_THREAD; k++) {
    let j = li + k * WG;
    let d = rl_pred[p_base + j] - rl_target[t_base + j];
    s += d * d;
  }
  let total = workgroup_sum(s, li);
  if (li == 0u) { rl_out[i] = total / f32(PATCH_VALUES); }
}

@compute @workgroup_size(256)
fn reduce(@builtin(local_invocation_index) li: u32) {
  var total = 0.0;
  for (var n = 0u; n < p.N; n++) {
    var s = 0.0;
    for (var i = li; i < p.M; i += WG) { s += rd_row_loss[n * p.M + i]; }
    let sample_sum = workgroup_sum(s, li);
    // M = 0 (mask ratio 0): nothing to reconstruct, the loss is 0 rather than 0/0.
    if (li == 0u) { rd_sample[n] = select(0.0, sample_sum / f32(p.M), p.M > 0u); }
    total += sample_sum;
  }
  if (li == 0u) { rd_loss[0] = select(0.0, total / f32(p.N * p.M), p.M > 0u); }
}

@compute @workgroup_size(256)
fn backward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_index) li: u32) {
  let idx = (wid.x + wid.y * nwg.x) * WG + li;
  if (idx >= p.N * p.M * PATCH_VALUES) { return; }
  let i = idx / PATCH_VALUES;
  let j = idx % PATCH_VALUES;
  let t = bw_target[u32(bw_rows[i]) * PATCH_VALUES + j];
  bw_dpred[idx] = p.grad_coef * (bw_pred[idx] - t);
}
