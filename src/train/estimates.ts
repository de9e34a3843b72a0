// What the model panel shows live: parameter counts (from the engine's own parameter table),
// multiply-accumulates per image, and the GPU memory a training plan needs, compared with the
// adapter's buffer limits. Pure arithmetic over the configuration.
//
// FLOPs follow the papers' convention (fvcore): one multiply-accumulate = one "FLOP"; only
// convolutions and linear layers count (norms, GELU, GRN are a few % more). With that
// convention the dense encoders at 224 px reproduce the published GFLOPs (atto 0.55 ... huge 115).
// Turning GRN off therefore changes no MAC count; trainingStepFlops (every op, src/train/flops.ts)
// is the figure that sees it.
// Memory mirrors the buffers FcmaePlan allocates (src/model/fcmae.ts): parameters ×4 (weights,
// gradients, AdamW m and v), inputs and targets, every activation kept for backward, the
// backward scratch, the decoder and the reconstruction's pred-all, each under the plan's own
// buffer name and with its exact size (tests/gpu/model/ledger.test.ts checks both against the
// built plan's ledger). Not counted: uniforms, per-row and per-group statistics (LayerNorm
// mean/rstd, GRN norms), index tables and scalars, the kernels' partial-sum scratch (split-K,
// column sums, LayerNorm/GRN/dwconv parameter-gradient partials), all small next to the
// activations.
import { TAPS } from '../ops/flop-conventions.ts';
import { MASK_PATCH, PATCH_VALUES, type ModelConfig, type StepOptions } from '../model/config.ts';
import { encoderParamCount, gradientFloats, paramTable, trainedRanges } from '../model/parameters.ts';
import { fcmaeStepFlops } from './flops.ts';
import { checkVisibleCount } from './masking.ts';

export interface ParamCounts {
  encoder: number;
  /** proj + mask token + decoder blocks + pred. */
  decoder: number;
  total: number;
}

export function paramCounts(config: ModelConfig): ParamCounts {
  const t = paramTable(config);
  const encoder = encoderParamCount(t);
  return { encoder, decoder: t.count - encoder, total: t.count };
}

export interface WorkShape {
  inputSize: number;
  /** Patches kept visible per image (1..L): a ratio becomes this once, with keptCount. */
  visible: number;
  denseEncoder: boolean;
}

export interface MacsPerImage {
  /** Encoder (stem, stages, downsamples) on the sites it computes. */
  encoder: number;
  /** proj, decoder blocks and the pred head on the patches the loss counts. */
  decoder: number;
  /** encoder + decoder: one forward pass of a training step. */
  forward: number;
  /** Forward + backward (about twice the forward: dX and dW products). */
  trainingStep: number;
  /** Patches the encoder computes per image (V, or L in the dense ablation). */
  encoderPatches: number;
  patches: number;
}

/** MACs of one block of width C on `sites` sites: 7×7 depthwise + two pointwise (C→4C→C). */
function blockMacs(C: number, sites: number): number {
  return sites * (TAPS * C + 8 * C * C);
}

/** MACs of the encoder alone on `patches` computed patches of 32×32 px (dense at patches = L). */
export function encoderMacs(config: ModelConfig, patches: number): number {
  const d = config.dims;
  let sites = patches * 64; // stage-0 sites: 8×8 per patch (stride 4)
  let macs = sites * 48 * d[0]!; // stem 4×4×3 conv
  for (let s = 0; s < 4; s++) {
    if (s > 0) {
      sites /= 4;
      macs += sites * 4 * d[s - 1]! * d[s]!; // 2×2 stride-2 downsample conv
    }
    macs += config.depths[s]! * blockMacs(d[s]!, sites);
  }
  return macs;
}

export function macsPerImage(config: ModelConfig, w: WorkShape): MacsPerImage {
  const L = (w.inputSize / MASK_PATCH) ** 2;
  const V = checkVisibleCount(L, w.visible);
  const encP = w.denseEncoder ? L : V;
  const lossPatches = L - V > 0 ? L - V : L;
  const D = config.decoderDim;
  const encoder = encoderMacs(config, encP);
  const decoder = encP * config.dims[3]! * D + config.decoderDepth * blockMacs(D, L) + lossPatches * D * PATCH_VALUES;
  const forward = encoder + decoder;
  return { encoder, decoder, forward, trainingStep: 3 * forward, encoderPatches: encP, patches: L };
}

export interface MemoryEstimate {
  /** Every plan buffer counted, bytes. */
  totalBytes: number;
  /** The largest single buffer, bytes (must fit maxBufferSize and maxStorageBufferBindingSize). */
  largestBufferBytes: number;
  largestBufferName: string;
}

export interface TrainShape extends WorkShape {
  batchSize: number;
  /** Decoder warm-up: no encoder gradients, streams or backward scratch (absent = false). */
  freezeEncoder?: boolean;
  /** Non-square inputs: height and width in pixels (default inputSize both). */
  height?: number;
  width?: number;
}

/**
 * FLOPs of one whole training step at this batch size, every op counted (src/train/flops.ts:
 * a multiply-add is 2, and norms, GELU, GRN, the loss and AdamW count too), unlike the MACs.
 */
export function trainingStepFlops(config: ModelConfig, w: TrainShape, options: Pick<StepOptions, 'grnMode' | 'normPix'> = { grnMode: 'per-sample', normPix: true }): number {
  const shape = { batchSize: w.batchSize, height: w.height ?? w.inputSize, width: w.width ?? w.inputSize, visible: w.visible };
  return fcmaeStepFlops(config, shape, { denseEncoder: w.denseEncoder, grnMode: options.grnMode, normPix: options.normPix, freezeEncoder: w.freezeEncoder ?? false }).total;
}

/** One buffer of the estimate: the plan's name for it and its bytes. */
export interface EstimatedBuffer {
  name: string;
  bytes: number;
}

/** The main buffers FcmaePlan allocates for this configuration (see the file header), in no particular order. */
export function estimatedBuffers(config: ModelConfig, w: TrainShape): EstimatedBuffer[] {
  const N = w.batchSize;
  const H = w.height ?? w.inputSize;
  const W = w.width ?? w.inputSize;
  const L = (H / MASK_PATCH) * (W / MASK_PATCH);
  const V = checkVisibleCount(L, w.visible);
  const encV = w.denseEncoder ? L : V;
  const lossPatches = L - V > 0 ? L - V : L;
  const d = config.dims;
  const D = config.decoderDim;
  const table = paramTable(config);
  const frozen = w.freezeEncoder ?? false;
  const buffers: [string, number][] = []; // (name, floats)
  const add = (name: string, floats: number) => buffers.push([name, floats]);
  for (const n of ['params', 'adam-m', 'adam-v']) add(n, table.totalFloats);
  add('grads', gradientFloats(trainedRanges(table, frozen))); // the decoder side only when frozen
  // what only the encoder's backward allocates
  const addTrained = (name: string, floats: number) => {
    if (!frozen) add(name, floats);
  };
  add('image', N * 3 * H * W);
  add('target', N * L * PATCH_VALUES);
  add('pred', N * lossPatches * PATCH_VALUES);
  add('d-pred', N * lossPatches * PATCH_VALUES);
  add('pred-all', N * L * PATCH_VALUES); // built on the first reconstruction request
  const rowsAt = (r: number) => N * encV * r * r;
  const R0 = rowsAt(8);
  add('stem/cols', R0 * 48);
  add('stem/conv', R0 * d[0]!);
  add('stem/out', R0 * d[0]!);
  addTrained('stem/d-conv', R0 * d[0]!);
  const blockGroup = (prefix: string, depth: number, C: number, rows: number, trained: boolean) => {
    for (let i = 0; i < depth; i++) {
      // dw, ln, out (rows, C); h, act, grn (rows, 4C); no grn buffer in the no-GRN ablation
      for (const n of ['dw', 'ln', 'out']) add(`${prefix}.${i}/${n}`, rows * C);
      for (const n of config.grn ? ['h', 'act', 'grn'] : ['h', 'act']) add(`${prefix}.${i}/${n}`, rows * 4 * C);
    }
    // the group's backward scratch (allocated by blockGroup even at depth 0; not for a frozen group)
    if (!trained) return;
    add(`${prefix}/d-scratch-4c-a`, rows * 4 * C);
    add(`${prefix}/d-scratch-4c-b`, rows * 4 * C);
    add(`${prefix}/d-scratch-ln`, rows * C);
    add(`${prefix}/d-scratch-dw`, rows * C);
  };
  for (let s = 0; s < 4; s++) {
    const r = 8 >> s;
    addTrained(`grad-stream/${s}`, rowsAt(r) * d[s]!);
    if (s > 0) {
      const Rp = rowsAt(r * 2);
      add(`down${s}/ln`, Rp * d[s - 1]!);
      addTrained(`down${s}/d-ln`, Rp * d[s - 1]!);
      add(`down${s}/out`, rowsAt(r) * d[s]!);
    }
    blockGroup(`encoder.stages.${s}`, config.depths[s]!, d[s]!, rowsAt(r), !frozen);
  }
  const Renc = N * encV;
  add('dec/proj', Renc * D);
  add('dec/d-proj', Renc * D);
  add('dec/in', N * L * D);
  add('grad-stream/decoder', N * L * D);
  add('dec/masked-rows', N * lossPatches * D);
  add('dec/d-masked-rows', N * lossPatches * D);
  blockGroup('decoder', config.decoderDepth, D, N * L, true);
  return buffers.map(([name, floats]) => ({ name, bytes: floats * 4 }));
}

/** Bytes FcmaePlan allocates for this configuration (main buffers; see the file header). */
export function memoryEstimate(config: ModelConfig, w: TrainShape): MemoryEstimate {
  let totalBytes = 0;
  let largest: EstimatedBuffer = { name: '', bytes: 0 };
  for (const b of estimatedBuffers(config, w)) {
    totalBytes += b.bytes;
    if (b.bytes > largest.bytes) largest = b;
  }
  return { totalBytes, largestBufferBytes: largest.bytes, largestBufferName: largest.name };
}

/** A training plan refused before any allocation: its largest buffer exceeds the device's limits. */
export class PlanTooLargeError extends Error {
  override readonly name = 'PlanTooLargeError';
  constructor(
    message: string,
    /** Which buffer, how large, the limit and what to lower (fitsAdapter's reason). */
    readonly reason: string,
    readonly estimate: MemoryEstimate,
  ) {
    super(message);
  }
}

/**
 * The plan's memory estimate, or a PlanTooLargeError when its largest buffer exceeds `limits`
 * (pass the device's: they may be below the adapter's). Cheap: call it before allocating or
 * generating anything for the plan.
 */
export function assertPlanFits(config: ModelConfig, w: TrainShape, limits: { maxBufferSize: number; maxStorageBufferBindingSize: number }): MemoryEstimate {
  const estimate = memoryEstimate(config, w);
  const verdict = fitsAdapter(estimate, limits);
  if (!verdict.fits) {
    const reason = verdict.reason!;
    const H = w.height ?? w.inputSize;
    const W = w.width ?? w.inputSize;
    throw new PlanTooLargeError(`batch ${w.batchSize} of ${H}×${W} images does not fit this adapter: ${reason} (the plan needs ${formatBytes(estimate.totalBytes)} in all)`, reason, estimate);
  }
  return estimate;
}

export interface FitVerdict {
  fits: boolean;
  /** Why not, naming the buffer and the limit, when it does not fit. */
  reason?: string;
}

/** Whether the largest buffer fits the adapter's per-buffer and per-binding limits. */
export function fitsAdapter(m: MemoryEstimate, limits: { maxBufferSize: number; maxStorageBufferBindingSize: number }): FitVerdict {
  const limit = Math.min(limits.maxBufferSize, limits.maxStorageBufferBindingSize);
  if (m.largestBufferBytes <= limit) return { fits: true };
  const isParamState = ['params', 'grads', 'adam-m', 'adam-v'].includes(m.largestBufferName);
  const advice = isParamState ? 'the weights alone are too large for this adapter: choose a smaller model' : 'lower the batch size or input size';
  return {
    fits: false,
    reason: `buffer ${m.largestBufferName} needs ${formatBytes(m.largestBufferBytes)}, above this adapter's ${formatBytes(limit)} per buffer: ${advice}`,
  };
}

export function formatBytes(n: number): string {
  if (n >= 2 ** 30) return `${(n / 2 ** 30).toFixed(1)} GiB`;
  if (n >= 2 ** 20) return `${(n / 2 ** 20).toFixed(n >= 100 * 2 ** 20 ? 0 : 1)} MiB`;
  if (n >= 2 ** 10) return `${(n / 2 ** 10).toFixed(0)} KiB`;
  return `${n} B`;
}

/** 3 700 000 → "3.70M"; 550 000 000 → "550M"; 1.2e9 → "1.20G". */
export function formatCount(n: number): string {
  const units: [number, string][] = [
    [1e12, 'T'],
    [1e9, 'G'],
    [1e6, 'M'],
    [1e3, 'k'],
  ];
  for (const [v, u] of units) if (Math.abs(n) >= v) return `${(n / v).toPrecision(3)}${u}`;
  return String(n);
}

/**
 * The classification plan's largest buffers (a lower bound on its memory: the stage-0
 * expansion activations dominate every model but the tiniest) checked against `limits` before
 * anything is allocated, as assertPlanFits does for the FCMAE plan. Throws PlanTooLargeError.
 */
export function assertClassifierFits(
  config: Pick<ModelConfig, 'dims'>,
  w: { batchSize: number; inputSize: number; paramFloats: number },
  limits: { maxBufferSize: number; maxStorageBufferBindingSize: number },
): void {
  const L = (w.inputSize / 32) ** 2;
  const candidates = [
    { name: 'stage 0 expansion activations', bytes: w.batchSize * L * 64 * 4 * config.dims[0]! * 4 },
    { name: 'image', bytes: w.batchSize * 3 * w.inputSize * w.inputSize * 4 },
    { name: 'params', bytes: w.paramFloats * 4 },
  ];
  const largest = candidates.reduce((a, b) => (b.bytes > a.bytes ? b : a));
  const estimate: MemoryEstimate = { totalBytes: candidates.reduce((a, b) => a + b.bytes, 0), largestBufferBytes: largest.bytes, largestBufferName: largest.name };
  const verdict = fitsAdapter(estimate, limits);
  if (!verdict.fits) throw new PlanTooLargeError(`batch ${w.batchSize} of ${w.inputSize}×${w.inputSize} images does not fit this adapter for classification: ${verdict.reason}`, verdict.reason!, estimate);
}
