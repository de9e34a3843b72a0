// The ConvNeXt V2 network's layers as forward / backward pairs (llm.c style): each builder
// allocates the buffers its forward keeps for its backward, and returns both dispatch lists.
// A plan lists its layers in forward order and runs the backward lists in reverse: that list,
// reversed, is the whole backward pass. The FCMAE plan and the classification plan build their
// encoders from these same functions.
//
// Gradient streams: a layer's backward reads the gradient of its output from `dOut` and writes
// (or, along a residual path, accumulates into) the gradient of its input.
import type { BufferArena } from '../gpu/buffers.ts';
import { encodeDispatches, type Dispatch } from '../gpu/dispatch.ts';
import type { Engine } from '../gpu/engine.ts';
import { dwconvBackward, dwconvLayerNormForward } from '../ops/dwconv.ts';
import { addScaledRows, scaleRows } from '../ops/drop-path.ts';
import { geluBackward } from '../ops/gelu.ts';
import { grnBackward, grnForward } from '../ops/grn.ts';
import { layerNormBackward, layerNormForward } from '../ops/layernorm.ts';
import { maskRows } from '../ops/mask-rows.ts';
import { matmulDispatches } from '../ops/matmul.ts';
import { STEM_COLS, STEM_SITES_PER_PATCH, stemBackward, stemForward } from '../ops/stem.ts';
import type { GrnMode } from './config.ts';
import type { GeluForm } from '../ops/gelu.ts';

/** What a layer builder needs: the engine, the plan's arena, and bindings of parameters and gradients by canonical name. */
export interface BuildContext {
  engine: Engine;
  arena: BufferArena;
  param(name: string): GPUBufferBinding;
  grad(name: string): GPUBufferBinding;
}

/** One layer (or group of blocks) of a plan: what it dispatches forward and backward, and the phases (compute passes) they run in. */
export interface Layer {
  /** Forward phase name; consecutive layers with the same name share one pass. */
  forwardPhase: string;
  /** Backward phase name (runs in reverse layer order). */
  backwardPhase: string;
  forward: Dispatch[];
  backward: Dispatch[];
}

/** Where a group of blocks runs: its sparse layout tables and the site resolution. */
export interface Grid {
  r: number;
  N: number;
  V: number;
  gridH: number;
  gridW: number;
  patchToVisible: GPUBuffer; // (N·L) int32
  visiblePatches: GPUBuffer; // (N·V) int32
}

/** GRN's buffers of one block, kept for its backward (absent without GRN). */
interface GrnActs {
  y: GPUBuffer; // (rows, 4C) GRN output
  norm: GPUBuffer; // (N or 1, 4C)
  gnorm: GPUBuffer; // (N or 1, 4C)
}

/** Buffers of one ConvNeXt V2 block's forward pass, kept for its backward. */
interface BlockActs {
  prefix: string;
  x: GPUBuffer; // (rows, C) block input
  dw: GPUBuffer; // (rows, C) depthwise conv output
  ln: GPUBuffer; // (rows, C) LayerNorm output
  lnMean: GPUBuffer; // (rows)
  lnRstd: GPUBuffer; // (rows)
  h: GPUBuffer; // (rows, 4C) pwconv1 output (pre-GELU)
  act: GPUBuffer; // (rows, 4C) GELU output
  grn: GrnActs | null; // null without GRN
  /** (rows, 4C) what pwconv2 reads: the GRN output, or the GELU output without GRN. */
  mlpOut: GPUBuffer;
  out: GPUBuffer; // (rows, C) block output = x + pwconv2(mlpOut)
  /** (N) per-sample drop-path scale of the residual branch, or null (no drop path). */
  dropScale: GPUBuffer | null;
}

/**
 * The stem: 4×4 stride-4 conv at the visible patches (im2col + matmul), then LayerNorm. In the
 * dense-encoder ablation (`mask` given) masked sites are zeroed after it, as the official dense
 * encoder multiplies by (1 − mask).
 */
export async function stemLayer(
  ctx: BuildContext,
  io: {
    image: GPUBuffer; // (N, 3, H, W)
    visiblePatches: GPUBuffer; // (N·V) int32
    mask: GPUBuffer | null; // (N·L) f32, 1 = masked: zero masked sites (dense-encoder ablation)
    /** (N·V·64, d0) gradient of the output; null: a frozen layer with no backward (nothing allocated for it). */
    dOut: GPUBuffer | null;
  },
  shape: { N: number; V: number; gridH: number; gridW: number; d0: number },
): Promise<{ layer: Layer; out: GPUBuffer }> {
  const { engine, arena } = ctx;
  const { N, V, d0 } = shape;
  const rows = N * V * STEM_SITES_PER_PATCH;
  const cols = arena.f32('stem/cols', rows * STEM_COLS); // (rows, 48)
  const conv = arena.f32('stem/conv', rows * d0); // (rows, d0)
  const out = arena.f32('stem/out', rows * d0); // (rows, d0)
  const mean = arena.f32('stem/ln-mean', rows);
  const rstd = arena.f32('stem/ln-rstd', rows);
  const w = 'encoder.downsample_layers.0.0';
  const n = 'encoder.downsample_layers.0.1';
  const forward = [
    ...(await stemForward(engine, arena, 'stem', { image: io.image, visiblePatches: io.visiblePatches, cols, weight: ctx.param(`${w}.weight`), bias: ctx.param(`${w}.bias`), y: conv }, shape)),
    ...(await layerNormForward(engine, arena, 'stem/ln', { x: conv, weight: ctx.param(`${n}.weight`), bias: ctx.param(`${n}.bias`), y: out, mean, rstd }, { rows, C: d0 })),
  ];
  if (io.mask) forward.push(...(await maskRows(engine, arena, 'stem/mask', { x: out, mask: io.mask }, { rows, C: d0, sitesPerPatch: STEM_SITES_PER_PATCH })));
  if (!io.dOut) return { layer: { forwardPhase: 'stem', backwardPhase: 'stem backward', forward, backward: [] }, out };
  const dConv = arena.f32('stem/d-conv', rows * d0);
  const backward: Dispatch[] = [];
  if (io.mask) backward.push(...(await maskRows(engine, arena, 'stem/mask-grad', { x: io.dOut, mask: io.mask }, { rows, C: d0, sitesPerPatch: STEM_SITES_PER_PATCH })));
  backward.push(...(await layerNormBackward(engine, arena, 'stem/ln-bwd', { x: conv, weight: ctx.param(`${n}.weight`), mean, rstd, dY: io.dOut, dX: dConv, dWeight: ctx.grad(`${n}.weight`), dBias: ctx.grad(`${n}.bias`) }, { rows, C: d0 })));
  backward.push(...(await stemBackward(engine, arena, 'stem/conv-bwd', { cols, dY: dConv, dWeight: ctx.grad(`${w}.weight`), dBias: ctx.grad(`${w}.bias`) }, { N, V, d0 })));
  return { layer: { forwardPhase: 'stem', backwardPhase: 'stem backward', forward, backward }, out };
}

/**
 * Downsample layer `s` (1..3): LayerNorm, then the 2×2 stride-2 conv as one matmul on the
 * Z-ordered rows reshaped to (rowsOut, 4·Cin).
 */
export async function downsampleLayer(
  ctx: BuildContext,
  s: number,
  io: {
    x: GPUBuffer; // (rowsIn, Cin)
    /** (rowsOut, C) gradient of the output and (rowsIn, Cin) of the input, written; null: frozen, no backward. */
    grads: { dOut: GPUBuffer; dX: GPUBuffer } | null;
  },
  shape: { rowsIn: number; Cin: number; C: number },
): Promise<{ layer: Layer; out: GPUBuffer }> {
  const { engine, arena } = ctx;
  const { rowsIn, Cin, C } = shape;
  const rowsOut = rowsIn / 4;
  const pre = `encoder.downsample_layers.${s}`;
  const ln = arena.f32(`down${s}/ln`, rowsIn * Cin); // (rowsIn, Cin) = (rowsOut, 4·Cin) reshaped
  const mean = arena.f32(`down${s}/ln-mean`, rowsIn);
  const rstd = arena.f32(`down${s}/ln-rstd`, rowsIn);
  const out = arena.f32(`down${s}/out`, rowsOut * C);
  const forward = [
    ...(await layerNormForward(engine, arena, `down${s}/ln`, { x: io.x, weight: ctx.param(`${pre}.0.weight`), bias: ctx.param(`${pre}.0.bias`), y: ln, mean, rstd }, { rows: rowsIn, C: Cin })),
    ...(await matmulDispatches(engine, arena, `down${s}/conv`, ln, ctx.param(`${pre}.1.weight`), out, { M: rowsOut, N: C, K: 4 * Cin, transB: true, bias: ctx.param(`${pre}.1.bias`) })),
  ];
  if (!io.grads) return { layer: { forwardPhase: `downsample ${s}`, backwardPhase: `downsample ${s} backward`, forward, backward: [] }, out };
  const g = { ...io, ...io.grads };
  const dLn = arena.f32(`down${s}/d-ln`, rowsIn * Cin);
  const backward = [
    // the bias gradient (column sums of dOut) comes with the weight gradient's product
    ...(await matmulDispatches(engine, arena, `down${s}/conv-dW`, g.dOut, ln, ctx.grad(`${pre}.1.weight`), { M: C, N: 4 * Cin, K: rowsOut, transA: true, rowSums: ctx.grad(`${pre}.1.bias`) })),
    ...(await matmulDispatches(engine, arena, `down${s}/conv-dX`, g.dOut, ctx.param(`${pre}.1.weight`), dLn, { M: rowsOut, N: 4 * Cin, K: C })),
    ...(await layerNormBackward(engine, arena, `down${s}/ln-bwd`, { x: io.x, weight: ctx.param(`${pre}.0.weight`), mean, rstd, dY: dLn, dX: g.dX, dWeight: ctx.grad(`${pre}.0.weight`), dBias: ctx.grad(`${pre}.0.bias`) }, { rows: rowsIn, C: Cin })),
  ];
  return { layer: { forwardPhase: `downsample ${s}`, backwardPhase: `downsample ${s} backward`, forward, backward }, out };
}

/**
 * `depth` ConvNeXt V2 blocks (V1-style without GRN) of width C on `rows` rows starting from
 * `x`. `stream` (rows, C) carries the gradient of the last block's output and is updated in
 * place, along the residual path, to the gradient of `x`.
 *
 * Drop path (stochastic depth, classifier training): block i with a `dropScales[i]` buffer (N)
 * scales its residual branch per sample, out = x + scale[n]·(pwconv2(…) + b2), scale[n] being 0
 * or 1/(1 − p) as the host draws it each step; the branch's backward then starts from
 * scale[n]·dOut. Blocks without one (and the FCMAE plan) add the branch as it is.
 * `stream` null: a frozen group (the FCMAE plan's frozen encoder) with forward dispatches only.
 */
export async function blockGroup(
  ctx: BuildContext,
  prefix: string,
  depth: number,
  io: { x: GPUBuffer; stream: GPUBuffer | null; grid: Grid; dropScales?: readonly (GPUBuffer | null)[] },
  shape: { C: number; rows: number; grn: boolean; gelu: GeluForm; grnMode: GrnMode },
): Promise<{ forward: Dispatch[]; backward: Dispatch[]; out: GPUBuffer; activations: GPUBuffer[] }> {
  const { engine, arena } = ctx;
  const { C, rows, gelu, grnMode } = shape;
  const { grid, stream } = io;
  const N = grid.N;
  const groups = grnMode === 'batch' ? 1 : N;
  const layout = { N, V: grid.V, gridH: grid.gridH, gridW: grid.gridW, r: grid.r, C };
  const forward: Dispatch[] = [];
  const acts: BlockActs[] = [];
  let x = io.x;
  for (let i = 0; i < depth; i++) {
    const p = `${prefix}.${i}`;
    const act = arena.f32(`${p}/act`, rows * 4 * C);
    const grn: GrnActs | null = shape.grn ? { y: arena.f32(`${p}/grn`, rows * 4 * C), norm: arena.f32(`${p}/grn-norm`, groups * 4 * C), gnorm: arena.f32(`${p}/grn-g`, groups * 4 * C) } : null;
    const a: BlockActs = {
      prefix: p,
      x,
      dw: arena.f32(`${p}/dw`, rows * C),
      ln: arena.f32(`${p}/ln`, rows * C),
      lnMean: arena.f32(`${p}/ln-mean`, rows),
      lnRstd: arena.f32(`${p}/ln-rstd`, rows),
      h: arena.f32(`${p}/h`, rows * 4 * C),
      act,
      grn,
      mlpOut: grn ? grn.y : act,
      out: arena.f32(`${p}/out`, rows * C),
      dropScale: io.dropScales?.[i] ?? null,
    };
    // dwconv → LayerNorm (one dispatch on software adapters); dw stays for LayerNorm backward
    forward.push(...(await dwconvLayerNormForward(engine, arena, { dwconv: `${p}/dwconv`, ln: `${p}/ln` }, { x, weight: ctx.param(`${p}.dwconv.weight`), bias: ctx.param(`${p}.dwconv.bias`), y: a.dw, patchToVisible: grid.patchToVisible, visiblePatches: grid.visiblePatches, lnWeight: ctx.param(`${p}.norm.weight`), lnBias: ctx.param(`${p}.norm.bias`), lnY: a.ln, mean: a.lnMean, rstd: a.lnRstd }, layout)));
    // pwconv1 with GELU as its epilogue: writes act = GELU(h) and h itself (for GELU's backward)
    forward.push(...(await matmulDispatches(engine, arena, `${p}/pwconv1`, a.ln, ctx.param(`${p}.pwconv1.weight`), a.act, { M: rows, N: 4 * C, K: C, transB: true, bias: ctx.param(`${p}.pwconv1.bias`), epilogue: `gelu-${gelu}`, preActivation: a.h })));
    if (grn) forward.push(...(await grnForward(engine, arena, `${p}/grn`, { x: a.act, gamma: ctx.param(`${p}.grn.gamma`), beta: ctx.param(`${p}.grn.beta`), y: grn.y, norm: grn.norm, gnorm: grn.gnorm }, { N, rowsPerSample: rows / N, C: 4 * C, mode: grnMode })));
    if (a.dropScale) {
      // out = x + scale[n]·(mlpOut·W2ᵀ + b2)
      const branch = arena.f32(`${p}/branch`, rows * C);
      forward.push(...(await matmulDispatches(engine, arena, `${p}/pwconv2`, a.mlpOut, ctx.param(`${p}.pwconv2.weight`), branch, { M: rows, N: C, K: 4 * C, transB: true, bias: ctx.param(`${p}.pwconv2.bias`) })));
      forward.push(...(await addScaledRows(engine, arena, `${p}/drop-path`, { x, branch, scale: a.dropScale, out: a.out }, { rows, C, rowsPerSample: rows / N })));
    } else {
      // out = x + mlpOut·W2ᵀ + b2: the residual input is the matmul's addend (no copy pass)
      forward.push(...(await matmulDispatches(engine, arena, `${p}/pwconv2`, a.mlpOut, ctx.param(`${p}.pwconv2.weight`), a.out, { M: rows, N: C, K: 4 * C, transB: true, bias: ctx.param(`${p}.pwconv2.bias`), addend: x })));
    }
    acts.push(a);
    x = a.out;
  }
  // what pwconv2 reads in each block (after GRN, or after GELU without it): the feature-collapse analysis's activations
  const activations = acts.map((a) => a.mlpOut);
  // a frozen group (no gradient stream): no backward dispatches and no backward scratch
  if (!stream) return { forward, backward: [], out: x, activations };
  // backward, last block first; scratch shared by the blocks of this group
  const backward: Dispatch[] = [];
  const d4a = arena.f32(`${prefix}/d-scratch-4c-a`, rows * 4 * C);
  const d4b = arena.f32(`${prefix}/d-scratch-4c-b`, rows * 4 * C);
  const dLn = arena.f32(`${prefix}/d-scratch-ln`, rows * C);
  const dDw = arena.f32(`${prefix}/d-scratch-dw`, rows * C);
  const dBranchScratch = acts.some((a) => a.dropScale) ? arena.f32(`${prefix}/d-scratch-branch`, rows * C) : null;
  for (const a of [...acts].reverse()) {
    const p = a.prefix;
    // the gradient of the residual branch: dOut itself, or scale[n]·dOut under drop path
    let dBranch = stream;
    if (a.dropScale) {
      dBranch = dBranchScratch!;
      backward.push(...(await scaleRows(engine, arena, `${p}/drop-path-bwd`, { src: stream, scale: a.dropScale, dst: dBranch }, { rows, C, rowsPerSample: rows / N })));
    }
    // bias gradients come with the weight gradients' products (matmul rowSums)
    backward.push(...(await matmulDispatches(engine, arena, `${p}/pwconv2-dW`, dBranch, a.mlpOut, ctx.grad(`${p}.pwconv2.weight`), { M: C, N: 4 * C, K: rows, transA: true, rowSums: ctx.grad(`${p}.pwconv2.bias`) })));
    // d4b: pwconv2's dInput (the gradient of GRN's output, or of GELU's without GRN); d4a: the
    // GELU input's gradient, from GRN's backward with GELU's fused in, or from GELU's alone
    backward.push(...(await matmulDispatches(engine, arena, `${p}/pwconv2-dX`, dBranch, ctx.param(`${p}.pwconv2.weight`), d4b, { M: rows, N: 4 * C, K: C })));
    if (a.grn) backward.push(...(await grnBackward(engine, arena, `${p}/grn-bwd`, { x: a.act, gamma: ctx.param(`${p}.grn.gamma`), norm: a.grn.norm, gnorm: a.grn.gnorm, dY: d4b, dX: d4a, geluInput: a.h, dGamma: ctx.grad(`${p}.grn.gamma`), dBeta: ctx.grad(`${p}.grn.beta`) }, { N, rowsPerSample: rows / N, C: 4 * C, mode: grnMode, geluForm: gelu })));
    else backward.push(...(await geluBackward(engine, arena, `${p}/gelu-bwd`, { x: a.h, dY: d4b, dX: d4a }, { count: rows * 4 * C, form: gelu })));
    backward.push(...(await matmulDispatches(engine, arena, `${p}/pwconv1-dW`, d4a, a.ln, ctx.grad(`${p}.pwconv1.weight`), { M: 4 * C, N: C, K: rows, transA: true, rowSums: ctx.grad(`${p}.pwconv1.bias`) })));
    backward.push(...(await matmulDispatches(engine, arena, `${p}/pwconv1-dX`, d4a, ctx.param(`${p}.pwconv1.weight`), dLn, { M: rows, N: C, K: 4 * C })));
    backward.push(...(await layerNormBackward(engine, arena, `${p}/ln-bwd`, { x: a.dw, weight: ctx.param(`${p}.norm.weight`), mean: a.lnMean, rstd: a.lnRstd, dY: dLn, dX: dDw, dWeight: ctx.grad(`${p}.norm.weight`), dBias: ctx.grad(`${p}.norm.bias`) }, { rows, C })));
    // residual: d(input) = d(output) + dwconvᵀ(dDw), accumulated in place into the stream
    backward.push(...(await dwconvBackward(engine, arena, `${p}/dwconv-bwd`, { x: a.x, weight: ctx.param(`${p}.dwconv.weight`), dY: dDw, dX: stream, dWeight: ctx.grad(`${p}.dwconv.weight`), dBias: ctx.grad(`${p}.dwconv.bias`), patchToVisible: grid.patchToVisible, visiblePatches: grid.visiblePatches }, { ...layout, accumulateDX: true })));
  }
  return { forward, backward, out: x, activations };
}

/** Dispatches that run in one compute pass. */
export interface Phase {
  name: string;
  dispatches: Dispatch[];
}

/** One compute pass per phase, in order. */
export function encodePhases(encoder: GPUCommandEncoder, phases: readonly Phase[]): void {
  for (const phase of phases) {
    const pass = encoder.beginComputePass({ label: phase.name });
    encodeDispatches(pass, phase.dispatches);
    pass.end();
  }
}

/** Forward phases in layer order and backward phases in reverse layer order, consecutive equal names merged into one pass. */
export function phasesOf(layers: readonly Layer[]): { forward: Phase[]; backward: Phase[] } {
  const merge = (items: [string, Dispatch[]][]) => {
    const out: Phase[] = [];
    for (const [name, dispatches] of items) {
      const last = out[out.length - 1];
      if (last && last.name === name) last.dispatches.push(...dispatches);
      else out.push({ name, dispatches: [...dispatches] });
    }
    return out;
  };
  return {
    forward: merge(layers.map((l) => [l.forwardPhase, l.forward])),
    backward: merge([...layers].reverse().map((l) => [l.backwardPhase, l.backward])),
  };
}
