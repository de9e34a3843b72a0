// Matrix multiply with fused bias / GELU epilogue and split-K. Two kernels with one contract:
// shaders/matmul.wgsl (64×64 tiles through workgroup memory, for GPUs) and
// shaders/matmul-direct.wgsl (8×8 register blocks, no barriers, for CPU drivers such as
// SwiftShader, where it runs 10-18× faster: see that file). The adapter picks; tests force each.
// FLOPs (src/ops/flop-conventions.ts): 2·M·N·K plus the epilogue per output (bias, accumulate,
// GELU); with split-K the split pass carries the 2·M·N·K (its adds include the sum over the
// splits) and the reduce pass the epilogue, so the total does not depend on the split.
// rowSums (a bias gradient fused into its weight gradient) adds M·K column-sum adds, counted
// where they happen (the product's pass, or split and reduce passes as for C).
import type { BufferArena } from '../gpu/buffers.ts';
import { ceilDiv, linearGrid, makeDispatch, params, type Binding, type Dispatch } from '../gpu/dispatch.ts';
import type { Engine } from '../gpu/engine.ts';
import { ELEMENTWISE_FLOPS } from './flop-conventions.ts';
import { bindingBytes } from './rows.ts';

export type Epilogue = 'none' | 'gelu-erf' | 'gelu-tanh';
const EPILOGUE_CODE: Record<Epilogue, number> = { none: 0, 'gelu-erf': 1, 'gelu-tanh': 2 };

export interface MatmulOptions {
  M: number;
  N: number;
  K: number;
  /** A is stored (K, M) instead of (M, K). */
  transA?: boolean;
  /** B is stored (N, K) instead of (K, N). */
  transB?: boolean;
  /** Added to every row of the result (N). */
  bias?: Binding;
  /** C += result instead of C = result (rowSums too). */
  accumulate?: boolean;
  /**
   * Also (M): rowSums[m] (+)= Σ_k op(A)[m, k] in the same dispatch(es). With A = dY stored
   * (rows, Cout) and transA, the product is a linear layer's weight gradient and these sums its
   * bias gradient: no separate column-sum pass.
   */
  rowSums?: Binding;
  /** (M, N) added to the result after the epilogue: C = op(A)·op(B) + bias + addend (a block's residual). */
  addend?: Binding;
  /** (M, N): also store the value before the GELU epilogue (bias added), what GELU's backward reads. */
  preActivation?: Binding;
  epilogue?: Epilogue;
  /** Number of K splits; 'auto' splits when there are few output tiles and a long K. */
  splitK?: number | 'auto';
  /** Force a kernel (tests, benchmarks); by default the adapter decides (matmulKernelFor). */
  kernel?: MatmulKernel;
}

export type MatmulKernel = 'tiled' | 'direct';

interface KernelSpec {
  shader: string;
  /** Rows and columns of C per workgroup. */
  tile: number;
  /** Output tiles below which 'auto' starts splitting K, to keep every core busy. */
  targetWorkgroups: number;
}

const KERNELS: Record<MatmulKernel, KernelSpec> = {
  // A GPU has tens of multiprocessors, each wanting a few workgroups.
  tiled: { shader: 'matmul.wgsl', tile: 64, targetWorkgroups: 128 },
  // A CPU driver runs one workgroup per core at a time; 16 covers a 16-core machine.
  direct: { shader: 'matmul-direct.wgsl', tile: 32, targetWorkgroups: 16 },
};
/** split-K chunks are multiples of the tiled kernel's K step. */
const BK = 16;
/** Keep each split at least this long: shorter ones cost more in the reduce than they save. */
const MIN_K_PER_SPLIT = 256;

/** The kernel that is fastest on this adapter: barrier-free on CPU drivers, tiled on GPUs. */
export function matmulKernelFor(engine: Engine): MatmulKernel {
  return engine.ctx.adapter.isSoftware ? 'direct' : 'tiled';
}

export function chooseSplitK(M: number, N: number, K: number, kernel: MatmulKernel = 'tiled'): number {
  const { tile, targetWorkgroups } = KERNELS[kernel];
  const tiles = ceilDiv(M, tile) * ceilDiv(N, tile);
  if (tiles >= targetWorkgroups) return 1;
  return Math.max(1, Math.min(ceilDiv(targetWorkgroups, tiles), Math.floor(K / MIN_K_PER_SPLIT)));
}

/** Dispatches computing C from A and B (see MatmulOptions). Scratch for split-K comes from `arena`. */
export async function matmulDispatches(
  engine: Engine,
  arena: BufferArena,
  label: string,
  a: Binding,
  b: Binding,
  c: Binding,
  o: MatmulOptions,
): Promise<Dispatch[]> {
  const { M, N, K } = o;
  if (M <= 0 || N <= 0 || K <= 0) throw new RangeError(`${label}: empty matmul ${M}×${N}×${K}`);
  const kernel = o.kernel ?? matmulKernelFor(engine);
  const { shader, tile } = KERNELS[kernel];
  const requested = o.splitK === 'auto' || o.splitK === undefined ? chooseSplitK(M, N, K, kernel) : o.splitK;
  const kChunk = Math.ceil(ceilDiv(K, Math.max(1, requested)) / BK) * BK;
  const splits = ceilDiv(K, kChunk);
  const epilogue = EPILOGUE_CODE[o.epilogue ?? 'none'];
  const dummy = o.bias ?? arena.f32(`${label}/no-bias`, 1);
  const spare = spareBindings(arena);
  if (o.preActivation && (o.epilogue ?? 'none') === 'none') throw new RangeError(`${label}: preActivation needs a GELU epilogue (it would equal C)`);
  const extras = { HAS_ADDEND: o.addend ? 1 : 0, STORE_PRE: o.preActivation ? 1 : 0 };
  for (const [name, b] of [['addend', o.addend], ['preActivation', o.preActivation]] as const) {
    if (b && bindingBytes(b) < M * N * 4) throw new RangeError(`${label}: ${name} holds ${bindingBytes(b) / 4} floats, needs M·N = ${M * N}`);
  }
  const grid: [number, number, number] = [ceilDiv(N, tile), ceilDiv(M, tile), splits];
  const core = matmulFlops(M, N, K);
  const epilogueFlops = M * N * matmulEpilogueFlops(o);
  const rowSums = o.rowSums !== undefined;
  // the adds of Σ_k op(A)[m, k], and the += of accumulating them
  const rowSumFlops = rowSums ? ELEMENTWISE_FLOPS.columnSum * M * K : 0;
  const rowSumAccumulateFlops = rowSums && o.accumulate ? ELEMENTWISE_FLOPS.residual * M : 0;
  if (o.rowSums && bindingBytes(o.rowSums) < M * 4) throw new RangeError(`${label}: rowSums holds ${bindingBytes(o.rowSums) / 4} floats, needs M = ${M}`);

  if (splits === 1) {
    return [
      await makeDispatch(engine, arena, {
        label,
        kernel: {
          shader,
          entryPoint: 'main',
          constants: {
            TRANS_A: o.transA ? 1 : 0,
            TRANS_B: o.transB ? 1 : 0,
            HAS_BIAS: o.bias ? 1 : 0,
            ACCUMULATE: o.accumulate ? 1 : 0,
            EPILOGUE: epilogue,
            ROW_SUMS: rowSums ? 1 : 0,
            ...extras,
          },
        },
        params: params().u32(M).u32(N).u32(K).u32(kChunk).build(),
        buffers: [a, b, c, dummy, o.rowSums ?? spare.rowSums, o.addend ?? spare.read, o.preActivation ?? spare.pre],
        workgroups: grid,
        flops: core + epilogueFlops + rowSumFlops + rowSumAccumulateFlops,
      }),
    ];
  }
  // (S, M, N) partial products, then (S, M) partial row sums with rowSums
  const partial = arena.f32(`${label}/split-k-partials`, splits * M * N + (rowSums ? splits * M : 0));
  return [
    await makeDispatch(engine, arena, {
      label: `${label}/split`,
      kernel: {
        shader,
        entryPoint: 'main',
        constants: { TRANS_A: o.transA ? 1 : 0, TRANS_B: o.transB ? 1 : 0, SPLIT: 1, ROW_SUMS: rowSums ? 1 : 0 },
      },
      params: params().u32(M).u32(N).u32(K).u32(kChunk).build(),
      buffers: [a, b, partial, dummy, spare.rowSums, spare.read, spare.pre],
      workgroups: grid,
      // the adds folding the splits' row sums belong to the reduce pass
      flops: core + (rowSums ? ELEMENTWISE_FLOPS.columnSum * M * (K - splits) : 0),
    }),
    await makeDispatch(engine, arena, {
      label: `${label}/reduce`,
      kernel: {
        shader: 'matmul-reduce.wgsl',
        entryPoint: 'main',
        constants: { HAS_BIAS: o.bias ? 1 : 0, ACCUMULATE: o.accumulate ? 1 : 0, EPILOGUE: epilogue, ROW_SUMS: rowSums ? 1 : 0, ...extras },
      },
      params: params().u32(M).u32(N).u32(splits).u32(0).build(),
      buffers: [partial, c, dummy, o.rowSums ?? spare.rowSums, o.addend ?? spare.read, o.preActivation ?? spare.pre],
      workgroups: linearGrid(ceilDiv(M * N + (rowSums ? M : 0), 256)),
      flops: epilogueFlops + (rowSums ? ELEMENTWISE_FLOPS.columnSum * M * splits : 0) + rowSumAccumulateFlops,
    }),
  ];
}

/**
 * One-float stand-ins for the optional bindings a dispatch does not use, one set per arena:
 * the read-only one may be bound twice, the writable ones must not alias each other.
 */
function spareBindings(arena: BufferArena): { read: GPUBuffer; rowSums: GPUBuffer; pre: GPUBuffer } {
  return { read: arena.shared('matmul/no-addend', 4), rowSums: arena.shared('matmul/no-row-sums', 4), pre: arena.shared('matmul/no-pre', 4) };
}

/** FLOPs of one matmul (multiply-adds counted as 2), without the epilogue. */
export function matmulFlops(M: number, N: number, K: number): number {
  return 2 * M * N * K;
}

/** FLOPs of the epilogue per output element: bias, accumulate (C += …), addend, fused GELU. */
export function matmulEpilogueFlops(o: Pick<MatmulOptions, 'bias' | 'accumulate' | 'epilogue' | 'addend'>): number {
  const E = ELEMENTWISE_FLOPS;
  return (o.bias ? E.bias : 0) + (o.accumulate ? E.residual : 0) + (o.addend ? E.residual : 0) + (o.epilogue && o.epilogue !== 'none' ? E.geluForward : 0);
}
