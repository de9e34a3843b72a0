// The float64 GELU reference (src/reference/gelu.ts) against PyTorch float64
// (F.gelu approximate='none' / 'tanh' and autograd; tests/reference/gen_gelu.py), and its
// derivative against central differences.
import { describe, it } from 'vitest';
import type { GeluForm } from '../../../src/ops/gelu.ts';
import { gelu, geluGrad } from '../../../src/reference/gelu.ts';
import { expectAllClose } from '../../helpers/allclose.ts';
import { loadFixture } from '../../helpers/fixtures.ts';

const FORMS: GeluForm[] = ['erf', 'tanh'];

describe('GELU reference vs PyTorch float64', () => {
  const fx = loadFixture('ops/gelu');
  const x = fx.get('x').data;
  const dY = fx.get('dY').data;
  for (const form of FORMS) {
    it(`${form}: y and dX = dY·gelu'(x)`, () => {
      const y = Float64Array.from(x, (v) => gelu(v, form));
      const dX = Float64Array.from(x, (v, i) => dY[i]! * geluGrad(v, form));
      // erf reference: ~1e-14 absolute (its header), times 0.5·|x| ≤ 15 (x reaches ±30): seen 7e-14.
      // tanh form uses Math.tanh: ~1e-16.
      expectAllClose(y, fx.get(`${form}/y`).data, { atol: 1e-13, rtol: 1e-13, label: `gelu ${form} y`, shape: [x.length] });
      expectAllClose(dX, fx.get(`${form}/dX`).data, { atol: 1e-13, rtol: 1e-13, label: `gelu ${form} dX`, shape: [x.length] });
    });
  }
});

describe('GELU reference derivative vs central differences', () => {
  for (const form of FORMS) {
    it(form, () => {
      const xs = Float64Array.from({ length: 161 }, (_, i) => -8 + i * 0.1 + 0.013);
      const h = 1e-5;
      const numeric = xs.map((v) => (gelu(v + h, form) - gelu(v - h, form)) / (2 * h));
      // Truncation h²·|gelu'''|/6 < 1e-10; rounding ~1e-16·|gelu|/h ≤ 1e-10.
      expectAllClose(xs.map((v) => geluGrad(v, form)), numeric, { atol: 1e-8, rtol: 0, label: `gelu ${form} grad` });
    });
  }
});
