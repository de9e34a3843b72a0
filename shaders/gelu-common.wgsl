// GELU in its two forms and their derivatives; included by gelu.wgsl and the matmul epilogue.
// WGSL has no erf builtin: Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7, below f32 noise).

fn erf_approx(x: f32) -> f32 {
  let ax = abs(x);
  let t = 1.0 / (1.0 + 0.3275911 * ax);
  let poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  let y = 1.0 - poly * exp(-ax * ax);
  return select(-y, y, x >= 0.0);
}

// tanh via exp of a non-positive argument: never overflows, unlike some builtin tanh lowerings.
fn tanh_stable(u: f32) -> f32 {
  let e = exp(-2.0 * abs(u));
  let t = (1.0 - e) / (1.0 + e);
  return select(-t, t, u >= 0.0);
}

const SQRT1_2: f32 = 0.7071067811865476;
const INV_SQRT_2PI: f32 = 0.3989422804014327;
const SQRT_2_OVER_PI: f32 = 0.7978845608028654;
const GELU_TANH_C: f32 = 0.044715;

fn gelu_erf(x: f32) -> f32 {
  return 0.5 * x * (1.0 + erf_approx(x * SQRT1_2));
}

fn gelu_erf_grad(x: f32) -> f32 {
  let cdf = 0.5 * (1.0 + erf_approx(x * SQRT1_2));
  let pdf = INV_SQRT_2PI * exp(-0.5 * x * x);
  return cdf + x * pdf;
}

fn gelu_tanh(x: f32) -> f32 {
  let u = SQRT_2_OVER_PI * (x + GELU_TANH_C * x * x * x);
  return 0.5 * x * (1.0 + tanh_stable(u));
}

fn gelu_tanh_grad(x: f32) -> f32 {
  let u = SQRT_2_OVER_PI * (x + GELU_TANH_C * x * x * x);
  let t = tanh_stable(u);
  let du = SQRT_2_OVER_PI * (1.0 + 3.0 * GELU_TANH_C * x * x);
  return 0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * du;
}

// kind: 0 = identity, 1 = exact (erf), 2 = tanh approximation.
fn gelu_apply(x: f32, kind: u32) -> f32 {
  if (kind == 1u) { return gelu_erf(x); }
  if (kind == 2u) { return gelu_tanh(x); }
  return x;
}

fn gelu_apply_grad(x: f32, kind: u32) -> f32 {
  if (kind == 1u) { return gelu_erf_grad(x); }
  if (kind == 2u) { return gelu_tanh_grad(x); }
  return 1.0;
}
