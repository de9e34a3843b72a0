// Accuracy figures of a classifier's logits against labels: top-1, per-class accuracy and the
// confusion matrix (rows: true class, columns: predicted), as fine-tuning reports them.

/** The class of the largest logit of each row (the lowest index on a tie). */
export function predictions(logits: Float32Array, count: number, K: number): Int32Array {
  const out = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    let best = 0;
    for (let k = 1; k < K; k++) if (logits[i * K + k]! > logits[i * K + best]!) best = k;
    out[i] = best;
  }
  return out;
}

export interface ClassificationReport {
  /** Labelled images counted. */
  count: number;
  /** Fraction in [0, 1]; NaN with no labelled image. */
  top1: number;
  /** Per class: fraction right among that class's images (NaN for a class with none). */
  perClass: number[];
  /** confusion[t][p]: images of class t predicted as p. */
  confusion: number[][];
}

/** Over the images whose label is ≥ 0. */
export function classificationReport(predicted: Int32Array, labels: Int32Array, K: number): ClassificationReport {
  if (predicted.length !== labels.length) throw new RangeError(`${predicted.length} predictions for ${labels.length} labels`);
  const confusion = Array.from({ length: K }, () => new Array<number>(K).fill(0));
  let count = 0;
  let right = 0;
  labels.forEach((y, i) => {
    if (y < 0) return;
    if (y >= K) throw new RangeError(`label ${y} of image ${i} is outside 0..${K - 1}`);
    const p = predicted[i]!;
    confusion[y]![p]!++;
    count++;
    if (p === y) right++;
  });
  const perClass = confusion.map((row, k) => {
    const n = row.reduce((a, b) => a + b, 0);
    return n ? row[k]! / n : NaN;
  });
  return { count, top1: count ? right / count : NaN, perClass, confusion };
}
