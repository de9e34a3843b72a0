// Float64 reference for src/ops/cross-entropy.ts: softmax cross-entropy with label smoothing,
// torch.nn.functional.cross_entropy(logits, y, label_smoothing=ε), mean reduction, and its
// gradient. A label outside [0, K) contributes ℓ_n = 0 (still counted in the mean's N) and a
// zero gradient row, as the op documents.

export interface CrossEntropyRef {
  /** mean_n ℓ_n */
  loss: number;
  /** (N) ℓ_n = (1 − ε)(−log p_y) + ε·mean_k(−log p_k) */
  perSample: Float64Array;
  /** (N, K) scale·(softmax − (1 − ε)·onehot(y) − ε/K) / N */
  dLogits: Float64Array;
}

export function crossEntropyRef(
  logits: ArrayLike<number>,
  labels: ArrayLike<number>,
  N: number,
  K: number,
  smoothing: number,
  scale = 1,
): CrossEntropyRef {
  if (logits.length < N * K) throw new RangeError(`crossEntropyRef: logits has ${logits.length} values, (N, K) = (${N}, ${K}) needs ${N * K}`);
  if (labels.length < N) throw new RangeError(`crossEntropyRef: labels has ${labels.length} values, needs N = ${N}`);
  if (!(smoothing >= 0 && smoothing < 1)) throw new RangeError(`crossEntropyRef: smoothing ${smoothing} must be in [0, 1)`);
  const perSample = new Float64Array(N);
  const dLogits = new Float64Array(N * K);
  let total = 0;
  for (let n = 0; n < N; n++) {
    const y = labels[n]!;
    if (!Number.isInteger(y) || y < 0 || y >= K) continue;
    const row = n * K;
    let max = -Infinity;
    for (let k = 0; k < K; k++) max = Math.max(max, logits[row + k]!);
    let sumExp = 0;
    for (let k = 0; k < K; k++) sumExp += Math.exp(logits[row + k]! - max);
    const lse = max + Math.log(sumExp);
    // −log p_k = lse − x_k
    let smooth = 0;
    for (let k = 0; k < K; k++) smooth += lse - logits[row + k]!;
    const loss = (1 - smoothing) * (lse - logits[row + y]!) + (smoothing * smooth) / K;
    perSample[n] = loss;
    total += loss;
    for (let k = 0; k < K; k++) {
      const p = Math.exp(logits[row + k]! - lse);
      const target = smoothing / K + (k === y ? 1 - smoothing : 0);
      dLogits[row + k] = (scale * (p - target)) / N;
    }
  }
  return { loss: total / N, perSample, dLogits };
}
