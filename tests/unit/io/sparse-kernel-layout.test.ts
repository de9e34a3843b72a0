// The official sparse kernel layout: the kernel index runs over the first spatial axis fastest,
// and the conversions to PyTorch's dense layout and back are exact inverses.
import { describe, expect, it } from 'vitest';
import { denseConvToSparse, denseDwconvToSparse, sparseConvToDense, sparseDwconvToDense } from '../../../src/io/sparse-kernel-layout.ts';

describe('official sparse kernel layout', () => {
  it('dense W[o,i,y,x] = K[x·k + y, i, o] (first spatial axis fastest)', () => {
    const k = 2;
    const inC = 3;
    const outC = 5;
    const K = Float32Array.from({ length: k * k * inC * outC }, (_, j) => j);
    const W = sparseConvToDense(K, k, inC, outC);
    for (const [o, i, y, x] of [
      [0, 0, 0, 1],
      [4, 2, 1, 0],
      [3, 1, 1, 1],
    ] as const) {
      expect(W[((o * inC + i) * k + y) * k + x]).toBe(K[((x * k + y) * inC + i) * outC + o]);
    }
    // (y=0, x=1) is kernel index 2, not 1
    expect(W[1]).toBe(K[2 * inC * outC]);
    expect([...denseConvToSparse(W, k, inC, outC)]).toEqual([...K]);
    const Kd = Float32Array.from({ length: 49 * 4 }, (_, j) => j);
    const Wd = sparseDwconvToDense(Kd, 7, 4);
    expect(Wd[(2 * 7 + 0) * 7 + 1]).toBe(Kd[(1 * 7 + 0) * 4 + 2]); // c=2, y=0, x=1
    expect([...denseDwconvToSparse(Wd, 7, 4)]).toEqual([...Kd]);
  });
});
