// GRN kernels (shaders/grn-*.wgsl via src/ops/grn.ts) against the float64 reference: both
// modes, N = 1 and 3, C = 1, 3, 40, 67, 160, rows per sample 1, 7, 64 and 3000 (multi-chunk
// reductions), random non-zero gamma/beta and gamma = beta = 0, all-zero channels (finite
// gradients), accumulating parameter gradients, every statistics plan (fused, per-group pass
// from the rows, partial sums first) forced where another is the default, the fused kernels in
// all three variants (software serial, GPU with and without subgroups, all on SwiftShader),
// GELU's backward fused into the backward's elementwise work, and shape errors.
import { describe, expect, it } from 'vitest';
import { grnBackward, grnForward, GrnShapeError, grnChunking, grnFromRows, grnPlan, type GrnMode, type GrnShape } from '../../../src/ops/grn.ts';
import { grnBackwardRef, grnForwardRef } from '../../../src/reference/grn.ts';
import { geluGrad } from '../../../src/reference/gelu.ts';
import type { GeluForm } from '../../../src/ops/gelu.ts';
import { Random } from '../../../src/util/random.ts';
import { expectAllClose } from '../../helpers/allclose.ts';
import { readF32, run, testArena, testEngine } from '../../helpers/gpu.ts';

interface Case {
  shape: GrnShape;
  /** gamma = beta = 0 (the init value) instead of random. */
  zeroParams?: boolean;
  /** (sample, channel) pairs zeroed over all rows of that sample. */
  zeroChannels?: [number, number][];
  /** dGamma/dBeta += onto random initial contents. */
  accumulate?: boolean;
  /** X = GELU(pre) in this form: GELU's backward fused, dX checked as gelu'(pre)·dX. */
  gelu?: GeluForm;
}

function expectFinite(a: Float32Array, label: string): void {
  const bad = a.findIndex((v) => !Number.isFinite(v));
  if (bad >= 0) throw new Error(`${label}: non-finite value ${a[bad]} at [${bad}]`);
}

async function check(c: Case, seed = 7): Promise<void> {
  const engine = await testEngine();
  const arena = testArena(engine);
  const { shape } = c;
  const { N, rowsPerSample: S, C } = shape;
  const rows = N * S;
  const groups = shape.mode === 'batch' ? 1 : N;
  const rng = new Random(seed);
  const x = rng.uniformArray(rows * C);
  for (const [n, ch] of c.zeroChannels ?? []) for (let s = 0; s < S; s++) x[(n * S + s) * C + ch] = 0;
  // Random, clearly non-zero gamma/beta: the zero init would hide every Nx-path bug.
  const gamma = c.zeroParams ? new Float32Array(C) : rng.uniformArray(C, 0.5, 1.5).map((v, i) => (i % 2 ? -v : v));
  const beta = c.zeroParams ? new Float32Array(C) : rng.uniformArray(C);
  const dY = rng.uniformArray(rows * C);
  const dGamma0 = c.accumulate ? rng.uniformArray(C) : new Float32Array(C);
  const dBeta0 = c.accumulate ? rng.uniformArray(C) : new Float32Array(C);
  // the GELU input (any values: X is random here, the fused pass only multiplies by gelu'(pre))
  const pre = c.gelu ? rng.uniformArray(rows * C, -3, 3) : null;

  const X = arena.fromData('x', x);
  const Gamma = arena.fromData('gamma', gamma);
  const Beta = arena.fromData('beta', beta);
  const Y = arena.f32('y', rows * C);
  const Norm = arena.f32('norm', groups * C);
  const Gnorm = arena.f32('gnorm', groups * C);
  const DY = arena.fromData('dY', dY);
  const DX = arena.f32('dX', rows * C);
  const DGamma = arena.fromData('dGamma', dGamma0);
  const DBeta = arena.fromData('dBeta', dBeta0);
  const forward = await grnForward(engine, arena, 'grn', { x: X, gamma: Gamma, beta: Beta, y: Y, norm: Norm, gnorm: Gnorm }, shape);
  const backward = await grnBackward(
    engine,
    arena,
    'grn-bwd',
    { x: X, gamma: Gamma, norm: Norm, gnorm: Gnorm, dY: DY, dX: DX, dGamma: DGamma, dBeta: DBeta, geluInput: pre ? arena.fromData('pre', pre) : undefined },
    { ...shape, accumulateParamGrads: c.accumulate, geluForm: c.gelu },
  );
  await run(engine, [...forward, ...backward]);
  const got = {
    y: await readF32(engine, Y, rows * C),
    norm: await readF32(engine, Norm, groups * C),
    gnorm: await readF32(engine, Gnorm, groups * C),
    dX: await readF32(engine, DX, rows * C),
    dGamma: await readF32(engine, DGamma, C),
    dBeta: await readF32(engine, DBeta, C),
  };
  arena.destroy();

  const want = grnForwardRef({ x, gamma, beta }, shape);
  const wantB = grnBackwardRef({ x, gamma, norm: want.norm, gnorm: want.gnorm, dY }, shape);
  const dGammaWant = wantB.dGamma.map((v, i) => v + dGamma0[i]!);
  const dBetaWant = wantB.dBeta.map((v, i) => v + dBeta0[i]!);
  if (pre && c.gelu) for (let i = 0; i < wantB.dX.length; i++) wantB.dX[i] = wantB.dX[i]! * geluGrad(pre[i]!, c.gelu);
  for (const [k, v] of Object.entries(got)) expectFinite(v, k);

  const name = JSON.stringify(c);
  // f32 sums of up to 9000 terms per group: relative error ~ eps·sqrt(terms) on G, P, Q
  // (seen: ≤ 4e-7 relative on G at 9000 and 25088 rows); 1e-5 leaves a wide margin.
  const rtol = 1e-5;
  // Elementwise outputs are O(1) (|X| ≤ 1, Nx ≈ 1 for uniform data, gamma, beta ≤ 1.5).
  const atol = 2e-6;
  expectAllClose(got.gnorm, want.gnorm, { atol, rtol, label: `gnorm ${name}`, shape: [groups, C] });
  expectAllClose(got.norm, want.norm, { atol, rtol, label: `norm ${name}`, shape: [groups, C] });
  expectAllClose(got.y, want.y, { atol, rtol, label: `y ${name}`, shape: [rows, C] });
  expectAllClose(got.dX, wantB.dX, { atol, rtol, label: `dX ${name}`, shape: [rows, C] });
  // dGamma/dBeta are sums over all rows of O(1) terms with random signs: magnitude and f32
  // error both grow like sqrt(rows) (seen: ≤ 1.1e-6·sqrt(rows) at 9000 and 25088 rows).
  const paramAtol = 4e-6 * Math.sqrt(rows);
  expectAllClose(got.dGamma, dGammaWant, { atol: paramAtol, rtol, label: `dGamma ${name}` });
  expectAllClose(got.dBeta, dBetaWant, { atol: paramAtol, rtol, label: `dBeta ${name}` });
}

const modes: GrnMode[] = ['per-sample', 'batch'];

describe('GRN kernels vs float64 reference', () => {
  for (const mode of modes) {
    for (const N of [1, 3]) {
      for (const rowsPerSample of [1, 7, 64]) {
        for (const C of [1, 3, 40, 67, 160]) {
          it(`${mode} N=${N} S=${rowsPerSample} C=${C}`, async () => {
            await check({ shape: { N, rowsPerSample, C, mode } });
          });
        }
      }
      // Long groups: many chunks per group (per-sample 3000 rows → 188 chunks of 16; batch
      // N=3 → 9000 rows → 250 chunks of 36), so the two-pass reduction is really exercised
      // (forced: on a software adapter 'auto' fuses the smaller of these).
      for (const C of [3, 67, 160]) {
        it(`${mode} N=${N} S=3000 C=${C}`, async () => {
          await check({ shape: { N, rowsPerSample: 3000, C, mode, stats: 'two-pass' } });
        });
      }
    }
    it(`${mode}: gamma = beta = 0 (the init) is the identity with dX = dY`, async () => {
      await check({ shape: { N: 3, rowsPerSample: 64, C: 67, mode }, zeroParams: true });
    });
    it(`${mode}: all-zero channel in one sample gives finite gradients`, async () => {
      await check({ shape: { N: 3, rowsPerSample: 64, C: 40, mode }, zeroChannels: [[1, 5]] });
    });
    it(`${mode}: channel zero in every sample (G = 0 in both modes)`, async () => {
      await check({ shape: { N: 3, rowsPerSample: 7, C: 40, mode }, zeroChannels: [[0, 9], [1, 9], [2, 9], [2, 0]] });
    });
    it(`${mode}: every channel zero in a sample (mean G = 0, D = eps)`, async () => {
      const zero: [number, number][] = Array.from({ length: 3 }, (_, ch) => [0, ch]);
      await check({ shape: { N: 2, rowsPerSample: 7, C: 3, mode }, zeroChannels: zero });
    });
    it(`${mode}: accumulateParamGrads adds onto dGamma/dBeta`, async () => {
      await check({ shape: { N: 3, rowsPerSample: 64, C: 40, mode }, accumulate: true });
    });
  }

  // GELU's backward fused into the elementwise pass (a block's GRN reads the GELU output)
  for (const gelu of ['erf', 'tanh'] as const) {
    it(`per-sample, GELU (${gelu}) backward fused: N=3 S=7 C=67`, async () => {
      await check({ shape: { N: 3, rowsPerSample: 7, C: 67, mode: 'per-sample' }, gelu });
    });
    it(`batch, GELU (${gelu}) backward fused, two-pass statistics: N=2 S=300 C=40`, async () => {
      await check({ shape: { N: 2, rowsPerSample: 300, C: 40, mode: 'batch', stats: 'two-pass' }, gelu, accumulate: true });
    });
  }

  // Both statistics plans on shapes where 'auto' would pick the other one.
  for (const mode of modes) {
    for (const [S, C] of [[7, 67], [64, 160], [1, 3]] as const) {
      it(`${mode} two-pass statistics forced on a small group: N=3 S=${S} C=${C}`, async () => {
        await check({ shape: { N: 3, rowsPerSample: S, C, mode, stats: 'two-pass' } });
      });
    }
    it(`${mode} statistics from the rows forced on a large group: N=2 S=300 C=67`, async () => {
      await check({ shape: { N: 2, rowsPerSample: 300, C: 67, mode, stats: 'from-rows' } });
    });
    it(`${mode} statistics from the rows, zero channel and accumulated parameter gradients`, async () => {
      await check({ shape: { N: 3, rowsPerSample: 7, C: 40, mode, stats: 'from-rows' }, zeroChannels: [[1, 5]], accumulate: true });
    });
  }

  // The fused kernels in every variant, whatever the adapter: the software plan's 4-lane
  // subgroup or 16-lane tree, the GPU plan's 256 lanes with the tree or with subgroups (C = 300
  // gives lanes two channels or more; the 1-row, 3-channel shape leaves most lanes idle).
  const variants: { name: string; plan: 'gpu' | 'software'; subgroups: boolean }[] = [
    { name: 'software, subgroups', plan: 'software', subgroups: true },
    { name: 'software, no subgroups', plan: 'software', subgroups: false },
    { name: 'gpu, no subgroups', plan: 'gpu', subgroups: false },
    { name: 'gpu, subgroups', plan: 'gpu', subgroups: true },
  ];
  for (const { name, plan, subgroups } of variants) {
    for (const mode of modes) {
      for (const [N, S, C] of [[3, 7, 67], [2, 64, 300], [1, 1, 3]] as const) {
        it(`fused (${name}) ${mode} N=${N} S=${S} C=${C}`, async () => {
          await check({ shape: { N, rowsPerSample: S, C, mode, stats: 'fused', plan, subgroups } });
        });
      }
      it(`fused (${name}) ${mode}: zero channels, accumulated parameter gradients`, async () => {
        await check({ shape: { N: 3, rowsPerSample: 7, C: 40, mode, stats: 'fused', plan, subgroups }, zeroChannels: [[1, 5], [0, 9], [1, 9], [2, 9]], accumulate: true });
      });
    }
    for (const gelu of ['erf', 'tanh'] as const) {
      for (const mode of modes) {
        it(`fused (${name}) ${mode}, GELU (${gelu}) backward fused: N=3 S=13 C=260`, async () => {
          await check({ shape: { N: 3, rowsPerSample: 13, C: 260, mode, stats: 'fused', plan, subgroups }, gelu });
        });
      }
    }
  }
  // The GPU plan's own mix at atto's first stage (96 px batch 2): fused forward, unfused backward
  // (whose D comes from another sum order than the forward's)
  it('gpu plan, auto: fused forward, per-group backward passes: N=2 S=192 C=160', async () => {
    await check({ shape: { N: 2, rowsPerSample: 192, C: 160, mode: 'per-sample', plan: 'gpu' }, gelu: 'erf' });
  });

  it('the device under test offers subgroups (else the subgroup variant above ran as the tree)', async () => {
    const engine = await testEngine();
    expect(engine.ctx.device.features.has('subgroups')).toBe(true);
  });

  it('the fused plan: by size and adapter, the variant by adapter and subgroups', () => {
    const atto = { N: 2, rowsPerSample: 192, C: 160, mode: 'per-sample' } as const; // atto stage 1 at 96 px batch 2
    expect(grnPlan(atto, true, true)).toEqual({ forward: 'fused', backward: 'fused', variant: 'one-subgroup', lanes: 4 });
    expect(grnPlan(atto, true, false)).toMatchObject({ variant: 'tree', lanes: 16 });
    // GPUs: 192 rows per lane fuse, the batch's 384 do not
    expect(grnPlan(atto, false, true)).toEqual({ forward: 'fused', backward: 'from-rows', variant: 'subgroups', lanes: 256 });
    expect(grnPlan({ ...atto, subgroups: false }, false, true)).toMatchObject({ variant: 'tree', lanes: 256 });
    expect(grnPlan(atto, false, false)).toMatchObject({ variant: 'tree', lanes: 256 });
    // the decoder there: 18 rows of 2048 channels, 8 per lane
    expect(grnPlan({ N: 2, rowsPerSample: 9, C: 2048, mode: 'per-sample' }, false, true)).toMatchObject({ forward: 'fused', backward: 'fused' });
    // 224 px batch 32 on a GPU, stage 1 (19 of 49 patches visible): the multi-workgroup path
    const big = { N: 32, rowsPerSample: 19 * 64, C: 160, mode: 'per-sample' } as const;
    expect(grnPlan(big, false, true)).toMatchObject({ forward: 'two-pass', backward: 'two-pass' });
    // stage 4 there: each sample fits one workgroup, the whole batch does not
    expect(grnPlan({ N: 32, rowsPerSample: 19, C: 1280, mode: 'per-sample' }, false, true)).toMatchObject({ forward: 'fused', backward: 'from-rows' });
    // a software adapter fuses up to its element bound
    expect(grnPlan({ N: 32, rowsPerSample: 19, C: 1280, mode: 'per-sample' }, true, true)).toMatchObject({ forward: 'fused', backward: 'from-rows' });
    expect(grnPlan({ ...atto, stats: 'two-pass' }, true, true)).toMatchObject({ forward: 'two-pass', backward: 'two-pass' });
  });

  it('the statistics plan: from the rows for small groups, two passes for large ones', () => {
    expect(grnFromRows({ N: 2, rowsPerSample: 192, C: 160, mode: 'per-sample' })).toBe(true);
    expect(grnFromRows({ N: 2, rowsPerSample: 192, C: 160, mode: 'batch' })).toBe(false); // 384 rows in the one group
    expect(grnFromRows({ N: 1, rowsPerSample: 3000, C: 3, mode: 'per-sample' })).toBe(false);
  });

  it('chunking of the test shapes really is multi-chunk', () => {
    expect(grnChunking(3000).chunks).toBeGreaterThan(100);
    expect(grnChunking(9000).chunks).toBeGreaterThan(200);
  });

  it('rejects a wrong shape or a too-small buffer, naming it', async () => {
    const engine = await testEngine();
    const arena = testArena(engine);
    const small = arena.f32('small', 10);
    const big = arena.f32('big', 1000);
    const io = { x: big, gamma: big, beta: big, y: big, norm: big, gnorm: small };
    await expect(grnForward(engine, arena, 'grn-err', io, { N: 2, rowsPerSample: 4, C: 8, mode: 'per-sample' })).rejects.toThrow(
      /buffer 'gnorm' holds 40 bytes, needs 64/,
    );
    await expect(grnForward(engine, arena, 'grn-err', io, { N: 2, rowsPerSample: 0, C: 8, mode: 'batch' })).rejects.toThrow(
      GrnShapeError,
    );
    arena.destroy();
  });
});
