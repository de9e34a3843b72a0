// FLOPs of one FCMAE training step, counted from the model config and the step's shape (not
// measured), per phase of FcmaePlan (same phase names: 'stem', 'downsample 1', 'stage 0',
// 'decoder', 'loss', '<phase> backward', 'mask-token fill backward', 'optimizer'), so the UI can
// show the cost of a config before any plan exists. A hand-kept mirror of the plan: the built
// plan's ledger (FcmaePlan.ledger(), every dispatch's FLOPs as its op builder counts them) gives
// the same figure for every phase, exactly (tests/gpu/model/ledger.test.ts); the step benchmark
// reports the ledger's.
//
// Conventions (src/ops/flop-conventions.ts, their one definition): a multiply-add counts 2 FLOPs
// (so these are 2× the "GFLOPs" of the ConvNeXt V2 paper's table, which counts multiply-adds;
// `encoderMacs` in src/train/estimates.ts reproduces that table). The sparse encoder counts
// only visible rows (N·V·r²), and the depthwise conv counts all 49 taps of each visible output,
// as if every neighbour were visible (what a dense conv of the same rows would cost).
// Elementwise ops (LayerNorm, GELU, GRN, loss, AdamW) get rough per-element operation counts;
// they are a few percent of the total, and their kernels are bound by memory traffic, not
// arithmetic. Data movement (im2col, the mask-token fill, gathers, scatters, copies) is 0. A
// model without GRN (config.grn false) has no 'grn' entries, as its plan has no GRN dispatches.
// AdamW updates the flat buffers' alignment padding too, so it counts totalFloats.
// With the encoder frozen (decoder warm-up) there are no encoder backward phases, proj's
// backward computes no dX, and AdamW counts the decoder side's floats only.
import { MASK_PATCH, PATCH_VALUES, type ModelConfig, type StepOptions } from '../model/config.ts';
import { gradientFloats, paramTable, trainedRanges } from '../model/parameters.ts';
import { ELEMENTWISE_FLOPS, lossReduceFlops, PASS_FLOPS, TAPS } from '../ops/flop-conventions.ts';

export type FlopKind = 'matmul' | 'conv' | 'elementwise' | 'optimizer';

export interface FlopEntry {
  phase: string;
  op: string;
  kind: FlopKind;
  flops: number;
}

export interface StepShape {
  batchSize: number;
  height: number;
  width: number;
  /** Visible patches per sample, floor(L·(1 − ratio)). */
  visible: number;
}

export interface StepFlops {
  entries: FlopEntry[];
  forward: number;
  backward: number;
  optimizer: number;
  total: number;
  /** Matmul + convolution FLOPs only (the figure most frameworks quote). */
  matmulAndConv: number;
  byPhase: Map<string, number>;
}

const mm = (M: number, N: number, K: number): number => 2 * M * N * K;

/** The step options the count depends on (defaults: sparse encoder, per-sample GRN, normalised-pixel targets). */
export type FlopOptions = Partial<Pick<StepOptions, 'denseEncoder' | 'grnMode' | 'normPix' | 'freezeEncoder'>>;

/** FcmaePlan's phases in encoding order: forward (encoder, decoder, loss), backward (the reverse), optimizer. */
export function stepPhases(freezeEncoder = false): string[] {
  const stages = [0, 1, 2, 3];
  const forward = ['stem', ...stages.flatMap((s) => (s > 0 ? [`downsample ${s}`, `stage ${s}`] : [`stage ${s}`])), 'decoder', 'loss'];
  const encoderBackward = [...stages].reverse().flatMap((s) => (s > 0 ? [`stage ${s} backward`, `downsample ${s} backward`] : [`stage ${s} backward`]));
  return [...forward, 'loss backward', 'decoder backward', 'mask-token fill backward', ...(freezeEncoder ? [] : [...encoderBackward, 'stem backward']), 'optimizer'];
}

/**
 * FLOPs of one training step (forward, loss, backward, AdamW). `denseEncoder` (the ablation
 * that runs the encoder on every patch) counts the encoder at V = L and the masking of its
 * stem output and of the proj gradient; `grnMode` sets the encoder's GRN groups (the decoder's
 * are per sample); `normPix` false skips the targets' normalisation.
 */
export function fcmaeStepFlops(config: ModelConfig, shape: StepShape, options: FlopOptions = {}): StepFlops {
  const { batchSize: N, height, width } = shape;
  const L = (height / MASK_PATCH) * (width / MASK_PATCH);
  if (!Number.isInteger(L) || L < 1) throw new RangeError(`fcmaeStepFlops: input ${height}×${width} is not a multiple of ${MASK_PATCH}`);
  if (!(shape.visible >= 1 && shape.visible <= L)) throw new RangeError(`fcmaeStepFlops: visible = ${shape.visible} must be in 1..${L}`);
  const V = options.denseEncoder ? L : shape.visible;
  const lossPatches = shape.visible < L ? L - shape.visible : L;
  const d = config.dims;
  const D = config.decoderDim;
  const entries: FlopEntry[] = [];
  const add = (phase: string, op: string, kind: FlopKind, flops: number) => entries.push({ phase, op, kind, flops });
  const E = ELEMENTWISE_FLOPS;
  const P = PASS_FLOPS;
  const dense = options.denseEncoder ?? false;
  const frozen = options.freezeEncoder ?? false;
  /** A backward entry of the encoder: none when it is frozen. */
  const addEncoderBackward = (phase: string, op: string, kind: FlopKind, flops: number) => {
    if (!frozen) add(phase, op, kind, flops);
  };

  /** `groups` GRN statistics groups: N per sample, 1 over the batch. */
  const blocks = (phase: string, depth: number, rows: number, C: number, groups: number, trained: boolean) => {
    const bwd = `${phase} backward`;
    const n = rows * C;
    const stats = groups * 4 * C; // GRN's (group, channel) statistics
    for (let i = 0; i < depth; i++) {
      add(phase, 'dwconv', 'conv', 2 * TAPS * n + n);
      add(phase, 'layernorm', 'elementwise', E.layerNormForward * n);
      add(phase, 'pwconv1', 'matmul', mm(rows, 4 * C, C) + 4 * n * E.bias);
      add(phase, 'gelu', 'elementwise', E.geluForward * 4 * n);
      if (config.grn) add(phase, 'grn', 'elementwise', E.grnForward * 4 * n + P.grnStatsForward * stats);
      add(phase, 'pwconv2', 'matmul', mm(rows, C, 4 * C) + n * (E.bias + E.residual));
      if (!trained) continue;
      add(bwd, 'pwconv2 dW dX dB', 'matmul', 2 * mm(rows, C, 4 * C) + n);
      if (config.grn) add(bwd, 'grn', 'elementwise', E.grnBackward * 4 * n + (P.grnStatsBackward + P.grnParamsBackward) * stats);
      add(bwd, 'gelu', 'elementwise', E.geluBackward * 4 * n);
      add(bwd, 'pwconv1 dW dX dB', 'matmul', 2 * mm(rows, 4 * C, C) + 4 * n);
      add(bwd, 'layernorm', 'elementwise', E.layerNormBackward * n);
      add(bwd, 'dwconv dX dW dB', 'conv', 2 * (2 * TAPS * n) + n + n * E.residual);
    }
  };

  // stem: 4×4 stride-4 conv as (rows, 48)·(48, d0), then LayerNorm
  const R0 = N * V * 64;
  add('stem', 'conv', 'matmul', mm(R0, d[0]!, 48) + R0 * d[0]! * E.bias);
  add('stem', 'layernorm', 'elementwise', E.layerNormForward * R0 * d[0]!);
  // the dense-encoder ablation zeroes the masked sites after the stem, and their gradient
  if (dense) add('stem', 'mask', 'elementwise', E.maskRows * R0 * d[0]!);
  if (dense) addEncoderBackward('stem backward', 'mask', 'elementwise', E.maskRows * R0 * d[0]!);
  addEncoderBackward('stem backward', 'layernorm', 'elementwise', E.layerNormBackward * R0 * d[0]!);
  addEncoderBackward('stem backward', 'conv dW dB', 'matmul', mm(d[0]!, 48, R0) + R0 * d[0]!); // the image needs no gradient

  for (let s = 0; s < 4; s++) {
    const r = 8 >> s;
    const rows = N * V * r * r;
    if (s > 0) {
      const Cp = d[s - 1]!;
      const Rp = rows * 4;
      const phase = `downsample ${s}`;
      add(phase, 'layernorm', 'elementwise', E.layerNormForward * Rp * Cp);
      add(phase, 'conv', 'matmul', mm(rows, d[s]!, 4 * Cp) + rows * d[s]! * E.bias);
      addEncoderBackward(`${phase} backward`, 'conv dW dX dB', 'matmul', 2 * mm(rows, d[s]!, 4 * Cp) + rows * d[s]!);
      addEncoderBackward(`${phase} backward`, 'layernorm', 'elementwise', E.layerNormBackward * Rp * Cp);
    }
    blocks(`stage ${s}`, config.depths[s]!, rows, d[s]!, options.grnMode === 'batch' ? 1 : N, !frozen);
  }

  // decoder: proj on visible patches, mask-token fill, dense blocks on the N·L grid
  const Renc = N * V;
  add('decoder', 'proj', 'matmul', mm(Renc, D, d[3]!) + Renc * D * E.bias);
  blocks('decoder', config.decoderDepth, N * L, D, N, true); // the decoder's GRN is always per sample
  add('mask-token fill backward', 'mask token', 'elementwise', E.columnSum * N * L * D); // one add per grid value read
  if (dense) add('mask-token fill backward', 'mask', 'elementwise', E.maskRows * Renc * D);
  // a frozen encoder needs no gradient of its output: proj's dW and dB only
  if (frozen) add('mask-token fill backward', 'proj dW dB', 'matmul', mm(Renc, D, d[3]!) + Renc * D);
  else add('mask-token fill backward', 'proj dW dX dB', 'matmul', 2 * mm(Renc, D, d[3]!) + Renc * D);

  // loss: targets, prediction of the counted patches, masked MSE
  const NM = N * lossPatches;
  add('loss', 'patchify', 'elementwise', ((options.normPix ?? true) ? E.patchifyNormalise : E.patchifyStats) * N * L * PATCH_VALUES);
  add('loss', 'pred', 'matmul', mm(NM, PATCH_VALUES, D) + NM * PATCH_VALUES * E.bias);
  add('loss', 'mse', 'elementwise', E.lossForward * NM * PATCH_VALUES + NM + lossReduceFlops(N, lossPatches));
  add('loss backward', 'mse', 'elementwise', E.lossBackward * NM * PATCH_VALUES);
  add('loss backward', 'pred dW dX dB', 'matmul', 2 * mm(NM, PATCH_VALUES, D) + NM * PATCH_VALUES);

  add('optimizer', 'adamw', 'optimizer', E.adamw * gradientFloats(trainedRanges(paramTable(config), frozen))); // the padding is updated too

  // every phase of the plan, in its encoding order, even one without work (decoder depth 0)
  const byPhase = new Map<string, number>(stepPhases(frozen).map((name) => [name, 0]));
  let forward = 0;
  let backward = 0;
  let optimizer = 0;
  let matmulAndConv = 0;
  for (const e of entries) {
    const sum = byPhase.get(e.phase);
    if (sum === undefined) throw new Error(`internal: fcmaeStepFlops counted FLOPs in '${e.phase}', not a phase of the plan`);
    byPhase.set(e.phase, sum + e.flops);
    if (e.phase === 'optimizer') optimizer += e.flops;
    else if (e.phase.endsWith(' backward')) backward += e.flops;
    else forward += e.flops;
    if (e.kind === 'matmul' || e.kind === 'conv') matmulAndConv += e.flops;
  }
  return { entries, forward, backward, optimizer, total: forward + backward + optimizer, matmulAndConv, byPhase };
}
