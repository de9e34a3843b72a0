// LayerNorm over the channels of each row of a (rows, C) matrix, forward and backward.
// Dimension letters: R rows, C channels, K row chunks of the parameter-gradient reduction.
//
// Row kernels, two flavours with the same arithmetic (the row_* helpers):
// - `forward`, `backward_dx` (GPUs): a workgroup of 256 threads is cut into segments of p.tpr
//   threads (a power of two ≥ 2, ~C/8, chosen on the host), one row per segment, 256 / tpr rows
//   per workgroup. Each thread walks its row with stride tpr; segment_sum adds the threads'
//   partials with one or two barriers.
// - `forward_serial`, `backward_dx_serial` (tpr = 1: small C, and software adapters): one
//   thread per row and no barrier anywhere in the entry point. On SwiftShader (the CPU WebGPU
//   of CI and of browsers without a GPU) a kernel that contains a barrier runs every invocation
//   as a coroutine, ~1 µs each: at C = 40 the serial kernel is ~4× faster there.
// The variance is two-pass (mean first, then Σ(x − mean)², re-reading the row, which the first
// pass left in cache), with the mean corrected in the second pass: the one-pass E[x²] − E[x]²
// loses every digit in f32 when |mean| ≫ std. tpr is a uniform, not an override, so one
// pipeline serves every C.
//
// Parameter gradients: `backward_partials` gives each (column, chunk of rows_per_chunk rows)
// one thread and writes partial sums (2, K, C); `backward_reduce` adds the K chunks of each
// column with 16 threads, then their 16 sums (`backward_reduce_serial`: one thread per column,
// no barrier, for software adapters). No thread walks every row, except with few rows
// (`backward_fused`, `backward_fused_serial`): there one thread per column sums them all, in
// the dX dispatch. The parameter gradients need only mean and rstd, not the dX row sums, so
// the first p.param_groups workgroups are column threads and the rest run the dX row kernel:
// one dispatch instead of two (or three), no extra barrier.

struct Params {
  rows: u32,
  C: u32,
  tpr: u32,            // threads per row in the row kernels (power of two ≤ 256)
  rows_per_chunk: u32, // parameter-gradient pass 1
  chunks: u32,         // K = ceil(rows / rows_per_chunk)
  eps: f32,
  param_groups: u32,   // backward_fused*: workgroups (256 columns each) ahead of the dX rows
}

const WG: u32 = 256u;

override ACCUMULATE: bool = false; // backward_dx*: dX += result instead of dX = result

@group(0) @binding(0) var<uniform> p: Params;

// Segment sums in workgroup memory, slot 0 and slot 1 so that two consecutive sums never
// write what a slower thread may still be reading (which saves a barrier per sum).
var<workgroup> red: array<vec2<f32>, 512>;    // [slot][thread]; backward_reduce's scratch too
var<workgroup> red_hi: array<vec2<f32>, 512>; // [slot][segment start + group]

// Sum of `v` over the p.tpr ≥ 2 threads of this thread's segment, returned to all of them:
// one barrier for tpr ≤ 16 (each thread adds the ≤ 16 partials of its segment), two above
// (groups of 16, then the ≤ 16 group sums). Must be called from uniform control flow;
// consecutive calls must use different slots.
fn segment_sum(li: u32, lane: u32, v: vec2<f32>, slot: u32) -> vec2<f32> {
  let seg = slot * 256u + li - lane;
  red[slot * 256u + li] = v;
  workgroupBarrier();
  var total = vec2<f32>(0.0);
  if (p.tpr <= 16u) {
    for (var i = 0u; i < p.tpr; i++) { total += red[seg + i]; }
    return total;
  }
  let groups = p.tpr / 16u;
  if (lane < groups) {
    var g = vec2<f32>(0.0);
    for (var i = 0u; i < 16u; i++) { g += red[seg + lane * 16u + i]; }
    red_hi[seg + lane] = g;
  }
  workgroupBarrier();
  for (var i = 0u; i < groups; i++) { total += red_hi[seg + i]; }
  return total;
}

// ---- forward: y = (x − mean)·rstd·weight + bias; keeps mean, rstd for backward ----
@group(0) @binding(1) var<storage, read> fx: array<f32>;             // (R, C)
@group(0) @binding(2) var<storage, read> fweight: array<f32>;        // (C)
@group(0) @binding(3) var<storage, read> fbias: array<f32>;          // (C)
@group(0) @binding(4) var<storage, read_write> fy: array<f32>;       // (R, C)
@group(0) @binding(5) var<storage, read_write> fmean: array<f32>;    // (R)
@group(0) @binding(6) var<storage, read_write> frstd: array<f32>;    // (R)

// This thread's share (channels first, first + stride, ...) of Σx.
fn row_sum(base: u32, first: u32, stride: u32) -> f32 {
  var s = 0.0;
  for (var c = first; c < p.C; c += stride) { s += fx[base + c]; }
  return s;
}

// This thread's share of (Σd, Σd²), d = x − mean0. Σd = C·(true mean − mean0) up to rounding of
// small numbers: it corrects mean0's f32 error (the corrected two-pass algorithm of Chan,
// Golub & LeVeque), so x̂ stays accurate when |mean| ≫ std.
fn row_centered_sums(base: u32, first: u32, stride: u32, mean0: f32) -> vec2<f32> {
  var acc = vec2<f32>(0.0);
  for (var c = first; c < p.C; c += stride) {
    let d = fx[base + c] - mean0;
    acc += vec2<f32>(d, d * d);
  }
  return acc;
}

// From the row means of (d, d²): y for this thread's channels; mean and rstd when `first` is 0.
fn row_normalize(row: u32, first: u32, stride: u32, mean0: f32, centered: vec2<f32>) {
  let base = row * p.C;
  let shift = centered.x;
  let variance = max(centered.y - shift * shift, 0.0);
  let rstd = inverseSqrt(variance + p.eps);
  for (var c = first; c < p.C; c += stride) {
    fy[base + c] = ((fx[base + c] - mean0) - shift) * rstd * fweight[c] + fbias[c];
  }
  if (first == 0u) {
    fmean[row] = mean0 + shift;
    frstd[row] = rstd;
  }
}

@compute @workgroup_size(256)
fn forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
           @builtin(local_invocation_index) li: u32) {
  let lane = li & (p.tpr - 1u);
  let row = (wid.x + wid.y * nwg.x) * (WG / p.tpr) + li / p.tpr;
  let in_range = row < p.rows;
  let base = row * p.C;
  let n = f32(p.C);
  var s = 0.0;
  if (in_range) { s = row_sum(base, lane, p.tpr); }
  let mean0 = segment_sum(li, lane, vec2<f32>(s, 0.0), 0u).x / n;
  var acc = vec2<f32>(0.0);
  if (in_range) { acc = row_centered_sums(base, lane, p.tpr, mean0); }
  let centered = segment_sum(li, lane, acc, 1u) / n;
  if (in_range) { row_normalize(row, lane, p.tpr, mean0, centered); }
}

@compute @workgroup_size(256)
fn forward_serial(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                  @builtin(local_invocation_index) li: u32) {
  let row = (wid.x + wid.y * nwg.x) * WG + li;
  if (row >= p.rows) { return; }
  let base = row * p.C;
  let n = f32(p.C);
  let mean0 = row_sum(base, 0u, 1u) / n;
  row_normalize(row, 0u, 1u, mean0, row_centered_sums(base, 0u, 1u, mean0) / n);
}

// ---- backward, dX: rstd·(g − mean_c(g) − x̂·mean_c(g·x̂)), g = dY·weight ----
@group(0) @binding(1) var<storage, read> bx: array<f32>;             // (R, C)
@group(0) @binding(2) var<storage, read> bweight: array<f32>;        // (C)
@group(0) @binding(3) var<storage, read> bmean: array<f32>;          // (R)
@group(0) @binding(4) var<storage, read> brstd: array<f32>;          // (R)
@group(0) @binding(5) var<storage, read> bdY: array<f32>;            // (R, C)
@group(0) @binding(6) var<storage, read_write> bdX: array<f32>;      // (R, C)

// This thread's share of (Σg, Σg·x̂).
fn row_grad_sums(row: u32, first: u32, stride: u32) -> vec2<f32> {
  let base = row * p.C;
  let mean = bmean[row];
  let rstd = brstd[row];
  var acc = vec2<f32>(0.0);
  for (var c = first; c < p.C; c += stride) {
    let xh = (bx[base + c] - mean) * rstd;
    let g = bdY[base + c] * bweight[c];
    acc += vec2<f32>(g, g * xh);
  }
  return acc;
}

// dX for this thread's channels from the row means (mean_c(g), mean_c(g·x̂)).
fn row_write_dx(row: u32, first: u32, stride: u32, means: vec2<f32>) {
  let base = row * p.C;
  let mean = bmean[row];
  let rstd = brstd[row];
  for (var c = first; c < p.C; c += stride) {
    let xh = (bx[base + c] - mean) * rstd;
    let g = bdY[base + c] * bweight[c];
    var d = rstd * (g - means.x - xh * means.y);
    if (ACCUMULATE) { d += bdX[base + c]; }
    bdX[base + c] = d;
  }
}

// dX of the rows of row workgroup w: p.tpr threads per row (a barrier; uniform control flow).
fn dx_rows_segmented(w: u32, li: u32) {
  let lane = li & (p.tpr - 1u);
  let row = w * (WG / p.tpr) + li / p.tpr;
  let in_range = row < p.rows;
  var acc = vec2<f32>(0.0);
  if (in_range) { acc = row_grad_sums(row, lane, p.tpr); }
  let means = segment_sum(li, lane, acc, 0u) / f32(p.C);
  if (in_range) { row_write_dx(row, lane, p.tpr, means); }
}

// dX of row workgroup w, one thread per row.
fn dx_row_serial(w: u32, li: u32) {
  let row = w * WG + li;
  if (row >= p.rows) { return; }
  row_write_dx(row, 0u, 1u, row_grad_sums(row, 0u, 1u) / f32(p.C));
}

@compute @workgroup_size(256)
fn backward_dx(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
               @builtin(local_invocation_index) li: u32) {
  dx_rows_segmented(wid.x + wid.y * nwg.x, li);
}

@compute @workgroup_size(256)
fn backward_dx_serial(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                      @builtin(local_invocation_index) li: u32) {
  dx_row_serial(wid.x + wid.y * nwg.x, li);
}

// ---- backward, dX and (few rows) the parameter gradients in one dispatch: workgroups
// [0, param_groups) give each of 256 columns a thread that sums dWeight = Σ dY·x̂, dBias = Σ dY
// over every row (overwrite); the others are backward_dx / backward_dx_serial's workgroups.
// The branch is on the workgroup index, uniform, so the row kernel's barriers stay legal.
@group(0) @binding(7) var<storage, read_write> fdWeight: array<f32>; // (C)
@group(0) @binding(8) var<storage, read_write> fdBias: array<f32>;   // (C)

// dWeight, dBias of column w·256 + li (column workgroup w), over every row.
fn column_params(w: u32, li: u32) {
  let c = w * WG + li;
  if (c >= p.C) { return; }
  var sw = 0.0;
  var sb = 0.0;
  for (var r = 0u; r < p.rows; r++) {
    let dy = bdY[r * p.C + c];
    sw += dy * (bx[r * p.C + c] - bmean[r]) * brstd[r];
    sb += dy;
  }
  fdWeight[c] = sw;
  fdBias[c] = sb;
}

@compute @workgroup_size(256)
fn backward_fused(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                  @builtin(local_invocation_index) li: u32) {
  let w = wid.x + wid.y * nwg.x;
  if (w < p.param_groups) { column_params(w, li); } else { dx_rows_segmented(w - p.param_groups, li); }
}

@compute @workgroup_size(256)
fn backward_fused_serial(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                         @builtin(local_invocation_index) li: u32) {
  let w = wid.x + wid.y * nwg.x;
  if (w < p.param_groups) { column_params(w, li); } else { dx_row_serial(w - p.param_groups, li); }
}

// ---- backward, parameter gradients pass 1: partial[0, k, c] = Σ dY·x̂, partial[1, k, c] = Σ dY
// over rows [k·rows_per_chunk, (k+1)·rows_per_chunk). Workgroup (64 columns) × chunk wid.y.
@group(0) @binding(1) var<storage, read> px: array<f32>;             // (R, C)
@group(0) @binding(2) var<storage, read> pmean: array<f32>;          // (R)
@group(0) @binding(3) var<storage, read> prstd: array<f32>;          // (R)
@group(0) @binding(4) var<storage, read> pdY: array<f32>;            // (R, C)
@group(0) @binding(5) var<storage, read_write> partial: array<f32>;  // (2, K, C)

@compute @workgroup_size(64)
fn backward_partials(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let c = wid.x * 64u + li;
  let k = wid.y;
  if (c >= p.C || k >= p.chunks) { return; }
  let r0 = k * p.rows_per_chunk;
  let r1 = min(p.rows, r0 + p.rows_per_chunk);
  var sw = 0.0;
  var sb = 0.0;
  for (var r = r0; r < r1; r++) {
    let dy = pdY[r * p.C + c];
    sw += dy * (px[r * p.C + c] - pmean[r]) * prstd[r];
    sb += dy;
  }
  partial[k * p.C + c] = sw;
  partial[(p.chunks + k) * p.C + c] = sb;
}

// ---- pass 2: dWeight[c] = Σ_k partial[0, k, c], dBias[c] = Σ_k partial[1, k, c] (overwrite).
@group(0) @binding(1) var<storage, read> rpartial: array<f32>;       // (2, K, C)
@group(0) @binding(2) var<storage, read_write> rdWeight: array<f32>; // (C)
@group(0) @binding(3) var<storage, read_write> rdBias: array<f32>;   // (C)

// Σ over chunks first, first + stride, ... of column c's partials.
fn chunk_sum(c: u32, first: u32, stride: u32) -> vec2<f32> {
  var acc = vec2<f32>(0.0);
  for (var k = first; k < p.chunks; k += stride) {
    acc += vec2<f32>(rpartial[k * p.C + c], rpartial[(p.chunks + k) * p.C + c]);
  }
  return acc;
}

// Workgroup = 16 columns × 16 chunk lanes; lanes stride over K, then lane 0 adds the 16 lane sums.
@compute @workgroup_size(256)
fn backward_reduce(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let col = li & 15u;
  let lane = li >> 4u;
  let c = wid.x * 16u + col;
  var acc = vec2<f32>(0.0);
  if (c < p.C) { acc = chunk_sum(c, lane, 16u); }
  red[li] = acc;
  workgroupBarrier();
  if (lane == 0u && c < p.C) {
    var total = vec2<f32>(0.0);
    for (var l = 0u; l < 16u; l++) { total += red[l * 16u + col]; }
    rdWeight[c] = total.x;
    rdBias[c] = total.y;
  }
}

@compute @workgroup_size(64)
fn backward_reduce_serial(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let c = wid.x * 64u + li;
  if (c >= p.C) { return; }
  let total = chunk_sum(c, 0u, 1u);
  rdWeight[c] = total.x;
  rdBias[c] = total.y;
}
