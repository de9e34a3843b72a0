// Stem im2col: the 4×4 stride-4 stem conv only at visible 32-px patches, as a gather of
// every stem site's 4×4×3 input window into one row of a (rows, 48) matrix; the conv is then
// the matmul cols · Weightᵀ (+ bias) of src/ops/stem.ts.
//   row    = (n·V + v)·64 + zOrder(ly, lx), the 8×8 stem sites of visible patch
//            p = visible_patches[n·V + v] (the sparse layout of src/ops/sparse-layout.ts);
//   column = c·16 + ky·4 + kx, PyTorch's (d0, 3, 4, 4) weight flattened;
//   value  = image[n, c, py·32 + ly·4 + ky, px·32 + lx·4 + kx].
// One thread per element of cols, so writes are contiguous; each 4-wide kx run of reads is too.

struct Params {
  N: u32,
  V: u32,      // visible patches per sample
  grid_h: u32, // patches per column: H = grid_h·32
  grid_w: u32, // patches per row:    W = grid_w·32
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> image: array<f32>;          // (N, 3, H, W)
@group(0) @binding(2) var<storage, read> visible_patches: array<i32>; // (N, V) patch index, ascending
@group(0) @binding(3) var<storage, read_write> cols: array<f32>;      // (N·V·64, 48)

const WG: u32 = 256u;

@compute @workgroup_size(256)
fn im2col(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
          @builtin(local_invocation_index) li: u32) {
  let idx = (wid.x + wid.y * nwg.x) * WG + li;
  if (idx >= p.N * p.V * 64u * 48u) { return; }
  let row = idx / 48u;
  let col = idx % 48u;
  let patch_row = row / 64u; // n·V + v
  let z = row % 64u;
  // Inverse Z-order of a 6-bit index: x bits at even positions, y bits at odd positions.
  let lx = (z & 1u) | ((z >> 1u) & 2u) | ((z >> 2u) & 4u);
  let ly = ((z >> 1u) & 1u) | ((z >> 2u) & 2u) | ((z >> 3u) & 4u);
  let n = patch_row / p.V;
  let patch_id = u32(visible_patches[patch_row]);
  let py = patch_id / p.grid_w;
  let px = patch_id % p.grid_w;
  let c = col / 16u;
  let ky = (col / 4u) % 4u;
  let kx = col % 4u;
  let H = p.grid_h * 32u;
  let W = p.grid_w * 32u;
  let y = py * 32u + ly * 4u + ky;
  let x = px * 32u + lx * 4u + kx;
  cols[idx] = image[((n * 3u + c) * H + y) * W + x];
}
