// The FCMAE training plan: every buffer and dispatch of one training step for a fixed
// (model config, batch size, input size, visible count, step options), built once. A step then
// uploads images + mask tables, encodes forward → loss → explicit backward → AdamW in one
// command buffer, and reads the loss back asynchronously.
//
// Dimension letters: N batch, L patches per image, V visible patches, M = L − V masked
// patches, r sites per patch side at a stage (8, 4, 2, 1), C channels, D decoder width.
// Encoder activations are (rows, C) with rows = N·V·r² (src/ops/sparse-layout.ts); the
// decoder works on the dense grid, rows = N·L. In the dense-encoder ablation V = L.
// Without GRN (config.grn false, the ConvNeXt V1-style ablation) a block has no GRN dispatches
// or buffers: pwconv2 reads the GELU output, and its dInput is the GELU output's gradient.
// The network is a list of layers (encoder.ts, layers.ts) in forward order; the backward pass is
// their backward lists in reverse.
// With options.freezeEncoder (decoder warm-up) the encoder is built forward only: the backward
// ends at proj's weight gradient (proj's dX is not computed), there are no encoder gradient
// streams or scratch, the gradient buffer holds the decoder side only (trainedRanges), and AdamW
// runs once per trained range, so the encoder's weights and moments are never written.
import { BufferArena, upload } from '../gpu/buffers.ts';
import type { Engine } from '../gpu/engine.ts';
import { adamwStepScalars, adamwUpdate, ADAMW_SCALARS_LENGTH, ADAMW_DEFAULTS, type AdamWConfig } from '../ops/adamw.ts';
import { maskRows } from '../ops/mask-rows.ts';
import { maskTokenFillBackward, maskTokenFillForward } from '../ops/mask-token.ts';
import { matmulDispatches } from '../ops/matmul.ts';
import { gatherRows } from '../ops/rows.ts';
import { fcmaeLossBackward, fcmaeLossForward, lossRowOfPatch, maskedPatchRows, patchifyTarget } from '../ops/fcmae-loss.ts';
import { layoutFromMask, type MaskLayout } from '../ops/sparse-layout.ts';
import { MASK_PATCH, PATCH_VALUES, validateInputSize, type ModelConfig, type StepOptions } from './config.ts';
import { decayBoundary, gradientFloats, paramTable, specOf, tensorBinding, trainedRanges, type ParamSpec, type ParamTable, type TrainedRange } from './parameters.ts';
import { buildEncoder } from './encoder.ts';
import { blockGroup, encodePhases, phasesOf, type BuildContext, type Grid, type Layer, type Phase } from './layers.ts';
import { planLedger, type PlanLedger } from './ledger.ts';

export interface PlanShape {
  batchSize: number;
  height: number;
  width: number;
  /** Visible patches per sample (from the mask ratio: floor(L·(1 − ratio))). */
  visible: number;
}

export type { Phase } from './layers.ts';

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

  // Flat parameter state (totalFloats each). Every buffer is allocated with the plan and never
  // replaced; the trainer's state functions (src/train/optimizer-state.ts) read and write them.
  readonly params: GPUBuffer;
  /** (gradientFloats(ranges)) the gradients of what the step trains: laid out as params, or the decoder side only when frozen. */
  readonly grads: GPUBuffer;
  /** What the step's AdamW updates (the whole table, or the decoder side when the encoder is frozen). */
  readonly ranges: readonly TrainedRange[];
  readonly frozenEncoder: boolean;
  readonly adamM: GPUBuffer;
  readonly adamV: GPUBuffer;
  readonly adamScalars: GPUBuffer; // (ADAMW_SCALARS_LENGTH)

  // Per-step inputs.
  readonly image: GPUBuffer; // (N, 3, H, W)
  readonly mask: GPUBuffer; // (N·L) f32, 1 = masked
  readonly encPatchToVisible: GPUBuffer; // (N·L) int32
  readonly encVisiblePatches: GPUBuffer; // (N·encV) int32
  readonly decPatchToVisible: GPUBuffer; // (N·L) int32, what the mask-token fill reads
  readonly decVisiblePatches: GPUBuffer; // (N·encV) int32, proj rows the fill backward writes
  readonly maskedRows: GPUBuffer; // (N·lossPatches) int32 rows n·L + p of the patches the loss counts
  readonly lossRowOfPatch: GPUBuffer; // (N·L) int32 the pred row of grid row n·L + p, or −1

  // Outputs.
  readonly loss: GPUBuffer; // (1)
  readonly perSampleLoss: GPUBuffer; // (N)
  readonly target: GPUBuffer; // (N·L, 3072)
  readonly patchMean: GPUBuffer; // (N·L)
  readonly patchVar: GPUBuffer; // (N·L)
  readonly pred: GPUBuffer; // (N·lossPatches, 3072) predictions of the patches the loss counts

  /** (N·L, D) decoder output on the whole grid (set when the network is built). */
  private decoderOut: GPUBuffer | null = null;
  /** (N·L, 3072) predictions of every patch; built on the first reconstruction request. */
  private reconstruction: { predAll: GPUBuffer; phase: Phase } | null = null;

  private phases: { forward: Phase[]; backward: Phase[]; optimizer: Phase } = { forward: [], backward: [], optimizer: { name: 'optimizer', dispatches: [] } };
  get forwardPhases(): readonly Phase[] {
    return this.phases.forward;
  }
  get backwardPhases(): readonly Phase[] {
    return this.phases.backward;
  }
  get optimizerPhase(): Phase {
    return this.phases.optimizer;
  }

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
    const arena = this.arena;
    const table = this.table;
    const N = shape.batchSize;
    this.frozenEncoder = options.freezeEncoder ?? false;
    this.ranges = trainedRanges(table, this.frozenEncoder, adamw.decayRule);
    this.params = arena.f32('params', table.totalFloats);
    this.grads = arena.f32('grads', gradientFloats(this.ranges));
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
    this.lossRowOfPatch = arena.create('loss-row-of-patch', N * this.L * 4);
    this.loss = arena.f32('loss', 1);
    this.perSampleLoss = arena.f32('per-sample-loss', N);
    this.target = arena.f32('target', N * this.L * PATCH_VALUES);
    this.patchMean = arena.f32('patch-mean', N * this.L);
    this.patchVar = arena.f32('patch-var', N * this.L);
    this.pred = arena.f32('pred', N * this.lossPatches * PATCH_VALUES);
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
    return tensorBinding(this.params, specOf(this.table, name));
  }
  grad(name: string): GPUBufferBinding {
    const spec = specOf(this.table, name);
    return { buffer: this.grads, offset: this.gradOffset(spec) * 4, size: spec.size * 4 };
  }

  /** Where a tensor's gradient sits in `grads` (floats); throws for a frozen tensor, which has none. */
  gradOffset(spec: ParamSpec): number {
    const r = this.ranges.find((r) => spec.offset >= r.start && spec.offset < r.start + r.floats);
    if (!r) throw new Error(`internal: ${spec.name} is frozen in this plan and has no gradient`);
    return spec.offset - r.start + r.gradOffset;
  }

  /**
   * The gradient buffer's contents (as read back) in the parameter table's layout; frozen
   * tensors, which get no gradient, read 0.
   */
  gradsInTableLayout(grads: Float32Array): Float32Array {
    if (!this.frozenEncoder) return grads;
    const out = new Float32Array(this.table.totalFloats);
    for (const r of this.ranges) out.set(grads.subarray(r.gradOffset, r.gradOffset + r.floats), r.start);
    return out;
  }
  spec(name: string): ParamSpec {
    return specOf(this.table, name);
  }

  private async buildAll(): Promise<void> {
    const { arena, table } = this;
    await this.buildNetwork();
    if (!this.frozenEncoder) {
      this.optimizerPhase.dispatches = await adamwUpdate(this.engine, arena, 'adamw', {
        params: this.params,
        grads: this.grads,
        m: this.adamM,
        v: this.adamV,
        scalars: this.adamScalars,
      }, { count: table.totalFloats, decayCount: decayBoundary(table, this.adamw.decayRule), ...this.adamw });
      return;
    }
    // one update per trained range (the decoder side of each part of the table); bindings at
    // 256-byte aligned offsets (every tensor starts at a multiple of PARAM_ALIGN_FLOATS)
    const dispatches = [];
    for (const [i, r] of this.ranges.entries()) {
      const at = (buffer: GPUBuffer, offset: number) => ({ buffer, offset: offset * 4, size: r.floats * 4 });
      dispatches.push(...(await adamwUpdate(this.engine, arena, `adamw-decoder-${i}`, {
        params: at(this.params, r.start),
        grads: at(this.grads, r.gradOffset),
        m: at(this.adamM, r.start),
        v: at(this.adamV, r.start),
        scalars: this.adamScalars,
      }, { count: r.floats, decayCount: r.decayFloats, ...this.adamw })));
    }
    this.optimizerPhase.dispatches = dispatches;
  }

  // ---------------------------------------------------------------- network

  private async buildNetwork(): Promise<void> {
    const { engine, arena, config, options, shape } = this;
    const N = shape.batchSize;
    const ctx: BuildContext = { engine, arena, param: (n) => this.param(n), grad: (n) => this.grad(n) };
    const layers: Layer[] = [];

    // ---- encoder on the visible patches (all of them in the dense-encoder ablation)
    const encoder = await buildEncoder(
      ctx,
      config,
      options,
      { image: this.image, patchToVisible: this.encPatchToVisible, visiblePatches: this.encVisiblePatches, mask: options.denseEncoder ? this.mask : null },
      { N, V: this.encV, gridH: this.gridH, gridW: this.gridW },
      this.frozenEncoder,
    );
    layers.push(...encoder.layers);
    const encOut = encoder.out; // (N·encV, d3)
    const d3 = config.dims[3]!;
    const D = config.decoderDim;

    // ---- decoder embedding: proj of the encoded patches, mask tokens at the masked ones
    const Renc = N * this.encV;
    const proj = arena.f32('dec/proj', Renc * D); // (N·encV, D)
    const decIn = arena.f32('dec/in', N * this.L * D); // (N·L, D)
    const decStream = arena.f32('grad-stream/decoder', N * this.L * D);
    const dProj = arena.f32('dec/d-proj', Renc * D);
    {
      const forward = [
        ...(await matmulDispatches(engine, arena, 'dec/proj', encOut, this.param('proj.weight'), proj, { M: Renc, N: D, K: d3, transB: true, bias: this.param('proj.bias') })),
        ...(await maskTokenFillForward(engine, arena, 'dec/fill', { P: proj, maskToken: this.param('mask_token'), X: decIn, patchToVisible: this.decPatchToVisible }, { N, V: this.encV, L: this.L, D })),
      ];
      const backward = await maskTokenFillBackward(engine, arena, 'dec/fill-bwd', { dX: decStream, dP: dProj, dMaskToken: this.grad('mask_token'), visiblePatches: this.decVisiblePatches, patchToVisible: this.decPatchToVisible }, { N, V: this.encV, L: this.L, D });
      if (options.denseEncoder) backward.push(...(await maskRows(engine, arena, 'dec/proj-grad-mask', { x: dProj, mask: this.mask }, { rows: Renc, C: D, sitesPerPatch: 1 })));
      backward.push(...(await matmulDispatches(engine, arena, 'dec/proj-dW', dProj, encOut, this.grad('proj.weight'), { M: D, N: d3, K: Renc, transA: true, rowSums: this.grad('proj.bias') })));
      // the gradient of the encoder's output: only when the encoder trains
      if (encoder.dOut) backward.push(...(await matmulDispatches(engine, arena, 'dec/proj-dX', dProj, this.param('proj.weight'), encoder.dOut, { M: Renc, N: d3, K: D })));
      layers.push({ forwardPhase: 'decoder', backwardPhase: 'mask-token fill backward', forward, backward });
    }

    // ---- decoder blocks, dense on the grid; their GRN is always per sample (spec §4; the official dense decoder Block)
    const decIdentity = arena.fromData('dec/identity', this.gridIdentity);
    // every patch visible: both tables are the identity p → p (one read-only buffer serves both)
    const decGrid: Grid = { r: 1, N, V: this.L, gridH: this.gridH, gridW: this.gridW, patchToVisible: decIdentity, visiblePatches: decIdentity };
    const decBlocks = await blockGroup(ctx, 'decoder', config.decoderDepth, { x: decIn, stream: decStream, grid: decGrid }, { C: D, rows: N * this.L, grn: config.grn, gelu: options.gelu, grnMode: 'per-sample' });
    layers.push({ forwardPhase: 'decoder', backwardPhase: 'decoder backward', forward: decBlocks.forward, backward: decBlocks.backward });
    const decOut = (this.decoderOut = decBlocks.out);

    // ---- prediction of the patches the loss counts, and the loss
    const NM = N * this.lossPatches;
    const decMasked = arena.f32('dec/masked-rows', NM * D); // (N·M, D)
    const dPred = arena.f32('d-pred', NM * PATCH_VALUES);
    const dDecMasked = arena.f32('dec/d-masked-rows', NM * D);
    {
      const forward = [
        ...(await patchifyTarget(engine, arena, 'loss/target', { image: this.image, target: this.target, mean: this.patchMean, variance: this.patchVar }, { N, height: shape.height, width: shape.width, normPix: options.normPix })),
        ...(await gatherRows(engine, arena, 'loss/gather', { src: decOut, indices: this.maskedRows, dst: decMasked }, { rows: NM, C: D })),
        ...(await matmulDispatches(engine, arena, 'pred', decMasked, this.param('pred.weight'), this.pred, { M: NM, N: PATCH_VALUES, K: D, transB: true, bias: this.param('pred.bias') })),
        ...(await fcmaeLossForward(engine, arena, 'loss', { pred: this.pred, target: this.target, maskedRows: this.maskedRows, loss: this.loss, perSample: this.perSampleLoss }, { N, M: this.lossPatches, L: this.L })),
      ];
      const backward = [
        ...(await fcmaeLossBackward(engine, arena, 'loss-bwd', { pred: this.pred, target: this.target, maskedRows: this.maskedRows, dPred }, { N, M: this.lossPatches, L: this.L })),
        ...(await matmulDispatches(engine, arena, 'pred-dW', dPred, decMasked, this.grad('pred.weight'), { M: PATCH_VALUES, N: D, K: NM, transA: true, rowSums: this.grad('pred.bias') })),
        ...(await matmulDispatches(engine, arena, 'pred-dX', dPred, this.param('pred.weight'), dDecMasked, { M: NM, N: D, K: PATCH_VALUES })),
        // the scatter back to the grid, zeros at the rows the loss does not count: one gather
        // through the inverse table writes every row
        ...(await gatherRows(engine, arena, 'loss/scatter', { src: dDecMasked, indices: this.lossRowOfPatch, dst: decStream }, { rows: N * this.L, C: D, srcRows: NM })),
      ];
      layers.push({ forwardPhase: 'loss', backwardPhase: 'loss backward', forward, backward });
    }

    // The backward pass is the layers' backward lists in reverse order: loss, decoder blocks,
    // mask-token fill + proj, stages 3..0 (each after its blocks, its downsample), stem.
    // A frozen encoder has no backward phases at all (not even empty passes).
    const phases = phasesOf(layers);
    const encoderBackward = new Set(encoder.layers.map((l) => l.backwardPhase));
    this.phases.forward = phases.forward;
    this.phases.backward = this.frozenEncoder ? phases.backward.filter((p) => !encoderBackward.has(p.name)) : phases.backward;
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
    const lossRows = this.M > 0 ? maskedPatchRows(layout) : this.allGridRows;
    upload(device, this.maskedRows, lossRows);
    upload(device, this.lossRowOfPatch, lossRowOfPatch(lossRows, N * this.L));
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
    encodePhases(encoder, phases);
  }

  /**
   * Every buffer of the arena (the reconstruction's too, once built) and every dispatch of a
   * training step (forward, backward, optimizer phases, in encoding order) with its FLOPs.
   */
  ledger(): PlanLedger {
    return planLedger(this.arena, [...this.forwardPhases, ...this.backwardPhases, this.optimizerPhase]);
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
      if (!this.decoderOut) throw new Error('internal: the network is not built');
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
