// GRN pass 1 (forward and backward): partial sums over chunks of rows, so that no thread ever
// walks all rows of a large group. One thread per (chunk k of group g, channel c), 64
// channels per workgroup so each row is read as contiguous 256-byte runs.
//   out[g, k, c]            = Σ_{rows s of chunk k of group g} a[s,c]·b[s,c]
//   out[groups·K·C + ...]   = Σ b[s,c]                       (only with SUM_B)
// Forward binds X as both a and b (Σ X²); backward binds a = X, b = dY (Σ dY·X and Σ dY).
// A group is one sample's rows ('per-sample') or all rows ('batch'); chunks never straddle
// groups. No workgroup memory or barrier: on SwiftShader a barrier made this pass ~6× slower.

struct Params {
  C: u32,
  groupRows: u32, // rows per group
  chunkRows: u32, // rows per chunk (the last chunk of a group may be shorter)
  chunks: u32,    // K, chunks per group
  groups: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;             // (rows, C)
@group(0) @binding(2) var<storage, read> b: array<f32>;             // (rows, C)
@group(0) @binding(3) var<storage, read_write> partial: array<f32>; // (1 or 2, groups, K, C)

override SUM_B: bool = false;

const WG_C: u32 = 64u;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let c = wid.x * WG_C + lid;
  if (c >= p.C) { return; }
  let k = wid.y;
  let g = wid.z;
  let start = g * p.groupRows + k * p.chunkRows;
  let end = min(start + p.chunkRows, (g + 1u) * p.groupRows);
  var sumAb = 0.0;
  var sumB = 0.0;
  for (var r = start; r < end; r++) {
    let i = r * p.C + c;
    let bv = b[i];
    sumAb += a[i] * bv;
    sumB += bv;
  }
  let out = (g * p.chunks + k) * p.C + c;
  partial[out] = sumAb;
  if (SUM_B) { partial[p.groups * p.chunks * p.C + out] = sumB; }
}
