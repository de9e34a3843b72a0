// Probes on frozen features (evaluation-spec §3), in float64 on the CPU: the features are a
// few thousand rows of a few hundred channels at most, so the probes cost nothing beside the
// forward passes that made them.
//
// kNN, DINO's weighted rule: L2-normalised features; each validation image takes the
// k = min(k, n_train) training images of highest cosine similarity s, each voting for its class
// with weight exp(s / T); the prediction is the class of largest total, the lowest index on a tie.
// (Among equal similarities the training image of lower index is taken first.)
//
// Linear probe, MAE's head: BatchNorm without affine parameters (eps 1e-6; batch statistics
// while training, running statistics (momentum 0.1, unbiased variance, as torch) at evaluation)
// then a Linear layer (weights and bias start at 0), trained on the full training set per
// epoch with cross-entropy and SGD with momentum 0.9 under a cosine learning rate. The
// optimizer is this project's choice (MAE uses LARS at batch 16384, which a few hundred images
// cannot fill); the architecture is MAE's.

export interface Features {
  /** (count, dim) row-major. */
  data: Float32Array | Float64Array;
  count: number;
  dim: number;
}

function normalised(f: Features): Float64Array {
  const out = new Float64Array(f.count * f.dim);
  for (let i = 0; i < f.count; i++) {
    let ss = 0;
    for (let j = 0; j < f.dim; j++) ss += f.data[i * f.dim + j]! ** 2;
    const inv = 1 / Math.max(Math.sqrt(ss), 1e-12);
    for (let j = 0; j < f.dim; j++) out[i * f.dim + j] = f.data[i * f.dim + j]! * inv;
  }
  return out;
}

export interface KnnOptions {
  k: number;
  temperature: number;
  numClasses: number;
}

export const KNN_DEFAULTS = { k: 20, temperature: 0.07 } as const;

/** The kNN prediction of every validation row. */
export function knnPredict(train: Features, trainLabels: ArrayLike<number>, val: Features, o: KnnOptions): Int32Array {
  if (train.dim !== val.dim) throw new RangeError(`train features have ${train.dim} channels, validation ${val.dim}`);
  if (train.count < 1) throw new RangeError('kNN needs at least one training image');
  if (!(o.k >= 1 && Number.isInteger(o.k))) throw new RangeError(`k ${o.k} must be a positive integer`);
  if (!(o.temperature > 0)) throw new RangeError(`temperature ${o.temperature} must be > 0`);
  const k = Math.min(o.k, train.count);
  const a = normalised(train);
  const b = normalised(val);
  const d = train.dim;
  const out = new Int32Array(val.count);
  const sims = new Float64Array(train.count);
  const order = new Int32Array(train.count);
  for (let v = 0; v < val.count; v++) {
    for (let t = 0; t < train.count; t++) {
      let s = 0;
      for (let j = 0; j < d; j++) s += a[t * d + j]! * b[v * d + j]!;
      sims[t] = s;
      order[t] = t;
    }
    const top = Array.from(order).sort((x, y) => sims[y]! - sims[x]! || x - y).slice(0, k);
    const votes = new Float64Array(o.numClasses);
    for (const t of top) votes[trainLabels[t]!]! += Math.exp(sims[t]! / o.temperature);
    let best = 0;
    for (let c = 1; c < o.numClasses; c++) if (votes[c]! > votes[best]!) best = c;
    out[v] = best;
  }
  return out;
}

export interface LinearProbeOptions {
  numClasses: number;
  epochs: number;
  /** Peak learning rate of the cosine schedule (epoch e runs at lr·(1 + cos(π·e/epochs))/2). */
  lr: number;
  momentum: number;
}

export const LINEAR_PROBE_DEFAULTS = { epochs: 100, lr: 0.1, momentum: 0.9 } as const;

export interface LinearProbe {
  dim: number;
  numClasses: number;
  runningMean: Float64Array;
  runningVar: Float64Array;
  /** (K, dim) */
  weight: Float64Array;
  bias: Float64Array;
  /** Training loss of every epoch (before its update). */
  losses: number[];
}

const BN_EPS = 1e-6;
const BN_MOMENTUM = 0.1;

/** Cross-entropy of logits row `z` (K) against class y, and its softmax into `p`. */
function softmaxLoss(z: Float64Array, y: number, p: Float64Array): number {
  let m = -Infinity;
  for (const v of z) m = Math.max(m, v);
  let sum = 0;
  for (let c = 0; c < z.length; c++) sum += (p[c] = Math.exp(z[c]! - m));
  for (let c = 0; c < z.length; c++) p[c]! /= sum;
  return -(z[y]! - m - Math.log(sum));
}

export function trainLinearProbe(train: Features, labels: ArrayLike<number>, o: LinearProbeOptions): LinearProbe {
  const { count: n, dim: d } = train;
  const K = o.numClasses;
  if (n < 2) throw new RangeError('a linear probe needs at least two training images (BatchNorm statistics)');
  // batch statistics of the full training set: the same every epoch
  const mean = new Float64Array(d);
  const varB = new Float64Array(d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) mean[j]! += train.data[i * d + j]! / n;
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) varB[j]! += (train.data[i * d + j]! - mean[j]!) ** 2 / n;
  const xh = new Float64Array(n * d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) xh[i * d + j] = (train.data[i * d + j]! - mean[j]!) / Math.sqrt(varB[j]! + BN_EPS);
  const probe: LinearProbe = { dim: d, numClasses: K, runningMean: new Float64Array(d), runningVar: new Float64Array(d).fill(1), weight: new Float64Array(K * d), bias: new Float64Array(K), losses: [] };
  const bufW = new Float64Array(K * d);
  const bufB = new Float64Array(K);
  const z = new Float64Array(K);
  const p = new Float64Array(K);
  for (let e = 0; e < o.epochs; e++) {
    // BatchNorm's running statistics move once per forward in training mode
    for (let j = 0; j < d; j++) {
      probe.runningMean[j] = (1 - BN_MOMENTUM) * probe.runningMean[j]! + BN_MOMENTUM * mean[j]!;
      probe.runningVar[j] = (1 - BN_MOMENTUM) * probe.runningVar[j]! + BN_MOMENTUM * varB[j]! * (n / (n - 1));
    }
    const gW = new Float64Array(K * d);
    const gB = new Float64Array(K);
    let loss = 0;
    for (let i = 0; i < n; i++) {
      for (let c = 0; c < K; c++) {
        let s = probe.bias[c]!;
        for (let j = 0; j < d; j++) s += probe.weight[c * d + j]! * xh[i * d + j]!;
        z[c] = s;
      }
      const y = labels[i]!;
      loss += softmaxLoss(z, y, p) / n;
      for (let c = 0; c < K; c++) {
        const g = (p[c]! - (c === y ? 1 : 0)) / n;
        gB[c]! += g;
        for (let j = 0; j < d; j++) gW[c * d + j]! += g * xh[i * d + j]!;
      }
    }
    probe.losses.push(loss);
    const lr = (o.lr * (1 + Math.cos((Math.PI * e) / o.epochs))) / 2;
    for (let q = 0; q < K * d; q++) {
      bufW[q] = o.momentum * bufW[q]! + gW[q]!;
      probe.weight[q]! -= lr * bufW[q]!;
    }
    for (let c = 0; c < K; c++) {
      bufB[c] = o.momentum * bufB[c]! + gB[c]!;
      probe.bias[c]! -= lr * bufB[c]!;
    }
  }
  return probe;
}

/** (count, K) logits of the probe in evaluation mode (running statistics). */
export function linearProbeLogits(probe: LinearProbe, f: Features): Float64Array {
  const { dim: d, numClasses: K } = probe;
  if (f.dim !== d) throw new RangeError(`features have ${f.dim} channels, the probe ${d}`);
  const out = new Float64Array(f.count * K);
  for (let i = 0; i < f.count; i++) {
    for (let c = 0; c < K; c++) {
      let s = probe.bias[c]!;
      for (let j = 0; j < d; j++) s += probe.weight[c * d + j]! * ((f.data[i * d + j]! - probe.runningMean[j]!) / Math.sqrt(probe.runningVar[j]! + BN_EPS));
      out[i * K + c] = s;
    }
  }
  return out;
}
