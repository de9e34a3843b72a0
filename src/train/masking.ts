// FCMAE random masking (spec §4), as the official code does it: per sample, draw standard
// normal noise per patch, argsort it, keep the first len_keep patches of that order (mask 0)
// and mask the rest (mask 1). Every sample keeps the same count, which the sparse layout
// relies on. The argsort is stable (ties broken by patch index), so a seeded Random gives the
// same masks on every platform.
// The visible count V is the key everywhere below the edges (plans, trainers, checkpoints,
// the worker): a mask ratio becomes V exactly once, with the official int(L·(1 − ratio))
// (keptCount), and is shown as 1 − V/L (maskRatioOf). Going back from a ratio computed as
// 1 − V/L does not round-trip: 9·(1 − (1 − 3/9)) = 2.9999…, floor 2.
// Note the floor: at L = 49 and ratio 0.6 only 19 patches stay visible (61.2% masked).
import { MaskError } from '../ops/sparse-layout.ts';
import type { Random } from '../util/random.ts';

function checkGrid(L: number): void {
  if (!Number.isInteger(L) || L < 1) throw new MaskError(`patch count L = ${L} must be a positive integer`);
}

/**
 * The largest mask ratio, to 4 decimals, that still keeps one of L patches visible (a UI
 * slider's upper end). Checked with the same double arithmetic as keptCount: at L = 5 the
 * ratio 0.8 keeps floor(5·0.19999999999999996) = 0 patches, so this returns 0.7999.
 */
export function largestMaskRatio(L: number): number {
  checkGrid(L);
  for (let k = Math.floor((1 - 1 / L) * 1e4); k > 0; k--) {
    const r = k / 1e4;
    if (Math.floor(L * (1 - r)) >= 1) return r;
  }
  return 0;
}

/** Patches kept visible per sample: floor(L·(1 − ratio)), after checking the ratio is usable for L. */
export function keptCount(L: number, ratio: number): number {
  checkGrid(L);
  if (!Number.isFinite(ratio) || ratio < 0) {
    throw new MaskError(`mask ratio ${ratio} is out of range: the smallest usable ratio is 0 (every patch visible)`);
  }
  const largest = (): string =>
    `The largest usable ratio for L = ${L} is ${largestMaskRatio(L)} (keeps 1 patch)` +
    (L === 1 ? '; with a single patch only ratio 0 works: use a larger input.' : '.');
  if (ratio >= 1) throw new MaskError(`mask ratio ${ratio} must be < 1: at least one patch per sample must stay visible. ${largest()}`);
  // Same double arithmetic as the official int(L * (1 - mask_ratio)).
  const keep = Math.floor(L * (1 - ratio));
  if (keep < 1) {
    throw new MaskError(`mask ratio ${ratio} keeps floor(${L}·(1 − ${ratio})) = ${keep} of ${L} patches; at least one must stay visible. ${largest()}`);
  }
  return keep;
}

/** Checks a visible count for L patches: an integer in 1..L (L is the dense, ratio-0 case). */
export function checkVisibleCount(L: number, visible: number): number {
  checkGrid(L);
  if (!Number.isInteger(visible) || visible < 1 || visible > L) {
    throw new MaskError(`visible patches ${visible} must be an integer in 1..${L} (L = ${L} patches per image)`);
  }
  return visible;
}

/** The mask ratio a visible count stands for, for display: 1 − V/L. */
export function maskRatioOf(L: number, visible: number): number {
  return 1 - checkVisibleCount(L, visible) / L;
}

/** A mask ratio for display: at most 3 decimals, trailing zeros dropped (0.6, 0.612, 0). */
export function formatMaskRatio(ratio: number): string {
  return String(Number(ratio.toFixed(3)));
}

/** "19/49 visible (mask ratio 0.612)": how logs and reports name a visible count. */
export function describeVisible(L: number, visible: number): string {
  return `${visible}/${L} visible (mask ratio ${formatMaskRatio(maskRatioOf(L, visible))})`;
}

/**
 * Random masks (N, L), 1 = masked, 0 = visible, row-major patch order; exactly `visible`
 * zeros per sample. Draws N·L normals from `rng`, sample by sample.
 */
export function generateMasks(N: number, L: number, visible: number, rng: Random): Float32Array {
  if (!Number.isInteger(N) || N < 1) throw new MaskError(`batch size N = ${N} must be a positive integer`);
  const keep = checkVisibleCount(L, visible);
  const mask = new Float32Array(N * L); // (N, L)
  const noise = new Float64Array(L); // (L)
  const order = new Int32Array(L); // (L) ids_shuffle
  for (let n = 0; n < N; n++) {
    for (let l = 0; l < L; l++) {
      noise[l] = rng.normal();
      order[l] = l;
    }
    order.sort((a, b) => noise[a]! - noise[b]! || a - b);
    const row = mask.subarray(n * L, (n + 1) * L);
    row.fill(1);
    for (let k = 0; k < keep; k++) row[order[k]!] = 0;
  }
  return mask;
}
