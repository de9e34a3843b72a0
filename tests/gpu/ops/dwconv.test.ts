// dwconv kernels (shaders/dwconv-kernels.wgsl via src/ops/dwconv.ts) against the float64
// reference: forward, dX (overwrite and +=), dWeight/dBias (overwrite and +=), the three kernel
// families ('auto' under both plans: its GPU choice and the software plan's serial one, which
// every case also runs), r = 1/2/4/8, scalar and vec4 channels, dense / sparse masks, isolated patches,
// border patches, non-square grids; plus the sparsity claim (work and memory ∝ visible rows).
import { describe, expect, it } from 'vitest';
import type { Dispatch } from '../../../src/gpu/dispatch.ts';
import { dwconvBackward, dwconvFlops, dwconvForward, dwconvLayerNormForward, DwconvShapeError, type DwconvKernel } from '../../../src/ops/dwconv.ts';
import { layerNormForwardRef } from '../../../src/reference/layernorm.ts';
import { layoutFromMask, type MaskLayout } from '../../../src/ops/sparse-layout.ts';
import { dwconvBackwardRef, dwconvForwardRef } from '../../../src/reference/dwconv.ts';
import { Random } from '../../../src/util/random.ts';
import { expectAllClose } from '../../helpers/allclose.ts';
import { readF32, run, testArena, testEngine } from '../../helpers/gpu.ts';

interface Case {
  name: string;
  N: number;
  gridH: number;
  gridW: number;
  r: number;
  C: number;
  /** Visible patches of each sample (same count); omitted = every patch visible. */
  visible?: number[][];
  /** Random visible sets of this size per sample (when `visible` is omitted). */
  V?: number;
  kernels: DwconvKernel[];
  accumulateDX?: boolean;
  accumulateParams?: boolean;
}

/** (N, L) mask with the given visible patches per sample, or V random ones. */
function buildMask(c: Case, rng: Random): number[] {
  const L = c.gridH * c.gridW;
  const lists: number[][] = [];
  for (let n = 0; n < c.N; n++) {
    const given = c.visible?.[n];
    if (given) lists.push(given);
    else {
      const order = Array.from({ length: L }, (_, i) => i);
      for (let i = L - 1; i > 0; i--) {
        const j = rng.int(i + 1);
        [order[i], order[j]] = [order[j]!, order[i]!];
      }
      lists.push(order.slice(0, c.V ?? L));
    }
  }
  const mask = new Array<number>(c.N * L).fill(1);
  lists.forEach((list, n) => list.forEach((p) => (mask[n * L + p] = 0)));
  return mask;
}

async function check(c: Case, kernel: DwconvKernel, plan: 'gpu' | 'software', seed = 7): Promise<void> {
  const engine = await testEngine();
  const arena = testArena(engine);
  const rng = new Random(seed);
  const layout: MaskLayout = layoutFromMask(buildMask(c, rng), c.N, c.gridH, c.gridW);
  const { N, V } = layout;
  const { r, C } = c;
  const rows = N * V * r * r;
  const x = rng.uniformArray(rows * C); // (rows, C)
  const weight = rng.uniformArray(49 * C); // (49, C)
  const bias = rng.uniformArray(C); // (C)
  const dY = rng.uniformArray(rows * C); // (rows, C)
  const dX0 = c.accumulateDX ? rng.uniformArray(rows * C) : new Float32Array(rows * C);
  const dW0 = c.accumulateParams ? rng.uniformArray(49 * C) : new Float32Array(49 * C);
  const dB0 = c.accumulateParams ? rng.uniformArray(C) : new Float32Array(C);

  const tables = {
    patchToVisible: arena.fromData('p2v', layout.patchToVisible),
    visiblePatches: arena.fromData('vis', layout.visiblePatches),
  };
  const X = arena.fromData('x', x);
  const Wt = arena.fromData('w', weight);
  const Y = arena.f32('y', rows * C);
  const dXBuf = arena.fromData('dX', dX0);
  const dWBuf = arena.fromData('dW', dW0);
  const dBBuf = arena.fromData('dB', dB0);
  const shape = { N, V, gridH: c.gridH, gridW: c.gridW, r, C, kernel, plan };
  const dispatches: Dispatch[] = [
    ...(await dwconvForward(engine, arena, 'dw', { x: X, weight: Wt, bias: arena.fromData('b', bias), y: Y, ...tables }, shape)),
    ...(await dwconvBackward(
      engine,
      arena,
      'dw-back',
      { x: X, weight: Wt, dY: arena.fromData('dY', dY), dX: dXBuf, dWeight: dWBuf, dBias: dBBuf, ...tables },
      { ...shape, accumulateDX: c.accumulateDX, accumulateParams: c.accumulateParams },
    )),
  ];
  await run(engine, dispatches);
  const [y, dX, dW, dB] = [
    await readF32(engine, Y, rows * C),
    await readF32(engine, dXBuf, rows * C),
    await readF32(engine, dWBuf, 49 * C),
    await readF32(engine, dBBuf, C),
  ];
  arena.destroy();

  const yRef = dwconvForwardRef(x, weight, bias, layout, r, C);
  const g = dwconvBackwardRef(x, weight, dY, layout, r, C);
  const add = (a: Float64Array, b: Float32Array): Float64Array => a.map((v, i) => v + b[i]!);
  const tag = `${c.name} [${kernel === 'auto' ? `auto, ${plan} plan` : kernel}]`;
  // ≤ 49 products of values in [-1, 1] summed in f32 (fma): error ~ sqrt(49)·eps·|terms|.
  const convTol = { atol: 1e-5, rtol: 1e-5 };
  expectAllClose(y, yRef, { ...convTol, label: `${tag} y`, shape: [rows, C] });
  expectAllClose(dX, add(g.dX, dX0), { ...convTol, label: `${tag} dX`, shape: [rows, C] });
  // Sums over all rows of products in [-1, 1] (partials then a reduce): f32 error grows ~ sqrt(rows).
  const sumTol = { atol: 4e-6 * Math.sqrt(rows) * 4, rtol: 1e-5 };
  expectAllClose(dW, add(g.dWeight, dW0), { ...sumTol, label: `${tag} dWeight`, shape: [49, C] });
  expectAllClose(dB, add(g.dBias, dB0), { ...sumTol, label: `${tag} dBias`, shape: [C] });
}

const cases: Case[] = [
  { name: 'r=8 dense 2×2, C=3, N=1', N: 1, gridH: 2, gridW: 2, r: 8, C: 3, kernels: ['tiled', 'direct'] },
  {
    // sample 0: four isolated patches (corners/border, all 8 neighbours masked);
    // sample 1: a 2×2 block in the middle; sample 2: random. Ratio 0.75, 3 dWeight chunks.
    name: 'r=8 4×4 ratio 0.75, C=40, N=3',
    N: 3,
    gridH: 4,
    gridW: 4,
    r: 8,
    C: 40,
    visible: [[0, 2, 8, 10], [5, 6, 9, 10]],
    V: 4,
    kernels: ['tiled', 'direct'],
  },
  {
    // N·V = 9 patches: the last dWeight chunk is partial (4 patches per chunk at r = 8).
    name: 'r=8 2×3 ratio 0.5, C=8, N=3, accumulate',
    N: 3,
    gridH: 2,
    gridW: 3,
    r: 8,
    C: 8,
    V: 3,
    kernels: ['tiled'],
    accumulateDX: true,
    accumulateParams: true,
  },
  { name: 'r=4 2×5 ratio 0.6, C=5, N=3', N: 3, gridH: 2, gridW: 5, r: 4, C: 5, V: 4, kernels: ['tiled', 'direct'] },
  { name: 'r=4 dense 2×3 (non-square), C=67, N=1', N: 1, gridH: 2, gridW: 3, r: 4, C: 67, kernels: ['auto'] },
  { name: 'r=2 5×2 ratio 0.6, C=67, N=1', N: 1, gridH: 5, gridW: 2, r: 2, C: 67, V: 4, kernels: ['direct', 'tiled'] },
  { name: 'r=2 2×5 ratio 0.9, C=40, N=3', N: 3, gridH: 2, gridW: 5, r: 2, C: 40, V: 1, kernels: ['auto'] },
  { name: 'r=1 decoder grid 7×7, C=1, N=3', N: 3, gridH: 7, gridW: 7, r: 1, C: 1, kernels: ['auto'] },
  {
    name: 'r=1 2×5 ratio 0.9 (lone visible patch), C=40, N=3',
    N: 3,
    gridH: 2,
    gridW: 5,
    r: 1,
    C: 40,
    visible: [[0], [7], [4]],
    kernels: ['direct'],
  },
  {
    name: 'r=1 decoder grid 2×2, C=16, N=3, accumulate',
    N: 3,
    gridH: 2,
    gridW: 2,
    r: 1,
    C: 16,
    kernels: ['auto'],
    accumulateDX: true,
    accumulateParams: true,
  },
  { name: 'r=1 sparse 3×3 ratio 0.67, C=5, N=1', N: 1, gridH: 3, gridW: 3, r: 1, C: 5, V: 3, kernels: ['auto', 'tiled'] },
  // 1152 rows: the serial family's dWeight takes two chunks (partials + reduce).
  { name: 'r=8 dense 3×3, C=8, N=2, accumulate', N: 2, gridH: 3, gridW: 3, r: 8, C: 8, kernels: ['serial'], accumulateDX: true, accumulateParams: true },
  { name: 'r=8 3×3 ratio 0.33, C=5, N=7', N: 7, gridH: 3, gridW: 3, r: 8, C: 5, V: 3, kernels: ['serial'] },
];

describe('dwconv kernels vs float64 reference', () => {
  for (const c of cases) {
    const runs: [DwconvKernel, 'gpu' | 'software'][] = c.kernels.map((k) => [k, 'gpu']);
    if (c.kernels.includes('auto') || !c.kernels.includes('serial')) runs.push(['auto', 'software']);
    for (const [kernel, plan] of runs) {
      it(`${c.name} [${kernel === 'auto' ? `auto, ${plan} plan` : kernel}]`, async () => {
        await check(c, kernel, plan);
      });
    }
  }
});

describe('dwconv followed by the LayerNorm of its output (one dispatch on the software plan)', () => {
  const lnCases: [string, Case][] = [
    ['r=8 4×4 ratio 0.75, C=40 (vec4)', { name: '', N: 3, gridH: 4, gridW: 4, r: 8, C: 40, V: 4, kernels: [] }],
    ['r=2 5×2 ratio 0.6, C=67', { name: '', N: 1, gridH: 5, gridW: 2, r: 2, C: 67, V: 4, kernels: [] }],
    ['r=1 3×3 ratio 0.67, C=5, N=2', { name: '', N: 2, gridH: 3, gridW: 3, r: 1, C: 5, V: 3, kernels: [] }],
  ];
  for (const [name, c] of lnCases) {
    for (const plan of ['software', 'gpu'] as const) {
      it(`${name} [${plan} plan]`, async () => {
        const engine = await testEngine();
        const arena = testArena(engine);
        const rng = new Random(11);
        const layout = layoutFromMask(buildMask(c, rng), c.N, c.gridH, c.gridW);
        const { r, C } = c;
        const rows = layout.N * layout.V * r * r;
        const [x, weight, bias, lnW, lnB] = [rows * C, 49 * C, C, C, C].map((n) => rng.uniformArray(n)) as Float32Array[];
        const out = { y: arena.f32('y', rows * C), lnY: arena.f32('lnY', rows * C), mean: arena.f32('mean', rows), rstd: arena.f32('rstd', rows) };
        const io = {
          x: arena.fromData('x', x!),
          weight: arena.fromData('w', weight!),
          bias: arena.fromData('b', bias!),
          lnWeight: arena.fromData('lnW', lnW!),
          lnBias: arena.fromData('lnB', lnB!),
          patchToVisible: arena.fromData('p2v', layout.patchToVisible),
          visiblePatches: arena.fromData('vis', layout.visiblePatches),
          ...out,
        };
        const shape = { N: layout.N, V: layout.V, gridH: c.gridH, gridW: c.gridW, r, C, plan };
        const dispatches = await dwconvLayerNormForward(engine, arena, { dwconv: 'dw', ln: 'ln' }, io, shape);
        expect(dispatches.length).toBe(plan === 'software' ? 1 : 2);
        await run(engine, dispatches);
        const [y, lnY, mean, rstd] = [await readF32(engine, out.y, rows * C), await readF32(engine, out.lnY, rows * C), await readF32(engine, out.mean, rows), await readF32(engine, out.rstd, rows)];
        arena.destroy();
        const tag = `${name} [${plan} plan]`;
        expectAllClose(y, dwconvForwardRef(x!, weight!, bias!, layout, r, C), { atol: 1e-5, rtol: 1e-5, label: `${tag} y`, shape: [rows, C] });
        // the LayerNorm alone: float64 from the kernel's own f32 y (tolerances as tests/gpu/ops/layernorm.test.ts)
        const want = layerNormForwardRef(y, lnW!, lnB!, { rows, C });
        const meanScale = Math.max(...Array.from(want.mean, Math.abs)) + 4;
        expectAllClose(mean, want.mean, { atol: 4e-7 * meanScale, rtol: 0, label: `${tag} mean`, shape: [rows] });
        expectAllClose(rstd, want.rstd, { atol: 0, rtol: 2e-6, label: `${tag} rstd`, shape: [rows] });
        expectAllClose(lnY, want.y, { atol: 2e-6, rtol: 2e-6, label: `${tag} ln y`, shape: [rows, C] });
      });
    }
  }
});

describe('dwconv sparsity and shape checks', () => {
  it('ratio 0.75 on a 4×4 grid: activation buffers and dispatched workgroups ≈ 1/4 of dense', async () => {
    const engine = await testEngine();
    const N = 4;
    const r = 8;
    const C = 16;
    const measure = async (V: number, mask: number[]) => {
      const arena = testArena(engine);
      const layout = layoutFromMask(mask, N, 4, 4);
      const rows = N * layout.V * r * r;
      const tables = {
        patchToVisible: arena.fromData('p2v', layout.patchToVisible),
        visiblePatches: arena.fromData('vis', layout.visiblePatches),
      };
      const act = () => arena.f32('act', rows * C); // (rows, C)
      const x = act();
      const w = arena.f32('w', 49 * C);
      const shape = { N, V, gridH: 4, gridW: 4, r, C };
      const before = arena.bytesAllocated;
      const fwd = await dwconvForward(engine, arena, 'f', { x, weight: w, bias: arena.f32('b', C), y: act(), ...tables }, shape);
      const io = { x, weight: w, dY: act(), dX: act(), dWeight: arena.f32('dw', 49 * C), dBias: arena.f32('db', C), ...tables };
      const bwd = await dwconvBackward(engine, arena, 'b', io, shape);
      const scratch = arena.bytesAllocated - before;
      const workgroups = (ds: Dispatch[]) => ds.reduce((s, d) => s + d.workgroups[0] * d.workgroups[1] * d.workgroups[2], 0);
      const out = { actBytes: x.size, fwd: workgroups(fwd), bwd: workgroups(bwd), scratch };
      arena.destroy();
      return out;
    };
    const dense = await measure(16, new Array(N * 16).fill(0));
    const sparseMask: number[] = [];
    for (let n = 0; n < N; n++) sparseMask.push(...Array.from({ length: 16 }, (_, p) => ((p + n) % 4 === 0 ? 0 : 1)));
    const sparse = await measure(4, sparseMask);
    const ratios = {
      activation: sparse.actBytes / dense.actBytes,
      forwardWorkgroups: sparse.fwd / dense.fwd,
      backwardWorkgroups: sparse.bwd / dense.bwd,
    };
    console.log('dwconv sparse/dense at ratio 0.75:', ratios, { dense, sparse });
    expect(ratios.activation).toBe(0.25);
    for (const v of Object.values(ratios)) {
      expect(v).toBeGreaterThanOrEqual(0.2);
      expect(v).toBeLessThanOrEqual(0.3);
    }
    expect(dwconvFlops({ N, V: 4, r, C }) / dwconvFlops({ N, V: 16, r, C })).toBe(0.25);
  });

  it('rejects an unsupported r and undersized buffers with DwconvShapeError', async () => {
    const engine = await testEngine();
    const arena = testArena(engine);
    const b = (n: number) => arena.f32('b', n);
    const tables = { patchToVisible: b(4), visiblePatches: b(4) };
    const io = { x: b(64), weight: b(49), bias: b(1), y: b(64), ...tables };
    await expect(dwconvForward(engine, arena, 'bad-r', io, { N: 1, V: 4, gridH: 2, gridW: 2, r: 3, C: 1 })).rejects.toThrow(
      DwconvShapeError,
    );
    await expect(dwconvForward(engine, arena, 'small-x', io, { N: 1, V: 4, gridH: 2, gridW: 2, r: 8, C: 1 })).rejects.toThrow(
      /small-x: x has 256 bytes, needs 1024/,
    );
    arena.destroy();
  });
});
