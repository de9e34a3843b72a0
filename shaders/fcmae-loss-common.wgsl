// What fcmae-loss.wgsl (barrier trees, software-plan kernels) and fcmae-loss-subgroups.wgsl
// share: the contract (see fcmae-loss.wgsl's header), the bindings of every entry point and
// the workgroup bodies, which call the includer's workgroup_sum. Included by both; never
// compiled on its own. Variables of different entry points share binding numbers (WGSL
// allows it across entry points); the prefixes say which entry points own them.

struct Params {
  N: u32,
  M: u32,          // masked patches per sample
  grad_coef: f32,  // backward: scale · 2 / (3072·N·M)
  _pad: u32,
}

@group(0) @binding(0) var<uniform> p: Params;

// row_loss, rows_serial; small and small_serial bind the first three the same way
@group(0) @binding(1) var<storage, read> rl_pred: array<f32>;          // (N·M, 3072)
@group(0) @binding(2) var<storage, read> rl_target: array<f32>;        // (N·L, 3072)
@group(0) @binding(3) var<storage, read> rl_rows: array<i32>;          // (N·M) target row of each pred row
@group(0) @binding(4) var<storage, read_write> rl_out: array<f32>;     // (N·M) per-patch mean squared error

// reduce, reduce_serial
@group(0) @binding(1) var<storage, read> rd_row_loss: array<f32>;      // (N·M)
@group(0) @binding(2) var<storage, read_write> rd_loss: array<f32>;    // (1)
@group(0) @binding(3) var<storage, read_write> rd_sample: array<f32>;  // (N)

// small, small_serial: rows and reduce in one workgroup (pred, target, rows at 1–3 as above)
@group(0) @binding(4) var<storage, read_write> sm_loss: array<f32>;    // (1)
@group(0) @binding(5) var<storage, read_write> sm_sample: array<f32>;  // (N)

const WG: u32 = 256u;
const PATCH_VALUES: u32 = 3072u;
const PER_THREAD: u32 = 12u;

// Σ_j (pred[i, j] − target[rows[i], j])² over the workgroup; i uniform.
fn row_sum_workgroup(i: u32, li: u32) -> f32 {
  let t_base = u32(rl_rows[i]) * PATCH_VALUES;
  let p_base = i * PATCH_VALUES;
  var s = 0.0;
  for (var k = 0u; k < PER_THREAD; k++) {
    let j = li + k * WG;
    let d = rl_pred[p_base + j] - rl_target[t_base + j];
    s += d * d;
  }
  return workgroup_sum(s, li);
}

// Per-sample losses and the loss from the row losses (one workgroup).
fn reduce_workgroup(li: u32) {
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

// Rows and reduce in one workgroup for few rows: each row's sum, then per sample in order.
fn small_workgroup(li: u32) {
  var total = 0.0;
  for (var n = 0u; n < p.N; n++) {
    var sample_sum = 0.0;
    for (var m = 0u; m < p.M; m++) {
      sample_sum += row_sum_workgroup(n * p.M + m, li) / f32(PATCH_VALUES);
    }
    if (li == 0u) { sm_sample[n] = select(0.0, sample_sum / f32(p.M), p.M > 0u); }
    total += sample_sum;
  }
  if (li == 0u) { sm_loss[0] = select(0.0, total / f32(p.N * p.M), p.M > 0u); }
}
