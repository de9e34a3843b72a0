// FCMAE target (spec §4 Loss): patchify the (ImageNet-normalised) image into (N·L, 3072)
// rows, patch p of sample n on row n·L + p (raster order over the grid), inside a patch
// index j = (iy·32 + ix)·3 + c (channel fastest, the official `nchpwq->nhwpqc` order).
// Also the per-patch mean and UNBIASED variance (÷ 3071, torch.var's default) that the
// normalised-pixel target uses, kept for de-normalising reconstructions. With NORM_PIX,
// t = (t − mean) / sqrt(var + 1e-6).
// Entry points:
//   main:        GPU plan, one 256-thread workgroup per patch, barrier-tree sums
//                (patchify-subgroups.wgsl: the same with subgroup sums)
//   main_serial: software plan (CPU drivers, where every barrier turns the invocations
//                into coroutines), one thread per patch, no barriers: the sums run per
//                pixel row (32×3 values) and then over the 32 row sums, to keep the
//                rounding close to a tree's.

//#include "patchify-common.wgsl"

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
  let row = wid.x + wid.y * nwg.x; // n·L + patch; uniform across the workgroup
  if (row >= p.N * p.grid_h * p.grid_w) { return; }
  patchify_row_workgroup(row, li);
}

override SERIAL_WG: u32 = 4u; // few threads per workgroup: CPU drivers spread workgroups over cores

@compute @workgroup_size(SERIAL_WG)
fn main_serial(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
               @builtin(local_invocation_index) li: u32) {
  let row = (wid.x + wid.y * nwg.x) * SERIAL_WG + li;
  let L = p.grid_h * p.grid_w;
  if (row >= p.N * L) { return; }
  let n = row / L;
  let patch_id = row % L;
  let y0 = (patch_id / p.grid_w) * 32u;
  let x0 = (patch_id % p.grid_w) * 32u;
  let H = p.grid_h * 32u;
  let W = p.grid_w * 32u;
  let plane = H * W;
  let base = n * 3u * plane;
  var s = 0.0;
  for (var iy = 0u; iy < 32u; iy++) {
    var rs = 0.0;
    for (var c = 0u; c < 3u; c++) {
      let line = base + c * plane + (y0 + iy) * W + x0;
      for (var ix = 0u; ix < 32u; ix++) { rs += image[line + ix]; }
    }
    s += rs;
  }
  let mean = s / f32(PATCH_VALUES);
  var ss = 0.0;
  for (var iy = 0u; iy < 32u; iy++) {
    var rs = 0.0;
    for (var c = 0u; c < 3u; c++) {
      let line = base + c * plane + (y0 + iy) * W + x0;
      for (var ix = 0u; ix < 32u; ix++) {
        let d = image[line + ix] - mean;
        rs += d * d;
      }
    }
    ss += rs;
  }
  let variance = ss / f32(PATCH_VALUES - 1u);
  let inv_std = inverseSqrt(variance + 1e-6);
  let out = row * PATCH_VALUES;
  for (var iy = 0u; iy < 32u; iy++) {
    for (var c = 0u; c < 3u; c++) {
      let line = base + c * plane + (y0 + iy) * W + x0;
      for (var ix = 0u; ix < 32u; ix++) {
        var t = image[line + ix];
        if (NORM_PIX) { t = (t - mean) * inv_std; }
        target_rows[out + (iy * 32u + ix) * 3u + c] = t;
      }
    }
  }
  patch_mean[row] = mean;
  patch_var[row] = variance;
}
