// GRN forward pass 2: one workgroup per group finishes the sums of squares over the chunks,
// G = sqrt(Σ X²) (no eps inside the sqrt), then the channel mean D = mean_c G + eps (a
// workgroup reduction over C) and Nx = G / D. grn-backward-stats.wgsl recomputes D with the
// very same loop and tree, so forward and backward see the same D bit for bit.
// FROM_ROWS (small groups, src/ops/grn.ts): no partial pass before this one: X itself is bound
// as `partial` with K = rows per group, whose layout (groups, rows, C) is that of the partials,
// and each term is squared here. One dispatch instead of two.

struct Params {
  C: u32,
  chunks: u32, // K (rows per group with FROM_ROWS)
  eps: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> partial: array<f32>;     // (groups, K, C); X with FROM_ROWS
@group(0) @binding(2) var<storage, read_write> gnorm: array<f32>; // G (groups, C)
@group(0) @binding(3) var<storage, read_write> norm: array<f32>;  // Nx (groups, C)

override FROM_ROWS: bool = false;

const WG: u32 = 256u;
var<workgroup> red: array<f32, 256>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let g = wid.x;
  var sumG = 0.0;
  for (var c = lid; c < p.C; c += WG) {
    var s = 0.0;
    for (var k = 0u; k < p.chunks; k++) {
      let v = partial[(g * p.chunks + k) * p.C + c];
      s += select(v, v * v, FROM_ROWS);
    }
    let G = sqrt(s);
    gnorm[g * p.C + c] = G;
    sumG += G;
  }
  red[lid] = sumG;
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride >>= 1u) {
    if (lid < stride) { red[lid] += red[lid + stride]; }
    workgroupBarrier();
  }
  let d = red[0] / f32(p.C) + p.eps;
  for (var c = lid; c < p.C; c += WG) {
    norm[g * p.C + c] = gnorm[g * p.C + c] / d;
  }
}
