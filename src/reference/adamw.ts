// Float64 AdamW reference (torch.optim.AdamW, single-tensor path) over the same flat layout
// as the GPU op: elements [0, decayCount) get decoupled weight decay, the rest do not.
// Every hyperparameter is passed explicitly so the oracle shares no constants with the code
// it checks.
// adamwGroupedStepRef: the fine-tuning variant, a param group per element (lr scale, decay).

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

export interface AdamWGroupedRefOptions {
  /** 1-based step number. */
  step: number;
  /** Base learning rate; element i's group lr is lr·lrScale[i]. */
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  /** (count) learning-rate scale of each element's group. */
  lrScale: ArrayLike<number>;
  /** (count) weight decay of each element's group. */
  weightDecay: ArrayLike<number>;
}

/**
 * One AdamW step with a param group per element, in place: torch.optim.AdamW where element
 * i's group has lr = lr·lrScale[i] and weight_decay = weightDecay[i].
 */
export function adamwGroupedStepRef(state: AdamWRefState, grads: ArrayLike<number>, o: AdamWGroupedRefOptions): void {
  const { params, m, v } = state;
  const count = params.length;
  if (grads.length !== count || m.length !== count || v.length !== count || o.lrScale.length !== count || o.weightDecay.length !== count) {
    throw new RangeError(
      `adamwGroupedStepRef: lengths params ${count}, grads ${grads.length}, m ${m.length}, v ${v.length}, lrScale ${o.lrScale.length}, weightDecay ${o.weightDecay.length} differ`,
    );
  }
  if (!Number.isInteger(o.step) || o.step < 1) throw new RangeError(`adamwGroupedStepRef: step ${o.step} must be an integer ≥ 1`);
  const biasCorrection1 = 1 - o.beta1 ** o.step;
  const sqrtBiasCorrection2 = Math.sqrt(1 - o.beta2 ** o.step);
  for (let i = 0; i < count; i++) {
    const groupLr = o.lr * o.lrScale[i]!;
    const g = grads[i]!;
    const w = params[i]! * (1 - groupLr * o.weightDecay[i]!);
    const mi = o.beta1 * m[i]! + (1 - o.beta1) * g;
    const vi = o.beta2 * v[i]! + (1 - o.beta2) * g * g;
    const denom = Math.sqrt(vi) / sqrtBiasCorrection2 + o.eps;
    params[i] = w - (groupLr / biasCorrection1) * (mi / denom);
    m[i] = mi;
    v[i] = vi;
  }
}
