// Global Response Normalization (spec §2) on the sparse row layout, forward and backward.
//
// X is (rows, C), rows = N·S with each sample's S = rowsPerSample rows contiguous (S = V·r²
// in the encoder, L in the decoder). A "group" is what one G is computed over:
//   'per-sample' (project default, the JAX masked-dense semantics): groups = N, one per sample;
//   'batch' (official PyTorch sparse code): groups = 1, every visible site of the batch.
// Forward: G = sqrt(Σ_group X²), Nx = G / (mean_c G + 1e-6), Y = gamma·X·Nx + beta + X.
// Backward: see src/reference/grn.ts for the derivation; X/G := 0 where G = 0.
//
// Small shapes (see GRN_FUSED_GPU_LANE_ROWS; on SwiftShader every GRN of an atto 96 px batch 2
// step) run one dispatch per direction (grn-fused-*.wgsl): the forward's statistics and elementwise
// pass in one workgroup per group; the backward's statistics, parameter gradients and
// elementwise pass in one workgroup for the whole batch. Each lane owns whole channels, so the
// only exchange is the channel mean behind D: a 256-lane tree or subgroupAdd + one level on
// GPUs, and on software adapters (SwiftShader) a 4-lane workgroup that is one subgroup and
// needs no barrier (16-lane tree without subgroups); see grnPlan.
// Larger shapes keep the multi-workgroup path: grn-partial.wgsl sums chunks of rows into
// (groups, K, C) partials (K ≤ 256 chunks per group), then a per-group workgroup finishes them
// and does the reduction over channels (groups ≤ GRN_FROM_ROWS_MAX rows skip the partial pass:
// FROM_ROWS), then the parameter-gradient and elementwise passes. Known limit: G is an
// unscaled f32 sum of squares, so a channel whose values are all below ~1e-19 in magnitude
// underflows to G = 0 (treated as an all-zero channel) where float64 would still see a tiny G.
// FLOPs (src/ops/flop-conventions.ts): a fused dispatch counts grnFlops. Unfused: grnForward /
// grnBackward per element, split over the partial-sum pass and the elementwise pass
// (PASS_FLOPS), plus the per-(group, channel) finishing work of the stats and parameter
// passes; the stats pass also counts the adds that fold the K partials, out of the partial
// pass's share. grnFlops is the sum.
import type { BufferArena } from '../gpu/buffers.ts';
import { ceilDiv, linearGrid, makeDispatch, params, type Binding, type Dispatch } from '../gpu/dispatch.ts';
import type { Engine } from '../gpu/engine.ts';
import type { KernelSpec } from '../gpu/kernels.ts';
import { ELEMENTWISE_FLOPS, PASS_FLOPS } from './flop-conventions.ts';
import { GELU_FORM_CODE, type GeluForm } from './gelu.ts';
import { kernelPlanOf, type KernelPlan } from './kernel-plan.ts';

export type GrnMode = 'per-sample' | 'batch';

export interface GrnShape {
  /** Samples. */
  N: number;
  /** S: rows of one sample (V·r² in the encoder, L in the decoder). */
  rowsPerSample: number;
  /** Channels (4·dim inside a ConvNeXt V2 block). */
  C: number;
  mode: GrnMode;
  /** How G (and the backward's sums) are reduced over rows; 'auto' (default) by size. */
  stats?: GrnStatsPlan;
  /** Whose kernels the fused plan runs; default from the adapter. Tests run both on SwiftShader. */
  plan?: KernelPlan;
  /** false: the fused kernels without subgroup operations even where the device has them (see GrnFusedVariant). */
  subgroups?: boolean;
}

/**
 * 'fused': one dispatch per direction (see grnPlan); 'two-pass': partial sums of row chunks,
 * then a per-group pass, then the elementwise pass; 'from-rows': the per-group pass alone, then
 * the elementwise pass.
 */
export type GrnStatsPlan = 'auto' | 'fused' | 'two-pass' | 'from-rows';

/** Groups of at most this many rows are reduced by the per-group pass alone ('auto'). */
export const GRN_FROM_ROWS_MAX = 256;

/** Whether the unfused statistics skip the partial-sum pass (see GrnStatsPlan). */
export function grnFromRows(shape: GrnShape): boolean {
  const plan = shape.stats ?? 'auto';
  return plan === 'from-rows' || (plan !== 'two-pass' && grnGroupRows(shape) <= GRN_FROM_ROWS_MAX);
}

/**
 * When 'auto' fuses. The forward's workgroup walks one group (N workgroups per-sample, one in
 * 'batch' mode), the backward's the whole batch (its parameter gradients sum over groups); a
 * lane walks every row of its channels, twice. GPUs: a lane's loop is bound by memory latency,
 * so fused while a lane has at most GRN_FUSED_GPU_LANE_ROWS row·channel steps (rows ·
 * ⌈C / 256⌉), no more than the unfused per-group pass already walks; beyond that (the
 * first stage's backward at atto 96 px batch 2, most of 224 px batch 32) the multi-workgroup path keeps
 * the GPU full. Software adapters (4 or 16 lanes, the work split over CPU cores by workgroup):
 * fused up to GRN_FUSED_SOFTWARE_ELEMENTS (rows·C), which every GRN of an atto 96 px batch 2
 * step meets; there (atto 96 px batch 2, SwiftShader) the fused passes measured 2-4× faster
 * than the unfused ones they replace.
 */
export const GRN_FUSED_GPU_LANE_ROWS = 256;
export const GRN_FUSED_SOFTWARE_ELEMENTS = 262144;

/**
 * The fused kernels' variants. 'subgroups' (GPU): 256 lanes, channel sums by subgroupAdd and
 * one workgroup-memory level (2 barriers). 'tree' (GPU without subgroups): 256 lanes, a
 * workgroup-memory tree (9 barriers); on a software adapter without subgroups 16 lanes (5
 * barriers over few invocations: measured cheaper there than one invocation walking it all).
 * 'one-subgroup' (software adapters, SwiftShader): 4 lanes, the least subgroup size, so the
 * workgroup is one subgroup and subgroupAdd is the whole sum: no barrier at all.
 */
export type GrnFusedVariant = 'subgroups' | 'tree' | 'one-subgroup';

/** How a GRN pass is run: stats (see GrnStatsPlan, never 'auto') and the fused kernels' variant. */
export interface GrnPlan {
  forward: Exclude<GrnStatsPlan, 'auto'>;
  backward: Exclude<GrnStatsPlan, 'auto'>;
  variant: GrnFusedVariant;
  /** Lanes of the fused kernels' workgroups. */
  lanes: number;
}

/** The plan for `shape` on an adapter that is (not) software and a device with(out) subgroups. */
export function grnPlan(shape: GrnShape, software: boolean, deviceSubgroups: boolean): GrnPlan {
  const stats = shape.stats ?? 'auto';
  const unfused = grnFromRows(shape) ? 'from-rows' : 'two-pass';
  const fits = (rows: number): boolean =>
    software ? rows * shape.C <= GRN_FUSED_SOFTWARE_ELEMENTS : rows * ceilDiv(shape.C, 256) <= GRN_FUSED_GPU_LANE_ROWS;
  const pick = (rows: number): GrnPlan['forward'] => (stats !== 'auto' ? stats : fits(rows) ? 'fused' : unfused);
  const subgroups = deviceSubgroups && shape.subgroups !== false;
  const variant: GrnFusedVariant = subgroups ? (software ? 'one-subgroup' : 'subgroups') : 'tree';
  const lanes = variant === 'one-subgroup' ? 4 : software ? 16 : 256;
  return { forward: pick(grnGroupRows(shape)), backward: pick(shape.N * shape.rowsPerSample), variant, lanes };
}

function planFor(engine: Engine, shape: GrnShape): GrnPlan {
  const software = kernelPlanOf(engine, shape.plan) === 'software';
  return grnPlan(shape, software, engine.ctx.device.features.has('subgroups'));
}

const FUSED_SUFFIX: Record<GrnFusedVariant, string> = { 'one-subgroup': '-1sg', subgroups: '-sg', tree: '' };

/** The fused kernel of `direction` in the plan's variant (lanes: an override, but for 'one-subgroup'). */
function fusedKernel(direction: 'forward' | 'backward', plan: GrnPlan, constants: Record<string, number> = {}): KernelSpec {
  const all = plan.variant === 'one-subgroup' ? constants : { WG: plan.lanes, ...constants };
  return { shader: `grn-fused-${direction}${FUSED_SUFFIX[plan.variant]}.wgsl`, entryPoint: 'main', constants: all };
}

export interface GrnBackwardOptions extends GrnShape {
  /** dGamma/dBeta += instead of = (dX is always overwritten). */
  accumulateParamGrads?: boolean;
  /**
   * X is GELU(io.geluInput) in this form: dX is then the gradient of the GELU input,
   * gelu'(geluInput)·dX, GELU's backward fused into the elementwise pass.
   */
  geluForm?: GeluForm;
}

/** The eps added after the channel mean (spec §2). */
export const GRN_EPS = 1e-6;

/** Chunks per group at most: the finishing passes loop over this many partials per channel. */
export const GRN_MAX_CHUNKS = 256;
/** Chunks are at least this long, so small groups are not split into 1-row pieces. */
export const GRN_MIN_CHUNK_ROWS = 16;

export class GrnShapeError extends Error {
  override readonly name = 'GrnShapeError';
}

/** Number of groups: rows of `norm`/`gnorm`. */
export function grnGroupCount(shape: GrnShape): number {
  return shape.mode === 'batch' ? 1 : shape.N;
}

/** Rows in one group. */
export function grnGroupRows(shape: GrnShape): number {
  return shape.mode === 'batch' ? shape.N * shape.rowsPerSample : shape.rowsPerSample;
}

/** How the rows of one group are cut into chunks for the first reduction pass. */
export function grnChunking(groupRows: number): { chunkRows: number; chunks: number } {
  const chunkRows = Math.max(GRN_MIN_CHUNK_ROWS, ceilDiv(groupRows, GRN_MAX_CHUNKS));
  return { chunkRows, chunks: ceilDiv(groupRows, chunkRows) };
}

function bindingBytes(b: Binding): number {
  if ('buffer' in b) return b.size ?? b.buffer.size - (b.offset ?? 0);
  return b.size;
}

function validate(label: string, shape: GrnShape, buffers: Record<string, [Binding, number]>): void {
  for (const key of ['N', 'rowsPerSample', 'C'] as const) {
    const v = shape[key];
    if (!Number.isInteger(v) || v <= 0) throw new GrnShapeError(`${label}: ${key} must be a positive integer, got ${v}`);
  }
  if (shape.stats !== undefined && !['auto', 'fused', 'two-pass', 'from-rows'].includes(shape.stats)) {
    throw new GrnShapeError(`${label}: stats must be 'auto', 'fused', 'two-pass' or 'from-rows', got '${String(shape.stats)}'`);
  }
  if (shape.mode !== 'per-sample' && shape.mode !== 'batch') {
    throw new GrnShapeError(`${label}: mode must be 'per-sample' or 'batch', got '${String(shape.mode)}'`);
  }
  const elements = shape.N * shape.rowsPerSample * shape.C;
  if (elements >= 2 ** 32) {
    throw new GrnShapeError(`${label}: rows·C = ${elements} does not fit the kernels' u32 indices; use a smaller batch`);
  }
  if (shape.N > 65535) throw new GrnShapeError(`${label}: N = ${shape.N} exceeds the 65535 workgroups per grid dimension`);
  for (const [name, [binding, count]] of Object.entries(buffers)) {
    const have = bindingBytes(binding);
    if (have < count * 4) {
      throw new GrnShapeError(`${label}: buffer '${name}' holds ${have} bytes, needs ${count * 4} (${count} floats) for ${JSON.stringify(shape)}`);
    }
  }
}

/**
 * Y = GRN(X). Also writes Nx (`norm`) and G (`gnorm`), both (groups, C), for the backward.
 */
export async function grnForward(
  engine: Engine,
  arena: BufferArena,
  label: string,
  io: {
    /** (rows, C) */
    x: Binding;
    /** (C) */
    gamma: Binding;
    /** (C) */
    beta: Binding;
    /** (rows, C) */
    y: Binding;
    /** Nx (groups, C), groups = N ('per-sample') or 1 ('batch') */
    norm: Binding;
    /** G (groups, C) */
    gnorm: Binding;
  },
  shape: GrnShape,
): Promise<Dispatch[]> {
  const { C } = shape;
  const groups = grnGroupCount(shape);
  const groupRows = grnGroupRows(shape);
  const total = groups * groupRows * C;
  validate(label, shape, {
    x: [io.x, total],
    gamma: [io.gamma, C],
    beta: [io.beta, C],
    y: [io.y, total],
    norm: [io.norm, groups * C],
    gnorm: [io.gnorm, groups * C],
  });
  const P = PASS_FLOPS;
  const plan = planFor(engine, shape);
  if (plan.forward === 'fused') {
    return [
      await makeDispatch(engine, arena, {
        label: `${label}/fused`,
        kernel: fusedKernel('forward', plan),
        params: params().u32(C).u32(groupRows).f32(GRN_EPS).build(),
        buffers: [io.x, io.gamma, io.beta, io.y, io.norm, io.gnorm],
        workgroups: [groups],
        flops: grnFlops(shape, 'forward'),
      }),
    ];
  }
  const apply = await makeDispatch(engine, arena, {
    label: `${label}/apply`,
    kernel: { shader: 'grn-apply.wgsl', entryPoint: 'main' },
    params: params().u32(C).u32(groupRows).u32(total).build(),
    buffers: [io.x, io.gamma, io.beta, io.norm, io.y],
    workgroups: linearGrid(ceilDiv(total, 256)),
    flops: (ELEMENTWISE_FLOPS.grnForward - P.grnForwardSums) * total,
  });
  if (plan.forward === 'from-rows') {
    return [
      await makeDispatch(engine, arena, {
        label: `${label}/stats`,
        kernel: { shader: 'grn-stats.wgsl', entryPoint: 'main', constants: { FROM_ROWS: 1 } },
        params: params().u32(C).u32(groupRows).f32(GRN_EPS).build(),
        buffers: [io.x, io.gnorm, io.norm],
        workgroups: [groups],
        flops: P.grnForwardSums * total + P.grnStatsForward * groups * C,
      }),
      apply,
    ];
  }
  const { chunkRows, chunks } = grnChunking(groupRows);
  const partial = arena.f32(`${label}/sum-sq-partials`, groups * chunks * C); // (groups, K, C)
  const folded = groups * chunks * C; // adds of the stats pass folding the partials
  return [
    await makeDispatch(engine, arena, {
      label: `${label}/sum-sq`,
      kernel: { shader: 'grn-partial.wgsl', entryPoint: 'main', constants: { SUM_B: 0 } },
      params: params().u32(C).u32(groupRows).u32(chunkRows).u32(chunks).u32(groups).build(),
      buffers: [io.x, io.x, partial],
      workgroups: [ceilDiv(C, 64), chunks, groups],
      flops: P.grnForwardSums * total - folded,
    }),
    await makeDispatch(engine, arena, {
      label: `${label}/stats`,
      kernel: { shader: 'grn-stats.wgsl', entryPoint: 'main' },
      params: params().u32(C).u32(chunks).f32(GRN_EPS).build(),
      buffers: [partial, io.gnorm, io.norm],
      workgroups: [groups],
      flops: folded + P.grnStatsForward * groups * C,
    }),
    apply,
  ];
}

/**
 * dX (overwritten), dGamma and dBeta (overwritten, or += with accumulateParamGrads) from dY,
 * given the forward's X, Nx and G.
 */
export async function grnBackward(
  engine: Engine,
  arena: BufferArena,
  label: string,
  io: {
    /** (rows, C) */
    x: Binding;
    /** (C) */
    gamma: Binding;
    /** Nx (groups, C) from grnForward */
    norm: Binding;
    /** G (groups, C) from grnForward */
    gnorm: Binding;
    /** (rows, C) */
    dY: Binding;
    /** (rows, C); the GELU input's gradient with geluForm */
    dX: Binding;
    /** (rows, C) the GELU input, with geluForm */
    geluInput?: Binding;
    /** (C) */
    dGamma: Binding;
    /** (C) */
    dBeta: Binding;
  },
  shape: GrnBackwardOptions,
): Promise<Dispatch[]> {
  const { C } = shape;
  const groups = grnGroupCount(shape);
  const groupRows = grnGroupRows(shape);
  const total = groups * groupRows * C;
  validate(label, shape, {
    x: [io.x, total],
    gamma: [io.gamma, C],
    norm: [io.norm, groups * C],
    gnorm: [io.gnorm, groups * C],
    dY: [io.dY, total],
    dX: [io.dX, total],
    dGamma: [io.dGamma, C],
    dBeta: [io.dBeta, C],
    ...(shape.geluForm ? { geluInput: [io.geluInput ?? io.x, total] as [Binding, number] } : {}),
  });
  if (shape.geluForm && !io.geluInput) throw new GrnShapeError(`${label}: geluForm '${shape.geluForm}' needs io.geluInput (the GELU input)`);
  const P = PASS_FLOPS;
  const plan = planFor(engine, shape);
  const geluFlops = shape.geluForm ? ELEMENTWISE_FLOPS.geluBackward * total : 0;
  const accumulateFlops = shape.accumulateParamGrads ? 2 * C * ELEMENTWISE_FLOPS.residual : 0;
  if (plan.backward === 'fused') {
    const scratch = arena.f32(`${label}/dG`, C); // (C) the current group's dG before centring: dNx
    return [
      await makeDispatch(engine, arena, {
        label: `${label}/fused`,
        kernel: fusedKernel('backward', plan, {
          GELU_FORM: shape.geluForm ? GELU_FORM_CODE[shape.geluForm] : 0,
          ACCUMULATE: shape.accumulateParamGrads ? 1 : 0,
        }),
        params: params().u32(C).u32(groupRows).u32(groups).f32(GRN_EPS).build(),
        // binding 7 unused without geluForm: X again, read-only
        buffers: [io.x, io.dY, io.gamma, io.norm, io.gnorm, io.dX, io.geluInput ?? io.x, io.dGamma, io.dBeta, scratch],
        workgroups: [1],
        flops: grnFlops(shape, 'backward') + geluFlops + accumulateFlops,
      }),
    ];
  }
  const dG = arena.f32(`${label}/dG`, groups * C); // (groups, C)
  const paramParts = arena.f32(`${label}/param-parts`, 2 * groups * C); // (2, groups, C): Nx·P, Q
  const sums: Dispatch[] = [];
  if (plan.backward === 'from-rows') {
    // the per-group pass sums Σ dY·X and Σ dY from the rows itself
    sums.push(
      await makeDispatch(engine, arena, {
        label: `${label}/stats`,
        kernel: { shader: 'grn-backward-stats.wgsl', entryPoint: 'main', constants: { FROM_ROWS: 1 } },
        params: params().u32(C).u32(groupRows).u32(groups).f32(GRN_EPS).build(),
        buffers: [io.x, io.gamma, io.norm, io.gnorm, dG, paramParts, io.dY],
        workgroups: [groups],
        flops: P.grnBackwardSums * total + P.grnStatsBackward * groups * C,
      }),
    );
  } else {
    const { chunkRows, chunks } = grnChunking(groupRows);
    const partial = arena.f32(`${label}/dy-partials`, 2 * groups * chunks * C); // (2, groups, K, C): Σ dY·X, Σ dY
    const folded = 2 * groups * chunks * C; // adds of the stats pass folding the partials
    sums.push(
      await makeDispatch(engine, arena, {
        label: `${label}/sum-dy`,
        kernel: { shader: 'grn-partial.wgsl', entryPoint: 'main', constants: { SUM_B: 1 } },
        params: params().u32(C).u32(groupRows).u32(chunkRows).u32(chunks).u32(groups).build(),
        buffers: [io.x, io.dY, partial],
        workgroups: [ceilDiv(C, 64), chunks, groups],
        flops: P.grnBackwardSums * total - folded,
      }),
      await makeDispatch(engine, arena, {
        label: `${label}/stats`,
        kernel: { shader: 'grn-backward-stats.wgsl', entryPoint: 'main' },
        params: params().u32(C).u32(chunks).u32(groups).f32(GRN_EPS).build(),
        // binding 7 (dY of FROM_ROWS) unused: the partials again, read-only
        buffers: [partial, io.gamma, io.norm, io.gnorm, dG, paramParts, partial],
        workgroups: [groups],
        flops: folded + P.grnStatsBackward * groups * C,
      }),
    );
  }
  return [
    ...sums,
    await makeDispatch(engine, arena, {
      label: `${label}/params`,
      kernel: {
        shader: 'grn-backward-params.wgsl',
        entryPoint: 'main',
        constants: { ACCUMULATE: shape.accumulateParamGrads ? 1 : 0 },
      },
      params: params().u32(C).u32(groups).build(),
      buffers: [paramParts, io.dGamma, io.dBeta],
      workgroups: [ceilDiv(C, 256)],
      flops: P.grnParamsBackward * groups * C + accumulateFlops,
    }),
    await makeDispatch(engine, arena, {
      label: `${label}/dx`,
      kernel: { shader: 'grn-backward-dx.wgsl', entryPoint: 'main', constants: { GELU_FORM: shape.geluForm ? GELU_FORM_CODE[shape.geluForm] : 0 } },
      params: params().u32(C).u32(groupRows).u32(total).build(),
      // binding 8 unused without geluForm: X again, read-only
      buffers: [io.x, io.dY, io.gamma, io.norm, io.gnorm, dG, io.dX, io.geluInput ?? io.x],
      workgroups: linearGrid(ceilDiv(total, 256)),
      flops: (ELEMENTWISE_FLOPS.grnBackward - P.grnBackwardSums) * total + geluFlops,
    }),
  ];
}

/**
 * Rough FLOPs of one GRN pass, the sum of its dispatches' (parameter gradients overwritten).
 * Forward: X² and its sum (2) + gamma·X·Nx + beta + X (4) per element. Backward: dY·X, two
 * sums (3) + dY·(1 + gamma·Nx) (3) + (X/G)·dG and the add (3). The O(groups·C) finishing work
 * is counted too, though it is negligible.
 */
export function grnFlops(shape: GrnShape, pass: 'forward' | 'backward'): number {
  const elements = shape.N * shape.rowsPerSample * shape.C;
  const perGroup = grnGroupCount(shape) * shape.C;
  const P = PASS_FLOPS;
  return pass === 'forward'
    ? ELEMENTWISE_FLOPS.grnForward * elements + P.grnStatsForward * perGroup
    : ELEMENTWISE_FLOPS.grnBackward * elements + (P.grnStatsBackward + P.grnParamsBackward) * perGroup;
}
