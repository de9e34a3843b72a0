// Float64 reference for matmul.wgsl: same layouts and options, straightforward loops.
import type { GeluForm } from '../ops/gelu.ts';
import { gelu } from './gelu.ts';

export interface MatmulRefOptions {
  M: number;
  N: number;
  K: number;
  transA?: boolean;
  transB?: boolean;
  bias?: ArrayLike<number>;
  accumulateInto?: ArrayLike<number>;
  gelu?: GeluForm;
}

export function matmulRef(a: ArrayLike<number>, b: ArrayLike<number>, o: MatmulRefOptions): Float64Array {
  const { M, N, K } = o;
  const c = new Float64Array(M * N);
  for (let m = 0; m < M; m++) {
    for (let n = 0; n < N; n++) {
      let s = 0;
      for (let k = 0; k < K; k++) {
        const av = o.transA ? a[k * M + m]! : a[m * K + k]!;
        const bv = o.transB ? b[n * K + k]! : b[k * N + n]!;
        s += av * bv;
      }
      if (o.bias) s += o.bias[n]!;
      if (o.gelu) s = gelu(s, o.gelu);
      if (o.accumulateInto) s += o.accumulateInto[m * N + n]!;
      c[m * N + n] = s;
    }
  }
  return c;
}
