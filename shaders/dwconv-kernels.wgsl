// Submanifold-sparse depthwise 7×7 convolution (padding 3) on the sparse row layout of
// src/ops/sparse-layout.ts: forward, dX (the forward with flipped taps) and the two passes of
// the weight/bias gradient. Driven by src/ops/dwconv.ts.
//
// Surprising bits:
//  - This file is a body, never compiled on its own: dwconv-f32.wgsl and dwconv-vec4.wgsl
//    define `alias VT` (one channel, or four consecutive channels when C % 4 == 0), LANES
//    and lane_sum (channels per VT and their sum), and include it. Every buffer of channel data is an array<VT>, and "Cv" counts VT per row (C or C/4).
//  - Entry points reuse binding numbers with different variables (WGSL allows it as long as
//    one entry point does not use both); each pipeline binds only its own set.
//  - A neighbour is found through `p2v` (patch → visible rank, −1 when masked): outside the
//    image or in a masked patch it reads as 0, so outputs exist only at visible sites.
//  - Three ways to the same sums: "tiled" stages one visible patch plus its 3-site halo in
//    workgroup memory (good for r ≥ 4, where a patch has ≥ 16 sites); "direct" gives each row
//    a table of its 49 neighbour rows and gathers from global memory (r ≤ 2, the dense grid);
//    "serial" (software adapters) has no workgroup memory and no barrier: each thread finds
//    its own neighbours. On SwiftShader a kernel containing a barrier runs every invocation as
//    a coroutine, which costs far more than recomputing a neighbour's row (a few integer ops
//    and one p2v load per tap). Its backward is one dispatch: the dweight threads (tap,
//    channel vector, chunk) and the dX threads (row, channel vector) side by side.
//
// Dimension letters: N samples, V visible patches per sample, L = gridH·gridW patches,
// R sites per patch side, rows = N·V·R², Cv channel vectors per row, K chunks of rows.

struct Params {
  N: u32,
  V: u32,
  gridH: u32,
  gridW: u32,
  Cv: u32,                // VT per row
  patches_per_chunk: u32, // dweight_tiled: patches summed by one workgroup
  rows_per_chunk: u32,    // dweight_direct: rows summed by one workgroup (multiple of RB)
  chunks: u32,            // K: number of partial sums (dweight passes)
}

@group(0) @binding(0) var<uniform> p: Params;

// Bindings shared by the row kernels (forward_*, dweight_*).
@group(0) @binding(1) var<storage, read> p2v: array<i32>; // (N, L) visible rank or −1
@group(0) @binding(2) var<storage, read> vis: array<i32>; // (N, V) patch index of each visible patch
@group(0) @binding(3) var<storage, read> x: array<VT>;    // (rows, Cv); forward: x, dX pass: dY

// forward_* only.
@group(0) @binding(4) var<storage, read> w: array<VT>;          // (49, Cv) tap-major
@group(0) @binding(5) var<storage, read> bias: array<VT>;       // (Cv); any buffer when !HAS_BIAS
@group(0) @binding(6) var<storage, read_write> y: array<VT>;    // (rows, Cv); dX pass: dX

// dweight_tiled / dweight_direct only.
@group(0) @binding(4) var<storage, read> dy: array<VT>;               // (rows, Cv)
@group(0) @binding(5) var<storage, read_write> partial: array<VT>;    // (K, 50, Cv): 49 taps + bias; dweight (49, Cv) with ONE_CHUNK
@group(0) @binding(6) var<storage, read_write> one_dbias: array<VT>;  // (Cv) dbias with ONE_CHUNK; any buffer otherwise

// backward_serial only (binding 3 is x, binding 4 dy, as in dweight_*).
@group(0) @binding(5) var<storage, read> sw: array<VT>;               // (49, Cv) the weight
@group(0) @binding(6) var<storage, read_write> sdx: array<VT>;        // (rows, Cv) dX
@group(0) @binding(7) var<storage, read_write> sdweight: array<VT>;   // (49, Cv) with ONE_CHUNK, else partials (K, 50, Cv)
@group(0) @binding(8) var<storage, read_write> sdbias: array<VT>;     // (Cv) with ONE_CHUNK; any buffer otherwise

// forward_serial_ln only (bindings 1–6 as forward_*): the block's LayerNorm of y.
@group(0) @binding(7) var<storage, read> ln_weight: array<VT>;         // (Cv)
@group(0) @binding(8) var<storage, read> ln_bias: array<VT>;           // (Cv)
@group(0) @binding(9) var<storage, read_write> ln_y: array<VT>;        // (rows, Cv)
@group(0) @binding(10) var<storage, read_write> ln_mean: array<f32>;   // (rows)
@group(0) @binding(11) var<storage, read_write> ln_rstd: array<f32>;   // (rows)

// dweight_reduce only.
@group(0) @binding(1) var<storage, read> partial_in: array<VT>;       // (K, 50, Cv)
@group(0) @binding(2) var<storage, read_write> dweight: array<VT>;    // (49, Cv)
@group(0) @binding(3) var<storage, read_write> dbias: array<VT>;      // (Cv)

override R: u32 = 8u;            // sites per patch side (1, 2, 4, 8)
override FLIP: bool = false;     // use weight tap 48 − t (the transposed conv, for dX)
override HAS_BIAS: bool = true;
override ACCUMULATE: bool = false; // y += result (forward_*), dweight/dbias += sums (reduce, ONE_CHUNK)
override ONE_CHUNK: bool = false;  // dweight pass 1 with a single chunk: writes dweight/dbias itself, no pass 2
override ACCUMULATE_PARAMS: bool = false; // backward_serial with ONE_CHUNK: dweight/dbias += sums
override LN_EPS: f32 = 1e-6;     // forward_serial_ln: the LayerNorm's epsilon
override DXB: u32 = 8u;          // backward_serial: channel vectors per dX thread
override CBV: u32 = 4u;          // tiled / dweight: channel vectors per workgroup
override WG: u32 = 64u;          // tiled / dweight: threads per workgroup
override WG_X: u32 = 16u;        // forward_direct: channel vectors per workgroup
override RB: u32 = 4u;           // direct kernels: rows per batch (forward_direct: workgroup height)

// Workgroup array sizes (an override-sized array must name one override).
override TS: u32 = R + 6u;                   // tile side: the patch plus a 3-site halo
override TILE_SITES: u32 = TS * TS;
override TILE_ELEMS: u32 = TILE_SITES * CBV;
override PATCH_ELEMS: u32 = R * R * CBV;
override NBR_ELEMS: u32 = RB * 49u;
override RB_ELEMS: u32 = RB * CBV;

var<workgroup> tile_rows: array<i32, TILE_SITES>; // row of each tile site, −1 = zero
var<workgroup> tile: array<VT, TILE_ELEMS>;       // (TS, TS, CBV)
var<workgroup> dy_tile: array<VT, PATCH_ELEMS>;   // (R², CBV) in Z-order
var<workgroup> nbr: array<i32, NBR_ELEMS>;        // (RB, 49) neighbour rows, −1 = zero
var<workgroup> dy_rows: array<VT, RB_ELEMS>;      // (RB, CBV)

// Interleave with zeros: bit b of v goes to bit 2b (v < 2^16).
fn spread_bits(v: u32) -> u32 {
  var s = v & 0xffffu;
  s = (s | (s << 8u)) & 0x00ff00ffu;
  s = (s | (s << 4u)) & 0x0f0f0f0fu;
  s = (s | (s << 2u)) & 0x33333333u;
  s = (s | (s << 1u)) & 0x55555555u;
  return s;
}

// Inverse of spread_bits on the even bits.
fn compact_bits(v: u32) -> u32 {
  var s = v & 0x55555555u;
  s = (s | (s >> 1u)) & 0x33333333u;
  s = (s | (s >> 2u)) & 0x0f0f0f0fu;
  s = (s | (s >> 4u)) & 0x00ff00ffu;
  s = (s | (s >> 8u)) & 0x0000ffffu;
  return s;
}

// Row of site (sy, sx) of sample n on the (gridH·R, gridW·R) grid, or −1 (outside / masked).
fn site_row(n: u32, sy: i32, sx: i32) -> i32 {
  if (sy < 0 || sx < 0 || sy >= i32(p.gridH * R) || sx >= i32(p.gridW * R)) { return -1; }
  let uy = u32(sy);
  let ux = u32(sx);
  let v = p2v[n * p.gridH * p.gridW + (uy / R) * p.gridW + ux / R];
  if (v < 0) { return -1; }
  return i32((n * p.V + u32(v)) * R * R + ((spread_bits(uy % R) << 1u) | spread_bits(ux % R)));
}

// (sample, site y, site x) of `row` on the (gridH·R, gridW·R) grid.
fn row_site(row: u32) -> vec3<u32> {
  let patch_row = row / (R * R);
  let z = row % (R * R);
  let pid = u32(vis[patch_row]);
  return vec3<u32>(patch_row / p.V, (pid / p.gridW) * R + compact_bits(z >> 1u), (pid % p.gridW) * R + compact_bits(z));
}

// Row of the neighbour at tap (ky, kx) = offset (ky − 3, kx − 3) of the site, or −1.
fn site_neighbour(site: vec3<u32>, tap: u32) -> i32 {
  return site_row(site.x, i32(site.y + tap / 7u) - 3, i32(site.z + tap % 7u) - 3);
}

fn neighbour_row(row: u32, tap: u32) -> i32 {
  return site_neighbour(row_site(row), tap);
}

fn weight_index(tap: u32) -> u32 {
  return select(tap, 48u - tap, FLIP);
}

// Fill tile_rows / tile with patch `patch_row` plus halo, channels [c0, c0 + CBV).
// Call from uniform control flow; ends with a barrier.
fn stage_tile(patch_row: u32, c0: u32, t: u32) {
  let n = patch_row / p.V;
  let pid = u32(vis[patch_row]);
  let y0 = i32((pid / p.gridW) * R) - 3;
  let x0 = i32((pid % p.gridW) * R) - 3;
  for (var s = t; s < TILE_SITES; s += WG) {
    tile_rows[s] = site_row(n, y0 + i32(s / TS), x0 + i32(s % TS));
  }
  workgroupBarrier();
  for (var i = t; i < TILE_ELEMS; i += WG) {
    let row = tile_rows[i / CBV];
    let c = c0 + i % CBV;
    var v = VT(0.0);
    if (row >= 0 && c < p.Cv) { v = x[u32(row) * p.Cv + c]; }
    tile[i] = v;
  }
  workgroupBarrier();
}

// y[row] (+)= bias + Σ_taps w[tap]·x[nbr(row, tap)]. Workgroup = one visible patch × CBV
// channel vectors; grid (channel blocks, patches as a 2-D linear grid).
@compute @workgroup_size(WG)
fn forward_tiled(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                 @builtin(local_invocation_index) t: u32) {
  let patch_row = wid.y + wid.z * nwg.y;
  if (patch_row >= p.N * p.V) { return; }
  let c0 = wid.x * CBV;
  stage_tile(patch_row, c0, t);
  for (var i = t; i < PATCH_ELEMS; i += WG) {
    let z = i / CBV;
    let cv = i % CBV;
    let c = c0 + cv;
    if (c >= p.Cv) { continue; }
    let ly = compact_bits(z >> 1u);
    let lx = compact_bits(z);
    var acc = VT(0.0);
    if (HAS_BIAS) { acc = bias[c]; }
    for (var tap = 0u; tap < 49u; tap++) {
      let site = (ly + tap / 7u) * TS + lx + tap % 7u;
      acc = fma(w[weight_index(tap) * p.Cv + c], tile[site * CBV + cv], acc);
    }
    let o = (patch_row * R * R + z) * p.Cv + c;
    if (ACCUMULATE) { acc += y[o]; }
    y[o] = acc;
  }
}

// Same sums as forward_tiled, one thread per (row, channel vector); the workgroup's RB rows
// share a table of their 49 neighbour rows. Grid (channel blocks, row blocks as 2-D grid).
@compute @workgroup_size(WG_X, RB)
fn forward_direct(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                  @builtin(local_invocation_id) lid: vec3<u32>) {
  let rows = p.N * p.V * R * R;
  let row0 = (wid.y + wid.z * nwg.y) * RB;
  if (row0 >= rows) { return; }
  let t = lid.y * WG_X + lid.x;
  for (var i = t; i < NBR_ELEMS; i += WG_X * RB) {
    let row = row0 + i / 49u;
    var r = -1;
    if (row < rows) { r = neighbour_row(row, i % 49u); }
    nbr[i] = r;
  }
  workgroupBarrier();
  let row = row0 + lid.y;
  let c = wid.x * WG_X + lid.x;
  if (row >= rows || c >= p.Cv) { return; }
  var acc = VT(0.0);
  if (HAS_BIAS) { acc = bias[c]; }
  for (var tap = 0u; tap < 49u; tap++) {
    let r = nbr[lid.y * 49u + tap];
    if (r >= 0) { acc = fma(w[weight_index(tap) * p.Cv + c], x[u32(r) * p.Cv + c], acc); }
  }
  let o = row * p.Cv + c;
  if (ACCUMULATE) { acc += y[o]; }
  y[o] = acc;
}

// Same sums as forward_direct with no workgroup memory and no barrier (software adapters):
// thread = (row, channel vector), the channel fastest, on a 2-D linear grid of 64-thread groups.
@compute @workgroup_size(64)
fn forward_serial(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                  @builtin(local_invocation_index) li: u32) {
  let i = (wid.x + wid.y * nwg.x) * 64u + li;
  let row = i / p.Cv;
  let c = i % p.Cv;
  if (row >= p.N * p.V * R * R) { return; }
  var acc = VT(0.0);
  if (HAS_BIAS) { acc = bias[c]; }
  let site = row_site(row);
  for (var tap = 0u; tap < 49u; tap++) {
    let r = site_neighbour(site, tap);
    if (r >= 0) { acc = fma(w[weight_index(tap) * p.Cv + c], x[u32(r) * p.Cv + c], acc); }
  }
  let o = row * p.Cv + c;
  if (ACCUMULATE) { acc += y[o]; }
  y[o] = acc;
}

// Visible rank of patch (py + dy, px + dx) of sample n, or −1 (outside the grid / masked).
fn patch_rank(n: u32, py: u32, px: u32, dy: i32, dx: i32) -> i32 {
  let y = i32(py) + dy;
  let x = i32(px) + dx;
  if (y < 0 || x < 0 || y >= i32(p.gridH) || x >= i32(p.gridW)) { return -1; }
  return p2v[n * p.gridH * p.gridW + u32(y) * p.gridW + u32(x)];
}

// Σ over the sites of visible patch `patch_row` of dy[site, c]·x[site + (oy, ox), c]: the dweight
// sum of one tap. Every site of a patch meets its neighbour, at offset (oy, ox) ∈ [−3, 3]², in
// one of at most 2×2 patches (floor((l + o) / R) takes ≤ 2 values over a patch side l ∈ [0, R)),
// whose visible ranks are looked up once per patch, not once per site.
fn patch_tap_sum(patch_row: u32, c: u32, oy: i32, ox: i32, acc_in: VT) -> VT {
  let n = patch_row / p.V;
  let pid = u32(vis[patch_row]);
  let py = pid / p.gridW;
  let px = pid % p.gridW;
  let ri = i32(R);
  // patch offsets for the first and last site of a side (floor division via a positive shift)
  let ay = (oy + 3 * ri) / ri - 3;
  let ax = (ox + 3 * ri) / ri - 3;
  let by = (ri - 1 + oy + 3 * ri) / ri - 3;
  let bx = (ri - 1 + ox + 3 * ri) / ri - 3;
  let r_aa = patch_rank(n, py, px, ay, ax);
  let r_ab = patch_rank(n, py, px, ay, bx);
  let r_ba = patch_rank(n, py, px, by, ax);
  let r_bb = patch_rank(n, py, px, by, bx);
  let sample_base = n * p.V;
  var acc = acc_in;
  for (var ly = 0u; ly < R; ly++) {
    let ty = i32(ly) + oy + 3 * ri;   // ≥ 0
    let use_by = ty / ri - 3 != ay;
    let zy = spread_bits(u32(ty) % R) << 1u;
    let sy = spread_bits(ly) << 1u;
    for (var lx = 0u; lx < R; lx++) {
      let tx = i32(lx) + ox + 3 * ri;
      let use_bx = tx / ri - 3 != ax;
      let rank = select(select(r_aa, r_ab, use_bx), select(r_ba, r_bb, use_bx), use_by);
      if (rank >= 0) {
        let nrow = (sample_base + u32(rank)) * R * R + (zy | spread_bits(u32(tx) % R));
        let row = patch_row * R * R + (sy | spread_bits(lx));
        acc = fma(dy[row * p.Cv + c], x[nrow * p.Cv + c], acc);
      }
    }
  }
  return acc;
}

// forward_serial followed by the LayerNorm over the channels of each output row (the ConvNeXt
// block's dwconv → norm), one thread per row walking all its channel vectors: y as forward
// writes it, then, from y re-read by the same thread, mean0 = Σy / C and the centred sums
// (Σd, Σd²), d = y − mean0, which correct mean0 as shaders/layernorm.wgsl does:
// ln_y = (d − shift)·rstd·w + b, ln_mean = mean0 + shift, ln_rstd.
@compute @workgroup_size(64)
fn forward_serial_ln(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                     @builtin(local_invocation_index) li: u32) {
  let row = (wid.x + wid.y * nwg.x) * 64u + li;
  if (row >= p.N * p.V * R * R) { return; }
  let site = row_site(row);
  let base = row * p.Cv;
  // taps outer, channels inner: each neighbour row is found once, not once per channel;
  // the row's y (in cache) holds the running sums
  for (var c = 0u; c < p.Cv; c++) { y[base + c] = bias[c]; }
  for (var tap = 0u; tap < 49u; tap++) {
    let r = site_neighbour(site, tap);
    if (r < 0) { continue; }
    let nbase = u32(r) * p.Cv;
    for (var c = 0u; c < p.Cv; c++) { y[base + c] = fma(w[tap * p.Cv + c], x[nbase + c], y[base + c]); }
  }
  var total = 0.0;
  for (var c = 0u; c < p.Cv; c++) { total += lane_sum(y[base + c]); }
  let n = f32(p.Cv * LANES);
  let mean0 = total / n;
  var sd = 0.0;
  var sd2 = 0.0;
  for (var c = 0u; c < p.Cv; c++) {
    let d = y[base + c] - VT(mean0);
    sd += lane_sum(d);
    sd2 += lane_sum(d * d);
  }
  let shift = sd / n;
  let rstd = inverseSqrt(max(sd2 / n - shift * shift, 0.0) + LN_EPS);
  for (var c = 0u; c < p.Cv; c++) {
    ln_y[base + c] = ((y[base + c] - VT(mean0)) - VT(shift)) * VT(rstd) * ln_weight[c] + ln_bias[c];
  }
  ln_mean[row] = mean0 + shift;
  ln_rstd[row] = rstd;
}

// The whole backward with no barrier (software adapters). Threads, on a 2-D linear grid of
// 64-thread groups: first the dweight threads j < K·50·Cv, (chunk k, tap, channel vector c)
// = (j / (50·Cv), (j / Cv) % 50, j % Cv), each summing dy[row, c]·x[nbr(row, tap), c] (tap 49:
// dy) over the patches_per_chunk patches of its chunk; then the dX threads (row, block of DXB
// channel vectors): the forward with flipped taps over dy, no bias (FLIP must be set), += with
// ACCUMULATE. The long dweight loops go first so that the short dX threads fill in behind them.
@compute @workgroup_size(64)
fn backward_serial(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                   @builtin(local_invocation_index) li: u32) {
  let rows = p.N * p.V * R * R;
  let i = (wid.x + wid.y * nwg.x) * 64u + li;
  let per_chunk = 50u * p.Cv;
  let dweight_threads = p.chunks * per_chunk;
  if (i < dweight_threads) {
    let k = i / per_chunk;
    let tap = (i / p.Cv) % 50u;
    let c = i % p.Cv;
    let first = k * p.patches_per_chunk;
    let last = min(first + p.patches_per_chunk, p.N * p.V);
    var acc = VT(0.0);
    if (tap < 49u) {
      let oy = i32(tap / 7u) - 3;
      let ox = i32(tap % 7u) - 3;
      for (var patch_row = first; patch_row < last; patch_row++) { acc = patch_tap_sum(patch_row, c, oy, ox, acc); }
    } else {
      for (var row = first * R * R; row < last * R * R; row++) { acc += dy[row * p.Cv + c]; }
    }
    if (!ONE_CHUNK) {
      sdweight[(k * 50u + tap) * p.Cv + c] = acc;
    } else if (tap < 49u) {
      let o = tap * p.Cv + c;
      if (ACCUMULATE_PARAMS) { acc += sdweight[o]; }
      sdweight[o] = acc;
    } else {
      if (ACCUMULATE_PARAMS) { acc += sdbias[c]; }
      sdbias[c] = acc;
    }
    return;
  }
  // dX thread = (row, block of DXB channel vectors); taps outer, so each neighbour row is found
  // once per block, with the row's dX (in cache) holding the running sums
  let blocks = (p.Cv + DXB - 1u) / DXB;
  let j = i - dweight_threads;
  let row = j / blocks;
  if (row >= rows) { return; }
  let c0 = (j % blocks) * DXB;
  let c1 = min(c0 + DXB, p.Cv);
  let base = row * p.Cv;
  if (!ACCUMULATE) {
    for (var c = c0; c < c1; c++) { sdx[base + c] = VT(0.0); }
  }
  let site = row_site(row);
  for (var tap = 0u; tap < 49u; tap++) {
    let r = site_neighbour(site, tap);
    if (r < 0) { continue; }
    let nbase = u32(r) * p.Cv;
    let wbase = weight_index(tap) * p.Cv;
    for (var c = c0; c < c1; c++) { sdx[base + c] = fma(sw[wbase + c], dy[nbase + c], sdx[base + c]); }
  }
}

// Pass 1's result for (chunk k, tap, channel vector c). With one chunk (ONE_CHUNK) the partial
// sums are the gradients: written (or added) straight to dweight (bound as `partial`, the
// same tap-major layout) and dbias, and pass 2 is not dispatched.
fn store_dweight_partial(k: u32, tap: u32, c: u32, acc: VT) {
  if (!ONE_CHUNK) {
    partial[(k * 50u + tap) * p.Cv + c] = acc;
    return;
  }
  var v = acc;
  if (tap < 49u) {
    let o = tap * p.Cv + c;
    if (ACCUMULATE) { v += partial[o]; }
    partial[o] = v;
  } else {
    if (ACCUMULATE) { v += one_dbias[c]; }
    one_dbias[c] = v;
  }
}

// Pass 1 of dweight/dbias: partial[k, tap, c] = Σ over the patches of chunk k of
// dy[row, c]·x[nbr(row, tap), c] (tap 49: Σ dy). Thread = (tap, channel vector) of the block;
// each patch (plus halo) is staged once. Grid (channel blocks, chunks as 2-D grid).
@compute @workgroup_size(WG)
fn dweight_tiled(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                 @builtin(local_invocation_index) t: u32) {
  let k = wid.y + wid.z * nwg.y;
  if (k >= p.chunks) { return; }
  let c0 = wid.x * CBV;
  let tap = t / CBV;
  let cv = t % CBV;
  let ky = tap / 7u;
  let kx = tap % 7u;
  let first = k * p.patches_per_chunk;
  let last = min(first + p.patches_per_chunk, p.N * p.V);
  var acc = VT(0.0);
  for (var patch_row = first; patch_row < last; patch_row++) {
    for (var i = t; i < PATCH_ELEMS; i += WG) {
      let c = c0 + i % CBV;
      var v = VT(0.0);
      if (c < p.Cv) { v = dy[(patch_row * R * R + i / CBV) * p.Cv + c]; }
      dy_tile[i] = v;
    }
    stage_tile(patch_row, c0, t);
    if (tap < 49u) {
      for (var z = 0u; z < R * R; z++) {
        let site = (compact_bits(z >> 1u) + ky) * TS + compact_bits(z) + kx;
        acc = fma(dy_tile[z * CBV + cv], tile[site * CBV + cv], acc);
      }
    } else if (tap == 49u) {
      for (var z = 0u; z < R * R; z++) { acc += dy_tile[z * CBV + cv]; }
    }
    workgroupBarrier();
  }
  let c = c0 + cv;
  if (tap < 50u && c < p.Cv) { store_dweight_partial(k, tap, c, acc); }
}

// Pass 1 of dweight/dbias by gathering: chunk k = rows [k·rows_per_chunk, …), walked RB rows
// at a time with their neighbour table and dy staged. Same thread layout and grid as tiled.
@compute @workgroup_size(WG)
fn dweight_direct(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                  @builtin(local_invocation_index) t: u32) {
  let k = wid.y + wid.z * nwg.y;
  if (k >= p.chunks) { return; }
  let rows = p.N * p.V * R * R;
  let c0 = wid.x * CBV;
  let tap = t / CBV;
  let cv = t % CBV;
  let c = c0 + cv;
  let first = k * p.rows_per_chunk;
  let last = min(first + p.rows_per_chunk, rows);
  var acc = VT(0.0);
  for (var row0 = first; row0 < last; row0 += RB) {
    for (var i = t; i < NBR_ELEMS; i += WG) {
      let row = row0 + i / 49u;
      var r = -1;
      if (row < last) { r = neighbour_row(row, i % 49u); }
      nbr[i] = r;
    }
    for (var i = t; i < RB_ELEMS; i += WG) {
      let row = row0 + i / CBV;
      let ci = c0 + i % CBV;
      var v = VT(0.0);
      if (row < last && ci < p.Cv) { v = dy[row * p.Cv + ci]; }
      dy_rows[i] = v;
    }
    workgroupBarrier();
    if (tap < 49u && c < p.Cv) {
      for (var j = 0u; j < RB; j++) {
        let r = nbr[j * 49u + tap];
        if (r >= 0) { acc = fma(dy_rows[j * CBV + cv], x[u32(r) * p.Cv + c], acc); }
      }
    } else if (tap == 49u) {
      for (var j = 0u; j < RB; j++) { acc += dy_rows[j * CBV + cv]; }
    }
    workgroupBarrier();
  }
  if (tap < 50u && c < p.Cv) { store_dweight_partial(k, tap, c, acc); }
}

// Pass 2: dweight[tap, c] (+)= Σ_k partial[k, tap, c]; dbias[c] (+)= Σ_k partial[k, 49, c].
// One thread per (tap, c); K is the chunk count, not the row count.
@compute @workgroup_size(64)
fn dweight_reduce(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                  @builtin(local_invocation_index) li: u32) {
  let i = (wid.x + wid.y * nwg.x) * 64u + li;
  let per_chunk = 50u * p.Cv;
  if (i >= per_chunk) { return; }
  var s = VT(0.0);
  for (var k = 0u; k < p.chunks; k++) { s += partial_in[k * per_chunk + i]; }
  if (i < 49u * p.Cv) {
    if (ACCUMULATE) { s += dweight[i]; }
    dweight[i] = s;
  } else {
    let c = i - 49u * p.Cv;
    if (ACCUMULATE) { s += dbias[c]; }
    dbias[c] = s;
  }
}
