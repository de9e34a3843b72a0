// The classification plan (evaluation-spec §1): the ConvNeXt V2 encoder run dense (every
// patch visible: the sparse layout with V = L is the dense network), a global average pool,
// LayerNorm (eps 1e-6) → the feature, a Linear head → logits, softmax cross-entropy with label
// smoothing, the explicit backward of all of it, and AdamW over the official fine-tuning
// parameter groups (a per-tensor lr scale and weight decay, src/train/param-groups.ts), with an
// optional EMA of the weights. Built once for (encoder config, batch size, input size, classes,
// options), on the same layer builders as the FCMAE plan (encoder.ts, layers.ts).
//
// Drop path: every block whose rate is above 0 gets an (N) scale buffer the trainer rewrites
// each step (0 or 1/(1 − p) per sample; all 1 for gradients without drop path and evaluation).
// GRN statistics are per sample over the whole feature map, as in the official dense model.
import { BufferArena, upload } from '../gpu/buffers.ts';
import type { Engine } from '../gpu/engine.ts';
import { adamwGroupedUpdate, adamwStepScalars, ADAMW_CHUNK_FLOATS, ADAMW_SCALARS_LENGTH } from '../ops/adamw.ts';
import { crossEntropyBackward, crossEntropyForward } from '../ops/cross-entropy.ts';
import { emaUpdate } from '../ops/ema.ts';
import type { GeluForm } from '../ops/gelu.ts';
import { meanPoolBackward, meanPoolForward } from '../ops/global-pool.ts';
import { layerNormBackward, layerNormForward } from '../ops/layernorm.ts';
import { matmulDispatches } from '../ops/matmul.ts';
import { MASK_PATCH, validateInputSize, type ModelConfig } from './config.ts';
import { buildEncoder } from './encoder.ts';
import { encodePhases, phasesOf, type BuildContext, type Layer, type Phase } from './layers.ts';
import { planLedger, type PlanLedger } from './ledger.ts';
import { classifierParamTable, specOf, tensorBinding, type ParamSpec, type ParamTable } from './parameters.ts';

export interface ClassifierShape {
  batchSize: number;
  height: number;
  width: number;
  numClasses: number;
}

export interface ClassifierOptions {
  gelu: GeluForm;
  /** ε of the cross-entropy (0: plain cross-entropy). */
  labelSmoothing: number;
  /** Drop-path rate of the last block; block j of J (all stages, in order) gets rate·j/(J − 1). */
  dropPath: number;
  /** Decay of the weights' EMA (timm ModelEmaV2), or null for no EMA. */
  emaDecay: number | null;
  beta1: number;
  beta2: number;
  eps: number;
}

export const DEFAULT_CLASSIFIER_OPTIONS: Readonly<ClassifierOptions> = Object.freeze({
  gelu: 'erf',
  labelSmoothing: 0,
  dropPath: 0,
  emaDecay: null,
  // the official fine-tuning AdamW (main_finetune.py: timm create_optimizer defaults)
  beta1: 0.9,
  beta2: 0.999,
  eps: 1e-8,
});

/** One block's drop-path rate and (when the rate is above 0) its per-sample scale buffer. */
export interface DropPathBlock {
  stage: number;
  block: number;
  rate: number;
  scale: GPUBuffer | null;
}

/**
 * Drop-path rates of every block in order (stage 0 block 0 first): linear from 0 to `rate`
 * over all blocks, as the official and timm models build theirs (torch.linspace, float32).
 */
export function dropPathRates(depths: readonly number[], rate: number): number[][] {
  const total = depths.reduce((a, b) => a + b, 0);
  let j = 0;
  return depths.map((d) =>
    Array.from({ length: d }, () => {
      const r = total > 1 ? Math.fround((rate * j) / (total - 1)) : 0;
      j++;
      return r;
    }),
  );
}

export class ClassifierPlan {
  readonly table: ParamTable;
  readonly arena: BufferArena;
  readonly gridH: number;
  readonly gridW: number;
  /** Patches (final-stage sites) per image. */
  readonly L: number;
  readonly chunks: number;

  readonly params: GPUBuffer;
  readonly grads: GPUBuffer;
  readonly adamM: GPUBuffer;
  readonly adamV: GPUBuffer;
  readonly adamScalars: GPUBuffer; // (ADAMW_SCALARS_LENGTH)
  /** (chunks, 2): [lr scale, weight decay] of every 64-float chunk of the flat buffers. */
  readonly chunkScales: GPUBuffer;
  /** EMA of the weights (flat, engine layout), or null. */
  readonly ema: GPUBuffer | null;

  readonly image: GPUBuffer; // (N, 3, H, W)
  readonly labels: GPUBuffer; // (N) int32; −1 = padding (no loss, no gradient)
  readonly dropBlocks: DropPathBlock[];

  readonly pooled: GPUBuffer; // (N, d3)
  /** (N, d3) the pooled LayerNorm output: the feature ("pre-logits"). */
  readonly features: GPUBuffer;
  readonly logits: GPUBuffer; // (N, K)
  readonly loss: GPUBuffer; // (1) mean over the batch
  readonly perSampleLoss: GPUBuffer; // (N)

  forwardPhases: Phase[] = [];
  backwardPhases: Phase[] = [];
  optimizerPhase: Phase = { name: 'optimizer', dispatches: [] };
  /** Every block's expansion activations (after GRN, or after GELU without it), stage 0 block 0 first. */
  private activations: { stage: number; block: number; buffer: GPUBuffer; rows: number; channels: number }[] = [];
  /** Per block, the (4C, 4C) Gram matrix XᵀX of its activations; built on the first analysis request. */
  private grams: { phase: Phase; blocks: { stage: number; block: number; channels: number; gram: GPUBuffer }[] } | null = null;

  private constructor(
    readonly engine: Engine,
    readonly config: Pick<ModelConfig, 'depths' | 'dims' | 'grn'>,
    readonly shape: ClassifierShape,
    readonly options: ClassifierOptions,
  ) {
    validateInputSize(shape.height, shape.width);
    if (!Number.isInteger(shape.batchSize) || shape.batchSize < 1) throw new RangeError(`batch size ${shape.batchSize} must be a positive integer`);
    if (!(options.labelSmoothing >= 0 && options.labelSmoothing < 1)) throw new RangeError(`label smoothing ${options.labelSmoothing} must be in [0, 1)`);
    if (!(options.dropPath >= 0 && options.dropPath < 1)) throw new RangeError(`drop path ${options.dropPath} must be in [0, 1)`);
    if (options.emaDecay !== null && !(options.emaDecay >= 0 && options.emaDecay <= 1)) throw new RangeError(`EMA decay ${options.emaDecay} must be in [0, 1]`);
    const N = shape.batchSize;
    this.table = classifierParamTable(config, shape.numClasses);
    const arena = (this.arena = new BufferArena(engine.ctx.device, 'classifier'));
    this.gridH = shape.height / MASK_PATCH;
    this.gridW = shape.width / MASK_PATCH;
    this.L = this.gridH * this.gridW;
    const total = this.table.totalFloats;
    this.chunks = Math.ceil(total / ADAMW_CHUNK_FLOATS);
    this.params = arena.f32('params', total);
    this.grads = arena.f32('grads', total);
    this.adamM = arena.f32('adam-m', total);
    this.adamV = arena.f32('adam-v', total);
    this.adamScalars = arena.f32('adam-scalars', ADAMW_SCALARS_LENGTH);
    this.chunkScales = arena.f32('adam-chunk-scales', this.chunks * 2);
    this.ema = options.emaDecay !== null ? arena.f32('ema', total) : null;
    this.image = arena.f32('image', N * 3 * shape.height * shape.width);
    this.labels = arena.create('labels', N * 4);
    const rates = dropPathRates(config.depths, options.dropPath);
    this.dropBlocks = rates.flatMap((stage, s) => stage.map((rate, b) => ({ stage: s, block: b, rate, scale: rate > 0 ? arena.f32(`drop-path/${s}.${b}`, N) : null })));
    const d3 = config.dims[3]!;
    this.pooled = arena.f32('head/pooled', N * d3);
    this.features = arena.f32('head/features', N * d3);
    this.logits = arena.f32('head/logits', N * shape.numClasses);
    this.loss = arena.f32('loss', 1);
    this.perSampleLoss = arena.f32('per-sample-loss', N);
  }

  static async build(engine: Engine, config: Pick<ModelConfig, 'depths' | 'dims' | 'grn'>, shape: ClassifierShape, options: Partial<ClassifierOptions> = {}): Promise<ClassifierPlan> {
    const plan = new ClassifierPlan(engine, config, shape, { ...DEFAULT_CLASSIFIER_OPTIONS, ...options });
    try {
      await plan.buildNetwork();
      plan.setDropScales(null);
    } catch (e) {
      plan.destroy();
      throw e;
    }
    return plan;
  }

  param(name: string): GPUBufferBinding {
    return tensorBinding(this.params, specOf(this.table, name));
  }
  grad(name: string): GPUBufferBinding {
    return tensorBinding(this.grads, specOf(this.table, name));
  }
  spec(name: string): ParamSpec {
    return specOf(this.table, name);
  }

  private async buildNetwork(): Promise<void> {
    const { engine, arena, config, options, shape } = this;
    const N = shape.batchSize;
    const K = shape.numClasses;
    const d3 = config.dims[3]!;
    const ctx: BuildContext = { engine, arena, param: (n) => this.param(n), grad: (n) => this.grad(n) };
    // every patch visible: both layout tables are p → p for every sample
    const identity = arena.fromData('identity', Int32Array.from({ length: N * this.L }, (_, i) => i % this.L));
    const dropScales = config.depths.map((_, s) => this.dropBlocks.filter((b) => b.stage === s).map((b) => b.scale));
    const encoder = await buildEncoder(
      ctx,
      { ...config, decoderDim: 1, decoderDepth: 0 },
      { gelu: options.gelu, grnMode: 'per-sample' },
      { image: this.image, patchToVisible: identity, visiblePatches: identity, mask: null, dropScales },
      { N, V: this.L, gridH: this.gridH, gridW: this.gridW },
    );
    const layers: Layer[] = [...encoder.layers];
    this.activations = encoder.blockActivations;

    // ---- head: pool → LayerNorm → Linear → cross-entropy
    const lnMean = arena.f32('head/ln-mean', N);
    const lnRstd = arena.f32('head/ln-rstd', N);
    const dLogits = arena.f32('head/d-logits', N * K);
    const dFeatures = arena.f32('head/d-features', N * d3);
    const dPooled = arena.f32('head/d-pooled', N * d3);
    const smoothing = options.labelSmoothing;
    const forward = [
      ...(await meanPoolForward(engine, arena, 'head/pool', { x: encoder.out, y: this.pooled }, { N, P: this.L, C: d3 })),
      ...(await layerNormForward(engine, arena, 'head/norm', { x: this.pooled, weight: this.param('norm.weight'), bias: this.param('norm.bias'), y: this.features, mean: lnMean, rstd: lnRstd }, { rows: N, C: d3 })),
      ...(await matmulDispatches(engine, arena, 'head/fc', this.features, this.param('head.weight'), this.logits, { M: N, N: K, K: d3, transB: true, bias: this.param('head.bias') })),
      ...(await crossEntropyForward(engine, arena, 'loss', { logits: this.logits, labels: this.labels, loss: this.loss, perSample: this.perSampleLoss }, { N, K, smoothing })),
    ];
    const backward = [
      ...(await crossEntropyBackward(engine, arena, 'loss-bwd', { logits: this.logits, labels: this.labels, dLogits }, { N, K, smoothing })),
      ...(await matmulDispatches(engine, arena, 'head/fc-dW', dLogits, this.features, this.grad('head.weight'), { M: K, N: d3, K: N, transA: true, rowSums: this.grad('head.bias') })),
      ...(await matmulDispatches(engine, arena, 'head/fc-dX', dLogits, this.param('head.weight'), dFeatures, { M: N, N: d3, K })),
      ...(await layerNormBackward(engine, arena, 'head/norm-bwd', { x: this.pooled, weight: this.param('norm.weight'), mean: lnMean, rstd: lnRstd, dY: dFeatures, dX: dPooled, dWeight: this.grad('norm.weight'), dBias: this.grad('norm.bias') }, { rows: N, C: d3 })),
      ...(await meanPoolBackward(engine, arena, 'head/pool-bwd', { dY: dPooled, dX: encoder.dOut! }, { N, P: this.L, C: d3 })),
    ];
    layers.push({ forwardPhase: 'head', backwardPhase: 'head backward', forward, backward });
    const phases = phasesOf(layers);
    this.forwardPhases = phases.forward;
    this.backwardPhases = phases.backward;

    const total = this.table.totalFloats;
    this.optimizerPhase.dispatches = await adamwGroupedUpdate(engine, arena, 'adamw', { params: this.params, grads: this.grads, m: this.adamM, v: this.adamV, scalars: this.adamScalars, chunkScales: this.chunkScales }, { count: total, beta1: options.beta1, beta2: options.beta2, eps: options.eps });
    if (this.ema) this.optimizerPhase.dispatches.push(...(await emaUpdate(engine, arena, 'ema', { ema: this.ema, params: this.params }, { count: total, decay: options.emaDecay! })));
  }

  // ---------------------------------------------------------------- per step

  /** Upload a batch: images (N, 3, H, W) normalised, labels (N) in [0, K) or −1 for a padding sample. */
  setBatch(images: Float32Array, labels: Int32Array): void {
    const { shape } = this;
    const N = shape.batchSize;
    const expected = N * 3 * shape.height * shape.width;
    if (images.length !== expected) throw new RangeError(`images have ${images.length} values, the plan expects N·3·H·W = ${expected}`);
    if (labels.length !== N) throw new RangeError(`${labels.length} labels for a batch of ${N}`);
    for (let i = 0; i < N; i++) {
      const y = labels[i]!;
      if (y !== -1 && !(y >= 0 && y < shape.numClasses)) throw new RangeError(`label ${y} of sample ${i} is outside 0..${shape.numClasses - 1}`);
    }
    const device = this.engine.ctx.device;
    upload(device, this.image, images);
    upload(device, this.labels, labels);
  }

  /**
   * The per-sample scales of every drop-path block (this.dropBlocks with a scale buffer, in
   * order; N each); null = no drop path this step (all 1).
   */
  setDropScales(scales: readonly Float32Array[] | null): void {
    const device = this.engine.ctx.device;
    const N = this.shape.batchSize;
    const blocks = this.dropBlocks.filter((b) => b.scale);
    if (scales && scales.length !== blocks.length) throw new RangeError(`${scales.length} drop-path scale sets for ${blocks.length} blocks`);
    blocks.forEach((b, i) => {
      const s = scales ? scales[i]! : new Float32Array(N).fill(1);
      if (s.length !== N) throw new RangeError(`drop-path scales of block ${b.stage}.${b.block}: ${s.length} values for a batch of ${N}`);
      upload(device, b.scale!, s);
    });
  }

  /** Write the parameters (engine layout, flat). */
  setParams(flat: Float32Array): void {
    if (flat.length !== this.table.totalFloats) throw new RangeError(`flat params have ${flat.length} floats, expected ${this.table.totalFloats}`);
    upload(this.engine.ctx.device, this.params, flat);
  }

  /** The optimizer's parameter groups: (chunks, 2) [lr scale, weight decay] per 64-float chunk. */
  setChunkScales(scales: Float32Array): void {
    if (scales.length !== this.chunks * 2) throw new RangeError(`${scales.length} chunk scale values, expected ${this.chunks * 2}`);
    upload(this.engine.ctx.device, this.chunkScales, scales);
  }

  /** AdamW's learning rate and step (1-based) for the next update. */
  setOptimizerStep(step: number, lr: number): void {
    upload(this.engine.ctx.device, this.adamScalars, adamwStepScalars(step, lr, this.options));
  }

  /** Every buffer and every dispatch of a training step with its FLOPs. */
  ledger(): PlanLedger {
    return planLedger(this.arena, [...this.forwardPhases, ...this.backwardPhases, this.optimizerPhase]);
  }

  /** Encode forward + loss (+ backward + optimizer when training). */
  encodeStep(encoder: GPUCommandEncoder, what: { backward: boolean; optimizer: boolean }): void {
    encodePhases(encoder, this.forwardPhases);
    if (what.backward) encodePhases(encoder, this.backwardPhases);
    if (what.optimizer) encodePhases(encoder, [this.optimizerPhase]);
  }

  /** Block `block` of stage `stage`'s expansion activations (rows = N·L·r², channels = 4C; rows in the sparse layout's order). */
  blockActivation(stage: number, block: number): { buffer: GPUBuffer; rows: number; channels: number } {
    const a = this.activations.find((x) => x.stage === stage && x.block === block);
    if (!a) throw new RangeError(`no block ${block} in stage ${stage} (depths ${this.config.depths.join(',')})`);
    return a;
  }

  /**
   * The phase computing every block's Gram matrix G = XᵀX over the image's sites (X: the
   * block's (sites, 4C) activations) after a forward pass: what the feature-collapse analysis
   * (evaluation-spec §4) reads. One image per plan (batch size 1).
   */
  async gramPhase(): Promise<{ phase: Phase; blocks: { stage: number; block: number; channels: number; gram: GPUBuffer }[] }> {
    if (this.shape.batchSize !== 1) throw new RangeError(`the Gram analysis runs one image at a time (a plan of batch 1, not ${this.shape.batchSize})`);
    if (!this.grams) {
      const dispatches = [];
      const blocks = [];
      for (const a of this.activations) {
        const gram = this.arena.f32(`gram/${a.stage}.${a.block}`, a.channels * a.channels);
        dispatches.push(...(await matmulDispatches(this.engine, this.arena, `gram/${a.stage}.${a.block}`, a.buffer, a.buffer, gram, { M: a.channels, N: a.channels, K: a.rows, transA: true })));
        blocks.push({ stage: a.stage, block: a.block, channels: a.channels, gram });
      }
      this.grams = { phase: { name: 'gram', dispatches }, blocks };
    }
    return this.grams;
  }

  destroy(): void {
    this.arena.destroy();
  }
}
