// The official MinkowskiEngine pretraining checkpoints' kernel layout: a convolution kernel is
// (k·k, in, out), the depthwise one (k·k, C), and the k·k index runs over the first spatial axis
// fastest (index x·k + y), unlike PyTorch's row-major (out, in, k, k). Conversions both ways.

/** Sparse (k·k, in, out) kernel → dense (out, in, k, k): W[o,i,y,x] = K[x·k + y, i, o]. */
export function sparseConvToDense(K: Float32Array, k: number, inC: number, outC: number): Float32Array {
  const W = new Float32Array(outC * inC * k * k); // (out, in, k, k)
  for (let o = 0; o < outC; o++)
    for (let i = 0; i < inC; i++)
      for (let y = 0; y < k; y++)
        for (let x = 0; x < k; x++) W[((o * inC + i) * k + y) * k + x] = K[((x * k + y) * inC + i) * outC + o]!;
  return W;
}

/** Dense (out, in, k, k) → sparse (k·k, in, out), the inverse of sparseConvToDense. */
export function denseConvToSparse(W: Float32Array, k: number, inC: number, outC: number): Float32Array {
  const K = new Float32Array(k * k * inC * outC); // (k·k, in, out)
  for (let o = 0; o < outC; o++)
    for (let i = 0; i < inC; i++)
      for (let y = 0; y < k; y++)
        for (let x = 0; x < k; x++) K[((x * k + y) * inC + i) * outC + o] = W[((o * inC + i) * k + y) * k + x]!;
  return K;
}

/** Sparse depthwise (k·k, C) → dense (C, 1, k, k): W[c,0,y,x] = K[x·k + y, c]. */
export function sparseDwconvToDense(K: Float32Array, k: number, C: number): Float32Array {
  const W = new Float32Array(C * k * k); // (C, 1, k, k)
  for (let c = 0; c < C; c++) for (let y = 0; y < k; y++) for (let x = 0; x < k; x++) W[(c * k + y) * k + x] = K[(x * k + y) * C + c]!;
  return W;
}

/** Dense (C, 1, k, k) → sparse depthwise (k·k, C). */
export function denseDwconvToSparse(W: Float32Array, k: number, C: number): Float32Array {
  const K = new Float32Array(k * k * C); // (k·k, C)
  for (let c = 0; c < C; c++) for (let y = 0; y < k; y++) for (let x = 0; x < k; x++) K[(x * k + y) * C + c] = W[(c * k + y) * k + x]!;
  return K;
}
