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
//                into coroutines), one thread per patch, no barriers, vec4 loads and
//                stores: the sums run per pixel row (4 lanes × 24 values) and then over
//                the 32 row sums, to keep the rounding close to a tree's.

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

// main_serial's views of the same buffers as vec4 (a patch's pixel row is 8 aligned vec4 per
// channel, a target row 768): a quarter of the load and store instructions.
@group(0) @binding(1) var<storage, read> image4: array<vec4<f32>>;            // (N, 3, H, W/4)
@group(0) @binding(2) var<storage, read_write> target4: array<vec4<f32>>;     // (N·L, 768)

fn hsum(v: vec4<f32>) -> f32 {
  return (v.x + v.y) + (v.z + v.w);
}

@compute @workgroup_size(SERIAL_WG)
fn main_serial(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
               @builtin(local_invocation_index) li: u32) {
  let row = (wid.x + wid.y * nwg.x) * SERIAL_WG + li;
  let L = p.grid_h * p.grid_w;
  if (row >= p.N * L) { return; }
  let n = row / L;
  let patch_id = row % L;
  let y0 = (patch_id / p.grid_w) * 32u;
  let W4 = p.grid_w * 8u;                                  // image row in vec4
  let plane4 = p.grid_h * 32u * W4;                        // channel plane in vec4
  let first = n * 3u * plane4 + y0 * W4 + (patch_id % p.grid_w) * 8u; // channel 0, patch row 0
  var s = 0.0;
  for (var iy = 0u; iy < 32u; iy++) {
    var rs = vec4<f32>(0.0);
    for (var c = 0u; c < 3u; c++) {
      let line = first + c * plane4 + iy * W4;
      for (var q = 0u; q < 8u; q++) { rs += image4[line + q]; }
    }
    s += hsum(rs);
  }
  let mean = s / f32(PATCH_VALUES);
  var ss = 0.0;
  for (var iy = 0u; iy < 32u; iy++) {
    var rs = vec4<f32>(0.0);
    for (var c = 0u; c < 3u; c++) {
      let line = first + c * plane4 + iy * W4;
      for (var q = 0u; q < 8u; q++) {
        let d = image4[line + q] - vec4<f32>(mean);
        rs += d * d;
      }
    }
    ss += hsum(rs);
  }
  let variance = ss / f32(PATCH_VALUES - 1u);
  var scale = 1.0;
  var shift = 0.0;
  if (NORM_PIX) {
    scale = inverseSqrt(variance + 1e-6);
    shift = mean;
  }
  // 4 pixels × 3 channels interleave into 3 vec4: (r0 g0 b0 r1) (g1 b1 r2 g2) (b2 r3 g3 b3)
  let out = row * (PATCH_VALUES / 4u);
  for (var iy = 0u; iy < 32u; iy++) {
    let line = first + iy * W4;
    for (var q = 0u; q < 8u; q++) {
      let r = (image4[line + q] - vec4<f32>(shift)) * scale;
      let g = (image4[line + plane4 + q] - vec4<f32>(shift)) * scale;
      let b = (image4[line + 2u * plane4 + q] - vec4<f32>(shift)) * scale;
      let o = out + (iy * 8u + q) * 3u;
      target4[o] = vec4<f32>(r.x, g.x, b.x, r.y);
      target4[o + 1u] = vec4<f32>(g.y, b.y, r.z, g.z);
      target4[o + 2u] = vec4<f32>(b.z, r.w, g.w, b.w);
    }
  }
  patch_mean[row] = mean;
  patch_var[row] = variance;
}
