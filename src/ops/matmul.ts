// Matrix multiply with fused bias / GELU epilogue and split-K, built on shaders/matmul.wgsl.
// The linear-layer products are thin wrappers at the bottom of the file.
import type { BufferArena } from '../gpu/buffers.ts';
import { ceilDiv, linearGrid, makeDispatch, params, type Binding, type Dispatch } from '../gpu/dispatch.ts';
import type { Engine } from '../gpu/engine.ts';

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
  /** C += result instead of C = result. */
  accumulate?: boolean;
  epilogue?: Epilogue;
  /** Number of K splits; 'auto' splits when there are few output tiles and a long K. */
  splitK?: number | 'auto';
}

const TILE = 64;
const BK = 16;
/** Output tiles below which 'auto' starts splitting K (keeps every core of a GPU busy). */
const TARGET_WORKGROUPS = 128;
/** Keep each split at least this long: shorter ones cost more in the reduce than they save. */
const MIN_K_PER_SPLIT = 256;

export function chooseSplitK(M: number, N: number, K: number): number {
  const tiles = ceilDiv(M, TILE) * ceilDiv(N, TILE);
  if (tiles >= TARGET_WORKGROUPS) return 1;
  return Math.max(1, Math.min(ceilDiv(TARGET_WORKGROUPS, tiles), Math.floor(K / MIN_K_PER_SPLIT)));
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
  const requested = o.splitK === 'auto' || o.splitK === undefined ? chooseSplitK(M, N, K) : o.splitK;
  const kChunk = Math.ceil(ceilDiv(K, Math.max(1, requested)) / BK) * BK;
  const splits = ceilDiv(K, kChunk);
  const epilogue = EPILOGUE_CODE[o.epilogue ?? 'none'];
  const dummy = o.bias ?? arena.f32(`${label}/no-bias`, 1);
  const grid: [number, number, number] = [ceilDiv(N, TILE), ceilDiv(M, TILE), splits];

  if (splits === 1) {
    return [
      await makeDispatch(engine, arena, {
        label,
        kernel: {
          shader: 'matmul.wgsl',
          entryPoint: 'main',
          constants: {
            TRANS_A: o.transA ? 1 : 0,
            TRANS_B: o.transB ? 1 : 0,
            HAS_BIAS: o.bias ? 1 : 0,
            ACCUMULATE: o.accumulate ? 1 : 0,
            EPILOGUE: epilogue,
          },
        },
        params: params().u32(M).u32(N).u32(K).u32(kChunk).build(),
        buffers: [a, b, c, dummy],
        workgroups: grid,
      }),
    ];
  }
  const partial = arena.f32(`${label}/split-k-partials`, splits * M * N); // (S, M, N)
  return [
    await makeDispatch(engine, arena, {
      label: `${label}/split`,
      kernel: {
        shader: 'matmul.wgsl',
        entryPoint: 'main',
        constants: { TRANS_A: o.transA ? 1 : 0, TRANS_B: o.transB ? 1 : 0, SPLIT: 1 },
      },
      params: params().u32(M).u32(N).u32(K).u32(kChunk).build(),
      buffers: [a, b, partial, dummy],
      workgroups: grid,
    }),
    await makeDispatch(engine, arena, {
      label: `${label}/reduce`,
      kernel: {
        shader: 'matmul-reduce.wgsl',
        entryPoint: 'main',
        constants: { HAS_BIAS: o.bias ? 1 : 0, ACCUMULATE: o.accumulate ? 1 : 0, EPILOGUE: epilogue },
      },
      params: params().u32(M).u32(N).u32(splits).u32(0).build(),
      buffers: [partial, c, dummy],
      workgroups: linearGrid(ceilDiv(M * N, 256)),
    }),
  ];
}

/** FLOPs of one matmul (multiply-adds counted as 2). */
export function matmulFlops(M: number, N: number, K: number): number {
  return 2 * M * N * K;
}
