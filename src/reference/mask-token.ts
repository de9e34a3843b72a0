// Float64 reference for src/ops/mask-token.ts: the decoder input on the dense grid from the
// proj output at visible patches plus the mask token at masked ones, and its backward.
import type { MaskLayout } from '../ops/sparse-layout.ts';

/** X (N·L, D): X[n·L + p] = P[n·V + v] if visible, maskToken otherwise. */
export function maskTokenFillForwardRef(proj: ArrayLike<number>, maskToken: ArrayLike<number>, layout: MaskLayout, D: number): Float64Array {
  const { N, L, V } = layout;
  const x = new Float64Array(N * L * D);
  for (let n = 0; n < N; n++)
    for (let p = 0; p < L; p++) {
      const v = layout.patchToVisible[n * L + p]!;
      for (let c = 0; c < D; c++) x[(n * L + p) * D + c] = v >= 0 ? proj[(n * V + v) * D + c]! : maskToken[c]!;
    }
  return x;
}

/** dP (N·V, D) = dX at visible patches; dMaskToken (D) = Σ over masked rows of dX. */
export function maskTokenFillBackwardRef(
  dX: ArrayLike<number>,
  layout: MaskLayout,
  D: number,
): { dP: Float64Array; dMaskToken: Float64Array } {
  const { N, L, V } = layout;
  const dP = new Float64Array(N * V * D);
  const dMaskToken = new Float64Array(D);
  for (let n = 0; n < N; n++)
    for (let p = 0; p < L; p++) {
      const v = layout.patchToVisible[n * L + p]!;
      for (let c = 0; c < D; c++) {
        const g = dX[(n * L + p) * D + c]!;
        if (v >= 0) dP[(n * V + v) * D + c] = g;
        else dMaskToken[c]! += g;
      }
    }
  return { dP, dMaskToken };
}
