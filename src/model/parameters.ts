// Every parameter of an FCMAE model: its canonical name (the official FCMAE state-dict names
// with dense PyTorch shapes), its layout inside the engine, whether AdamW decays it, how it
// is initialised, and where it sits in the flat parameter buffer.
//
// Engine layouts differ from PyTorch for two tensors only (see src/ops/*): the depthwise
// conv weight is tap-major (49, C) and the downsample conv weight is (C', dy, dx, C) so that
// it multiplies the Z-ordered rows directly. Every other tensor keeps PyTorch's flat order.
import type { WeightDecayRule } from '../ops/adamw.ts';
import type { Random } from '../util/random.ts';
import { IN_CHANS, PATCH_VALUES, type ModelConfig } from './config.ts';

export type ParamKind =
  | 'stem-conv' // (d0, 3, 4, 4) → (d0, 48), same order
  | 'downsample-conv' // (C', C, 2, 2) → (C', 4C) permuted
  | 'dwconv' // (C, 1, 7, 7) → (49, C) transposed
  | 'linear' // (out, in) or (out, in, 1, 1), same order
  | 'bias'
  | 'norm-weight'
  | 'norm-bias'
  | 'grn' // (1, 1, 1, C) → (C)
  | 'mask-token' // (1, D, 1, 1) → (D)
  | 'head'; // (classes, d3), same order; initialised 1000× smaller (the official head_init_scale)

export interface ParamSpec {
  name: string;
  kind: ParamKind;
  /** Shape in the canonical (dense PyTorch) layout. */
  torchShape: number[];
  /** Number of elements. */
  size: number;
  /** AdamW weight decay applies under the maintainers' rule (conv and linear weights only). */
  decay: boolean;
  /** Offset in floats inside the flat buffers (params, grads, AdamW m and v). */
  offset: number;
}

/** Flat buffers align every tensor to 256 bytes: WebGPU's storage-binding offset alignment. */
export const PARAM_ALIGN_FLOATS = 64;

const prod = (s: number[]) => s.reduce((a, b) => a * b, 1);

/** One block's parameters; `grn` false (the no-GRN ablation) leaves out grn.gamma / grn.beta. */
function blockParams(prefix: string, C: number, grn: boolean, out: UnplacedSpec[]): void {
  out.push(
    { name: `${prefix}.dwconv.weight`, kind: 'dwconv', torchShape: [C, 1, 7, 7], decay: true },
    { name: `${prefix}.dwconv.bias`, kind: 'bias', torchShape: [C], decay: false },
    { name: `${prefix}.norm.weight`, kind: 'norm-weight', torchShape: [C], decay: false },
    { name: `${prefix}.norm.bias`, kind: 'norm-bias', torchShape: [C], decay: false },
    { name: `${prefix}.pwconv1.weight`, kind: 'linear', torchShape: [4 * C, C], decay: true },
    { name: `${prefix}.pwconv1.bias`, kind: 'bias', torchShape: [4 * C], decay: false },
  );
  if (grn) {
    out.push(
      { name: `${prefix}.grn.gamma`, kind: 'grn', torchShape: [1, 1, 1, 4 * C], decay: false },
      { name: `${prefix}.grn.beta`, kind: 'grn', torchShape: [1, 1, 1, 4 * C], decay: false },
    );
  }
  out.push(
    { name: `${prefix}.pwconv2.weight`, kind: 'linear', torchShape: [C, 4 * C], decay: true },
    { name: `${prefix}.pwconv2.bias`, kind: 'bias', torchShape: [C], decay: false },
  );
}

type UnplacedSpec = Omit<ParamSpec, 'size' | 'offset'>;

/** The encoder's parameters in network order (stem, then per stage: downsample, blocks). */
function encoderOrder(c: Pick<ModelConfig, 'depths' | 'dims' | 'grn'>): UnplacedSpec[] {
  const out: UnplacedSpec[] = [];
  const d = c.dims;
  out.push(
    { name: 'encoder.downsample_layers.0.0.weight', kind: 'stem-conv', torchShape: [d[0]!, IN_CHANS, 4, 4], decay: true },
    { name: 'encoder.downsample_layers.0.0.bias', kind: 'bias', torchShape: [d[0]!], decay: false },
    { name: 'encoder.downsample_layers.0.1.weight', kind: 'norm-weight', torchShape: [d[0]!], decay: false },
    { name: 'encoder.downsample_layers.0.1.bias', kind: 'norm-bias', torchShape: [d[0]!], decay: false },
  );
  for (let s = 0; s < 4; s++) {
    if (s > 0) {
      out.push(
        { name: `encoder.downsample_layers.${s}.0.weight`, kind: 'norm-weight', torchShape: [d[s - 1]!], decay: false },
        { name: `encoder.downsample_layers.${s}.0.bias`, kind: 'norm-bias', torchShape: [d[s - 1]!], decay: false },
        { name: `encoder.downsample_layers.${s}.1.weight`, kind: 'downsample-conv', torchShape: [d[s]!, d[s - 1]!, 2, 2], decay: true },
        { name: `encoder.downsample_layers.${s}.1.bias`, kind: 'bias', torchShape: [d[s]!], decay: false },
      );
    }
    for (let b = 0; b < c.depths[s]!; b++) blockParams(`encoder.stages.${s}.${b}`, d[s]!, c.grn, out);
  }
  return out;
}

/** Parameters of the FCMAE model in network order (encoder, decoder), without offsets. */
function networkOrder(c: ModelConfig): UnplacedSpec[] {
  const out = encoderOrder(c);
  const d = c.dims;
  const D = c.decoderDim;
  out.push(
    { name: 'proj.weight', kind: 'linear', torchShape: [D, d[3]!, 1, 1], decay: true },
    { name: 'proj.bias', kind: 'bias', torchShape: [D], decay: false },
    { name: 'mask_token', kind: 'mask-token', torchShape: [1, D, 1, 1], decay: false },
  );
  for (let b = 0; b < c.decoderDepth; b++) blockParams(`decoder.${b}`, D, c.grn, out);
  out.push(
    { name: 'pred.weight', kind: 'linear', torchShape: [PATCH_VALUES, D, 1, 1], decay: true },
    { name: 'pred.bias', kind: 'bias', torchShape: [PATCH_VALUES], decay: false },
  );
  return out;
}

export interface ParamTable {
  specs: ParamSpec[];
  byName: Map<string, ParamSpec>;
  /** Floats in each flat buffer (with alignment padding). */
  totalFloats: number;
  /** Elements [0, decayFloats) belong to decayed tensors (AdamW applies decay there). */
  decayFloats: number;
  /**
   * Elements [0, officialDecayFloats) belong to the tensors the official rule decays: the
   * maintainers' set, then GRN gamma/beta and the mask token (laid out right after it, so
   * either rule is one decay boundary; see decayBoundary).
   */
  officialDecayFloats: number;
  /** Real parameter count (no padding). */
  count: number;
}

/** The FCMAE model's parameters laid out: decayed tensors first, each at a 256-byte aligned offset. */
export function paramTable(c: ModelConfig): ParamTable {
  return layOut(networkOrder(c));
}

/**
 * The classifier's parameters (evaluation-spec §1): the encoder, then the final LayerNorm
 * `norm.{weight, bias}` (d3) and the head `head.{weight (classes, d3), bias}`. Laid out as the
 * FCMAE table is; the encoder's tensors keep their canonical names.
 */
export function classifierParamTable(c: Pick<ModelConfig, 'depths' | 'dims' | 'grn'>, numClasses: number): ParamTable {
  if (!Number.isInteger(numClasses) || numClasses < 1 || numClasses > 100_000) throw new RangeError(`classes ${numClasses} must be an integer in 1..100000`);
  const d3 = c.dims[3]!;
  return layOut([
    ...encoderOrder(c),
    { name: 'norm.weight', kind: 'norm-weight', torchShape: [d3], decay: false },
    { name: 'norm.bias', kind: 'norm-bias', torchShape: [d3], decay: false },
    { name: 'head.weight', kind: 'head', torchShape: [numClasses, d3], decay: true },
    { name: 'head.bias', kind: 'bias', torchShape: [numClasses], decay: false },
  ]);
}

function layOut(order: UnplacedSpec[]): ParamTable {
  const specs: ParamSpec[] = [];
  let offset = 0;
  let count = 0;
  const place = (p: UnplacedSpec) => {
    const size = prod(p.torchShape);
    specs.push({ ...p, size, offset });
    offset += Math.ceil(size / PARAM_ALIGN_FLOATS) * PARAM_ALIGN_FLOATS;
    count += size;
  };
  order.filter((p) => p.decay).forEach(place);
  const decayFloats = offset;
  // the official rule's extra tensors next (more than one dimension, no `.bias`: GRN, mask token)
  const officialOnly = (p: UnplacedSpec) => !p.decay && officialRuleDecays(p.name, p.torchShape);
  order.filter(officialOnly).forEach(place);
  const officialDecayFloats = offset;
  order.filter((p) => !p.decay && !officialOnly(p)).forEach(place);
  // Network order is friendlier for listings and checkpoints.
  const byName = new Map(specs.map((s) => [s.name, s]));
  const ordered = order.map((p) => byName.get(p.name)!);
  return { specs: ordered, byName, totalFloats: offset, decayFloats, officialDecayFloats, count };
}

/**
 * The official pretraining's rule (timm's add_weight_decay in main_pretrain.py): a tensor decays
 * when it has more than one dimension and its name does not end in `.bias`. `shape` is the
 * tensor's shape in the official model (the canonical shapes give the same answer: GRN is
 * (1, C) sparse / (1, 1, 1, C) dense, the mask token (1, D, 1, 1), norms and biases (C)).
 */
export function officialRuleDecays(name: string, shape: readonly number[]): boolean {
  return shape.length > 1 && !name.endsWith('.bias');
}

/** Whether `spec` decays under `rule`. */
export function decaysUnder(spec: Pick<ParamSpec, 'name' | 'torchShape' | 'decay'>, rule: WeightDecayRule): boolean {
  return rule === 'official' ? officialRuleDecays(spec.name, spec.torchShape) : spec.decay;
}

/** AdamW's decay boundary in the flat buffer for a rule: elements below it decay. */
export function decayBoundary(t: Pick<ParamTable, 'decayFloats' | 'officialDecayFloats'>, rule: WeightDecayRule = 'maintainers'): number {
  return rule === 'official' ? t.officialDecayFloats : t.decayFloats;
}

/** Encoder-only parameter count (what the spec's "encoder only" figure counts). */
export function encoderParamCount(t: ParamTable): number {
  return t.specs.filter((s) => s.name.startsWith('encoder.')).reduce((a, s) => a + s.size, 0);
}

/** Whether a parameter belongs to the encoder (the part a frozen-encoder run leaves as it is). */
export function isEncoderParam(name: string): boolean {
  return name.startsWith('encoder.');
}

/**
 * A contiguous run of the flat buffers that AdamW updates: floats [start, start + floats) of
 * params, m and v; the first `decayFloats` of them decay. `gradOffset`: where the run starts
 * in the gradient buffer.
 */
export interface TrainedRange {
  start: number;
  floats: number;
  decayFloats: number;
  gradOffset: number;
}

/**
 * What a step updates under a weight-decay rule. All of it: one range, the gradient buffer laid
 * out as the table, decaying below the rule's boundary. With the encoder frozen: the decoder side
 * only (proj, mask token, decoder blocks, pred), which sits at the end of each of the table's
 * three parts (maintainers'-rule decayed; decayed by the official rule only; never decayed: each
 * part in network order, encoder first), so one range per part that holds decoder tensors; each
 * range decays whole or not at all, and the gradient buffer holds just those ranges, back to back.
 */
export function trainedRanges(t: ParamTable, frozenEncoder: boolean, rule: WeightDecayRule = 'maintainers'): TrainedRange[] {
  if (!frozenEncoder) return [{ start: 0, floats: t.totalFloats, decayFloats: decayBoundary(t, rule), gradOffset: 0 }];
  const parts = [
    { begin: 0, end: t.decayFloats, decays: true },
    { begin: t.decayFloats, end: t.officialDecayFloats, decays: rule === 'official' },
    { begin: t.officialDecayFloats, end: t.totalFloats, decays: false },
  ];
  const ranges: TrainedRange[] = [];
  let gradOffset = 0;
  for (const part of parts) {
    const inPart = t.specs.filter((s) => s.offset >= part.begin && s.offset < part.end);
    const decoder = inPart.filter((s) => !isEncoderParam(s.name));
    if (decoder.length === 0) continue;
    const start = Math.min(...decoder.map((s) => s.offset));
    for (const s of inPart) {
      if (s.offset >= start === isEncoderParam(s.name)) throw new Error(`internal: ${s.name} breaks the encoder-then-decoder order of the parameter table`);
    }
    const floats = part.end - start;
    ranges.push({ start, floats, decayFloats: part.decays ? floats : 0, gradOffset });
    gradOffset += floats;
  }
  return ranges;
}

/** Floats of the gradient buffer for these ranges. */
export function gradientFloats(ranges: readonly TrainedRange[]): number {
  return ranges.reduce((a, r) => a + r.floats, 0);
}

/** Canonical (PyTorch) layout → engine layout. */
export function toEngineLayout(spec: ParamSpec, torch: ArrayLike<number>): Float32Array {
  const out = new Float32Array(spec.size);
  if (spec.kind === 'dwconv') {
    const C = spec.torchShape[0]!;
    for (let c = 0; c < C; c++) for (let t = 0; t < 49; t++) out[t * C + c] = torch[c * 49 + t]!;
  } else if (spec.kind === 'downsample-conv') {
    const [Co, Ci] = spec.torchShape as [number, number];
    for (let o = 0; o < Co; o++)
      for (let i = 0; i < Ci; i++)
        for (let dy = 0; dy < 2; dy++)
          for (let dx = 0; dx < 2; dx++) out[o * 4 * Ci + (dy * 2 + dx) * Ci + i] = torch[((o * Ci + i) * 2 + dy) * 2 + dx]!;
  } else {
    for (let i = 0; i < spec.size; i++) out[i] = torch[i]!;
  }
  return out;
}

/** Engine layout → canonical (PyTorch) layout. */
export function toTorchLayout(spec: ParamSpec, engine: ArrayLike<number>): Float32Array {
  const out = new Float32Array(spec.size);
  if (spec.kind === 'dwconv') {
    const C = spec.torchShape[0]!;
    for (let c = 0; c < C; c++) for (let t = 0; t < 49; t++) out[c * 49 + t] = engine[t * C + c]!;
  } else if (spec.kind === 'downsample-conv') {
    const [Co, Ci] = spec.torchShape as [number, number];
    for (let o = 0; o < Co; o++)
      for (let i = 0; i < Ci; i++)
        for (let dy = 0; dy < 2; dy++)
          for (let dx = 0; dx < 2; dx++) out[((o * Ci + i) * 2 + dy) * 2 + dx] = engine[o * 4 * Ci + (dy * 2 + dx) * Ci + i]!;
  } else {
    for (let i = 0; i < spec.size; i++) out[i] = engine[i]!;
  }
  return out;
}

/**
 * Initial values in the engine layout (spec §3, project default): conv/linear weights
 * truncated normal std 0.02 cut at ±2, biases 0, LayerNorm weight 1 / bias 0, GRN 0,
 * mask token normal std 0.02, a classifier head std 2e-5 (official fine-tuning). Deterministic for a given rng state and table.
 */
export function initialParams(t: ParamTable, rng: Random): Float32Array {
  const flat = new Float32Array(t.totalFloats);
  for (const s of t.specs) {
    const view = flat.subarray(s.offset, s.offset + s.size);
    switch (s.kind) {
      case 'stem-conv':
      case 'downsample-conv':
      case 'dwconv':
      case 'linear':
        // Layout does not matter for i.i.d. values, but keep canonical order for reproducibility
        // across layouts: draw in PyTorch order, then convert.
        const drawn = new Float32Array(s.size);
        for (let i = 0; i < s.size; i++) drawn[i] = rng.truncatedNormal(0.02);
        view.set(toEngineLayout(s, drawn));
        break;
      case 'norm-weight':
        view.fill(1);
        break;
      case 'mask-token':
        for (let i = 0; i < s.size; i++) view[i] = rng.normal() * 0.02;
        break;
      case 'head':
        // the official fine-tuning: trunc_normal_(std 0.02), then × head_init_scale 0.001
        for (let i = 0; i < s.size; i++) view[i] = rng.truncatedNormal(0.02) * 0.001;
        break;
      default:
        break; // biases, norm biases and GRN start at 0
    }
  }
  return flat;
}

/** The spec of a parameter by name; throws naming it when the table has none. */
export function specOf(table: ParamTable, name: string): ParamSpec {
  const s = table.byName.get(name);
  if (!s) throw new Error(`no parameter named ${name}`);
  return s;
}

/** A binding of one tensor inside a flat buffer laid out by its table (params, grads, moments). */
export function tensorBinding(buffer: GPUBuffer, spec: ParamSpec): GPUBufferBinding {
  return { buffer, offset: spec.offset * 4, size: spec.size * 4 };
}
