// Submanifold-sparse depthwise 7×7 convolution (padding 3, bias) on the sparse row layout
// (src/ops/sparse-layout.ts), built on shaders/dwconv-kernels.wgsl. Outputs exist only at
// visible sites; a neighbour outside the image or in a masked patch counts as 0. The same
// kernels serve the dense encoder (mask ratio 0), the masked encoder and the decoder's dense
// grid (r = 1, every patch visible).
//
// Three kernel families compute identical sums (`kernel` forces one, for tests and benchmarks):
//  - 'tiled': one workgroup per visible patch × channel block stages the patch plus its 3-site
//    halo in workgroup memory, so each input is read ~(r+6)²/r² times instead of 49;
//  - 'direct': one thread per (row, channel vector) gathers its 49 neighbours through a
//    per-workgroup neighbour table;
//  - 'serial' (software adapters): no workgroup memory, no barrier; each thread finds its own
//    neighbours, and the backward (dX and dWeight/dBias threads side by side) is one dispatch.
// 'auto' is serial on software adapters: on SwiftShader a kernel with a barrier runs every
// invocation as a coroutine, which costs more than the gathers and index arithmetic it saves
// (atto 96 px, stage 3, r = 1, C = 320: backward ~9-13 ms of CPU instead of ~23 for direct dX
// + direct dWeight; stage 0, r = 8: ~30-36 instead of ~52 for direct dX + tiled dWeight;
// isolated dispatches on a loaded 2-core machine, issue 18). On GPUs it
// picks tiled at r ≥ 4 (at r ≤ 2 a tile is mostly halo), direct below.
// dX is the forward with flipped taps (the neighbour relation is symmetric on visible sites);
// dWeight/dBias are chunks of rows → partials (K, 50, C) → a reduce pass; with a single chunk
// (≤ 256 rows; serial: ≤ 1024) the partial pass writes dWeight/dBias itself.
// FLOPs (src/ops/flop-conventions.ts): 2 per tap per output, all 49 taps as if dense; the bias
// (forward) and the dBias sum 1 per element; accumulating 1 per output; the reduce pass counts
// the K·50·C adds folding the partials, which come out of the partial pass's count.
import type { BufferArena } from '../gpu/buffers.ts';
import { ceilDiv, linearGrid, makeDispatch, params, type Binding, type Dispatch } from '../gpu/dispatch.ts';
import type { Engine } from '../gpu/engine.ts';
import { requireFloats } from './elementwise.ts';
import { ELEMENTWISE_FLOPS, TAPS } from './flop-conventions.ts';
import { layerNormForward, LN_EPS } from './layernorm.ts';
import { kernelPlanOf, type KernelPlan } from './kernel-plan.ts';

export type DwconvKernel = 'auto' | 'tiled' | 'direct' | 'serial';

export interface DwconvShape {
  /** Samples. */
  N: number;
  /** Visible patches per sample (L when dense). */
  V: number;
  gridH: number;
  gridW: number;
  /** Sites per patch side: 1, 2, 4 or 8. */
  r: number;
  /** Channels. */
  C: number;
  /** Kernel family (see the file header); 'auto' by default. */
  kernel?: DwconvKernel;
  /** Whose plan 'auto' follows; default from the adapter. Tests run the 'gpu' plan on SwiftShader. */
  plan?: KernelPlan;
}

export interface DwconvBackwardShape extends DwconvShape {
  /** dX += result (the block's residual gradient is already there) instead of dX = result. */
  accumulateDX?: boolean;
  /** dWeight += …, dBias += … instead of overwriting them. */
  accumulateParams?: boolean;
}

export interface DwconvForwardIO {
  /** (rows, C) */
  x: Binding;
  /** (49, C) tap-major */
  weight: Binding;
  /** (C) */
  bias: Binding;
  /** (rows, C) written */
  y: Binding;
  /** (N, L) Int32: visible rank of each patch, −1 = masked */
  patchToVisible: Binding;
  /** (N, V) Int32: patch index of each visible patch */
  visiblePatches: Binding;
}

export interface DwconvBackwardIO {
  /** (rows, C) the forward's input */
  x: Binding;
  /** (49, C) */
  weight: Binding;
  /** (rows, C) */
  dY: Binding;
  /** (rows, C) written, or added to with accumulateDX */
  dX: Binding;
  /** (49, C) */
  dWeight: Binding;
  /** (C) */
  dBias: Binding;
  /** (N, L) Int32 */
  patchToVisible: Binding;
  /** (N, V) Int32 */
  visiblePatches: Binding;
}

export class DwconvShapeError extends Error {
  override readonly name = 'DwconvShapeError';
}

/** Rows per partial sum of dWeight: K = rows / 256 keeps the partials ≤ ~1/5 of x. */
const ROWS_PER_CHUNK = 256;
/** Serial family: rows per dWeight chunk. Longer than on GPUs (a software adapter has few
 *  cores; one chunk keeps the backward at one dispatch for small models). */
const SERIAL_ROWS_PER_CHUNK = 1024;
/** Serial family: threads per workgroup. */
const SERIAL_THREADS = 64;
/** Serial backward: channel vectors per dX thread (its neighbour rows found once for all). */
const SERIAL_DX_BLOCK = 8;
/** dweight_direct walks its chunk RB rows at a time. */
const DWEIGHT_RB = 16;
/** forward_direct: threads per workgroup (WG_X channel vectors × RB rows). */
const DIRECT_THREADS = 64;
const MAX_DIRECT_WG_X = 32;
const MAX_DIRECT_RB = 16;
/** forward_tiled: threads per workgroup, outputs per workgroup (~2 per thread) and the tile
 *  budget. The halo overhead does not depend on the block width, so the block is only as wide
 *  as needed to fill the threads; 8 KiB stays well inside WebGPU's guaranteed 16 KiB (and
 *  SwiftShader compiles big workgroup arrays slowly). */
const TILED_THREADS = 64;
const TILED_OUTPUTS = 128;
const TILED_TILE_BYTES = 8192;
/** dweight: channels per block (threads = 50 taps × channel vectors). r = 8, vec4: tile
 *  14²·8·4 B + dY 64·8·4 B ≈ 9 KiB. */
const DWEIGHT_CHANNELS_VEC4 = 8;
const DWEIGHT_CHANNELS_F32 = 4;

interface Plan {
  shader: string;
  lanes: number;
  /** Channel vectors per row. */
  Cv: number;
  rows: number;
  patches: number;
  /** Family of the forward and dX passes. */
  conv: 'tiled' | 'direct' | 'serial';
  /** Family of the dWeight partial-sum pass (serial exactly when conv is). */
  dweight: 'tiled' | 'direct' | 'serial';
}

function validate(engine: Engine, label: string, s: DwconvShape): Plan {
  const { N, V, gridH, gridW, r, C } = s;
  for (const [k, v] of Object.entries({ N, V, gridH, gridW, C })) {
    if (!Number.isInteger(v) || v <= 0) throw new DwconvShapeError(`${label}: ${k} = ${v} must be a positive integer`);
  }
  if (![1, 2, 4, 8].includes(r)) {
    throw new DwconvShapeError(`${label}: r = ${r}; the sparse layout has 1, 2, 4 or 8 sites per patch side`);
  }
  if (V > gridH * gridW) throw new DwconvShapeError(`${label}: V = ${V} visible patches > L = ${gridH}·${gridW}`);
  const lanes = C % 4 === 0 ? 4 : 1;
  const forced = s.kernel === 'tiled' || s.kernel === 'direct' || s.kernel === 'serial' ? s.kernel : null;
  const tiledFits = r >= 4;
  const software = kernelPlanOf(engine, s.plan) === 'software';
  const serial = forced === 'serial' || (forced === null && software);
  return {
    shader: lanes === 4 ? 'dwconv-vec4.wgsl' : 'dwconv-f32.wgsl',
    lanes,
    Cv: C / lanes,
    rows: N * V * r * r,
    patches: N * V,
    conv: serial ? 'serial' : (forced ?? (tiledFits ? 'tiled' : 'direct')),
    dweight: serial ? 'serial' : (forced ?? (tiledFits ? 'tiled' : 'direct')),
  };
}

function bindingBytes(b: Binding): number {
  if ('buffer' in b) return b.size ?? b.buffer.size - (b.offset ?? 0);
  return b.size;
}

/** Throws when a bound buffer is smaller than its shape needs. */
function checkSizes(label: string, sizes: Record<string, [Binding, number, string]>): void {
  for (const [name, [b, count, shape]] of Object.entries(sizes)) {
    const have = bindingBytes(b);
    if (have < count * 4) {
      throw new DwconvShapeError(`${label}: ${name} has ${have} bytes, needs ${count * 4} for shape ${shape}`);
    }
  }
}

/** [channel blocks, then `count` spread over y/z] */
function grid(channelBlocks: number, count: number): [number, number, number] {
  const [y, z] = linearGrid(count);
  return [channelBlocks, y, z];
}

function shapeParams(s: DwconvShape, plan: Plan, chunks = { patches: 0, rows: 0, count: 0 }): ArrayBuffer {
  return params().u32(s.N).u32(s.V).u32(s.gridH).u32(s.gridW).u32(plan.Cv).u32(chunks.patches).u32(chunks.rows).u32(chunks.count).build();
}

/** y = bias + Σ_taps w·x[nbr] (or the flipped, bias-free, optionally accumulating dX pass). */
async function convDispatch(
  engine: Engine,
  arena: BufferArena,
  label: string,
  s: DwconvShape,
  plan: Plan,
  bufs: { p2v: Binding; vis: Binding; x: Binding; w: Binding; bias: Binding; y: Binding },
  flags: { flip: boolean; bias: boolean; accumulate: boolean },
): Promise<Dispatch> {
  const common = { R: s.r, FLIP: flags.flip ? 1 : 0, HAS_BIAS: flags.bias ? 1 : 0, ACCUMULATE: flags.accumulate ? 1 : 0 };
  const buffers = [bufs.p2v, bufs.vis, bufs.x, bufs.w, bufs.bias, bufs.y];
  const E = ELEMENTWISE_FLOPS;
  const flops = dwconvFlops(s) + plan.rows * s.C * ((flags.bias ? E.bias : 0) + (flags.accumulate ? E.residual : 0));
  if (plan.conv === 'serial') {
    return makeDispatch(engine, arena, {
      label,
      kernel: { shader: plan.shader, entryPoint: 'forward_serial', constants: common },
      params: shapeParams(s, plan),
      buffers,
      workgroups: linearGrid(ceilDiv(plan.rows * plan.Cv, SERIAL_THREADS)),
      flops,
    });
  }
  if (plan.conv === 'tiled') {
    const r = s.r;
    const cbvMemory = Math.floor(TILED_TILE_BYTES / ((r + 6) * (r + 6) * 4 * plan.lanes));
    const cbv = Math.min(plan.Cv, Math.max(1, Math.min(cbvMemory, ceilDiv(TILED_OUTPUTS, r * r))));
    return makeDispatch(engine, arena, {
      label,
      kernel: { shader: plan.shader, entryPoint: 'forward_tiled', constants: { ...common, CBV: cbv, WG: TILED_THREADS } },
      params: shapeParams(s, plan),
      buffers,
      workgroups: grid(ceilDiv(plan.Cv, cbv), plan.patches),
      flops,
    });
  }
  // Channel blocks of equal width ≤ 32 (C = 40 as vec4: one block of 10, not 16 with 6 idle),
  // as many rows as fit in 64 threads, at most 16 (the neighbour table is RB·49 entries).
  const wgX = ceilDiv(plan.Cv, ceilDiv(plan.Cv, MAX_DIRECT_WG_X));
  const rb = Math.min(MAX_DIRECT_RB, Math.floor(DIRECT_THREADS / wgX));
  return makeDispatch(engine, arena, {
    label,
    kernel: { shader: plan.shader, entryPoint: 'forward_direct', constants: { ...common, WG_X: wgX, RB: rb } },
    params: shapeParams(s, plan),
    buffers,
    workgroups: grid(ceilDiv(plan.Cv, wgX), ceilDiv(plan.rows, rb)),
    flops,
  });
}

/** Dispatches computing y (rows, C) from x (rows, C); see DwconvForwardIO. */
export async function dwconvForward(
  engine: Engine,
  arena: BufferArena,
  label: string,
  io: DwconvForwardIO,
  shape: DwconvShape,
): Promise<Dispatch[]> {
  const plan = validate(engine, label, shape);
  const { N, V, C } = shape;
  const L = shape.gridH * shape.gridW;
  checkSizes(label, {
    x: [io.x, plan.rows * C, `(rows=${plan.rows}, C=${C})`],
    weight: [io.weight, TAPS * C, `(49, C=${C})`],
    bias: [io.bias, C, `(C=${C})`],
    y: [io.y, plan.rows * C, `(rows=${plan.rows}, C=${C})`],
    patchToVisible: [io.patchToVisible, N * L, `(N=${N}, L=${L})`],
    visiblePatches: [io.visiblePatches, N * V, `(N=${N}, V=${V})`],
  });
  const bufs = { p2v: io.patchToVisible, vis: io.visiblePatches, x: io.x, w: io.weight, bias: io.bias, y: io.y };
  return [await convDispatch(engine, arena, label, shape, plan, bufs, { flip: false, bias: true, accumulate: false })];
}

/** Storage buffers the fused dwconv + LayerNorm kernel binds (more than WebGPU's default 8). */
const SERIAL_LN_STORAGE_BUFFERS = 11;

/**
 * The block's depthwise conv and then LayerNorm over the channels of its output (ConvNeXt:
 * dwconv → norm): y as dwconvForward writes it (LayerNorm backward reads it), lnY, mean, rstd
 * as layerNormForward writes them. The serial family does both in one dispatch, a thread per
 * row, where the device binds 11 storage buffers; otherwise the two ops' own dispatches.
 */
export async function dwconvLayerNormForward(
  engine: Engine,
  arena: BufferArena,
  labels: { dwconv: string; ln: string },
  io: DwconvForwardIO & {
    /** (C) */
    lnWeight: Binding;
    /** (C) */
    lnBias: Binding;
    /** (rows, C) written */
    lnY: Binding;
    /** (rows) written */
    mean: Binding;
    /** (rows) written */
    rstd: Binding;
  },
  shape: DwconvShape,
): Promise<Dispatch[]> {
  const plan = validate(engine, labels.dwconv, shape);
  const { C } = shape;
  const fits = engine.ctx.device.limits.maxStorageBuffersPerShaderStage >= SERIAL_LN_STORAGE_BUFFERS;
  if (plan.conv !== 'serial' || !fits) {
    return [
      ...(await dwconvForward(engine, arena, labels.dwconv, io, shape)),
      ...(await layerNormForward(engine, arena, labels.ln, { x: io.y, weight: io.lnWeight, bias: io.lnBias, y: io.lnY, mean: io.mean, rstd: io.rstd }, { rows: plan.rows, C, plan: shape.plan })),
    ];
  }
  const L = shape.gridH * shape.gridW;
  checkSizes(labels.dwconv, {
    x: [io.x, plan.rows * C, `(rows=${plan.rows}, C=${C})`],
    weight: [io.weight, TAPS * C, `(49, C=${C})`],
    bias: [io.bias, C, `(C=${C})`],
    y: [io.y, plan.rows * C, `(rows=${plan.rows}, C=${C})`],
    patchToVisible: [io.patchToVisible, shape.N * L, `(N=${shape.N}, L=${L})`],
    visiblePatches: [io.visiblePatches, shape.N * shape.V, `(N=${shape.N}, V=${shape.V})`],
  });
  const lnSizes = { lnWeight: C, lnBias: C, lnY: plan.rows * C, mean: plan.rows, rstd: plan.rows };
  for (const [k, n] of Object.entries(lnSizes)) requireFloats(labels.ln, k, io[k as keyof typeof lnSizes], n);
  const E = ELEMENTWISE_FLOPS;
  return [
    await makeDispatch(engine, arena, {
      label: `${labels.dwconv}+ln`,
      kernel: { shader: plan.shader, entryPoint: 'forward_serial_ln', constants: { R: shape.r, LN_EPS } },
      params: shapeParams(shape, plan),
      buffers: [io.patchToVisible, io.visiblePatches, io.x, io.weight, io.bias, io.y, io.lnWeight, io.lnBias, io.lnY, io.mean, io.rstd],
      workgroups: linearGrid(ceilDiv(plan.rows, SERIAL_THREADS)),
      flops: dwconvFlops(shape) + plan.rows * C * (E.bias + E.layerNormForward),
    }),
  ];
}

/** Dispatches computing dX, dWeight, dBias from dY; see DwconvBackwardIO. Partials come from `arena`. */
export async function dwconvBackward(
  engine: Engine,
  arena: BufferArena,
  label: string,
  io: DwconvBackwardIO,
  shape: DwconvBackwardShape,
): Promise<Dispatch[]> {
  const plan = validate(engine, label, shape);
  const { N, V, C, r } = shape;
  const L = shape.gridH * shape.gridW;
  checkSizes(label, {
    x: [io.x, plan.rows * C, `(rows=${plan.rows}, C=${C})`],
    weight: [io.weight, TAPS * C, `(49, C=${C})`],
    dY: [io.dY, plan.rows * C, `(rows=${plan.rows}, C=${C})`],
    dX: [io.dX, plan.rows * C, `(rows=${plan.rows}, C=${C})`],
    dWeight: [io.dWeight, TAPS * C, `(49, C=${C})`],
    dBias: [io.dBias, C, `(C=${C})`],
    patchToVisible: [io.patchToVisible, N * L, `(N=${N}, L=${L})`],
    visiblePatches: [io.visiblePatches, N * V, `(N=${N}, V=${V})`],
  });
  const p2v = io.patchToVisible;
  const vis = io.visiblePatches;
  if (plan.conv === 'serial') return serialBackward(engine, arena, label, io, shape, plan);
  // The bias binding of the dX pass is never read (HAS_BIAS = 0); the weight stands in.
  const dxPass = await convDispatch(
    engine,
    arena,
    `${label}/dX`,
    shape,
    plan,
    { p2v, vis, x: io.dY, w: io.weight, bias: io.weight, y: io.dX },
    { flip: true, bias: false, accumulate: shape.accumulateDX ?? false },
  );

  const cbv = Math.min((plan.lanes === 4 ? DWEIGHT_CHANNELS_VEC4 : DWEIGHT_CHANNELS_F32) / plan.lanes, plan.Cv);
  const threads = Math.ceil((50 * cbv) / 32) * 32;
  const tiled = plan.dweight === 'tiled';
  // Tiled chunks are whole patches, direct chunks whole RB-row batches; ~ROWS_PER_CHUNK rows each.
  const patches = tiled ? Math.max(1, Math.round(ROWS_PER_CHUNK / (r * r))) : 0;
  const chunks = {
    patches,
    rows: tiled ? 0 : ROWS_PER_CHUNK,
    count: tiled ? ceilDiv(plan.patches, patches) : ceilDiv(plan.rows, ROWS_PER_CHUNK),
  };
  const constants: Record<string, number> = { R: r, CBV: cbv, WG: threads };
  if (!tiled) constants.RB = DWEIGHT_RB;
  // dWeight: 2 per tap per element, dBias: 1 per element
  const paramFlops = dwconvFlops(shape) + plan.rows * C * ELEMENTWISE_FLOPS.columnSum;
  if (chunks.count === 1) {
    // one chunk: pass 1 writes dWeight (its (49, C) layout is the partials') and dBias itself
    const onePass = await makeDispatch(engine, arena, {
      label: `${label}/dweight`,
      kernel: { shader: plan.shader, entryPoint: tiled ? 'dweight_tiled' : 'dweight_direct', constants: { ...constants, ONE_CHUNK: 1, ACCUMULATE: shape.accumulateParams ? 1 : 0 } },
      params: shapeParams(shape, plan, chunks),
      buffers: [p2v, vis, io.x, io.dY, io.dWeight, io.dBias],
      workgroups: grid(ceilDiv(plan.Cv, cbv), 1),
      flops: paramFlops + (shape.accumulateParams ? 50 * C * ELEMENTWISE_FLOPS.residual : 0),
    });
    return [dxPass, onePass];
  }
  const partial = arena.f32(`${label}/dweight-partials`, chunks.count * 50 * C); // (K, 50, C)
  // the reduce folds the K partials of each of the 50·C sums
  const folded = chunks.count * 50 * C;
  const partialPass = await makeDispatch(engine, arena, {
    label: `${label}/dweight-partials`,
    kernel: { shader: plan.shader, entryPoint: tiled ? 'dweight_tiled' : 'dweight_direct', constants },
    params: shapeParams(shape, plan, chunks),
    // binding 6 (dBias of the one-chunk form) unused: a stand-in (writable bindings must not alias)
    buffers: [p2v, vis, io.x, io.dY, partial, arena.shared('dwconv/no-dbias', 16)],
    workgroups: grid(ceilDiv(plan.Cv, cbv), chunks.count),
    flops: paramFlops - folded,
  });
  const reducePass = await makeDispatch(engine, arena, {
    label: `${label}/dweight-reduce`,
    kernel: { shader: plan.shader, entryPoint: 'dweight_reduce', constants: { ACCUMULATE: shape.accumulateParams ? 1 : 0 } },
    params: shapeParams(shape, plan, chunks),
    buffers: [partial, io.dWeight, io.dBias],
    workgroups: linearGrid(ceilDiv(50 * plan.Cv, 64)),
    flops: folded + (shape.accumulateParams ? 50 * C * ELEMENTWISE_FLOPS.residual : 0),
  });
  return [dxPass, partialPass, reducePass];
}

/** The serial family's backward: dX and dWeight/dBias (or its partials) in one barrier-free
 *  dispatch, plus the reduce pass when there is more than one chunk. */
async function serialBackward(
  engine: Engine,
  arena: BufferArena,
  label: string,
  io: DwconvBackwardIO,
  shape: DwconvBackwardShape,
  plan: Plan,
): Promise<Dispatch[]> {
  const { C } = shape;
  const E = ELEMENTWISE_FLOPS;
  // chunks of whole patches (a dweight thread looks up a patch's neighbour patches once)
  const patches = Math.max(1, Math.floor(SERIAL_ROWS_PER_CHUNK / (shape.r * shape.r)));
  const chunks = { patches, rows: 0, count: ceilDiv(plan.patches, patches) };
  const oneChunk = chunks.count === 1;
  const accumulateParams = shape.accumulateParams ?? false;
  const accumulateDX = shape.accumulateDX ?? false;
  // dX: the flipped conv (+ 1 per element when accumulating); dWeight 2 per tap per element, dBias 1
  const dxFlops = dwconvFlops(shape) + (accumulateDX ? plan.rows * C * E.residual : 0);
  const paramFlops = dwconvFlops(shape) + plan.rows * C * E.columnSum;
  const folded = oneChunk ? 0 : chunks.count * 50 * C;
  const paramsOut = oneChunk ? [io.dWeight, io.dBias] : [arena.f32(`${label}/dweight-partials`, chunks.count * 50 * C), arena.shared('dwconv/no-dbias', 16)]; // (K, 50, C)
  const dxBlock = Math.min(plan.Cv, SERIAL_DX_BLOCK);
  const threads = chunks.count * 50 * plan.Cv + plan.rows * ceilDiv(plan.Cv, dxBlock);
  const fused = await makeDispatch(engine, arena, {
    label: oneChunk ? `${label}/dX+dweight` : `${label}/dX+dweight-partials`,
    kernel: {
      shader: plan.shader,
      entryPoint: 'backward_serial',
      constants: { R: shape.r, FLIP: 1, ACCUMULATE: accumulateDX ? 1 : 0, ONE_CHUNK: oneChunk ? 1 : 0, ACCUMULATE_PARAMS: accumulateParams ? 1 : 0, DXB: dxBlock },
    },
    params: shapeParams(shape, plan, chunks),
    buffers: [io.patchToVisible, io.visiblePatches, io.x, io.dY, io.weight, io.dX, ...paramsOut],
    workgroups: linearGrid(ceilDiv(threads, SERIAL_THREADS)),
    flops: dxFlops + paramFlops - folded + (oneChunk && accumulateParams ? 50 * C * E.residual : 0),
  });
  if (oneChunk) return [fused];
  const reducePass = await makeDispatch(engine, arena, {
    label: `${label}/dweight-reduce`,
    kernel: { shader: plan.shader, entryPoint: 'dweight_reduce', constants: { ACCUMULATE: accumulateParams ? 1 : 0 } },
    params: shapeParams(shape, plan, chunks),
    buffers: [paramsOut[0]!, io.dWeight, io.dBias],
    workgroups: linearGrid(ceilDiv(50 * plan.Cv, 64)),
    flops: folded + (accumulateParams ? 50 * C * E.residual : 0),
  });
  return [fused, reducePass];
}

/** FLOPs of one forward (multiply-adds counted as 2; every tap counted, as dense). */
export function dwconvFlops(s: { N: number; V: number; r: number; C: number }): number {
  return 2 * TAPS * s.N * s.V * s.r * s.r * s.C;
}
