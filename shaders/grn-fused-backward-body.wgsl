// GRN backward in one kernel, one workgroup for the whole batch (src/ops/grn.ts, plan 'fused'):
// per group g, P = Σ dY·X and Q = Σ dY over its rows, then
//   dG[g,c] = (gamma[c]·P[g,c] − (1/C)·Σ_c' gamma[c']·P[g,c']·Nx[g,c']) / D[g]
//   dX = (dY·(1 + gamma·Nx) + (X / G)·dG) · gelu'(pre)   (X/G := 0 where G = 0; GELU_FORM 0: no gelu')
// and dGamma[c] (+)= Σ_g Nx·P, dBeta[c] (+)= Σ_g Q: the statistics, parameter and elementwise
// passes of the multi-workgroup path in one dispatch. A lane owns channels lid, lid + WG, ...
// in every group, so it alone sums their parameter gradients across groups (in dGamma/dBeta
// themselves) and keeps their dNx in `scratch` until the group's channel sums are known; the
// only exchange between lanes is those two channel sums (group_sum2). D is recomputed from G
// with the fused forward's loop and sum. Included by grn-fused-backward{,-sg,-1sg}.wgsl after
// the file defining WG and group_sum2 (tree, subgroups, or one 4-lane subgroup); GELU's
// derivative from gelu-common.wgsl.
//#include "gelu-common.wgsl"

struct Params {
  C: u32,
  groupRows: u32,
  groups: u32,
  eps: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;             // (rows, C)
@group(0) @binding(2) var<storage, read> dY: array<f32>;            // (rows, C)
@group(0) @binding(3) var<storage, read> gamma: array<f32>;         // (C)
@group(0) @binding(4) var<storage, read> norm: array<f32>;          // Nx (groups, C)
@group(0) @binding(5) var<storage, read> gnorm: array<f32>;         // G (groups, C)
@group(0) @binding(6) var<storage, read_write> dX: array<f32>;      // (rows, C)
@group(0) @binding(7) var<storage, read> pre: array<f32>;           // (rows, C) GELU input; X again when GELU_FORM = 0
@group(0) @binding(8) var<storage, read_write> dGamma: array<f32>;  // (C)
@group(0) @binding(9) var<storage, read_write> dBeta: array<f32>;   // (C)
@group(0) @binding(10) var<storage, read_write> scratch: array<f32>; // (C) dNx of the current group

override GELU_FORM: u32 = 0u;
override ACCUMULATE: bool = false;

// dX at element j of a channel whose G, dG and 1 + gamma·Nx are given; X / G is taken as 0
// where G = 0 (X is then 0 in this channel for the whole group), and X is divided by G
// (|X/G| ≤ 1) rather than dG, so a tiny non-zero G cannot overflow. GELU's derivative by GELU_FORM.
fn grad_at(j: u32, scaleDy: f32, G: f32, dg: f32) -> f32 {
  let v = x[j];
  var dx = dY[j] * scaleDy + select(0.0, v / G, G > 0.0) * dg;
  if (GELU_FORM != 0u) { dx = dx * gelu_apply_grad(pre[j], GELU_FORM); }
  return dx;
}

fn backward_all(lid: u32) {
  let C = p.C;
  for (var g = 0u; g < p.groups; g++) {
    let first = g * p.groupRows;
    let last = first + p.groupRows;
    let body = first + (p.groupRows / 4u) * 4u; // rows in blocks of 4, the rest one by one
    var sumG = 0.0;
    var sumDnNx = 0.0;
    for (var c = lid; c < C; c += WG) {
      var P4 = vec4<f32>(0.0);
      var Q4 = vec4<f32>(0.0);
      for (var r = first; r < body; r += 4u) {
        let i = r * C + c;
        let dy = vec4<f32>(dY[i], dY[i + C], dY[i + 2u * C], dY[i + 3u * C]);
        P4 += dy * vec4<f32>(x[i], x[i + C], x[i + 2u * C], x[i + 3u * C]);
        Q4 += dy;
      }
      var P = (P4.x + P4.y) + (P4.z + P4.w);
      var Q = (Q4.x + Q4.y) + (Q4.z + Q4.w);
      for (var r = body; r < last; r++) {
        let i = r * C + c;
        let dy = dY[i];
        P += dy * x[i];
        Q += dy;
      }
      let i = g * C + c;
      let nx = norm[i];
      let dNx = gamma[c] * P;
      scratch[c] = dNx;
      let addTo = g > 0u || ACCUMULATE;
      dGamma[c] = nx * P + select(0.0, dGamma[c], addTo);
      dBeta[c] = Q + select(0.0, dBeta[c], addTo);
      sumG += gnorm[i];
      sumDnNx += dNx * nx;
    }
    let sums = group_sum2(vec2<f32>(sumG, sumDnNx), lid);
    let d = sums.x / f32(C) + p.eps;
    let meanDnNx = sums.y / f32(C);
    for (var c = lid; c < C; c += WG) {
      let i = g * C + c;
      let dg = (scratch[c] - meanDnNx) / d;
      let G = gnorm[i];
      let scaleDy = 1.0 + gamma[c] * norm[i];
      for (var r = first; r < body; r += 4u) {
        let j = r * C + c;
        let d0 = grad_at(j, scaleDy, G, dg);
        let d1 = grad_at(j + C, scaleDy, G, dg);
        let d2 = grad_at(j + 2u * C, scaleDy, G, dg);
        let d3 = grad_at(j + 3u * C, scaleDy, G, dg);
        dX[j] = d0;
        dX[j + C] = d1;
        dX[j + 2u * C] = d2;
        dX[j + 3u * C] = d3;
      }
      for (var r = body; r < last; r++) {
        let j = r * C + c;
        dX[j] = grad_at(j, scaleDy, G, dg);
      }
    }
  }
}
