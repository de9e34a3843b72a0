// Float64 references for src/ops/rows.ts: row gather and column sums.

/** dst[i, :] = src[indices[i], :]; an index outside [0, S) gives a zero row. */
export function gatherRowsRef(src: ArrayLike<number>, indices: ArrayLike<number>, S: number, C: number): Float64Array {
  const M = indices.length;
  const dst = new Float64Array(M * C);
  for (let i = 0; i < M; i++) {
    const r = indices[i]!;
    if (r < 0 || r >= S) continue;
    for (let c = 0; c < C; c++) dst[i * C + c] = src[r * C + c]!;
  }
  return dst;
}

/** Σ_r src[r, c] of a (rows, C) matrix, added to `accumulateInto` when given. */
export function columnSumRef(src: ArrayLike<number>, rows: number, C: number, accumulateInto?: ArrayLike<number>): Float64Array {
  const out = accumulateInto ? Float64Array.from(accumulateInto) : new Float64Array(C);
  for (let r = 0; r < rows; r++) for (let c = 0; c < C; c++) out[c]! += src[r * C + c]!;
  return out;
}
