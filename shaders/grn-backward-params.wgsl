// GRN backward pass 3: dGamma[c] (+)= Σ_g Nx·P, dBeta[c] (+)= Σ_g Q. One thread per channel;
// the loop runs over groups (samples, or 1 in 'batch' mode), never over rows.

struct Params {
  C: u32,
  groups: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> paramParts: array<f32>;  // (2, groups, C)
@group(0) @binding(2) var<storage, read_write> dGamma: array<f32>; // (C)
@group(0) @binding(3) var<storage, read_write> dBeta: array<f32>;  // (C)

override ACCUMULATE: bool = false;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let c = gid.x;
  if (c >= p.C) { return; }
  var sg = 0.0;
  var sb = 0.0;
  for (var g = 0u; g < p.groups; g++) {
    sg += paramParts[g * p.C + c];
    sb += paramParts[(p.groups + g) * p.C + c];
  }
  if (ACCUMULATE) {
    sg += dGamma[c];
    sb += dBeta[c];
  }
  dGamma[c] = sg;
  dBeta[c] = sb;
}
