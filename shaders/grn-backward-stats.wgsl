// GRN backward pass 2: one workgroup per group finishes P = Σ dY·X and Q = Σ dY over the
// chunks and turns them into
//   dG[g,c] = (gamma[c]·P[g,c] − (1/C)·Σ_c' gamma[c']·P[g,c']·Nx[g,c']) / D[g]
// (dNx = gamma·P, then back through Nx = G / (mean_c G + eps)), plus the per-group pieces of
// the parameter gradients, Nx·P (for dGamma) and Q (for dBeta), summed over groups by
// grn-backward-params.wgsl. D is recomputed from G with the forward's exact loop and tree.
// FROM_ROWS (small groups): no partial pass before this one: X is bound as `partial` and dY
// as `rows_dy`, K = rows per group, and P, Q are summed from them here.

struct Params {
  C: u32,
  chunks: u32, // K
  groups: u32,
  eps: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> partial: array<f32>;          // (2, groups, K, C): P then Q
@group(0) @binding(2) var<storage, read> gamma: array<f32>;            // (C)
@group(0) @binding(3) var<storage, read> norm: array<f32>;             // Nx (groups, C)
@group(0) @binding(4) var<storage, read> gnorm: array<f32>;            // G (groups, C)
@group(0) @binding(5) var<storage, read_write> dG: array<f32>;         // (groups, C)
@group(0) @binding(6) var<storage, read_write> paramParts: array<f32>; // (2, groups, C): Nx·P then Q
@group(0) @binding(7) var<storage, read> rows_dy: array<f32>;          // dY (rows, C) with FROM_ROWS; else any buffer

override FROM_ROWS: bool = false;

const WG: u32 = 256u;
var<workgroup> redG: array<f32, 256>;
var<workgroup> redDn: array<f32, 256>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let g = wid.x;
  let qOffset = p.groups * p.chunks * p.C;
  var sumG = 0.0;
  var sumDnNx = 0.0;
  for (var c = lid; c < p.C; c += WG) {
    var P = 0.0;
    var Q = 0.0;
    for (var k = 0u; k < p.chunks; k++) {
      let j = (g * p.chunks + k) * p.C + c;
      if (FROM_ROWS) {
        let dy = rows_dy[j];
        P += partial[j] * dy;
        Q += dy;
      } else {
        P += partial[j];
        Q += partial[qOffset + j];
      }
    }
    let i = g * p.C + c;
    let nx = norm[i];
    let dNx = gamma[c] * P;
    paramParts[i] = nx * P;
    paramParts[p.groups * p.C + i] = Q;
    dG[i] = dNx; // finished below, once the channel sums are known
    sumG += gnorm[i];
    sumDnNx += dNx * nx;
  }
  redG[lid] = sumG;
  redDn[lid] = sumDnNx;
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride >>= 1u) {
    if (lid < stride) {
      redG[lid] += redG[lid + stride];
      redDn[lid] += redDn[lid + stride];
    }
    workgroupBarrier();
  }
  let d = redG[0] / f32(p.C) + p.eps;
  let meanDnNx = redDn[0] / f32(p.C);
  for (var c = lid; c < p.C; c += WG) {
    let i = g * p.C + c;
    dG[i] = (dG[i] - meanDnNx) / d;
  }
}
