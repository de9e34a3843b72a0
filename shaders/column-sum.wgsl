// Column sums of a row-major (rows, C) matrix, the reduction behind every bias gradient
// (and the second pass of other row reductions). Parallel in two or more passes
// (src/ops/rows.ts): a workgroup sums a chunk of `rows_per_chunk` rows for 32 columns and
// writes one row of partials (chunks, C); the same kernel then sums the partials with a
// single chunk. No thread ever loops over all rows.
//
// `main` (GPUs): workgroup 32 columns × 8 row lanes: the 32 threads of a lane read 32
// consecutive floats of one row; lanes stride through the chunk, then a tree over the 8 lanes
// in shared memory.
// `main_direct` (CPU drivers, where barriers cost far more than they save; see
// matmul-direct.wgsl): 32 threads, one column each, sum the chunk's rows with no barrier.

struct Params {
  rows: u32,
  C: u32,
  rows_per_chunk: u32,
  _pad: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;        // (rows, C)
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;  // (chunks, C); (C) with one chunk

override ACCUMULATE: bool = false; // dst += sums instead of dst = sums

const TC: u32 = 32u;
const LANES: u32 = 8u;

var<workgroup> lane_sums: array<f32, 256>; // [lane][column]

@compute @workgroup_size(32, 8, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let c = wid.x * TC + lid.x;
  let chunk = wid.y;
  let r0 = chunk * p.rows_per_chunk;
  let r1 = min(p.rows, r0 + p.rows_per_chunk);
  var s = 0.0;
  if (c < p.C) {
    for (var r = r0 + lid.y; r < r1; r += LANES) { s += src[r * p.C + c]; }
  }
  lane_sums[lid.y * TC + lid.x] = s;
  workgroupBarrier();
  for (var stride = LANES / 2u; stride > 0u; stride /= 2u) {
    if (lid.y < stride) { lane_sums[lid.y * TC + lid.x] += lane_sums[(lid.y + stride) * TC + lid.x]; }
    workgroupBarrier();
  }
  if (lid.y == 0u && c < p.C) {
    let o = chunk * p.C + c;
    var v = lane_sums[lid.x];
    if (ACCUMULATE) { v += dst[o]; }
    dst[o] = v;
  }
}

@compute @workgroup_size(32, 1, 1)
fn main_direct(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let c = wid.x * TC + lid.x;
  if (c >= p.C) { return; }
  let chunk = wid.y;
  let r0 = chunk * p.rows_per_chunk;
  let r1 = min(p.rows, r0 + p.rows_per_chunk);
  var s = 0.0;
  for (var r = r0; r < r1; r++) { s += src[r * p.C + c]; }
  let o = chunk * p.C + c;
  if (ACCUMULATE) { s += dst[o]; }
  dst[o] = s;
}
