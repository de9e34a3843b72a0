// Fused AdamW step over every parameter of the model at once (torch.optim.AdamW semantics).
// params, grads, m, v are one flat f32 buffer each; elements [0, decayCount) get decoupled
// weight decay, the rest (biases, norms, GRN, mask token) do not.
// The per-step values (lr, bias corrections) are read from a small storage buffer the trainer
// rewrites every step: uniforms are fixed when the plan is built.
// Two entry points share the bindings: `update_vec4` (count a multiple of 4, one vec4 per
// thread, the decay boundary may fall inside a vec4 group) and `update_scalar` (any count).
// Each entry point uses only its own set of variables, so 'auto' layouts stay consistent.
// PER_THREAD: elements (vec4 or scalar) each invocation updates, WG apart (a workgroup covers
// WG·PER_THREAD consecutive ones). 1 on GPUs; more on CPU drivers, where every invocation has a
// fixed cost of its own comparable to the update (src/ops/adamw.ts adamwPerThread).

struct Params {
  count: u32,       // elements in each flat buffer
  decayCount: u32,  // elements [0, decayCount) get weight decay
  beta1: f32,
  beta2: f32,
  eps: f32,
  weightDecay: f32,
}

// Written by the host every step; layout matches adamwStepScalars() in src/ops/adamw.ts.
struct StepScalars {
  lr: f32,
  biasCorrection1: f32,  // 1 − β1^t
  biasCorrection2: f32,  // 1 − β2^t
  stepSize: f32,         // lr / (1 − β1^t), rounded once from float64 on the host
  sqrtBiasCorrection2: f32,
  step: f32,
  _pad0: f32,
  _pad1: f32,
}

const WG: u32 = 256u;
override PER_THREAD: u32 = 1u;

@group(0) @binding(0) var<uniform> p: Params;

// ---- vec4 path: buffers viewed as (count / 4) vec4 ----
@group(0) @binding(1) var<storage, read_write> params4: array<vec4<f32>>; // (count / 4)
@group(0) @binding(2) var<storage, read> grads4: array<vec4<f32>>;        // (count / 4)
@group(0) @binding(3) var<storage, read_write> m4: array<vec4<f32>>;      // (count / 4)
@group(0) @binding(4) var<storage, read_write> v4: array<vec4<f32>>;      // (count / 4)
@group(0) @binding(5) var<storage, read> scalars4: StepScalars;

@compute @workgroup_size(WG)
fn update_vec4(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
               @builtin(local_invocation_index) li: u32) {
  let first = (wid.x + wid.y * nwg.x) * WG * PER_THREAD + li;
  let s = scalars4;
  let decayed = 1.0 - s.lr * p.weightDecay;
  for (var j = 0u; j < PER_THREAD; j++) {
    let i = first + j * WG;
    if (i >= p.count / 4u) { return; }
    let g = grads4[i];
    // Per-lane decay factor: lanes at element index < decayCount decay, the others keep 1.
    let lane = vec4<u32>(0u, 1u, 2u, 3u) + vec4<u32>(i * 4u);
    let decay = select(vec4<f32>(1.0), vec4<f32>(decayed), lane < vec4<u32>(p.decayCount));
    var w = params4[i] * decay;
    let m = p.beta1 * m4[i] + (1.0 - p.beta1) * g;
    let v = p.beta2 * v4[i] + (1.0 - p.beta2) * g * g;
    // torch order: denom = sqrt(v) / sqrt(1 − β2^t) + eps; p −= lr / (1 − β1^t) · m / denom.
    let denom = sqrt(v) / s.sqrtBiasCorrection2 + p.eps;
    w = w - s.stepSize * (m / denom);
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

@compute @workgroup_size(WG)
fn update_scalar(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                 @builtin(local_invocation_index) li: u32) {
  let first = (wid.x + wid.y * nwg.x) * WG * PER_THREAD + li;
  let s = scalars1;
  for (var j = 0u; j < PER_THREAD; j++) {
    let i = first + j * WG;
    if (i >= p.count) { return; }
    let g = grads1[i];
    var w = params1[i];
    if (i < p.decayCount) { w = w * (1.0 - s.lr * p.weightDecay); }
    let m = p.beta1 * m1[i] + (1.0 - p.beta1) * g;
    let v = p.beta2 * v1[i] + (1.0 - p.beta2) * g * g;
    let denom = sqrt(v) / s.sqrtBiasCorrection2 + p.eps;
    w = w - s.stepSize * (m / denom);
    m1[i] = m;
    v1[i] = v;
    params1[i] = w;
  }
}
