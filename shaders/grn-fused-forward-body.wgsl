// GRN forward in one kernel, one workgroup per group (src/ops/grn.ts, plan 'fused'): G over the
// group's rows, D = mean_c G + eps, Nx = G / D, then Y = gamma·X·Nx + beta + X, with no
// partial-sum pass, no separate statistics pass and no separate elementwise pass. A lane owns
// channels lid, lid + WG, ...: it sums their squares over the rows, writes their G and Nx, and
// applies them to the same columns, so the only exchange between lanes is the channel sum
// behind D (group_sum2). Rows go in blocks of 4 (independent loads in flight: on GPUs a lane's
// serial loop is bound by memory latency). Included by grn-fused-forward{,-sg,-1sg}.wgsl after the file that
// defines WG and group_sum2 (tree, subgroups, or one 4-lane subgroup).
// The fused backward (grn-fused-backward-body.wgsl) recomputes D with the same loop and sum.

struct Params {
  C: u32,
  groupRows: u32,
  eps: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;           // (rows, C)
@group(0) @binding(2) var<storage, read> gamma: array<f32>;       // (C)
@group(0) @binding(3) var<storage, read> beta: array<f32>;        // (C)
@group(0) @binding(4) var<storage, read_write> y: array<f32>;     // (rows, C)
@group(0) @binding(5) var<storage, read_write> norm: array<f32>;  // Nx (groups, C)
@group(0) @binding(6) var<storage, read_write> gnorm: array<f32>; // G (groups, C)

fn forward_group(g: u32, lid: u32) {
  let C = p.C;
  let first = g * p.groupRows;
  let last = first + p.groupRows;
  let body = first + (p.groupRows / 4u) * 4u; // rows in blocks of 4, the rest one by one
  var sumG = 0.0;
  for (var c = lid; c < C; c += WG) {
    var s4 = vec4<f32>(0.0);
    for (var r = first; r < body; r += 4u) {
      let i = r * C + c;
      let v = vec4<f32>(x[i], x[i + C], x[i + 2u * C], x[i + 3u * C]);
      s4 += v * v;
    }
    var s = (s4.x + s4.y) + (s4.z + s4.w);
    for (var r = body; r < last; r++) {
      let v = x[r * C + c];
      s += v * v;
    }
    let G = sqrt(s);
    gnorm[g * C + c] = G;
    sumG += G;
  }
  let d = group_sum2(vec2<f32>(sumG, 0.0), lid).x / f32(C) + p.eps;
  for (var c = lid; c < C; c += WG) {
    let nx = gnorm[g * C + c] / d; // this lane's own write above
    norm[g * C + c] = nx;
    let gc = gamma[c];
    let bc = beta[c];
    for (var r = first; r < body; r += 4u) {
      let i = r * C + c;
      let v = vec4<f32>(x[i], x[i + C], x[i + 2u * C], x[i + 3u * C]);
      let out = gc * v * nx + bc + v;
      y[i] = out.x;
      y[i + C] = out.y;
      y[i + 2u * C] = out.z;
      y[i + 3u * C] = out.w;
    }
    for (var r = body; r < last; r++) {
      let v = x[r * C + c];
      y[r * C + c] = gc * v * nx + bc + v;
    }
  }
}
