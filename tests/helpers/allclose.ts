// Numeric comparison for tests: |actual − expected| ≤ atol + rtol·|expected| elementwise.
// On failure the message gives the max difference, where it is, and the first mismatches.

export interface CloseOptions {
  atol: number;
  rtol: number;
  /** Name of the tensor, shown in the failure message. */
  label?: string;
  /** Shape, to print multi-dimensional indices. */
  shape?: readonly number[];
}

function unravel(i: number, shape?: readonly number[]): string {
  if (!shape || shape.length <= 1) return `[${i}]`;
  const idx: number[] = [];
  let r = i;
  for (let d = shape.length - 1; d >= 0; d--) {
    idx.unshift(r % shape[d]!);
    r = Math.floor(r / shape[d]!);
  }
  return `[${idx.join(',')}]`;
}

export interface CloseReport {
  ok: boolean;
  maxDiff: number;
  maxDiffAt: number;
  mismatches: number;
  message: string;
}

export function compareClose(actual: ArrayLike<number>, expected: ArrayLike<number>, o: CloseOptions): CloseReport {
  const label = o.label ?? 'tensor';
  if (actual.length !== expected.length) {
    return { ok: false, maxDiff: Infinity, maxDiffAt: -1, mismatches: -1, message: `${label}: length ${actual.length} ≠ expected ${expected.length}` };
  }
  let maxDiff = 0;
  let maxDiffAt = -1;
  let mismatches = 0;
  const first: string[] = [];
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    const d = Math.abs(a - e);
    const bad = !(d <= o.atol + o.rtol * Math.abs(e)) || Number.isNaN(a) !== Number.isNaN(e);
    if (d > maxDiff || (Number.isNaN(d) && maxDiffAt < 0)) {
      maxDiff = Number.isNaN(d) ? Infinity : d;
      maxDiffAt = i;
    }
    if (bad) {
      mismatches++;
      if (first.length < 8) first.push(`${unravel(i, o.shape)} got ${a} want ${e} (diff ${d.toExponential(2)})`);
    }
  }
  const where = maxDiffAt >= 0 ? ` at ${unravel(maxDiffAt, o.shape)}` : '';
  const message =
    `${label}: ${mismatches}/${expected.length} elements outside atol=${o.atol} rtol=${o.rtol}; ` +
    `max diff ${maxDiff.toExponential(3)}${where}` +
    (first.length ? `\n  first mismatches: ${first.join('\n                    ')}` : '');
  return { ok: mismatches === 0, maxDiff, maxDiffAt, mismatches, message };
}

/** Throws (failing the test) when not close; returns the max difference otherwise. */
export function expectAllClose(actual: ArrayLike<number>, expected: ArrayLike<number>, o: CloseOptions): number {
  const r = compareClose(actual, expected, o);
  if (!r.ok) throw new Error(r.message);
  return r.maxDiff;
}

/** max |actual − expected| within `tol` × max |expected| (a tensor-scaled tolerance); returns the report. */
export function compareRelToMax(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number, label: string): CloseReport {
  let maxAbs = 0;
  for (let i = 0; i < expected.length; i++) maxAbs = Math.max(maxAbs, Math.abs(expected[i]!));
  return compareClose(actual, expected, { atol: tol * maxAbs, rtol: 0, label });
}
