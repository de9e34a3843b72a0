// Decoder input fill (shaders/mask-token.wgsl, src/ops/mask-token.ts) against the float64
// reference: X on the dense grid, dP at visible patches, dMaskToken summed over masked
// rows (GPU plan: partials + column sum when N·L > 256, one pass below; software plan: one
// barrier-free pass), mask ratios 0 / 0.5 / 0.75, every case on both plans.
import { describe, it } from 'vitest';
import { maskTokenFillBackward, maskTokenFillForward } from '../../../src/ops/mask-token.ts';
import type { KernelPlan } from '../../../src/ops/kernel-plan.ts';
import { maskTokenFillBackwardRef, maskTokenFillForwardRef } from '../../../src/reference/mask-token.ts';
import { Random } from '../../../src/util/random.ts';
import { expectAllClose } from '../../helpers/allclose.ts';
import { readF32, run, testArena, testEngine } from '../../helpers/gpu.ts';
import { randomLayout } from '../../helpers/masks.ts';


interface Case {
  N: number;
  gridH: number;
  gridW: number;
  ratio: number;
  D: number;
  accumulate?: boolean;
}

async function check(c: Case, seed: number, plan: KernelPlan): Promise<void> {
  const engine = await testEngine();
  const arena = testArena(engine);
  const rng = new Random(seed);
  const layout = randomLayout(rng, c.N, c.gridH, c.gridW, c.ratio);
  const { N, L, V } = layout;
  const D = c.D;
  const P = rng.uniformArray(N * V * D);
  const token = rng.uniformArray(D);
  const dX = rng.uniformArray(N * L * D);
  const dMaskToken0 = c.accumulate ? rng.uniformArray(D) : new Float32Array(D);

  const X = arena.f32('X', N * L * D);
  const dP = arena.f32('dP', N * V * D);
  const dMaskToken = arena.fromData('dMaskToken', dMaskToken0);
  const patchToVisible = arena.fromData('p2v', layout.patchToVisible);
  const visiblePatches = arena.fromData('visible', layout.visiblePatches);
  const shape = { N, L, V, D };
  await run(engine, [
    ...(await maskTokenFillForward(engine, arena, 'fill', { P: arena.fromData('P', P), maskToken: arena.fromData('token', token), patchToVisible, X }, shape)),
    ...(await maskTokenFillBackward(engine, arena, 'fill-bwd', { dX: arena.fromData('dX', dX), visiblePatches, patchToVisible, dP, dMaskToken }, { ...shape, accumulate: c.accumulate, plan })),
  ]);
  const gotX = await readF32(engine, X, N * L * D);
  const gotDP = await readF32(engine, dP, N * V * D);
  const gotToken = await readF32(engine, dMaskToken, D);
  arena.destroy();

  const label = JSON.stringify({ ...c, plan });
  // Placement and copies: exact.
  expectAllClose(gotX, maskTokenFillForwardRef(P, token, layout, D), { atol: 0, rtol: 0, label: `X ${label}`, shape: [N * L, D] });
  const g = maskTokenFillBackwardRef(dX, layout, D);
  expectAllClose(gotDP, g.dP, { atol: 0, rtol: 0, label: `dP ${label}`, shape: [N * V, D] });
  const want = c.accumulate ? g.dMaskToken.map((v, i) => v + dMaskToken0[i]!) : g.dMaskToken;
  // f32 tree sum over ≤ N·L rows of values in [-1, 1].
  expectAllClose(gotToken, want, { atol: 2e-6 * Math.sqrt(N * L) * 4, rtol: 1e-5, label: `dMaskToken ${label}` });
}

describe('mask-token fill kernels vs float64 reference', () => {
  const cases: Case[] = [
    { N: 1, gridH: 1, gridW: 1, ratio: 0, D: 8 },
    { N: 2, gridH: 2, gridW: 2, ratio: 0.5, D: 40 },
    { N: 1, gridH: 3, gridW: 3, ratio: 0.75, D: 512 },
    { N: 2, gridH: 2, gridW: 3, ratio: 0, D: 33 },
    { N: 2, gridH: 2, gridW: 3, ratio: 0.75, D: 64, accumulate: true },
    // 288 dense rows: two partial chunks for dMaskToken
    { N: 2, gridH: 12, gridW: 12, ratio: 0.5, D: 37, accumulate: true },
  ];
  for (const plan of ['gpu', 'software'] as const) {
    cases.forEach((c, i) => {
      it(`${plan} plan: N=${c.N} grid ${c.gridH}×${c.gridW} ratio=${c.ratio} D=${c.D}${c.accumulate ? ' accumulate' : ''}`, async () => {
        await check(c, 200 + i, plan);
      });
    });
  }
});
