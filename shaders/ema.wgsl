// Exponential moving average of the weights (timm ModelEmaV2):
//   ema ← decay·ema + (1 − decay)·params
// over one flat buffer of every parameter. `update4` works on vec4 views (the host uses it
// when count % 4 == 0). One element (or vec4) per thread. Each entry point uses only its own
// variables.

struct Params {
  count: u32,            // elements (vec4s in update4)
  decay: f32,
  one_minus_decay: f32,  // 1 − decay, from float64 on the host
  _pad: u32,
}

@group(0) @binding(0) var<uniform> p: Params;

fn linear_index(wid: vec3<u32>, nwg: vec3<u32>, li: u32) -> u32 {
  return (wid.x + wid.y * nwg.x) * 256u + li;
}

@group(0) @binding(1) var<storage, read_write> ema1: array<f32>;  // (count)
@group(0) @binding(2) var<storage, read> params1: array<f32>;     // (count)

@compute @workgroup_size(256)
fn update(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
          @builtin(local_invocation_index) li: u32) {
  let i = linear_index(wid, nwg, li);
  if (i >= p.count) { return; }
  ema1[i] = p.decay * ema1[i] + p.one_minus_decay * params1[i];
}

@group(0) @binding(1) var<storage, read_write> ema4: array<vec4<f32>>;  // (count / 4)
@group(0) @binding(2) var<storage, read> params4: array<vec4<f32>>;     // (count / 4)

@compute @workgroup_size(256)
fn update4(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
           @builtin(local_invocation_index) li: u32) {
  let i = linear_index(wid, nwg, li);
  if (i >= p.count) { return; }
  ema4[i] = p.decay * ema4[i] + p.one_minus_decay * params4[i];
}
