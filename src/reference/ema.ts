// Float64 reference for src/ops/ema.ts: one EMA step of the weights (timm ModelEmaV2).

/** ema ← decay·ema + (1 − decay)·params, in place; returns ema. */
export function emaUpdateRef(ema: Float64Array, params: ArrayLike<number>, decay: number): Float64Array {
  if (params.length !== ema.length) throw new RangeError(`emaUpdateRef: ema has ${ema.length} values, params ${params.length}`);
  for (let i = 0; i < ema.length; i++) ema[i] = decay * ema[i]! + (1 - decay) * params[i]!;
  return ema;
}
