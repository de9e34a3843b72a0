// GRN forward pass 3, elementwise: Y = gamma·X·Nx[g] + beta + X, g the row's group.

struct Params {
  C: u32,
  groupRows: u32,
  total: u32, // rows · C
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;         // (rows, C)
@group(0) @binding(2) var<storage, read> gamma: array<f32>;     // (C)
@group(0) @binding(3) var<storage, read> beta: array<f32>;      // (C)
@group(0) @binding(4) var<storage, read> norm: array<f32>;      // Nx (groups, C)
@group(0) @binding(5) var<storage, read_write> y: array<f32>;   // (rows, C)

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
  let idx = (wid.x + wid.y * nwg.x) * 256u + li;
  if (idx >= p.total) { return; }
  let row = idx / p.C;
  let c = idx - row * p.C;
  let g = row / p.groupRows;
  let v = x[idx];
  y[idx] = gamma[c] * v * norm[g * p.C + c] + beta[c] + v;
}
