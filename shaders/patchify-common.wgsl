// What patchify.wgsl (barrier tree) and patchify-subgroups.wgsl share: the contract (see
// patchify.wgsl's header), the bindings and the workgroup-per-patch body, which calls the
// includer's workgroup_sum. Included by both; never compiled on its own.

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

/** image index of value j = (iy·32 + ix)·3 + c of patch (py, px) of sample n */
fn image_index(n: u32, py: u32, px: u32, j: u32) -> u32 {
  let pixel = j / 3u;
  let c = j % 3u;
  let y = py * 32u + pixel / 32u;
  let x = px * 32u + pixel % 32u;
  return ((n * 3u + c) * (p.grid_h * 32u) + y) * (p.grid_w * 32u) + x;
}

// One workgroup per patch, 12 values per thread in registers; mean first, then the centred
// sum of squares (two passes: no cancellation on bright, flat patches). `row` must be
// uniform across the workgroup.
fn patchify_row_workgroup(row: u32, li: u32) {
  let L = p.grid_h * p.grid_w;
  let n = row / L;
  let patch_id = row % L;
  let py = patch_id / p.grid_w;
  let px = patch_id % p.grid_w;
  var values: array<f32, 12>;
  var s = 0.0;
  for (var k = 0u; k < PER_THREAD; k++) {
    values[k] = image[image_index(n, py, px, li + k * WG)];
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
