// Row gather between row-major matrices with the same C columns: pick rows of the sparse
// layout (e.g. the decoder's masked patches before the pred layer), or put them back through
// an inverse table (the loss gradient onto the grid, zero rows where the table says −1). One
// thread per element moved; indices are global row numbers.
//   gather:  dst[i, :] = src[indices[i], :]  (a zero row when indices[i] is outside [0, S))

struct Params {
  S: u32, // rows of the full matrix
  M: u32, // rows picked (length of indices)
  C: u32,
  _pad: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;        // (S, C)
@group(0) @binding(2) var<storage, read> indices: array<i32>;    // (M)
@group(0) @binding(3) var<storage, read_write> dst: array<f32>;  // (M, C)

const WG: u32 = 256u;

fn linear_index(wid: vec3<u32>, nwg: vec3<u32>, li: u32) -> u32 {
  return (wid.x + wid.y * nwg.x) * WG + li;
}

@compute @workgroup_size(256)
fn gather(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
          @builtin(local_invocation_index) li: u32) {
  let idx = linear_index(wid, nwg, li);
  if (idx >= p.M * p.C) { return; }
  let i = idx / p.C;
  let c = idx % p.C;
  let row = indices[i];
  var v = 0.0;
  if (row >= 0 && u32(row) < p.S) { v = src[u32(row) * p.C + c]; }
  dst[idx] = v;
}
