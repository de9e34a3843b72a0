// FCMAE target and loss kernels (shaders/patchify.wgsl, shaders/fcmae-loss.wgsl) against
// the float64 reference (itself checked against PyTorch in
// tests/unit/reference/fcmae-loss.test.ts): target with and without normalised pixels,
// per-patch mean / unbiased variance, loss, per-sample losses and dPred, over square and
// non-square inputs, batch 1 and 2, mask ratios 0 (loss 0), 0.5 and 0.75; every case on both
// kernel plans (GPU plan with and without subgroup sums, software plan), the loss both
// with the loss as two dispatches (rows, reduce) and as one workgroup.
import { describe, expect, it } from 'vitest';
import { fcmaeLossBackward, fcmaeLossForward, maskedPatchRows, PATCH_VALUES, patchifyTarget, type LossKernelOptions } from '../../../src/ops/fcmae-loss.ts';
import { fcmaeLossRef, patchifyTargetRef } from '../../../src/reference/fcmae-loss.ts';
import { Random } from '../../../src/util/random.ts';
import { expectAllClose } from '../../helpers/allclose.ts';
import { readF32, run, testArena, testEngine } from '../../helpers/gpu.ts';
import { randomLayout } from '../../helpers/masks.ts';


interface Case {
  N: number;
  H: number;
  W: number;
  ratio: number;
  normPix: boolean;
}

async function check(c: Case, seed: number, kernels: LossKernelOptions): Promise<void> {
  const engine = await testEngine();
  if (kernels.subgroups && !engine.ctx.device.features.has('subgroups')) return; // nothing to check on this device
  const arena = testArena(engine);
  const rng = new Random(seed);
  const gridH = c.H / 32;
  const gridW = c.W / 32;
  const layout = randomLayout(rng, c.N, gridH, gridW, c.ratio);
  const { N, L } = layout;
  const M = L - layout.V;
  const NM = N * M;
  // ImageNet-normalised pixels lie in about [-2.1, 2.6]; a per-image offset moves patch means.
  const image = rng.uniformArray(N * 3 * c.H * c.W, -2.1, 2.6);
  const ref = patchifyTargetRef(image, N, gridH, gridW, c.normPix);
  const rows = maskedPatchRows(layout);
  const pred = rng.uniformArray(NM * PATCH_VALUES, -2, 2);

  const target = arena.f32('target', N * L * PATCH_VALUES);
  const mean = arena.f32('mean', N * L);
  const variance = arena.f32('variance', N * L);
  // The loss reads the reference target (rounded to f32) so that its check is independent
  // of the patchify kernel's rounding.
  const targetForLoss = arena.fromData('target-ref', Float32Array.from(ref.target));
  const predBuf = arena.fromData('pred', pred);
  const maskedRows = arena.fromData('masked-rows', rows.length ? rows : new Int32Array(1));
  const loss = arena.fromData('loss', Float32Array.of(123)); // must be overwritten
  const perSample = arena.fromData('per-sample', new Float32Array(N).fill(123));
  const dPred = arena.f32('dPred', Math.max(1, NM * PATCH_VALUES));
  const lossShape = { N, L, M, ...kernels };
  await run(engine, [
    ...(await patchifyTarget(engine, arena, 'target', { image: arena.fromData('image', image), target, mean, variance }, { N, height: c.H, width: c.W, normPix: c.normPix, ...kernels })),
    ...(await fcmaeLossForward(engine, arena, 'loss', { pred: predBuf, target: targetForLoss, maskedRows, loss, perSample }, lossShape)),
    ...(await fcmaeLossBackward(engine, arena, 'loss-bwd', { pred: predBuf, target: targetForLoss, maskedRows, dPred }, lossShape)),
  ]);
  const got = {
    target: await readF32(engine, target, N * L * PATCH_VALUES),
    mean: await readF32(engine, mean, N * L),
    variance: await readF32(engine, variance, N * L),
    loss: await readF32(engine, loss, 1),
    perSample: await readF32(engine, perSample, N),
    dPred: await readF32(engine, dPred, NM * PATCH_VALUES),
  };
  arena.destroy();

  const label = JSON.stringify({ ...c, ...kernels });
  // Workgroup tree sums of 3072 f32 values of size ≤ 2.6: ~1e-6 relative.
  expectAllClose(got.mean, ref.mean, { atol: 2e-6, rtol: 1e-5, label: `mean ${label}` });
  expectAllClose(got.variance, ref.variance, { atol: 2e-6, rtol: 1e-5, label: `variance ${label}` });
  // Normalised values ~ (x − mean)/0.8 inherit the mean / std errors: a few 1e-6.
  expectAllClose(got.target, ref.target, { atol: 1e-5, rtol: 1e-5, label: `target ${label}`, shape: [N * L, PATCH_VALUES] });

  const want = fcmaeLossRef(pred, Float32Array.from(ref.target), rows, N);
  // Loss ~ 2–4, summed in f32 over 3072·N·M squares: relative ~1e-6.
  expectAllClose(got.loss, [want.loss], { atol: 1e-6, rtol: 1e-5, label: `loss ${label}` });
  expectAllClose(got.perSample, want.sampleLoss, { atol: 1e-6, rtol: 1e-5, label: `per-sample loss ${label}` });
  // One f32 subtraction and multiply per element.
  expectAllClose(got.dPred, want.dPred, { atol: 1e-9, rtol: 1e-5, label: `dPred ${label}`, shape: [NM, PATCH_VALUES] });
  if (M === 0) expect(got.loss[0]).toBe(0);
}

const KERNELS: [string, LossKernelOptions][] = [
  ['gpu plan, tree sums', { plan: 'gpu', subgroups: false, oneWorkgroup: false }],
  ['gpu plan, tree sums, one-workgroup loss', { plan: 'gpu', subgroups: false, oneWorkgroup: true }],
  ['gpu plan, subgroup sums', { plan: 'gpu', subgroups: true, oneWorkgroup: false }],
  ['gpu plan, subgroup sums, one-workgroup loss', { plan: 'gpu', subgroups: true, oneWorkgroup: true }],
  ['software plan', { plan: 'software', oneWorkgroup: false }],
  ['software plan, one-workgroup loss', { plan: 'software', oneWorkgroup: true }],
];

describe('FCMAE target and loss kernels vs float64 reference', () => {
  const cases: Case[] = [
    { N: 1, H: 32, W: 32, ratio: 0, normPix: true },
    { N: 2, H: 64, W: 64, ratio: 0.5, normPix: true },
    { N: 1, H: 96, W: 96, ratio: 0.75, normPix: true },
    { N: 2, H: 64, W: 96, ratio: 0.75, normPix: true },
    { N: 2, H: 64, W: 96, ratio: 0.5, normPix: false },
    { N: 2, H: 96, W: 64, ratio: 0, normPix: false },
  ];
  for (const [name, kernels] of KERNELS) {
    cases.forEach((c, i) => {
      it(`${name}: N=${c.N} ${c.H}×${c.W} ratio=${c.ratio} normPix=${c.normPix}`, async () => {
        await check(c, 300 + i, kernels);
      });
    });
  }
});
