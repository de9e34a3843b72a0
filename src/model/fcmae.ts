// The FCMAE training plan: every buffer and dispatch of one training step for a fixed
// (model config, batch size, input size, mask ratio, step options), built once. A step then
// uploads images + mask tables, encodes forward → loss → explicit backward → AdamW in one
// command buffer, and reads the loss back asynchronously.
//
// Dimension letters: N batch, L patches per image, V visible patches, M = L − V masked
// patches, r sites per patch side at a stage (8, 4, 2, 1), C channels, D decoder width.
// Encoder activations are (rows, C) with rows = N·V·r² (src/ops/sparse-layout.ts); the
// decoder works on the dense grid, rows = N·L. In the dense-encoder ablation V = L.
// Without GRN (config.grn false, the ConvNeXt V1-style ablation) a block has no GRN dispatches
// or buffers: pwconv2 reads the GELU output, and its dInput is the GELU output's gradient.
import { BufferArena, upload } from '../gpu/buffers.ts';
import { encodeDispatches, type Dispatch } from '../gpu/dispatch.ts';
import type { Engine } from '../gpu/engine.ts';
import { adamwStepScalars, adamwUpdate, ADAMW_SCALARS_LENGTH, ADAMW_DEFAULTS, type AdamWConfig } from '../ops/adamw.ts';
import { dwconvBackward, dwconvForward } from '../ops/dwconv.ts';
import { copy } from '../ops/elementwise.ts';
import { geluBackward, geluForward } from '../ops/gelu.ts';
import { grnBackward, grnForward } from '../ops/grn.ts';
import { layerNormBackward, layerNormForward } from '../ops/layernorm.ts';
import { maskRows } from '../ops/mask-rows.ts';
import { maskTokenFillBackward, maskTokenFillForward } from '../ops/mask-token.ts';
import { matmulDispatches } from '../ops/matmul.ts';
import { columnSum, gatherRows, scatterRows } from '../ops/rows.ts';
import { fcmaeLossBackward, fcmaeLossForward, maskedPatchRows, patchifyTarget } from '../ops/fcmae-loss.ts';
import { layoutFromMask, type MaskLayout } from '../ops/sparse-layout.ts';
import { stemIm2col } from '../ops/stem.ts';
import { MASK_PATCH, PATCH_VALUES, validateInputSize, type ModelConfig, type StepOptions } from './config.ts';
import { paramTable, type ParamSpec, type ParamTable } from './parameters.ts';

export interface PlanShape {
  batchSize: number;
  height: number;
  width: number;
  /** Visible patches per sample (from the mask ratio: floor(L·(1 − ratio))). */
  visible: number;
}

export interface Phase {
  name: string;
  dispatches: Dispatch[];
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
  C: number;
  rows: number;
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
}

/** Where a group of blocks runs: its sparse layout tables and the site resolution. */
interface Grid {
  r: number;
  N: number;
  V: number;
  gridH: number;
  gridW: number;
  patchToVisible: GPUBuffer; // (N·L) int32
  visiblePatches: GPUBuffer; // (N·V) int32
}

export class FcmaePlan {
  readonly table: ParamTable;
  readonly arena: BufferArena;
  readonly gridH: number;
  readonly gridW: number;
  readonly L: number;
  readonly V: number;
  readonly M: number;
  /** V used by the encoder's layout (L in the dense-encoder ablation). */
  readonly encV: number;
  /**
   * Patches per sample that the loss counts: the masked ones, or all L at mask ratio 0 (nothing
   * is masked; Σ(loss·mask)/Σmask would be 0/0, so the step reconstructs every patch instead).
   */
  readonly lossPatches: number;
  /** (N·L) p of each grid row n·L + p: the tables of a layout where every patch is visible. */
  private readonly gridIdentity: Int32Array;
  /** (N·L) every grid row n·L + p: the loss rows at mask ratio 0. */
  private readonly allGridRows: Int32Array;

  // Flat parameter state (totalFloats each).
  params!: GPUBuffer;
  grads!: GPUBuffer;
  adamM!: GPUBuffer;
  adamV!: GPUBuffer;
  adamScalars!: GPUBuffer; // (ADAMW_SCALARS_LENGTH)

  // Per-step inputs.
  image!: GPUBuffer; // (N, 3, H, W)
  mask!: GPUBuffer; // (N·L) f32, 1 = masked
  encPatchToVisible!: GPUBuffer; // (N·L) int32
  encVisiblePatches!: GPUBuffer; // (N·encV) int32
  decPatchToVisible!: GPUBuffer; // (N·L) int32, what the mask-token fill reads
  decVisiblePatches!: GPUBuffer; // (N·encV) int32, proj rows the fill backward writes
  maskedRows!: GPUBuffer; // (N·lossPatches) int32 rows n·L + p of the patches the loss counts

  // Outputs.
  loss!: GPUBuffer; // (1)
  perSampleLoss!: GPUBuffer; // (N)
  target!: GPUBuffer; // (N·L, 3072)
  patchMean!: GPUBuffer; // (N·L)
  patchVar!: GPUBuffer; // (N·L)
  pred!: GPUBuffer; // (N·lossPatches, 3072) predictions of the patches the loss counts

  /** (N·L, D) decoder output on the whole grid. */
  decoderOut!: GPUBuffer;
  /** (N·L, 3072) predictions of every patch; built on the first reconstruction request. */
  private reconstruction: { predAll: GPUBuffer; phase: Phase } | null = null;

  forwardPhases: Phase[] = [];
  backwardPhases: Phase[] = [];
  optimizerPhase: Phase = { name: 'optimizer', dispatches: [] };

  private constructor(
    readonly engine: Engine,
    readonly config: ModelConfig,
    readonly shape: PlanShape,
    readonly options: StepOptions,
    readonly adamw: AdamWConfig,
  ) {
    validateInputSize(shape.height, shape.width);
    this.table = paramTable(config);
    this.arena = new BufferArena(engine.ctx.device, 'fcmae');
    this.gridH = shape.height / MASK_PATCH;
    this.gridW = shape.width / MASK_PATCH;
    this.L = this.gridH * this.gridW;
    this.V = shape.visible;
    this.M = this.L - this.V;
    this.encV = options.denseEncoder ? this.L : this.V;
    this.lossPatches = this.M > 0 ? this.M : this.L;
    this.gridIdentity = Int32Array.from({ length: shape.batchSize * this.L }, (_, i) => i % this.L);
    this.allGridRows = Int32Array.from({ length: shape.batchSize * this.L }, (_, i) => i);
    if (this.V < 1 || this.V > this.L) throw new RangeError(`visible patches ${this.V} must be in 1..${this.L}`);
  }

  static async build(
    engine: Engine,
    config: ModelConfig,
    shape: PlanShape,
    options: StepOptions,
    adamw: AdamWConfig = ADAMW_DEFAULTS,
  ): Promise<FcmaePlan> {
    const plan = new FcmaePlan(engine, config, shape, options, adamw);
    try {
      await plan.buildAll();
    } catch (e) {
      plan.destroy();
      throw e;
    }
    return plan;
  }

  /** A binding of one parameter (or its gradient) inside the flat buffers. */
  param(name: string): GPUBufferBinding {
    return this.slice(this.params, this.spec(name));
  }
  grad(name: string): GPUBufferBinding {
    return this.slice(this.grads, this.spec(name));
  }
  spec(name: string): ParamSpec {
    const s = this.table.byName.get(name);
    if (!s) throw new Error(`no parameter named ${name}`);
    return s;
  }
  private slice(buffer: GPUBuffer, s: ParamSpec): GPUBufferBinding {
    return { buffer, offset: s.offset * 4, size: s.size * 4 };
  }

  private async buildAll(): Promise<void> {
    const { arena, table, shape } = this;
    const N = shape.batchSize;
    this.params = arena.f32('params', table.totalFloats);
    this.grads = arena.f32('grads', table.totalFloats);
    this.adamM = arena.f32('adam-m', table.totalFloats);
    this.adamV = arena.f32('adam-v', table.totalFloats);
    this.adamScalars = arena.f32('adam-scalars', ADAMW_SCALARS_LENGTH);
    this.image = arena.f32('image', N * 3 * shape.height * shape.width);
    this.mask = arena.f32('mask', N * this.L);
    this.encPatchToVisible = arena.create('enc-patch-to-visible', N * this.L * 4);
    this.encVisiblePatches = arena.create('enc-visible-patches', N * this.encV * 4);
    this.decPatchToVisible = arena.create('dec-patch-to-visible', N * this.L * 4);
    this.decVisiblePatches = arena.create('dec-visible-patches', N * this.encV * 4);
    this.maskedRows = arena.create('masked-rows', N * this.lossPatches * 4);
    this.loss = arena.f32('loss', 1);
    this.perSampleLoss = arena.f32('per-sample-loss', N);
    this.target = arena.f32('target', N * this.L * PATCH_VALUES);
    this.patchMean = arena.f32('patch-mean', N * this.L);
    this.patchVar = arena.f32('patch-var', N * this.L);
    this.pred = arena.f32('pred', N * this.lossPatches * PATCH_VALUES);
    await this.buildNetwork();
    this.optimizerPhase.dispatches = await adamwUpdate(this.engine, arena, 'adamw', {
      params: this.params,
      grads: this.grads,
      m: this.adamM,
      v: this.adamV,
      scalars: this.adamScalars,
    }, { count: table.totalFloats, decayCount: table.decayFloats, ...this.adamw });
  }

  // ---------------------------------------------------------------- network

  private async buildNetwork(): Promise<void> {
    const { engine, arena, config, options, shape } = this;
    const N = shape.batchSize;
    const d = config.dims;
    const gelu = options.gelu;
    const encGrid = (r: number): Grid => ({
      r,
      N,
      V: this.encV,
      gridH: this.gridH,
      gridW: this.gridW,
      patchToVisible: this.encPatchToVisible,
      visiblePatches: this.encVisiblePatches,
    });
    const rowsAt = (r: number) => N * this.encV * r * r;
    const fwd = (name: string): Dispatch[] => {
      const phase = { name, dispatches: [] as Dispatch[] };
      this.forwardPhases.push(phase);
      return phase.dispatches;
    };
    const bwdPhases: Phase[] = []; // built in forward order, reversed at the end
    const bwd = (name: string): Dispatch[] => {
      const phase = { name: `${name} backward`, dispatches: [] as Dispatch[] };
      bwdPhases.push(phase);
      return phase.dispatches;
    };

    // ---- stem: im2col of visible patches, conv as matmul, LayerNorm
    const R0 = rowsAt(8);
    const cols = arena.f32('stem/cols', R0 * 48); // (R0, 48)
    const stemConv = arena.f32('stem/conv', R0 * d[0]!); // (R0, d0)
    const stemOut = arena.f32('stem/out', R0 * d[0]!); // (R0, d0)
    const stemMean = arena.f32('stem/ln-mean', R0);
    const stemRstd = arena.f32('stem/ln-rstd', R0);
    {
      const f = fwd('stem');
      f.push(...(await stemIm2col(engine, arena, 'stem/im2col', { image: this.image, cols, visiblePatches: this.encVisiblePatches }, { N, V: this.encV, gridH: this.gridH, gridW: this.gridW })));
      f.push(...(await matmulDispatches(engine, arena, 'stem/conv', cols, this.param('encoder.downsample_layers.0.0.weight'), stemConv, { M: R0, N: d[0]!, K: 48, transB: true, bias: this.param('encoder.downsample_layers.0.0.bias') })));
      f.push(...(await layerNormForward(engine, arena, 'stem/ln', { x: stemConv, weight: this.param('encoder.downsample_layers.0.1.weight'), bias: this.param('encoder.downsample_layers.0.1.bias'), y: stemOut, mean: stemMean, rstd: stemRstd }, { rows: R0, C: d[0]! })));
      if (options.denseEncoder) f.push(...(await maskRows(engine, arena, 'stem/mask', { x: stemOut, mask: this.mask }, { rows: R0, C: d[0]!, sitesPerPatch: 64 })));
    }
    // gradient streams: one (rows, C) buffer per stage, accumulated in place along the residual path
    const stream = [0, 1, 2, 3].map((s) => arena.f32(`grad-stream/${s}`, rowsAt(8 >> s) * d[s]!));
    {
      const b = bwd('stem');
      const dStemConv = arena.f32('stem/d-conv', R0 * d[0]!);
      if (options.denseEncoder) b.push(...(await maskRows(engine, arena, 'stem/mask-grad', { x: stream[0]!, mask: this.mask }, { rows: R0, C: d[0]!, sitesPerPatch: 64 })));
      b.push(...(await layerNormBackward(engine, arena, 'stem/ln-bwd', { x: stemConv, weight: this.param('encoder.downsample_layers.0.1.weight'), mean: stemMean, rstd: stemRstd, dY: stream[0]!, dX: dStemConv, dWeight: this.grad('encoder.downsample_layers.0.1.weight'), dBias: this.grad('encoder.downsample_layers.0.1.bias') }, { rows: R0, C: d[0]! })));
      b.push(...(await matmulDispatches(engine, arena, 'stem/conv-dW', dStemConv, cols, this.grad('encoder.downsample_layers.0.0.weight'), { M: d[0]!, N: 48, K: R0, transA: true })));
      b.push(...(await columnSum(engine, arena, 'stem/conv-dB', { x: dStemConv, out: this.grad('encoder.downsample_layers.0.0.bias') }, { rows: R0, C: d[0]! })));
    }

    // ---- stages
    let x: GPUBuffer = stemOut;
    for (let s = 0; s < 4; s++) {
      const r = 8 >> s;
      const R = rowsAt(r);
      const C = d[s]!;
      if (s > 0) {
        const Cp = d[s - 1]!;
        const Rp = rowsAt(r * 2);
        const pre = `encoder.downsample_layers.${s}`;
        const ln = arena.f32(`down${s}/ln`, Rp * Cp); // (Rp, Cp) = (R, 4·Cp) reshaped
        const mean = arena.f32(`down${s}/ln-mean`, Rp);
        const rstd = arena.f32(`down${s}/ln-rstd`, Rp);
        const out = arena.f32(`down${s}/out`, R * C);
        const f = fwd(`downsample ${s}`);
        f.push(...(await layerNormForward(engine, arena, `down${s}/ln`, { x, weight: this.param(`${pre}.0.weight`), bias: this.param(`${pre}.0.bias`), y: ln, mean, rstd }, { rows: Rp, C: Cp })));
        f.push(...(await matmulDispatches(engine, arena, `down${s}/conv`, ln, this.param(`${pre}.1.weight`), out, { M: R, N: C, K: 4 * Cp, transB: true, bias: this.param(`${pre}.1.bias`) })));
        const b = bwd(`downsample ${s}`);
        const dLn = arena.f32(`down${s}/d-ln`, Rp * Cp);
        b.push(...(await matmulDispatches(engine, arena, `down${s}/conv-dW`, stream[s]!, ln, this.grad(`${pre}.1.weight`), { M: C, N: 4 * Cp, K: R, transA: true })));
        b.push(...(await columnSum(engine, arena, `down${s}/conv-dB`, { x: stream[s]!, out: this.grad(`${pre}.1.bias`) }, { rows: R, C })));
        b.push(...(await matmulDispatches(engine, arena, `down${s}/conv-dX`, stream[s]!, this.param(`${pre}.1.weight`), dLn, { M: R, N: 4 * Cp, K: C })));
        b.push(...(await layerNormBackward(engine, arena, `down${s}/ln-bwd`, { x, weight: this.param(`${pre}.0.weight`), mean, rstd, dY: dLn, dX: stream[s - 1]!, dWeight: this.grad(`${pre}.0.weight`), dBias: this.grad(`${pre}.0.bias`) }, { rows: Rp, C: Cp })));
        x = out;
      }
      const grid = encGrid(r);
      const f = fwd(`stage ${s}`);
      const b = bwd(`stage ${s}`);
      x = await this.blocks(`encoder.stages.${s}`, config.depths[s]!, x, C, R, grid, gelu, options.grnMode, f, b, stream[s]!);
    }
    const encOut = x; // (N·encV, d3)
    const d3 = d[3]!;
    const D = config.decoderDim;

    // ---- decoder
    const Renc = N * this.encV;
    const proj = arena.f32('dec/proj', Renc * D); // (N·encV, D)
    const decIn = arena.f32('dec/in', N * this.L * D); // (N·L, D)
    const decIdentity = arena.fromData('dec/identity', this.gridIdentity);
    const decGrid: Grid = {
      r: 1,
      N,
      V: this.L,
      gridH: this.gridH,
      gridW: this.gridW,
      // every patch visible: both tables are the identity p → p (one read-only buffer serves both)
      patchToVisible: decIdentity,
      visiblePatches: decIdentity,
    };
    const decStream = arena.f32('grad-stream/decoder', N * this.L * D);
    const fDec = fwd('decoder');
    const bDec = bwd('decoder');
    fDec.push(...(await matmulDispatches(engine, arena, 'dec/proj', encOut, this.param('proj.weight'), proj, { M: Renc, N: D, K: d3, transB: true, bias: this.param('proj.bias') })));
    fDec.push(...(await maskTokenFillForward(engine, arena, 'dec/fill', { P: proj, maskToken: this.param('mask_token'), X: decIn, patchToVisible: this.decPatchToVisible }, { N, V: this.encV, L: this.L, D })));
    const dProj = arena.f32('dec/d-proj', Renc * D);
    // decoder GRN is always per sample (spec §4; the official dense decoder Block)
    const decOut = (this.decoderOut = await this.blocks('decoder', this.config.decoderDepth, decIn, D, N * this.L, decGrid, gelu, 'per-sample', fDec, bDec, decStream));
    // The mask-token fill and proj backward run after the decoder blocks' backward (phase order below).
    const bFill = bwd('mask-token fill');
    bFill.push(...(await maskTokenFillBackward(engine, arena, 'dec/fill-bwd', { dX: decStream, dP: dProj, dMaskToken: this.grad('mask_token'), visiblePatches: this.decVisiblePatches, patchToVisible: this.decPatchToVisible }, { N, V: this.encV, L: this.L, D })));
    if (options.denseEncoder) bFill.push(...(await maskRows(engine, arena, 'dec/proj-grad-mask', { x: dProj, mask: this.mask }, { rows: Renc, C: D, sitesPerPatch: 1 })));
    bFill.push(...(await matmulDispatches(engine, arena, 'dec/proj-dW', dProj, encOut, this.grad('proj.weight'), { M: D, N: d3, K: Renc, transA: true })));
    bFill.push(...(await columnSum(engine, arena, 'dec/proj-dB', { x: dProj, out: this.grad('proj.bias') }, { rows: Renc, C: D })));
    bFill.push(...(await matmulDispatches(engine, arena, 'dec/proj-dX', dProj, this.param('proj.weight'), stream[3]!, { M: Renc, N: d3, K: D })));

    // ---- prediction of masked patches and the loss
    const NM = N * this.lossPatches;
    const decMasked = arena.f32('dec/masked-rows', NM * D); // (N·M, D)
    const fLoss = fwd('loss');
    fLoss.push(...(await patchifyTarget(engine, arena, 'loss/target', { image: this.image, target: this.target, mean: this.patchMean, variance: this.patchVar }, { N, height: shape.height, width: shape.width, normPix: options.normPix })));
    fLoss.push(...(await gatherRows(engine, arena, 'loss/gather', { src: decOut, indices: this.maskedRows, dst: decMasked }, { rows: NM, C: D })));
    fLoss.push(...(await matmulDispatches(engine, arena, 'pred', decMasked, this.param('pred.weight'), this.pred, { M: NM, N: PATCH_VALUES, K: D, transB: true, bias: this.param('pred.bias') })));
    fLoss.push(...(await fcmaeLossForward(engine, arena, 'loss', { pred: this.pred, target: this.target, maskedRows: this.maskedRows, loss: this.loss, perSample: this.perSampleLoss }, { N, M: this.lossPatches, L: this.L })));
    const bLoss = bwd('loss');
    const dPred = arena.f32('d-pred', NM * PATCH_VALUES);
    const dDecMasked = arena.f32('dec/d-masked-rows', NM * D);
    bLoss.push(...(await fcmaeLossBackward(engine, arena, 'loss-bwd', { pred: this.pred, target: this.target, maskedRows: this.maskedRows, dPred }, { N, M: this.lossPatches, L: this.L })));
    bLoss.push(...(await matmulDispatches(engine, arena, 'pred-dW', dPred, decMasked, this.grad('pred.weight'), { M: PATCH_VALUES, N: D, K: NM, transA: true })));
    bLoss.push(...(await columnSum(engine, arena, 'pred-dB', { x: dPred, out: this.grad('pred.bias') }, { rows: NM, C: PATCH_VALUES })));
    bLoss.push(...(await matmulDispatches(engine, arena, 'pred-dX', dPred, this.param('pred.weight'), dDecMasked, { M: NM, N: D, K: PATCH_VALUES })));
    bLoss.push(...(await scatterRows(engine, arena, 'loss/scatter', { src: dDecMasked, indices: this.maskedRows, dst: decStream }, { rows: NM, C: D, dstRows: N * this.L, zeroOthers: true })));

    // Backward order: loss, decoder blocks, mask-token fill + proj, stages 3..0 (each with its
    // downsample after its blocks), stem.
    const byName = new Map(bwdPhases.map((p) => [p.name, p]));
    const order = ['loss', 'decoder', 'mask-token fill'];
    for (let s = 3; s >= 0; s--) {
      order.push(`stage ${s}`);
      if (s > 0) order.push(`downsample ${s}`);
    }
    order.push('stem');
    this.backwardPhases = order.map((n) => {
      const p = byName.get(`${n} backward`);
      if (!p) throw new Error(`internal: no backward phase ${n}`);
      return p;
    });
  }

  /**
   * `depth` ConvNeXt V2 blocks (V1-style without GRN) of width C on `rows` rows starting from
   * `x`; forward dispatches go to `f`, backward ones to `b` (in backward order); `stream`
   * (rows, C) carries the gradient of the last block's output and is updated in place to the
   * gradient of `x`.
   */
  private async blocks(
    prefix: string,
    depth: number,
    x: GPUBuffer,
    C: number,
    rows: number,
    grid: Grid,
    gelu: StepOptions['gelu'],
    grnMode: StepOptions['grnMode'],
    f: Dispatch[],
    b: Dispatch[],
    stream: GPUBuffer,
  ): Promise<GPUBuffer> {
    const { engine, arena } = this;
    const N = grid.N;
    const groups = grnMode === 'batch' ? 1 : N;
    const acts: BlockActs[] = [];
    for (let i = 0; i < depth; i++) {
      const p = `${prefix}.${i}`;
      const act = arena.f32(`${p}/act`, rows * 4 * C);
      const grn: GrnActs | null = this.config.grn
        ? { y: arena.f32(`${p}/grn`, rows * 4 * C), norm: arena.f32(`${p}/grn-norm`, groups * 4 * C), gnorm: arena.f32(`${p}/grn-g`, groups * 4 * C) }
        : null;
      const a: BlockActs = {
        prefix: p,
        C,
        rows,
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
      };
      const layout = { N, V: grid.V, gridH: grid.gridH, gridW: grid.gridW, r: grid.r, C };
      f.push(...(await dwconvForward(engine, arena, `${p}/dwconv`, { x, weight: this.param(`${p}.dwconv.weight`), bias: this.param(`${p}.dwconv.bias`), y: a.dw, patchToVisible: grid.patchToVisible, visiblePatches: grid.visiblePatches }, layout)));
      f.push(...(await layerNormForward(engine, arena, `${p}/ln`, { x: a.dw, weight: this.param(`${p}.norm.weight`), bias: this.param(`${p}.norm.bias`), y: a.ln, mean: a.lnMean, rstd: a.lnRstd }, { rows, C })));
      f.push(...(await matmulDispatches(engine, arena, `${p}/pwconv1`, a.ln, this.param(`${p}.pwconv1.weight`), a.h, { M: rows, N: 4 * C, K: C, transB: true, bias: this.param(`${p}.pwconv1.bias`) })));
      f.push(...(await geluForward(engine, arena, `${p}/gelu`, { x: a.h, y: a.act }, { count: rows * 4 * C, form: gelu })));
      if (grn) f.push(...(await grnForward(engine, arena, `${p}/grn`, { x: a.act, gamma: this.param(`${p}.grn.gamma`), beta: this.param(`${p}.grn.beta`), y: grn.y, norm: grn.norm, gnorm: grn.gnorm }, { N, rowsPerSample: rows / N, C: 4 * C, mode: grnMode })));
      // out = x + mlpOut·W2ᵀ + b2: copy-free by accumulating the matmul into a buffer holding x
      f.push(...(await copy(engine, arena, `${p}/residual-copy`, { src: x, dst: a.out }, { count: rows * C })));
      f.push(...(await matmulDispatches(engine, arena, `${p}/pwconv2`, a.mlpOut, this.param(`${p}.pwconv2.weight`), a.out, { M: rows, N: C, K: 4 * C, transB: true, bias: this.param(`${p}.pwconv2.bias`), accumulate: true })));
      acts.push(a);
      x = a.out;
    }
    // backward, last block first; scratch shared by the blocks of this group
    const d4a = arena.f32(`${prefix}/d-scratch-4c-a`, rows * 4 * C);
    const d4b = arena.f32(`${prefix}/d-scratch-4c-b`, rows * 4 * C);
    const dLn = arena.f32(`${prefix}/d-scratch-ln`, rows * C);
    const dDw = arena.f32(`${prefix}/d-scratch-dw`, rows * C);
    for (const a of [...acts].reverse()) {
      const p = a.prefix;
      const layout = { N, V: grid.V, gridH: grid.gridH, gridW: grid.gridW, r: grid.r, C };
      b.push(...(await matmulDispatches(engine, arena, `${p}/pwconv2-dW`, stream, a.mlpOut, this.grad(`${p}.pwconv2.weight`), { M: C, N: 4 * C, K: rows, transA: true })));
      b.push(...(await columnSum(engine, arena, `${p}/pwconv2-dB`, { x: stream, out: this.grad(`${p}.pwconv2.bias`) }, { rows, C })));
      // d4b ends up holding the GELU output's gradient: GRN's backward of pwconv2's dInput (d4a),
      // or, without GRN, pwconv2's dInput itself
      b.push(...(await matmulDispatches(engine, arena, `${p}/pwconv2-dX`, stream, this.param(`${p}.pwconv2.weight`), a.grn ? d4a : d4b, { M: rows, N: 4 * C, K: C })));
      if (a.grn) b.push(...(await grnBackward(engine, arena, `${p}/grn-bwd`, { x: a.act, gamma: this.param(`${p}.grn.gamma`), norm: a.grn.norm, gnorm: a.grn.gnorm, dY: d4a, dX: d4b, dGamma: this.grad(`${p}.grn.gamma`), dBeta: this.grad(`${p}.grn.beta`) }, { N, rowsPerSample: rows / N, C: 4 * C, mode: grnMode })));
      b.push(...(await geluBackward(engine, arena, `${p}/gelu-bwd`, { x: a.h, dY: d4b, dX: d4a }, { count: rows * 4 * C, form: this.options.gelu })));
      b.push(...(await matmulDispatches(engine, arena, `${p}/pwconv1-dW`, d4a, a.ln, this.grad(`${p}.pwconv1.weight`), { M: 4 * C, N: C, K: rows, transA: true })));
      b.push(...(await columnSum(engine, arena, `${p}/pwconv1-dB`, { x: d4a, out: this.grad(`${p}.pwconv1.bias`) }, { rows, C: 4 * C })));
      b.push(...(await matmulDispatches(engine, arena, `${p}/pwconv1-dX`, d4a, this.param(`${p}.pwconv1.weight`), dLn, { M: rows, N: C, K: 4 * C })));
      b.push(...(await layerNormBackward(engine, arena, `${p}/ln-bwd`, { x: a.dw, weight: this.param(`${p}.norm.weight`), mean: a.lnMean, rstd: a.lnRstd, dY: dLn, dX: dDw, dWeight: this.grad(`${p}.norm.weight`), dBias: this.grad(`${p}.norm.bias`) }, { rows, C })));
      // residual: d(input) = d(output) + dwconvᵀ(dDw), accumulated in place into the stream
      b.push(...(await dwconvBackward(engine, arena, `${p}/dwconv-bwd`, { x: a.x, weight: this.param(`${p}.dwconv.weight`), dY: dDw, dX: stream, dWeight: this.grad(`${p}.dwconv.weight`), dBias: this.grad(`${p}.dwconv.bias`), patchToVisible: grid.patchToVisible, visiblePatches: grid.visiblePatches }, { ...layout, accumulateDX: true })));
    }
    return x;
  }

  // ---------------------------------------------------------------- per step

  /** Upload a batch: images (N, 3, H, W) normalised, mask (N, L) 1 = masked. */
  setBatch(images: Float32Array, mask: ArrayLike<number>): MaskLayout {
    const { shape } = this;
    const N = shape.batchSize;
    const expected = N * 3 * shape.height * shape.width;
    if (images.length !== expected) throw new RangeError(`images have ${images.length} values, the plan expects N·3·H·W = ${expected}`);
    const layout = layoutFromMask(mask, N, this.gridH, this.gridW);
    if (layout.V !== this.V) throw new RangeError(`mask keeps ${layout.V} patches per sample, the plan was built for ${this.V}`);
    const device = this.engine.ctx.device;
    upload(device, this.image, images);
    upload(device, this.mask, layout.mask);
    if (this.options.denseEncoder) {
      const identity = this.gridIdentity;
      upload(device, this.encPatchToVisible, identity);
      upload(device, this.encVisiblePatches, identity);
      // the fill reads proj rows n·L + p for visible patches
      const p2v = Int32Array.from(layout.patchToVisible, (v, i) => (v < 0 ? -1 : i % this.L));
      upload(device, this.decPatchToVisible, p2v);
      // every proj row receives its grid row's gradient; masked rows are zeroed afterwards
      upload(device, this.decVisiblePatches, identity);
    } else {
      upload(device, this.encPatchToVisible, layout.patchToVisible);
      upload(device, this.encVisiblePatches, layout.visiblePatches);
      upload(device, this.decPatchToVisible, layout.patchToVisible);
      upload(device, this.decVisiblePatches, layout.visiblePatches);
    }
    upload(device, this.maskedRows, this.M > 0 ? maskedPatchRows(layout) : this.allGridRows);
    return layout;
  }

  /** Write the parameters (engine layout, flat). */
  setParams(flat: Float32Array): void {
    if (flat.length !== this.table.totalFloats) throw new RangeError(`flat params have ${flat.length} floats, expected ${this.table.totalFloats}`);
    upload(this.engine.ctx.device, this.params, flat);
  }

  /** Set AdamW's learning rate and step (1-based) for the next update. */
  setOptimizerStep(step: number, lr: number): void {
    upload(this.engine.ctx.device, this.adamScalars, adamwStepScalars(step, lr, this.adamw));
  }

  encodePhases(encoder: GPUCommandEncoder, phases: readonly Phase[]): void {
    for (const phase of phases) {
      const pass = encoder.beginComputePass({ label: phase.name });
      encodeDispatches(pass, phase.dispatches);
      pass.end();
    }
  }

  /** Encode forward + loss (+ backward + optimizer when training). */
  encodeStep(encoder: GPUCommandEncoder, what: { backward: boolean; optimizer: boolean }): void {
    this.encodePhases(encoder, this.forwardPhases);
    if (what.backward) this.encodePhases(encoder, this.backwardPhases);
    if (what.optimizer) this.encodePhases(encoder, [this.optimizerPhase]);
  }

  /**
   * The phase predicting every patch (visible ones too) for reconstructions. Training never
   * runs it: the loss needs masked patches only.
   */
  async reconstructionPhase(): Promise<{ predAll: GPUBuffer; phase: Phase }> {
    if (!this.reconstruction) {
      const rows = this.shape.batchSize * this.L;
      const predAll = this.arena.f32('pred-all', rows * PATCH_VALUES);
      const dispatches = await matmulDispatches(this.engine, this.arena, 'pred-all', this.decoderOut, this.param('pred.weight'), predAll, {
        M: rows,
        N: PATCH_VALUES,
        K: this.config.decoderDim,
        transB: true,
        bias: this.param('pred.bias'),
      });
      this.reconstruction = { predAll, phase: { name: 'reconstruction', dispatches } };
    }
    return this.reconstruction;
  }

  destroy(): void {
    this.arena.destroy();
  }
}
