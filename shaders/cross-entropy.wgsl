// Softmax cross-entropy with label smoothing over logits (N, K), as
// torch.nn.functional.cross_entropy(logits, y, label_smoothing=ε) with mean reduction.
// With x' = x − max_k x (so every x' ≤ 0) and lse' = log Σ_k exp(x'_k):
//   ℓ_n   = lse' − (1 − ε)·x'_y − (ε/K)·Σ_k x'_k   (three terms ≥ 0: no cancellation)
//   loss  = Σ_n ℓ_n / N
//   dx    = scale · (exp(x' − lse') − target) / N,   target = ε/K + (1 − ε)·[k = y]
// A label outside [0, K) gives ℓ_n = 0 and a zero gradient row; it is never used as an index
// (the loss still divides by N: such a sample counts as a zero loss, unlike ignore_index).
// Entry points:
//   stats_serial    one thread per row, two passes over the row (max, then the sums in
//                   blocks of 64), no barrier: small K, and software adapters (where a
//                   kernel with a barrier runs each invocation as a coroutine).
//   stats_workgroup one workgroup per row, strided passes and tree sums: large K on GPUs.
//   Both write stats[n] = (max, lse', ℓ_n, 0): the backward's exp(x' − lse') keeps its
//   error at the ulps of x' and lse', where exp(x − lse) would carry those of |x| (logits ~500).
//   reduce          one workgroup: perSample[n] = ℓ_n and loss = Σ ℓ_n / N.
//   backward        one thread per logit, from the row's max and lse'.
// The two stats entry points share their variables; the others have their own.

struct Params {
  N: u32,
  K: u32,
  label_weight: f32,  // 1 − ε
  mean_weight: f32,   // ε / K (also the off-label target)
  on_target: f32,     // 1 − ε + ε / K
  grad_coef: f32,     // backward: scale / N
  _pad0: u32,
  _pad1: u32,
}

@group(0) @binding(0) var<uniform> p: Params;

const WG: u32 = 256u;
const SERIAL_WG: u32 = 64u;
const BLOCK: u32 = 64u;
const LOWEST: f32 = -3.4028234663852886e38;

var<workgroup> red_max: array<f32, 256>;
var<workgroup> red_sum: array<vec2<f32>, 256>;

// ---- stats (serial and workgroup) ----
@group(0) @binding(1) var<storage, read> st_logits: array<f32>;            // (N, K)
@group(0) @binding(2) var<storage, read> st_labels: array<i32>;            // (N)
@group(0) @binding(3) var<storage, read_write> st_out: array<vec4<f32>>;   // (N) (max, lse', ℓ_n, 0)

// (max, lse', ℓ_n, 0) of row n from its max and the sums Σ exp(x'), Σ x'.
fn row_result(n: u32, mx: f32, sum_exp: f32, sum_shifted: f32) -> vec4<f32> {
  let lse_shifted = log(sum_exp);
  let y = st_labels[n];
  var loss = 0.0;
  if (y >= 0 && u32(y) < p.K) {
    let xy = st_logits[n * p.K + u32(y)] - mx;
    loss = lse_shifted - p.label_weight * xy - p.mean_weight * sum_shifted;
  }
  return vec4<f32>(mx, lse_shifted, loss, 0.0);
}

@compute @workgroup_size(64)
fn stats_serial(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                @builtin(local_invocation_index) li: u32) {
  let n = (wid.x + wid.y * nwg.x) * SERIAL_WG + li;
  if (n >= p.N) { return; }
  let base = n * p.K;
  var mx = LOWEST;
  for (var k = 0u; k < p.K; k++) { mx = max(mx, st_logits[base + k]); }
  // Sums in blocks of BLOCK terms, each block's sum then added: rounding grows with
  // BLOCK + K / BLOCK rather than K.
  var sums = vec2<f32>(0.0);
  for (var start = 0u; start < p.K; start += BLOCK) {
    let end = min(start + BLOCK, p.K);
    var block = vec2<f32>(0.0);
    for (var k = start; k < end; k++) {
      let xs = st_logits[base + k] - mx;
      block += vec2<f32>(exp(xs), xs);
    }
    sums += block;
  }
  st_out[n] = row_result(n, mx, sums.x, sums.y);
}

@compute @workgroup_size(256)
fn stats_workgroup(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                   @builtin(local_invocation_index) li: u32) {
  let n = wid.x + wid.y * nwg.x; // uniform across the workgroup
  if (n >= p.N) { return; }
  let base = n * p.K;
  var mx = LOWEST;
  for (var k = li; k < p.K; k += WG) { mx = max(mx, st_logits[base + k]); }
  red_max[li] = mx;
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride /= 2u) {
    if (li < stride) { red_max[li] = max(red_max[li], red_max[li + stride]); }
    workgroupBarrier();
  }
  let row_max = red_max[0];
  var s = vec2<f32>(0.0);
  for (var k = li; k < p.K; k += WG) {
    let xs = st_logits[base + k] - row_max;
    s += vec2<f32>(exp(xs), xs);
  }
  red_sum[li] = s;
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride /= 2u) {
    if (li < stride) { red_sum[li] += red_sum[li + stride]; }
    workgroupBarrier();
  }
  if (li == 0u) {
    let total = red_sum[0];
    st_out[n] = row_result(n, row_max, total.x, total.y);
  }
}

// ---- reduce ----
@group(0) @binding(1) var<storage, read> rd_stats: array<vec4<f32>>;       // (N) (max, lse', ℓ_n, 0)
@group(0) @binding(2) var<storage, read_write> rd_loss: array<f32>;        // (1)
@group(0) @binding(3) var<storage, read_write> rd_per_sample: array<f32>;  // (N)

@compute @workgroup_size(256)
fn reduce(@builtin(local_invocation_index) li: u32) {
  var s = 0.0;
  for (var n = li; n < p.N; n += WG) {
    let l = rd_stats[n].z;
    rd_per_sample[n] = l;
    s += l;
  }
  red_max[li] = s;
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride /= 2u) {
    if (li < stride) { red_max[li] += red_max[li + stride]; }
    workgroupBarrier();
  }
  if (li == 0u) { rd_loss[0] = red_max[0] / f32(p.N); }
}

// ---- backward ----
@group(0) @binding(1) var<storage, read> bw_logits: array<f32>;           // (N, K)
@group(0) @binding(2) var<storage, read> bw_labels: array<i32>;           // (N)
@group(0) @binding(3) var<storage, read> bw_stats: array<vec4<f32>>;      // (N) (max, lse', ℓ_n, 0)
@group(0) @binding(4) var<storage, read_write> bw_dlogits: array<f32>;    // (N, K)

@compute @workgroup_size(256)
fn backward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_index) li: u32) {
  let idx = (wid.x + wid.y * nwg.x) * WG + li;
  if (idx >= p.N * p.K) { return; }
  let n = idx / p.K;
  let k = idx % p.K;
  let y = bw_labels[n];
  var d = 0.0;
  if (y >= 0 && u32(y) < p.K) {
    let st = bw_stats[n];
    let prob = exp((bw_logits[idx] - st.x) - st.y);
    let wanted = select(p.mean_weight, p.on_target, k == u32(y)); // the smoothed one-hot
    d = (prob - wanted) * p.grad_coef;
  }
  bw_dlogits[idx] = d;
}
