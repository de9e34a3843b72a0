// Float64 reference for src/ops/global-pool.ts: the classifier's global average pool over
// each sample's P rows of a sample-major (N·P, C) matrix, and its backward.

/** y (N, C): y[n, c] = (1/P) Σ_p x[n·P + p, c]. */
export function meanPoolForwardRef(x: ArrayLike<number>, N: number, P: number, C: number): Float64Array {
  if (x.length < N * P * C) throw new RangeError(`meanPoolForwardRef: x has ${x.length} values, (N·P, C) = (${N * P}, ${C}) needs ${N * P * C}`);
  const y = new Float64Array(N * C);
  for (let n = 0; n < N; n++) {
    for (let r = 0; r < P; r++) {
      const row = (n * P + r) * C;
      for (let c = 0; c < C; c++) y[n * C + c]! += x[row + c]!;
    }
    for (let c = 0; c < C; c++) y[n * C + c]! /= P;
  }
  return y;
}

/** dX (N·P, C): dX[n·P + p, c] = dY[n, c] / P. */
export function meanPoolBackwardRef(dY: ArrayLike<number>, N: number, P: number, C: number): Float64Array {
  if (dY.length < N * C) throw new RangeError(`meanPoolBackwardRef: dY has ${dY.length} values, (N, C) = (${N}, ${C}) needs ${N * C}`);
  const dX = new Float64Array(N * P * C);
  for (let n = 0; n < N; n++) {
    for (let r = 0; r < P; r++) {
      const row = (n * P + r) * C;
      for (let c = 0; c < C; c++) dX[row + c] = dY[n * C + c]! / P;
    }
  }
  return dX;
}
