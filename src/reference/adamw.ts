// Float64 AdamW reference (torch.optim.AdamW, single-tensor path) over the same flat layout
// as the GPU op: elements [0, decayCount) get decoupled weight decay, the rest do not.
// Every hyperparameter is passed explicitly so the oracle shares no constants with the code
// it checks.

export interface AdamWRefState {
  params: Float64Array; // (count) updated in place
  m: Float64Array; // (count) first moment, updated in place
  v: Float64Array; // (count) second moment, updated in place
}

export interface AdamWRefOptions {
  /** 1-based step number (torch increments its step counter before the update). */
  step: number;
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  decayCount: number;
}

/** One AdamW step, in place, in the order torch applies it. */
export function adamwStepRef(state: AdamWRefState, grads: ArrayLike<number>, o: AdamWRefOptions): void {
  const { params, m, v } = state;
  const count = params.length;
  if (grads.length !== count || m.length !== count || v.length !== count) {
    throw new RangeError(`adamwStepRef: lengths params ${count}, grads ${grads.length}, m ${m.length}, v ${v.length} differ`);
  }
  if (!Number.isInteger(o.step) || o.step < 1) throw new RangeError(`adamwStepRef: step ${o.step} must be an integer ≥ 1`);
  const biasCorrection1 = 1 - o.beta1 ** o.step;
  const biasCorrection2 = 1 - o.beta2 ** o.step;
  const stepSize = o.lr / biasCorrection1;
  const sqrtBiasCorrection2 = Math.sqrt(biasCorrection2);
  const decay = 1 - o.lr * o.weightDecay;
  for (let i = 0; i < count; i++) {
    const g = grads[i]!;
    let w = params[i]!;
    if (i < o.decayCount) w *= decay;
    const mi = o.beta1 * m[i]! + (1 - o.beta1) * g;
    const vi = o.beta2 * v[i]! + (1 - o.beta2) * g * g;
    const denom = Math.sqrt(vi) / sqrtBiasCorrection2 + o.eps;
    params[i] = w - stepSize * (mi / denom);
    m[i] = mi;
    v[i] = vi;
  }
}
