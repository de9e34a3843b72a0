// gelu.wgsl against the float64 reference: both forms, forward and backward (plus accumulate),
// scalar and vec4 entry points, and the accuracy of the f32 exact-GELU (its erf is the
// Abramowitz–Stegun 7.1.26 approximation) on a dense grid over [-8, 8].
import { describe, expect, it } from 'vitest';
import { geluBackward, geluForward, type GeluForm } from '../../../src/ops/gelu.ts';
import { gelu, geluGrad } from '../../../src/reference/gelu.ts';
import { Random } from '../../../src/util/random.ts';
import { compareClose, expectAllClose } from '../../helpers/allclose.ts';
import { readF32, run, testArena, testEngine } from '../../helpers/gpu.ts';

const FORMS: GeluForm[] = ['erf', 'tanh'];
// |f32 GELU − float64 GELU| over |x| ≤ 8: erf approximation error 1.5e-7 × 0.5·|x| ≤ 6e-7, plus
// f32 rounding of 0.5·x·(1 + erf) near |x| = 8 (ulp(8) ≈ 1e-6); same order for the derivative.
const GELU_ATOL = 2e-6;

async function runGelu(x: Float32Array, dY: Float32Array, dX0: Float32Array | null, form: GeluForm) {
  const engine = await testEngine();
  const arena = testArena(engine);
  const count = x.length;
  const X = arena.fromData('x', x);
  const Y = arena.f32('y', count);
  const dX = dX0 ? arena.fromData('dX', dX0) : arena.fromData('dX', new Float32Array(count).fill(77));
  const dispatches = [
    ...(await geluForward(engine, arena, 'gelu', { x: X, y: Y }, { count, form })),
    ...(await geluBackward(engine, arena, 'gelu.back', { x: X, dY: arena.fromData('dY', dY), dX }, { count, form, accumulate: dX0 !== null })),
  ];
  await run(engine, dispatches);
  const out = { y: await readF32(engine, Y, count), dX: await readF32(engine, dX, count) };
  arena.destroy();
  return out;
}

describe('gelu kernels vs float64 reference', () => {
  // 1 and 7: scalar path; 1024: vec4 path; 1027: scalar with a partial last workgroup; 4100: vec4, partial.
  for (const form of FORMS) {
    for (const count of [1, 7, 1024, 1027, 4100]) {
      for (const acc of [false, true]) {
        it(`${form} count=${count}${acc ? ' accumulate' : ''}`, async () => {
          const rng = new Random(count + (acc ? 1 : 0));
          const x = rng.uniformArray(count, -6, 6);
          const dY = rng.uniformArray(count);
          const dX0 = acc ? rng.uniformArray(count) : null;
          const got = await runGelu(x, dY, dX0, form);
          const label = `gelu ${form} count=${count}`;
          expectAllClose(got.y, Array.from(x, (v) => gelu(v, form)), { atol: GELU_ATOL, rtol: 0, label: `${label}: y` });
          const want = Array.from(x, (v, i) => dY[i]! * geluGrad(v, form) + (dX0 ? dX0[i]! : 0));
          // |dY| ≤ 1 keeps the derivative's error within GELU_ATOL; accumulate adds one rounding of |dX| ≤ 2.2.
          expectAllClose(got.dX, want, { atol: GELU_ATOL + 3e-7, rtol: 0, label: `${label}: dX` });
        });
      }
    }
  }
});

describe('f32 GELU accuracy over [-8, 8]', () => {
  for (const form of FORMS) {
    for (const count of [16384, 16385]) {
      it(`${form}: every x = -8 + k/1024 (${count % 4 === 0 ? 'vec4' : 'scalar'} path) within ${GELU_ATOL} of float64`, async () => {
        const x = Float32Array.from({ length: count }, (_, k) => -8 + k / 1024); // exact in f32
        const got = await runGelu(x, new Float32Array(count).fill(1), null, form);
        const y = compareClose(got.y, Array.from(x, (v) => gelu(v, form)), { atol: GELU_ATOL, rtol: 0, label: `gelu ${form} y` });
        const d = compareClose(got.dX, Array.from(x, (v) => geluGrad(v, form)), { atol: GELU_ATOL, rtol: 0, label: `gelu ${form} gelu'` });
        console.log(`GELU ${form} f32 vs f64 over [-8, 8]: max |Δy| ${y.maxDiff.toExponential(2)}, max |Δgelu'| ${d.maxDiff.toExponential(2)}`);
        expect(y.ok, y.message).toBe(true);
        expect(d.ok, d.message).toBe(true);
      });
    }
  }
});

describe('gelu op arguments', () => {
  it('rejects an unknown form and an undersized buffer by name', async () => {
    const engine = await testEngine();
    const arena = testArena(engine);
    const b = arena.f32('b', 8);
    await expect(geluForward(engine, arena, 'g', { x: b, y: b }, { count: 8, form: 'fast' as GeluForm })).rejects.toThrow(/unknown GELU form 'fast'/);
    await expect(geluBackward(engine, arena, 'g', { x: b, dY: arena.f32('small', 4), dX: b }, { count: 8, form: 'erf' })).rejects.toThrow(
      /g: buffer 'dY' holds 4 floats, needs 8/,
    );
    arena.destroy();
  });
});
