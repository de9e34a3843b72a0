// FCMAE target (spec §4 Loss): patchify the (ImageNet-normalised) image into (N·L, 3072)
// rows, patch p of sample n on row n·L + p (raster order over the grid), inside a patch
// index j = (iy·32 + ix)·3 + c (channel fastest, the official `nchpwq->nhwpqc` order).
// Also the per-patch mean and UNBIASED variance (÷ 3071, torch.var's default) that the
// normalised-pixel target uses, kept for de-normalising reconstructions. With NORM_PIX,
// t = (t − mean) / sqrt(var + 1e-6).
// One workgroup per patch, 12 values per thread held in registers; mean first, then the
// centred sum of squares (two passes: no cancellation on bright, flat patches).

struct Params {
  N: u32,
  grid_h: u32,
  grid_w: u32,
  _pad: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> image: array<f32>;            // (N, 3, H, W)
@group(0) @binding(2) var<storage, read_write> target_rows: array<f32>;     // (N·L, 3072)
@group(0) @binding(3) var<storage, read_write> patch_mean: array<f32>; // (N·L)
@group(0) @binding(4) var<storage, read_write> patch_var: array<f32>;  // (N·L) unbiased

override NORM_PIX: bool = true;

const WG: u32 = 256u;
const PATCH_VALUES: u32 = 3072u; // 32·32·3
const PER_THREAD: u32 = 12u;     // 3072 / 256

var<workgroup> partial: array<f32, 256>;

fn workgroup_sum(v: f32, li: u32) -> f32 {
  partial[li] = v;
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride /= 2u) {
    if (li < stride) { partial[li] += partial[li + stride]; }
    workgroupBarrier();
  }
  let total = partial[0];
  workgroupBarrier(); // every thread has read the total before partial is reused
  return total;
}

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
  let L = p.grid_h * p.grid_w;
  let row = wid.x + wid.y * nwg.x; // n·L + patch; uniform across the workgroup
  if (row >= p.N * L) { return; }
  let n = row / L;
  let patch_id = row % L;
  let py = patch_id / p.grid_w;
  let px = patch_id % p.grid_w;
  let H = p.grid_h * 32u;
  let W = p.grid_w * 32u;

  var values: array<f32, 12>;
  var s = 0.0;
  for (var k = 0u; k < PER_THREAD; k++) {
    let j = li + k * WG;
    let pixel = j / 3u;
    let c = j % 3u;
    let y = py * 32u + pixel / 32u;
    let x = px * 32u + pixel % 32u;
    values[k] = image[((n * 3u + c) * H + y) * W + x];
    s += values[k];
  }
  let mean = workgroup_sum(s, li) / f32(PATCH_VALUES);
  var ss = 0.0;
  for (var k = 0u; k < PER_THREAD; k++) {
    let d = values[k] - mean;
    ss += d * d;
  }
  let variance = workgroup_sum(ss, li) / f32(PATCH_VALUES - 1u);
  let inv_std = inverseSqrt(variance + 1e-6);
  for (var k = 0u; k < PER_THREAD; k++) {
    var t = values[k];
    if (NORM_PIX) { t = (t - mean) * inv_std; }
    target_rows[row * PATCH_VALUES + li + k * WG] = t;
  }
  if (li == 0u) {
    patch_mean[row] = mean;
    patch_var[row] = variance;
  }
}
