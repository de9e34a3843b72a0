// The float64 EMA reference (src/reference/ema.ts): the endpoints decay 0 and 1, and k steps
// toward fixed parameters against the closed form ema_k = p + decay^k·(ema_0 − p).
import { describe, expect, it } from 'vitest';
import { emaUpdateRef } from '../../../src/reference/ema.ts';
import { expectAllClose } from '../../helpers/allclose.ts';

describe('EMA reference', () => {
  it('decay 0 copies the parameters, decay 1 keeps the average', () => {
    expect([...emaUpdateRef(Float64Array.of(1, 2), [5, -5], 0)]).toEqual([5, -5]);
    expect([...emaUpdateRef(Float64Array.of(1, 2), [5, -5], 1)]).toEqual([1, 2]);
  });

  it('k steps toward fixed parameters follow the closed form', () => {
    const ema0 = [1, -2, 0.5];
    const p = [3, 4, -1];
    const decay = 0.9;
    const ema = Float64Array.from(ema0);
    for (let k = 0; k < 10; k++) emaUpdateRef(ema, p, decay);
    const want = p.map((pi, i) => pi + decay ** 10 * (ema0[i]! - pi));
    expectAllClose(ema, want, { atol: 1e-14, rtol: 1e-14, label: 'ema after 10 steps' });
  });

  it('rejects mismatched lengths', () => {
    expect(() => emaUpdateRef(new Float64Array(2), [1], 0.5)).toThrow(/ema has 2 values, params 1/);
  });
});
