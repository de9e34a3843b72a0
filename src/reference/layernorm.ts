// Float64 reference for shaders/layernorm.wgsl: LayerNorm over the channels of each row of a
// (rows, C) matrix, eps 1e-6, biased variance (PyTorch F.layer_norm over the last dim).
// Backward takes mean/rstd as inputs, like the GPU op: the forward keeps them for it.
import { LN_EPS } from '../ops/layernorm.ts';

export interface LayerNormRefResult {
  y: Float64Array; // (rows, C)
  mean: Float64Array; // (rows)
  rstd: Float64Array; // (rows) 1 / sqrt(var + eps)
}

export function layerNormForwardRef(
  x: ArrayLike<number>, // (rows, C)
  weight: ArrayLike<number>, // (C)
  bias: ArrayLike<number>, // (C)
  shape: { rows: number; C: number; eps?: number },
): LayerNormRefResult {
  const { rows, C } = shape;
  const eps = shape.eps ?? LN_EPS;
  const y = new Float64Array(rows * C);
  const mean = new Float64Array(rows);
  const rstd = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    const o = r * C;
    let s = 0;
    for (let c = 0; c < C; c++) s += x[o + c]!;
    const m = s / C;
    let q = 0;
    for (let c = 0; c < C; c++) q += (x[o + c]! - m) ** 2;
    const rs = 1 / Math.sqrt(q / C + eps);
    for (let c = 0; c < C; c++) y[o + c] = (x[o + c]! - m) * rs * weight[c]! + bias[c]!;
    mean[r] = m;
    rstd[r] = rs;
  }
  return { y, mean, rstd };
}

export interface LayerNormBackwardRefResult {
  dX: Float64Array; // (rows, C)
  dWeight: Float64Array; // (C)
  dBias: Float64Array; // (C)
}

/**
 * With x̂ = (x − mean)·rstd and g = dY·weight:
 * dX = rstd·(g − mean_c(g) − x̂·mean_c(g·x̂)), dWeight = Σ_rows dY·x̂, dBias = Σ_rows dY.
 * `accumulateDXInto` (rows, C) is added to dX (the GPU's accumulateDX).
 */
export function layerNormBackwardRef(
  x: ArrayLike<number>, // (rows, C)
  weight: ArrayLike<number>, // (C)
  mean: ArrayLike<number>, // (rows)
  rstd: ArrayLike<number>, // (rows)
  dY: ArrayLike<number>, // (rows, C)
  shape: { rows: number; C: number; accumulateDXInto?: ArrayLike<number> },
): LayerNormBackwardRefResult {
  const { rows, C } = shape;
  const dX = new Float64Array(rows * C);
  const dWeight = new Float64Array(C);
  const dBias = new Float64Array(C);
  for (let r = 0; r < rows; r++) {
    const o = r * C;
    const m = mean[r]!;
    const rs = rstd[r]!;
    let sg = 0;
    let sgx = 0;
    for (let c = 0; c < C; c++) {
      const xh = (x[o + c]! - m) * rs;
      const g = dY[o + c]! * weight[c]!;
      sg += g;
      sgx += g * xh;
      dWeight[c] += dY[o + c]! * xh;
      dBias[c] += dY[o + c]!;
    }
    const mg = sg / C;
    const mgx = sgx / C;
    for (let c = 0; c < C; c++) {
      const xh = (x[o + c]! - m) * rs;
      const g = dY[o + c]! * weight[c]!;
      let d = rs * (g - mg - xh * mgx);
      if (shape.accumulateDXInto) d += shape.accumulateDXInto[o + c]!;
      dX[o + c] = d;
    }
  }
  return { dX, dWeight, dBias };
}
