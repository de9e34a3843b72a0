// LayerNorm over the channels of each row of a (rows, C) matrix, forward and backward.
// Dimension letters: R rows, C channels, K row chunks of the parameter-gradient reduction.
//
// Row kernels (`forward`, `backward_dx`): a workgroup of 256 threads is cut into segments of
// p.tpr threads (a power of two chosen on the host: ~C/8 on GPUs, 1 on SwiftShader),
// one row per segment, 256 / tpr rows per workgroup. Each thread walks its row with stride
// tpr; segment_sum adds the threads' partials with at most two barriers. The variance is two-pass (mean
// first, then Σ(x − mean)², re-reading the row, which the first pass left in cache): the
// one-pass E[x²] − E[x]² loses every digit in f32 when |mean| ≫ std.
// tpr is a uniform, not an override, so one pipeline serves every C.
//
// Parameter gradients (`backward_partials`, `backward_reduce`): pass 1 gives each
// (column, chunk of rows_per_chunk rows) one thread and writes partial sums (2, K, C); pass 2
// reduces the K chunks of each column with 16 threads, then adds their 16 sums. No thread
// walks every row.

struct Params {
  rows: u32,
  C: u32,
  tpr: u32,            // threads per row in the row kernels (power of two ≤ 256)
  rows_per_chunk: u32, // parameter-gradient pass 1
  chunks: u32,         // K = ceil(rows / rows_per_chunk)
  eps: f32,
}

const WG: u32 = 256u;

override ACCUMULATE: bool = false; // backward_dx: dX += result instead of dX = result

@group(0) @binding(0) var<uniform> p: Params;

// Segment sums in workgroup memory, slot 0 and slot 1 so that two consecutive sums never
// write what a slower thread may still be reading (which saves a barrier per sum).
var<workgroup> red: array<vec2<f32>, 512>;    // [slot][thread]
var<workgroup> red_hi: array<vec2<f32>, 512>; // [slot][segment start + group]; also pass 2's scratch

// Sum of `v` over the p.tpr threads of this thread's segment, returned to all of them.
// Few barriers, since each costs a coroutine switch per invocation on SwiftShader (the CPU
// WebGPU of CI and of browsers without a GPU): none for tpr = 1, one for tpr ≤ 16 (each thread
// adds the ≤ 16 partials of its segment), two above (groups of 16, then the ≤ 16 group sums).
// Must be called from uniform control flow; consecutive calls must use different slots.
fn segment_sum(li: u32, lane: u32, v: vec2<f32>, slot: u32) -> vec2<f32> {
  if (p.tpr == 1u) { return v; }
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

@compute @workgroup_size(256)
fn forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
           @builtin(local_invocation_index) li: u32) {
  let lane = li & (p.tpr - 1u);
  let row = (wid.x + wid.y * nwg.x) * (WG / p.tpr) + li / p.tpr;
  let in_range = row < p.rows;
  let base = row * p.C;
  let n = f32(p.C);

  var s = 0.0;
  if (in_range) {
    for (var c = lane; c < p.C; c += p.tpr) { s += fx[base + c]; }
  }
  let mean = segment_sum(li, lane, vec2<f32>(s, 0.0), 0u).x / n;

  var q = 0.0;
  if (in_range) {
    for (var c = lane; c < p.C; c += p.tpr) {
      let d = fx[base + c] - mean;
      q += d * d;
    }
  }
  let variance = segment_sum(li, lane, vec2<f32>(q, 0.0), 1u).x / n;
  let rstd = inverseSqrt(variance + p.eps);
  if (!in_range) { return; }

  for (var c = lane; c < p.C; c += p.tpr) {
    fy[base + c] = (fx[base + c] - mean) * rstd * fweight[c] + fbias[c];
  }
  if (lane == 0u) {
    fmean[row] = mean;
    frstd[row] = rstd;
  }
}

// ---- backward, dX: rstd·(g − mean_c(g) − x̂·mean_c(g·x̂)), g = dY·weight ----
@group(0) @binding(1) var<storage, read> bx: array<f32>;             // (R, C)
@group(0) @binding(2) var<storage, read> bweight: array<f32>;        // (C)
@group(0) @binding(3) var<storage, read> bmean: array<f32>;          // (R)
@group(0) @binding(4) var<storage, read> brstd: array<f32>;          // (R)
@group(0) @binding(5) var<storage, read> bdY: array<f32>;            // (R, C)
@group(0) @binding(6) var<storage, read_write> bdX: array<f32>;      // (R, C)

@compute @workgroup_size(256)
fn backward_dx(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
               @builtin(local_invocation_index) li: u32) {
  let lane = li & (p.tpr - 1u);
  let row = (wid.x + wid.y * nwg.x) * (WG / p.tpr) + li / p.tpr;
  let in_range = row < p.rows;
  let base = row * p.C;
  var mean = 0.0;
  var rstd = 0.0;
  var acc = vec2<f32>(0.0);
  if (in_range) {
    mean = bmean[row];
    rstd = brstd[row];
    for (var c = lane; c < p.C; c += p.tpr) {
      let xh = (bx[base + c] - mean) * rstd;
      let g = bdY[base + c] * bweight[c];
      acc += vec2<f32>(g, g * xh);
    }
  }
  let sums = segment_sum(li, lane, acc, 0u) / f32(p.C);
  if (!in_range) { return; }

  for (var c = lane; c < p.C; c += p.tpr) {
    let xh = (bx[base + c] - mean) * rstd;
    let g = bdY[base + c] * bweight[c];
    var d = rstd * (g - sums.x - xh * sums.y);
    if (ACCUMULATE) { d += bdX[base + c]; }
    bdX[base + c] = d;
  }
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
// Workgroup = 16 columns × 16 chunk lanes; lanes stride over K, then lane 0 adds the 16 lane sums.
@group(0) @binding(1) var<storage, read> rpartial: array<f32>;       // (2, K, C)
@group(0) @binding(2) var<storage, read_write> rdWeight: array<f32>; // (C)
@group(0) @binding(3) var<storage, read_write> rdBias: array<f32>;   // (C)

@compute @workgroup_size(256)
fn backward_reduce(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let col = li & 15u;
  let lane = li >> 4u;
  let c = wid.x * 16u + col;
  var acc = vec2<f32>(0.0);
  if (c < p.C) {
    for (var k = lane; k < p.chunks; k += 16u) {
      acc += vec2<f32>(rpartial[k * p.C + c], rpartial[(p.chunks + k) * p.C + c]);
    }
  }
  red[li] = acc;
  workgroupBarrier();
  if (lane == 0u && c < p.C) {
    var total = vec2<f32>(0.0);
    for (var l = 0u; l < 16u; l++) { total += red[l * 16u + col]; }
    rdWeight[c] = total.x;
    rdBias[c] = total.y;
  }
}
