// Row gather and scatter between row-major matrices with the same C columns: pick rows of
// the sparse layout (e.g. the decoder's masked patches before the pred layer) and put them
// back (their backward). One thread per element moved; indices are global row numbers.
//   gather:  dst[i, :] = src[indices[i], :]  (a zero row when indices[i] is outside [0, S))
//   scatter: dst[indices[i], :] = src[i, :]  (indices must be distinct; outside [0, S) skipped)
//   zero:    dst = 0, run before scatter when rows not named by indices must read zero.
// `zero` binds a different set, hence its own variable at binding 1 (WGSL allows the same
// binding number in different entry points of one module).

struct Params {
  S: u32, // rows of the full matrix
  M: u32, // rows picked (length of indices)
  C: u32,
  _pad: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;        // gather (S, C); scatter (M, C)
@group(0) @binding(2) var<storage, read> indices: array<i32>;    // (M)
@group(0) @binding(3) var<storage, read_write> dst: array<f32>;  // gather (M, C); scatter (S, C)
@group(0) @binding(1) var<storage, read_write> zero_dst: array<f32>; // (S, C)

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

@compute @workgroup_size(256)
fn scatter(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
           @builtin(local_invocation_index) li: u32) {
  let idx = linear_index(wid, nwg, li);
  if (idx >= p.M * p.C) { return; }
  let i = idx / p.C;
  let c = idx % p.C;
  let row = indices[i];
  if (row < 0 || u32(row) >= p.S) { return; }
  dst[u32(row) * p.C + c] = src[idx];
}

@compute @workgroup_size(256)
fn zero(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
  let idx = linear_index(wid, nwg, li);
  if (idx >= p.S * p.C) { return; }
  zero_dst[idx] = 0.0;
}
