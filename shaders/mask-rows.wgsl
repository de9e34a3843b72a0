// Zero the rows of masked patches in a dense-layout activation (rows = N·L·r², grouped by
// patch): x[row, c] *= 1 − mask[row / r²]. Used by the dense-encoder ablation, where the
// stem output is masked once and every later layer runs dense, and for its gradient.

struct Params {
  total: u32,        // rows · C
  C: u32,
  sitesPerPatch: u32, // r²
  _pad: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> x: array<f32>;  // (N·L·r², C)
@group(0) @binding(2) var<storage, read> mask: array<f32>;     // (N·L) 1 = masked

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
  let idx = (wid.x + wid.y * nwg.x) * 256u + li;
  if (idx >= p.total) { return; }
  let patchIndex = idx / p.C / p.sitesPerPatch;
  x[idx] = x[idx] * (1.0 - mask[patchIndex]);
}
