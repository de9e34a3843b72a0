// Float64 reference for src/ops/fcmae-loss.ts: patchify (official FCMAE order, generalised
// to non-square grids), the normalised-pixel target with unbiased variance, and the masked
// mean-squared loss with its gradient.
const P = 32;
const PATCH_VALUES = P * P * 3;

/** (N·L, 3072): row n·L + (py·gridW + px), value (iy·32 + ix)·3 + c. */
export function patchifyRef(image: ArrayLike<number>, N: number, gridH: number, gridW: number): Float64Array {
  const H = gridH * P;
  const W = gridW * P;
  const L = gridH * gridW;
  const out = new Float64Array(N * L * PATCH_VALUES);
  for (let n = 0; n < N; n++)
    for (let py = 0; py < gridH; py++)
      for (let px = 0; px < gridW; px++) {
        const row = n * L + py * gridW + px;
        for (let iy = 0; iy < P; iy++)
          for (let ix = 0; ix < P; ix++)
            for (let c = 0; c < 3; c++) {
              out[row * PATCH_VALUES + (iy * P + ix) * 3 + c] = image[((n * 3 + c) * H + py * P + iy) * W + px * P + ix]!;
            }
      }
  return out;
}

export interface PatchTarget {
  /** (N·L, 3072) */
  target: Float64Array;
  /** (N·L) per-patch mean of the raw patch. */
  mean: Float64Array;
  /** (N·L) per-patch unbiased variance (÷ 3071) of the raw patch. */
  variance: Float64Array;
}

export function patchifyTargetRef(image: ArrayLike<number>, N: number, gridH: number, gridW: number, normPix: boolean): PatchTarget {
  const target = patchifyRef(image, N, gridH, gridW);
  const rows = N * gridH * gridW;
  const mean = new Float64Array(rows);
  const variance = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    const o = r * PATCH_VALUES;
    let s = 0;
    for (let j = 0; j < PATCH_VALUES; j++) s += target[o + j]!;
    const m = s / PATCH_VALUES;
    let ss = 0;
    for (let j = 0; j < PATCH_VALUES; j++) ss += (target[o + j]! - m) ** 2;
    const v = ss / (PATCH_VALUES - 1);
    mean[r] = m;
    variance[r] = v;
    if (normPix) {
      const invStd = 1 / Math.sqrt(v + 1e-6);
      for (let j = 0; j < PATCH_VALUES; j++) target[o + j] = (target[o + j]! - m) * invStd;
    }
  }
  return { target, mean, variance };
}

/**
 * Loss value, per-sample losses (N), and dPred (N·M, 3072) for pred rows ↔ maskedRows.
 * No masked patch (M = 0): loss 0, as the GPU op defines it (PyTorch would give 0/0).
 */
export function fcmaeLossRef(
  pred: ArrayLike<number>,
  target: ArrayLike<number>,
  maskedRows: ArrayLike<number>,
  N: number,
  scale = 1,
): { loss: number; sampleLoss: Float64Array; dPred: Float64Array } {
  const NM = maskedRows.length;
  const M = NM / N;
  const sampleLoss = new Float64Array(N);
  const dPred = new Float64Array(NM * PATCH_VALUES);
  let total = 0;
  const coef = (scale * 2) / (PATCH_VALUES * NM);
  for (let i = 0; i < NM; i++) {
    const t0 = maskedRows[i]! * PATCH_VALUES;
    let s = 0;
    for (let j = 0; j < PATCH_VALUES; j++) {
      const d = pred[i * PATCH_VALUES + j]! - target[t0 + j]!;
      s += d * d;
      dPred[i * PATCH_VALUES + j] = coef * d;
    }
    const patchLoss = s / PATCH_VALUES;
    sampleLoss[Math.floor(i / M)]! += patchLoss / M;
    total += patchLoss;
  }
  return { loss: NM > 0 ? total / NM : 0, sampleLoss, dPred };
}
