// The kernel benchmark: every kernel family of an FCMAE step at ConvNeXt V2-atto shapes
// (default 224 px, batch 8) for mask ratios 0 and 0.6, rows = N·V·r², plus a square matmul.
// Each case builds its dispatches once in its own arena (freed after timing) on random inputs
// and is timed by src/bench/timing.ts. Throughput: GFLOP/s for matmul and convolution (their
// dispatches' own FLOP counts, src/ops/flop-conventions.ts, as the step ledger counts them),
// GB/s for memory-bound kernels (the minimum bytes the kernel must
// read and write, not what it actually moves).
// No Node or DOM imports: the CLI script and the browser bench page run the same suite.
import { BufferArena } from '../gpu/buffers.ts';
import { encodeDispatches, type Dispatch } from '../gpu/dispatch.ts';
import type { Engine } from '../gpu/engine.ts';
import { MASK_PATCH, modelConfig, PATCH_VALUES, type ModelConfig } from '../model/config.ts';
import { paramTable } from '../model/parameters.ts';
import { adamwStepScalars, adamwUpdate } from '../ops/adamw.ts';
import { dwconvBackward, dwconvForward } from '../ops/dwconv.ts';
import { fcmaeLossBackward, fcmaeLossForward, maskedPatchRows, patchifyTarget } from '../ops/fcmae-loss.ts';
import { geluBackward, geluForward } from '../ops/gelu.ts';
import { grnBackward, grnForward } from '../ops/grn.ts';
import { layerNormBackward, layerNormForward } from '../ops/layernorm.ts';
import { maskTokenFillBackward, maskTokenFillForward } from '../ops/mask-token.ts';
import { matmulDispatches, type MatmulOptions } from '../ops/matmul.ts';
import { layoutFromMask, type MaskLayout } from '../ops/sparse-layout.ts';
import { stemIm2col } from '../ops/stem.ts';
import { generateMasks, keptCount } from '../train/masking.ts';
import { Random } from '../util/random.ts';
import { gigaPerSecond } from './stats.ts';
import { DEFAULT_TIMING, timeDispatches, type Timing, type TimingOptions } from './timing.ts';

export interface KernelSuiteOptions {
  config: ModelConfig;
  batchSize: number;
  /** Square input side in pixels. */
  inputSize: number;
  maskRatios: number[];
  /** Sides of the square matmuls (n×n by n×n). */
  squareMatmuls: number[];
  timing: TimingOptions;
  /** Only cases whose family or name contains this (case-insensitive). */
  filter?: string;
  /** Called after each case (progress lines). */
  onResult?: (row: KernelResult) => void;
}

export function defaultKernelSuite(quick: boolean): KernelSuiteOptions {
  return quick
    ? { config: modelConfig('atto'), batchSize: 1, inputSize: 224, maskRatios: [0, 0.6], squareMatmuls: [512], timing: { ...DEFAULT_TIMING, budgetMs: 400, maxSamples: 10 } }
    : { config: modelConfig('atto'), batchSize: 8, inputSize: 224, maskRatios: [0, 0.6], squareMatmuls: [1024], timing: DEFAULT_TIMING };
}

export interface KernelResult {
  family: string;
  name: string;
  /** Mask ratio of the layout the case runs on; null where it does not depend on one. */
  maskRatio: number | null;
  shape: string;
  /** Work per call: FLOPs (unit 'GFLOP/s') or bytes (unit 'GB/s'). */
  work: number;
  unit: 'GFLOP/s' | 'GB/s';
  timing: Timing;
  /** work / median time, in the unit. */
  throughput: number;
}

interface Case {
  family: string;
  name: string;
  maskRatio: number | null;
  shape: string;
  /** Bytes per call for 'GB/s' cases; null for 'GFLOP/s' ones, whose work is their dispatches' FLOPs (Dispatch.flops, the ledger's count). */
  work: number | null;
  unit: KernelResult['unit'];
  build: (arena: BufferArena) => Promise<Dispatch[]>;
}

const F32 = 4;

/** Random (−1, 1) storage buffer of `count` floats. */
function randomBuffer(arena: BufferArena, label: string, count: number, rng: Random): GPUBuffer {
  return arena.fromData(label, rng.uniformArray(count));
}

/** Mask layout at `ratio` for N samples on the grid (seeded, as the trainer draws it). */
function layoutAt(N: number, gridSide: number, ratio: number, seed: number): MaskLayout {
  const L = gridSide * gridSide;
  return layoutFromMask(generateMasks(N, L, keptCount(L, ratio), new Random(seed)), N, gridSide, gridSide);
}

/** "M×N×K" with the transposed operands named, e.g. "25088×160×40 Bᵀ". */
function matmulShape(o: Pick<MatmulOptions, 'M' | 'N' | 'K' | 'transA' | 'transB'>): string {
  const flags = [o.transA ? 'Aᵀ' : '', o.transB ? 'Bᵀ' : ''].filter(Boolean).join(' ');
  return `${o.M}×${o.N}×${o.K}${flags ? ` ${flags}` : ''}`;
}

type MatmulCaseOptions = Omit<MatmulOptions, 'bias'> & { bias?: boolean };

/** All cases of the suite, in print order. */
function suiteCases(engine: Engine, o: KernelSuiteOptions): Case[] {
  const cases: Case[] = [];
  const { config, batchSize: N, inputSize } = o;
  const grid = inputSize / MASK_PATCH;
  if (!Number.isInteger(grid) || grid < 1) throw new RangeError(`kernel suite: input size ${inputSize} is not a multiple of ${MASK_PATCH}`);
  const L = grid * grid;
  const d = config.dims;
  const D = config.decoderDim;
  const mmCase = (family: string, name: string, ratio: number | null, mo: MatmulCaseOptions, seed: number): Case => ({
    family,
    name,
    maskRatio: ratio,
    shape: matmulShape(mo),
    work: null,
    unit: 'GFLOP/s',
    build: async (arena) => {
      const rng = new Random(seed);
      const a = randomBuffer(arena, 'a', mo.M * mo.K, rng); // (M, K) or (K, M)
      const b = randomBuffer(arena, 'b', mo.K * mo.N, rng); // (K, N) or (N, K)
      const out = arena.f32('c', mo.M * mo.N); // (M, N)
      const bias = mo.bias ? randomBuffer(arena, 'bias', mo.N, rng) : undefined; // (N)
      return matmulDispatches(engine, arena, name, a, b, out, { ...mo, bias });
    },
  });

  for (const n of o.squareMatmuls) cases.push(mmCase('matmul', `square ${n}³`, null, { M: n, N: n, K: n }, 1));

  for (const ratio of o.maskRatios) {
    const V = keptCount(L, ratio);
    const M = L - V;
    const lossPatches = M > 0 ? M : L;
    const seed = 1000 + Math.round(ratio * 100);
    const layout = (): MaskLayout => layoutAt(N, grid, ratio, seed);
    const rowsAt = (r: number) => N * V * r * r;
    const tables = (arena: BufferArena) => {
      const lay = layout();
      return { p2v: arena.fromData('patch-to-visible', lay.patchToVisible), vis: arena.fromData('visible-patches', Int32Array.from(lay.visiblePatches)) };
    };

    // stem: im2col of the visible patches, then the conv as a matmul
    const R0 = rowsAt(8);
    cases.push({
      family: 'stem',
      name: 'im2col',
      maskRatio: ratio,
      shape: `${R0}×48`,
      work: 2 * R0 * 48 * F32,
      unit: 'GB/s',
      build: async (arena) => {
        const rng = new Random(seed);
        const image = randomBuffer(arena, 'image', N * 3 * inputSize * inputSize, rng);
        const { vis } = tables(arena);
        return stemIm2col(engine, arena, 'stem/im2col', { image, cols: arena.f32('cols', R0 * 48), visiblePatches: vis }, { N, V, gridH: grid, gridW: grid });
      },
    });
    cases.push(mmCase('matmul', 'stem conv', ratio, { M: R0, N: d[0]!, K: 48, transB: true, bias: true }, seed));

    for (let s = 0; s < 4; s++) {
      const r = 8 >> s;
      const C = d[s]!;
      const rows = rowsAt(r);
      const st = `s${s}`;
      if (s > 0) cases.push(mmCase('matmul', `${st} downsample`, ratio, { M: rows, N: C, K: 4 * d[s - 1]!, transB: true, bias: true }, seed + s));
      // the six products of a block's two pointwise layers (forward, dX, dWeight)
      cases.push(mmCase('matmul', `${st} pwconv1`, ratio, { M: rows, N: 4 * C, K: C, transB: true, bias: true }, seed + s));
      cases.push(mmCase('matmul', `${st} pwconv2`, ratio, { M: rows, N: C, K: 4 * C, transB: true, bias: true, accumulate: true }, seed + s));
      cases.push(mmCase('matmul', `${st} pwconv2 dX`, ratio, { M: rows, N: 4 * C, K: C }, seed + s));
      cases.push(mmCase('matmul', `${st} pwconv2 dW`, ratio, { M: C, N: 4 * C, K: rows, transA: true }, seed + s));
      cases.push(mmCase('matmul', `${st} pwconv1 dX`, ratio, { M: rows, N: C, K: 4 * C }, seed + s));
      cases.push(mmCase('matmul', `${st} pwconv1 dW`, ratio, { M: 4 * C, N: C, K: rows, transA: true }, seed + s));

      cases.push({
        family: 'layernorm',
        name: `${st} forward`,
        maskRatio: ratio,
        shape: `${rows}×${C}`,
        work: (2 * rows * C + 2 * rows) * F32,
        unit: 'GB/s',
        build: async (arena) => {
          const rng = new Random(seed);
          return layerNormForward(engine, arena, 'ln', { x: randomBuffer(arena, 'x', rows * C, rng), weight: randomBuffer(arena, 'w', C, rng), bias: randomBuffer(arena, 'b', C, rng), y: arena.f32('y', rows * C), mean: arena.f32('mean', rows), rstd: arena.f32('rstd', rows) }, { rows, C });
        },
      });
      cases.push({
        family: 'layernorm',
        name: `${st} backward`,
        maskRatio: ratio,
        shape: `${rows}×${C}`,
        work: (3 * rows * C + 2 * rows) * F32,
        unit: 'GB/s',
        build: async (arena) => {
          const rng = new Random(seed);
          const x = randomBuffer(arena, 'x', rows * C, rng);
          return layerNormBackward(engine, arena, 'ln-bwd', { x, weight: randomBuffer(arena, 'w', C, rng), mean: randomBuffer(arena, 'mean', rows, rng), rstd: arena.fromData('rstd', new Float32Array(rows).fill(1)), dY: randomBuffer(arena, 'dY', rows * C, rng), dX: arena.f32('dX', rows * C), dWeight: arena.f32('dW', C), dBias: arena.f32('dB', C) }, { rows, C });
        },
      });
      const count = rows * 4 * C;
      cases.push({
        family: 'gelu',
        name: `${st} forward`,
        maskRatio: ratio,
        shape: `${rows}×${4 * C}`,
        work: 2 * count * F32,
        unit: 'GB/s',
        build: async (arena) => geluForward(engine, arena, 'gelu', { x: randomBuffer(arena, 'x', count, new Random(seed)), y: arena.f32('y', count) }, { count, form: 'erf' }),
      });
      cases.push({
        family: 'gelu',
        name: `${st} backward`,
        maskRatio: ratio,
        shape: `${rows}×${4 * C}`,
        work: 3 * count * F32,
        unit: 'GB/s',
        build: async (arena) => {
          const rng = new Random(seed);
          return geluBackward(engine, arena, 'gelu-bwd', { x: randomBuffer(arena, 'x', count, rng), dY: randomBuffer(arena, 'dY', count, rng), dX: arena.f32('dX', count) }, { count, form: 'erf' });
        },
      });
      const dwShape = { N, V, gridH: grid, gridW: grid, r, C };
      cases.push({
        family: 'dwconv',
        name: `r=${r} forward`,
        maskRatio: ratio,
        shape: `${rows}×${C}`,
        work: null,
        unit: 'GFLOP/s',
        build: async (arena) => {
          const rng = new Random(seed);
          const { p2v, vis } = tables(arena);
          return dwconvForward(engine, arena, 'dwconv', { x: randomBuffer(arena, 'x', rows * C, rng), weight: randomBuffer(arena, 'w', 49 * C, rng), bias: randomBuffer(arena, 'b', C, rng), y: arena.f32('y', rows * C), patchToVisible: p2v, visiblePatches: vis }, dwShape);
        },
      });
      cases.push({
        family: 'dwconv',
        name: `r=${r} backward`,
        maskRatio: ratio,
        shape: `${rows}×${C}`,
        work: null,
        unit: 'GFLOP/s',
        build: async (arena) => {
          const rng = new Random(seed);
          const { p2v, vis } = tables(arena);
          return dwconvBackward(engine, arena, 'dwconv-bwd', { x: randomBuffer(arena, 'x', rows * C, rng), weight: randomBuffer(arena, 'w', 49 * C, rng), dY: randomBuffer(arena, 'dY', rows * C, rng), dX: arena.f32('dX', rows * C), dWeight: arena.f32('dW', 49 * C), dBias: arena.f32('dB', C), patchToVisible: p2v, visiblePatches: vis }, { ...dwShape, accumulateDX: true });
        },
      });
      const grnShape = { N, rowsPerSample: V * r * r, C: 4 * C, mode: 'per-sample' as const };
      cases.push({
        family: 'grn',
        name: `${st} forward`,
        maskRatio: ratio,
        shape: `${rows}×${4 * C}`,
        work: 3 * count * F32,
        unit: 'GB/s',
        build: async (arena) => {
          const rng = new Random(seed);
          return grnForward(engine, arena, 'grn', { x: randomBuffer(arena, 'x', count, rng), gamma: randomBuffer(arena, 'g', 4 * C, rng), beta: randomBuffer(arena, 'b', 4 * C, rng), y: arena.f32('y', count), norm: arena.f32('norm', N * 4 * C), gnorm: arena.f32('gnorm', N * 4 * C) }, grnShape);
        },
      });
      cases.push({
        family: 'grn',
        name: `${st} backward`,
        maskRatio: ratio,
        shape: `${rows}×${4 * C}`,
        work: 5 * count * F32,
        unit: 'GB/s',
        build: async (arena) => {
          const rng = new Random(seed);
          const x = randomBuffer(arena, 'x', count, rng);
          const gamma = randomBuffer(arena, 'g', 4 * C, rng);
          const norm = arena.f32('norm', N * 4 * C);
          const gnorm = arena.f32('gnorm', N * 4 * C);
          // the forward fills Nx and G, which the backward reads; only the backward is timed
          const forward = await grnForward(engine, arena, 'grn', { x, gamma, beta: randomBuffer(arena, 'b', 4 * C, rng), y: arena.f32('y', count), norm, gnorm }, grnShape);
          const encoder = engine.ctx.device.createCommandEncoder({ label: 'grn-forward-setup' });
          const pass = encoder.beginComputePass();
          encodeDispatches(pass, forward);
          pass.end();
          engine.ctx.device.queue.submit([encoder.finish()]);
          return grnBackward(engine, arena, 'grn-bwd', { x, gamma, norm, gnorm, dY: randomBuffer(arena, 'dY', count, rng), dX: arena.f32('dX', count), dGamma: arena.f32('dGamma', 4 * C), dBeta: arena.f32('dBeta', 4 * C) }, grnShape);
        },
      });
    }

    // decoder input: proj rows of the visible patches + mask tokens on the dense grid
    cases.push({
      family: 'mask-token',
      name: 'fill forward',
      maskRatio: ratio,
      shape: `${N * L}×${D}`,
      work: (N * L * D + N * V * D) * F32,
      unit: 'GB/s',
      build: async (arena) => {
        const rng = new Random(seed);
        const { p2v } = tables(arena);
        return maskTokenFillForward(engine, arena, 'fill', { P: randomBuffer(arena, 'P', N * V * D, rng), maskToken: randomBuffer(arena, 'token', D, rng), X: arena.f32('X', N * L * D), patchToVisible: p2v }, { N, V, L, D });
      },
    });
    cases.push({
      family: 'mask-token',
      name: 'fill backward',
      maskRatio: ratio,
      shape: `${N * L}×${D}`,
      work: (N * L * D + N * V * D) * F32,
      unit: 'GB/s',
      build: async (arena) => {
        const rng = new Random(seed);
        const { p2v, vis } = tables(arena);
        return maskTokenFillBackward(engine, arena, 'fill-bwd', { dX: randomBuffer(arena, 'dX', N * L * D, rng), dP: arena.f32('dP', N * V * D), dMaskToken: arena.f32('dToken', D), visiblePatches: vis, patchToVisible: p2v }, { N, V, L, D });
      },
    });
    cases.push(mmCase('matmul', 'pred', ratio, { M: N * lossPatches, N: PATCH_VALUES, K: D, transB: true, bias: true }, seed));

    // loss: target patches, masked MSE and its gradient
    const NM = N * lossPatches;
    const lossBuffers = (arena: BufferArena) => {
      const rng = new Random(seed);
      const lay = layout();
      const rowsIdx = M > 0 ? maskedPatchRows(lay) : Int32Array.from({ length: N * L }, (_, i) => i);
      return { pred: randomBuffer(arena, 'pred', NM * PATCH_VALUES, rng), target: randomBuffer(arena, 'target', N * L * PATCH_VALUES, rng), maskedRows: arena.fromData('masked-rows', rowsIdx) };
    };
    cases.push({
      family: 'loss',
      name: 'forward',
      maskRatio: ratio,
      shape: `${NM}×${PATCH_VALUES}`,
      work: 2 * NM * PATCH_VALUES * F32,
      unit: 'GB/s',
      build: async (arena) => fcmaeLossForward(engine, arena, 'loss', { ...lossBuffers(arena), loss: arena.f32('loss', 1), perSample: arena.f32('per-sample', N) }, { N, L, M: lossPatches }),
    });
    cases.push({
      family: 'loss',
      name: 'backward',
      maskRatio: ratio,
      shape: `${NM}×${PATCH_VALUES}`,
      work: 3 * NM * PATCH_VALUES * F32,
      unit: 'GB/s',
      build: async (arena) => fcmaeLossBackward(engine, arena, 'loss-bwd', { ...lossBuffers(arena), dPred: arena.f32('dPred', NM * PATCH_VALUES) }, { N, L, M: lossPatches }),
    });
  }

  // targets depend on the image only
  cases.push({
    family: 'loss',
    name: 'patchify target',
    maskRatio: null,
    shape: `${N * L}×${PATCH_VALUES}`,
    work: 2 * N * L * PATCH_VALUES * F32,
    unit: 'GB/s',
    build: async (arena) =>
      patchifyTarget(engine, arena, 'patchify', { image: randomBuffer(arena, 'image', N * 3 * inputSize * inputSize, new Random(5)), target: arena.f32('target', N * L * PATCH_VALUES), mean: arena.f32('mean', N * L), variance: arena.f32('var', N * L) }, { N, height: inputSize, width: inputSize, normPix: true }),
  });

  // the decoder block's pointwise layers run on the dense N·L grid whatever the ratio
  const RL = N * L;
  cases.push(mmCase('matmul', 'decoder pwconv1', null, { M: RL, N: 4 * D, K: D, transB: true, bias: true }, 7));
  cases.push(mmCase('matmul', 'decoder pwconv2', null, { M: RL, N: D, K: 4 * D, transB: true, bias: true, accumulate: true }, 7));

  const table = paramTable(config);
  cases.push({
    family: 'adamw',
    name: `${table.count} params`,
    maskRatio: null,
    shape: `${table.totalFloats}`,
    work: 7 * table.totalFloats * F32,
    unit: 'GB/s',
    build: async (arena) => {
      const rng = new Random(3);
      const n = table.totalFloats;
      const scalars = arena.fromData('scalars', adamwStepScalars(1, 1e-4)); // (ADAMW_SCALARS_LENGTH)
      return adamwUpdate(engine, arena, 'adamw', { params: randomBuffer(arena, 'params', n, rng), grads: randomBuffer(arena, 'grads', n, rng), m: arena.f32('m', n), v: arena.f32('v', n), scalars }, { count: n, decayCount: table.decayFloats });
    },
  });
  return cases;
}

/** Run the suite; each case's arena is freed before the next is built. */
export async function runKernelSuite(engine: Engine, o: KernelSuiteOptions): Promise<KernelResult[]> {
  const cases = suiteCases(engine, o).filter((c) => !o.filter || `${c.family} ${c.name}`.toLowerCase().includes(o.filter.toLowerCase()));
  const results: KernelResult[] = [];
  for (const c of cases) {
    const arena = new BufferArena(engine.ctx.device, `bench/${c.family}/${c.name}`);
    try {
      const dispatches = await c.build(arena);
      const timing = await timeDispatches(engine, `${c.family} ${c.name}`, dispatches, o.timing);
      const work = c.work ?? dispatches.reduce((a, d) => a + d.flops, 0);
      const row: KernelResult = { family: c.family, name: c.name, maskRatio: c.maskRatio, shape: c.shape, work, unit: c.unit, timing, throughput: gigaPerSecond(work, timing.ms.median) };
      results.push(row);
      o.onResult?.(row);
    } finally {
      arena.destroy();
    }
  }
  return results;
}
