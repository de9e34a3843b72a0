// Float64 reference for src/ops/drop-path.ts: per-sample scaling of a residual branch over
// the rows of a sample-major (rows, C) matrix, row r belonging to sample floor(r / rowsPerSample).

/** out = x + scale[n]·branch. */
export function addScaledRowsRef(
  x: ArrayLike<number>,
  branch: ArrayLike<number>,
  scale: ArrayLike<number>,
  rows: number,
  C: number,
  rowsPerSample: number,
): Float64Array {
  const out = new Float64Array(rows * C);
  for (let r = 0; r < rows; r++) {
    const s = scale[Math.floor(r / rowsPerSample)]!;
    for (let c = 0; c < C; c++) out[r * C + c] = x[r * C + c]! + s * branch[r * C + c]!;
  }
  return out;
}

/** dst = scale[n]·src. */
export function scaleRowsRef(src: ArrayLike<number>, scale: ArrayLike<number>, rows: number, C: number, rowsPerSample: number): Float64Array {
  const dst = new Float64Array(rows * C);
  for (let r = 0; r < rows; r++) {
    const s = scale[Math.floor(r / rowsPerSample)]!;
    for (let c = 0; c < C; c++) dst[r * C + c] = s * src[r * C + c]!;
  }
  return dst;
}
