// Fused AdamW with per-tensor learning-rate scale and weight decay (the fine-tuning parameter
// groups: layer-wise lr decay, no decay on biases / norms / GRN), torch.optim.AdamW with group
// lr = lr·lrScale and group weight_decay = wd. Every tensor of the flat buffer starts at a
// multiple of CHUNK floats, so a per-chunk table chunks[c] = (lrScale, wd) describes the
// groups: element i belongs to chunk floor(i / CHUNK).
// Per element: w ← w·(1 − lr·lrScale·wd); m ← β1 m + (1 − β1) g; v ← β2 v + (1 − β2) g²;
// denom = sqrt(v)/sqrt(1 − β2^t) + eps; w ← w − (lr/(1 − β1^t))·lrScale·m/denom.
// The per-step scalars buffer is the one of shaders/adamw.wgsl (adamwStepScalars()).
// Two entry points: `update_vec4` (count a multiple of 4; CHUNK is too, so the four lanes of
// a vec4 share a chunk) and `update_scalar` (any count). Each uses only its own variables.
// (shaders/adamw.wgsl, the pretraining optimizer, stays as it is: parity depends on it.)

struct Params {
  count: u32,            // elements in each flat buffer
  beta1: f32,
  beta2: f32,
  eps: f32,
  one_minus_beta1: f32,  // 1 − β1 and 1 − β2 from float64 on the host, as torch's f32 path
  one_minus_beta2: f32,  // (1 − f32(0.999) would be 1.3e-5 off 0.001)
  _pad0: u32,
  _pad1: u32,
}

// Written by the host every step; layout matches adamwStepScalars() in src/ops/adamw.ts.
struct StepScalars {
  lr: f32,
  biasCorrection1: f32,  // 1 − β1^t
  biasCorrection2: f32,  // 1 − β2^t
  stepSize: f32,         // lr / (1 − β1^t)
  sqrtBiasCorrection2: f32,
  step: f32,
  _pad0: f32,
  _pad1: f32,
}

const WG: u32 = 256u;
// Elements (vec4 or scalar) per invocation, WG apart: 1 on GPUs, more on CPU drivers (as adamw.wgsl).
override PER_THREAD: u32 = 1u;
const CHUNK: u32 = 64u; // ADAMW_CHUNK_FLOATS in src/ops/adamw.ts

@group(0) @binding(0) var<uniform> p: Params;

// ---- vec4 path: buffers viewed as (count / 4) vec4 ----
@group(0) @binding(1) var<storage, read_write> params4: array<vec4<f32>>; // (count / 4)
@group(0) @binding(2) var<storage, read> grads4: array<vec4<f32>>;        // (count / 4)
@group(0) @binding(3) var<storage, read_write> m4: array<vec4<f32>>;      // (count / 4)
@group(0) @binding(4) var<storage, read_write> v4: array<vec4<f32>>;      // (count / 4)
@group(0) @binding(5) var<storage, read> scalars4: StepScalars;
@group(0) @binding(6) var<storage, read> chunks4: array<vec2<f32>>;       // (ceil(count / CHUNK)) (lrScale, wd)

@compute @workgroup_size(WG)
fn update_vec4(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
               @builtin(local_invocation_index) li: u32) {
  let first = (wid.x + wid.y * nwg.x) * WG * PER_THREAD + li;
  let s = scalars4;
  for (var j = 0u; j < PER_THREAD; j++) {
    let i = first + j * WG;
    if (i >= p.count / 4u) { return; }
    let scales = chunks4[(i * 4u) / CHUNK];
    let lr_scale = scales.x;
    let g = grads4[i];
    var w = params4[i] * (1.0 - s.lr * lr_scale * scales.y);
    let m = p.beta1 * m4[i] + p.one_minus_beta1 * g;
    let v = p.beta2 * v4[i] + p.one_minus_beta2 * g * g;
    let denom = sqrt(v) / s.sqrtBiasCorrection2 + p.eps;
    w = w - (s.stepSize * lr_scale) * (m / denom);
    m4[i] = m;
    v4[i] = v;
    params4[i] = w;
  }
}

// ---- scalar path: any count ----
@group(0) @binding(1) var<storage, read_write> params1: array<f32>; // (count)
@group(0) @binding(2) var<storage, read> grads1: array<f32>;        // (count)
@group(0) @binding(3) var<storage, read_write> m1: array<f32>;      // (count)
@group(0) @binding(4) var<storage, read_write> v1: array<f32>;      // (count)
@group(0) @binding(5) var<storage, read> scalars1: StepScalars;
@group(0) @binding(6) var<storage, read> chunks1: array<vec2<f32>>; // (ceil(count / CHUNK)) (lrScale, wd)

@compute @workgroup_size(WG)
fn update_scalar(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                 @builtin(local_invocation_index) li: u32) {
  let first = (wid.x + wid.y * nwg.x) * WG * PER_THREAD + li;
  let s = scalars1;
  for (var j = 0u; j < PER_THREAD; j++) {
    let i = first + j * WG;
    if (i >= p.count) { return; }
    let scales = chunks1[i / CHUNK];
    let lr_scale = scales.x;
    let g = grads1[i];
    var w = params1[i] * (1.0 - s.lr * lr_scale * scales.y);
    let m = p.beta1 * m1[i] + p.one_minus_beta1 * g;
    let v = p.beta2 * v1[i] + p.one_minus_beta2 * g * g;
    let denom = sqrt(v) / s.sqrtBiasCorrection2 + p.eps;
    w = w - (s.stepSize * lr_scale) * (m / denom);
    m1[i] = m;
    v1[i] = v;
    params1[i] = w;
  }
}
