// Parameter names of ConvNeXt V2 checkpoints met in the wild, mapped to one canonical scheme.
//
// Canonical = the official FCMAE model's names with dense PyTorch shapes (what the official
// remap_checkpoint_keys produces, keeping the `encoder.` prefix):
//   encoder.downsample_layers.0.0.{weight (d0,3,4,4), bias}    stem conv
//   encoder.downsample_layers.0.1.{weight, bias}               stem LayerNorm
//   encoder.downsample_layers.i.0.{weight, bias}               LayerNorm (i = 1..3)
//   encoder.downsample_layers.i.1.{weight (di,di-1,2,2), bias} conv 2×2
//   encoder.stages.S.B.{dwconv.weight (C,1,7,7), dwconv.bias, norm.weight, norm.bias,
//     pwconv1.weight (4C,C), pwconv1.bias, grn.gamma (1,1,1,4C), grn.beta (1,1,1,4C),
//     pwconv2.weight (C,4C), pwconv2.bias}
//   (a model without GRN, the ConvNeXt V1-style ablation, has no grn.* in any block)
//   proj.{weight (D,d3,1,1), bias}, mask_token (1,D,1,1), decoder.K.<block names, width D>,
//   pred.{weight (3072,D,1,1), bias}
//   classifier extras: norm.{weight, bias} (d3), head.{weight (classes,d3), bias}
//
// Schemes: 'official-dense' (released *_fcmae.pt / *_ema.pt: canonical without `encoder.`),
// 'official-sparse' (checkpoints of the official MinkowskiEngine pretraining: `.kernel`
// tensors (k·k, in, out) whose index runs over the first spatial axis fastest, biases (1,C),
// `.ln.`/`.linear.` levels, GRN (1,C)), 'timm', 'huggingface' and 'canonical'.
//
// Renaming needs no model size, so loading first renames every tensor, then infers depths,
// widths, decoder and head from the renamed names and shapes, then checks every tensor against
// the shapes that configuration implies. Shapes that differ only by size-1 axes (Linear vs 1×1
// conv, GRN (C,) vs (1,1,1,C)) have the same row-major data and are accepted.
import { denseConvToSparse, denseDwconvToSparse, sparseConvToDense, sparseDwconvToDense } from './sparse-kernel-layout.ts';
import { CheckpointError } from './zip.ts';
import { MODEL_SIZES, type SizeName } from '../model/config.ts';

export type NameScheme = 'canonical' | 'official-dense' | 'official-sparse' | 'timm' | 'huggingface';

/** A dense row-major tensor (a TorchTensor, a safetensors tensor or src/model's NamedTensor fits). */
export interface NamedTensor {
  shape: number[];
  data: Float32Array;
}

export interface CheckpointModelConfig {
  depths: number[];
  dims: number[];
  decoderDepth: number;
  decoderDim: number;
  /** Classes of the classification head, or null when there is none. */
  numClasses: number | null;
  /** GRN in every block (ConvNeXt V2); false for the no-GRN ablation. Absent means true. */
  grn?: boolean;
  /**
   * The final LayerNorm (`norm.*`) without a head: timm with num_classes=0, transformers'
   * ConvNextV2Model. With a head the norm is always expected. Absent means false.
   */
  finalNorm?: boolean;
}

/** The published sizes are defined once, in the model layer. */
export type ModelSizeName = SizeName;
export { MODEL_SIZES };

/** FCMAE decoder defaults (fcmae-spec.md §4), used when a file has no decoder. */
export const DEFAULT_DECODER = { depth: 1, dim: 512 };
/** pred outputs one 32×32 RGB patch per site. */
export const PRED_CHANNELS = 32 * 32 * 3;

export function matchModelSize(depths: readonly number[], dims: readonly number[]): ModelSizeName | null {
  for (const [name, s] of Object.entries(MODEL_SIZES) as [ModelSizeName, { depths: number[]; dims: number[] }][]) {
    if (s.depths.every((d, i) => d === depths[i]) && s.dims.every((d, i) => d === dims[i])) return name;
  }
  return null;
}

export type CanonicalPart = 'encoder' | 'decoder' | 'classifier';

export interface CanonicalEntry {
  name: string;
  shape: number[];
  part: CanonicalPart;
}

const BLOCK_PARAMS = [
  'dwconv.weight',
  'dwconv.bias',
  'norm.weight',
  'norm.bias',
  'pwconv1.weight',
  'pwconv1.bias',
  'grn.gamma',
  'grn.beta',
  'pwconv2.weight',
  'pwconv2.bias',
] as const;

/** A block's tensor names: without GRN, grn.gamma / grn.beta are not among them. */
const blockParams = (config: CheckpointModelConfig): readonly (typeof BLOCK_PARAMS)[number][] =>
  config.grn === false ? BLOCK_PARAMS.filter((p) => !p.startsWith('grn.')) : BLOCK_PARAMS;

function blockShapes(C: number): Record<(typeof BLOCK_PARAMS)[number], number[]> {
  return {
    'dwconv.weight': [C, 1, 7, 7],
    'dwconv.bias': [C],
    'norm.weight': [C],
    'norm.bias': [C],
    'pwconv1.weight': [4 * C, C],
    'pwconv1.bias': [4 * C],
    'grn.gamma': [1, 1, 1, 4 * C],
    'grn.beta': [1, 1, 1, 4 * C],
    'pwconv2.weight': [C, 4 * C],
    'pwconv2.bias': [C],
  };
}

/** Every canonical tensor of a configuration, in canonical order. */
export function canonicalEntries(config: CheckpointModelConfig, parts: { decoder?: boolean; classifier?: boolean } = {}): CanonicalEntry[] {
  const { depths, dims } = config;
  const out: CanonicalEntry[] = [];
  const params = blockParams(config);
  const enc = (name: string, shape: number[]): void => void out.push({ name: `encoder.${name}`, shape, part: 'encoder' });
  enc('downsample_layers.0.0.weight', [dims[0]!, 3, 4, 4]);
  enc('downsample_layers.0.0.bias', [dims[0]!]);
  enc('downsample_layers.0.1.weight', [dims[0]!]);
  enc('downsample_layers.0.1.bias', [dims[0]!]);
  for (let i = 1; i < 4; i++) {
    enc(`downsample_layers.${i}.0.weight`, [dims[i - 1]!]);
    enc(`downsample_layers.${i}.0.bias`, [dims[i - 1]!]);
    enc(`downsample_layers.${i}.1.weight`, [dims[i]!, dims[i - 1]!, 2, 2]);
    enc(`downsample_layers.${i}.1.bias`, [dims[i]!]);
  }
  for (let s = 0; s < 4; s++) {
    const shapes = blockShapes(dims[s]!);
    for (let b = 0; b < depths[s]!; b++) for (const p of params) enc(`stages.${s}.${b}.${p}`, shapes[p]);
  }
  if (parts.decoder ?? true) {
    const D = config.decoderDim;
    const dec = (name: string, shape: number[]): void => void out.push({ name, shape, part: 'decoder' });
    dec('proj.weight', [D, dims[3]!, 1, 1]);
    dec('proj.bias', [D]);
    dec('mask_token', [1, D, 1, 1]);
    const shapes = blockShapes(D);
    for (let k = 0; k < config.decoderDepth; k++) for (const p of params) dec(`decoder.${k}.${p}`, shapes[p]);
    dec('pred.weight', [PRED_CHANNELS, D, 1, 1]);
    dec('pred.bias', [PRED_CHANNELS]);
  }
  if ((parts.classifier ?? true) && (config.numClasses !== null || config.finalNorm)) {
    const cls = (name: string, shape: number[]): void => void out.push({ name, shape, part: 'classifier' });
    cls('norm.weight', [dims[3]!]);
    cls('norm.bias', [dims[3]!]);
    if (config.numClasses !== null) {
      cls('head.weight', [config.numClasses, dims[3]!]);
      cls('head.bias', [config.numClasses]);
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Renaming, scheme → canonical (config-free)

const TIMM_BLOCK: Record<string, string> = {
  'conv_dw.weight': 'dwconv.weight',
  'conv_dw.bias': 'dwconv.bias',
  'norm.weight': 'norm.weight',
  'norm.bias': 'norm.bias',
  'mlp.fc1.weight': 'pwconv1.weight',
  'mlp.fc1.bias': 'pwconv1.bias',
  'mlp.grn.weight': 'grn.gamma',
  'mlp.grn.bias': 'grn.beta',
  'mlp.fc2.weight': 'pwconv2.weight',
  'mlp.fc2.bias': 'pwconv2.bias',
};
const HF_BLOCK: Record<string, string> = {
  'dwconv.weight': 'dwconv.weight',
  'dwconv.bias': 'dwconv.bias',
  'layernorm.weight': 'norm.weight',
  'layernorm.bias': 'norm.bias',
  'pwconv1.weight': 'pwconv1.weight',
  'pwconv1.bias': 'pwconv1.bias',
  'grn.weight': 'grn.gamma',
  'grn.bias': 'grn.beta',
  'pwconv2.weight': 'pwconv2.weight',
  'pwconv2.bias': 'pwconv2.bias',
};
const invert = (m: Record<string, string>): Record<string, string> => Object.fromEntries(Object.entries(m).map(([a, b]) => [b, a]));
const TIMM_BLOCK_OUT = invert(TIMM_BLOCK);
const HF_BLOCK_OUT = invert(HF_BLOCK);

/** Decoder-side names are the same in every scheme that has them. */
const DECODER_NAME = /^(proj\.(weight|bias)|mask_token|decoder\.\d+\.[a-z0-9_.]+|pred\.(weight|bias))$/;

/** How a source tensor's data becomes the dense canonical layout. */
type Layout = 'dense' | 'sparse-conv' | 'sparse-dwconv';

interface Renamed {
  canonical: string;
  layout: Layout;
}

function renameToCanonical(name: string, scheme: NameScheme, shape: readonly number[], hfPrefix: string): Renamed | null {
  const dense = (canonical: string): Renamed => ({ canonical, layout: 'dense' });
  let m: RegExpMatchArray | null;
  switch (scheme) {
    case 'canonical':
      return dense(name);
    case 'official-dense':
      if (/^(downsample_layers|stages)\./.test(name)) return dense(`encoder.${name}`);
      return dense(name);
    case 'official-sparse': {
      // The encoder alone (SparseConvNeXtV2.state_dict()) has no `encoder.` prefix.
      const n = /^(downsample_layers|stages)\./.test(name) ? `encoder.${name}` : name;
      if ((m = n.match(/^(.*)\.kernel$/))) {
        return { canonical: `${m[1]}.weight`, layout: shape.length === 2 ? 'sparse-dwconv' : 'sparse-conv' };
      }
      return dense(n.replace(/\.(ln|linear)\.(weight|bias)$/, '.$2'));
    }
    case 'timm': {
      if ((m = name.match(/^stem\.([01])\.(weight|bias)$/))) return dense(`encoder.downsample_layers.0.${m[1]}.${m[2]}`);
      if ((m = name.match(/^stages\.(\d+)\.downsample\.([01])\.(weight|bias)$/))) return dense(`encoder.downsample_layers.${m[1]}.${m[2]}.${m[3]}`);
      if ((m = name.match(/^stages\.(\d+)\.blocks\.(\d+)\.(.+)$/))) {
        const p = TIMM_BLOCK[m[3]!];
        return p ? dense(`encoder.stages.${m[1]}.${m[2]}.${p}`) : null;
      }
      if ((m = name.match(/^head\.norm\.(weight|bias)$/))) return dense(`norm.${m[1]}`);
      if ((m = name.match(/^head\.fc\.(weight|bias)$/))) return dense(`head.${m[1]}`);
      return DECODER_NAME.test(name) ? dense(name) : null;
    }
    case 'huggingface': {
      if (hfPrefix && name.startsWith('classifier.')) return dense(name.replace(/^classifier\./, 'head.'));
      if (!name.startsWith(hfPrefix)) return DECODER_NAME.test(name) ? dense(name) : null;
      const n = name.slice(hfPrefix.length);
      if ((m = n.match(/^embeddings\.patch_embeddings\.(weight|bias)$/))) return dense(`encoder.downsample_layers.0.0.${m[1]}`);
      if ((m = n.match(/^embeddings\.layernorm\.(weight|bias)$/))) return dense(`encoder.downsample_layers.0.1.${m[1]}`);
      if ((m = n.match(/^encoder\.stages\.(\d+)\.downsampling_layer\.([01])\.(weight|bias)$/))) {
        return dense(`encoder.downsample_layers.${m[1]}.${m[2]}.${m[3]}`);
      }
      if ((m = n.match(/^encoder\.stages\.(\d+)\.layers\.(\d+)\.(.+)$/))) {
        const p = HF_BLOCK[m[3]!];
        return p ? dense(`encoder.stages.${m[1]}.${m[2]}.${p}`) : null;
      }
      if ((m = n.match(/^layernorm\.(weight|bias)$/))) return dense(`norm.${m[1]}`);
      if (!hfPrefix && (m = n.match(/^classifier\.(weight|bias)$/))) return dense(`head.${m[1]}`);
      return null;
    }
  }
}

/** Renaming, canonical → scheme. Null: the scheme has no such tensor (e.g. a decoder in timm). */
export function schemeName(canonical: string, scheme: NameScheme): string | null {
  let m: RegExpMatchArray | null;
  const isDecoder = DECODER_NAME.test(canonical);
  switch (scheme) {
    case 'canonical':
      return canonical;
    case 'official-dense':
      return canonical.replace(/^encoder\./, '');
    case 'official-sparse': {
      if (/^encoder\.downsample_layers\.[123]\.1\.weight$/.test(canonical) || /^encoder\.stages\.\d+\.\d+\.dwconv\.weight$/.test(canonical)) {
        return canonical.replace(/\.weight$/, '.kernel');
      }
      if ((m = canonical.match(/^(encoder\.downsample_layers\.[123]\.0)\.(weight|bias)$/))) return `${m[1]}.ln.${m[2]}`;
      if ((m = canonical.match(/^(encoder\.stages\.\d+\.\d+)\.norm\.(weight|bias)$/))) return `${m[1]}.norm.ln.${m[2]}`;
      if ((m = canonical.match(/^(encoder\.stages\.\d+\.\d+)\.(pwconv[12])\.(weight|bias)$/))) return `${m[1]}.${m[2]}.linear.${m[3]}`;
      return canonical;
    }
    case 'timm': {
      if (isDecoder) return null;
      if ((m = canonical.match(/^encoder\.downsample_layers\.0\.([01])\.(weight|bias)$/))) return `stem.${m[1]}.${m[2]}`;
      if ((m = canonical.match(/^encoder\.downsample_layers\.(\d+)\.([01])\.(weight|bias)$/))) return `stages.${m[1]}.downsample.${m[2]}.${m[3]}`;
      if ((m = canonical.match(/^encoder\.stages\.(\d+)\.(\d+)\.(.+)$/))) return `stages.${m[1]}.blocks.${m[2]}.${TIMM_BLOCK_OUT[m[3]!]}`;
      if ((m = canonical.match(/^norm\.(weight|bias)$/))) return `head.norm.${m[1]}`;
      if ((m = canonical.match(/^head\.(weight|bias)$/))) return `head.fc.${m[1]}`;
      return null;
    }
    case 'huggingface': {
      if (isDecoder) return null;
      const p = 'convnextv2.';
      if ((m = canonical.match(/^encoder\.downsample_layers\.0\.0\.(weight|bias)$/))) return `${p}embeddings.patch_embeddings.${m[1]}`;
      if ((m = canonical.match(/^encoder\.downsample_layers\.0\.1\.(weight|bias)$/))) return `${p}embeddings.layernorm.${m[1]}`;
      if ((m = canonical.match(/^encoder\.downsample_layers\.(\d+)\.([01])\.(weight|bias)$/))) {
        return `${p}encoder.stages.${m[1]}.downsampling_layer.${m[2]}.${m[3]}`;
      }
      if ((m = canonical.match(/^encoder\.stages\.(\d+)\.(\d+)\.(.+)$/))) return `${p}encoder.stages.${m[1]}.layers.${m[2]}.${HF_BLOCK_OUT[m[3]!]}`;
      if ((m = canonical.match(/^norm\.(weight|bias)$/))) return `${p}layernorm.${m[1]}`;
      if ((m = canonical.match(/^head\.(weight|bias)$/))) return `classifier.${m[1]}`;
      return null;
    }
  }
}

export interface SchemeWriteOptions {
  /** timm small sizes (atto..nano) store mlp.fc1/fc2 as 1×1 convs (out, in, 1, 1). */
  timmConvMlp?: boolean;
}

/** The shape a tensor has in `scheme`, given its canonical name and dense shape. */
export function schemeShape(canonical: string, denseShape: readonly number[], scheme: NameScheme, options: SchemeWriteOptions = {}): number[] {
  const numel = denseShape.reduce((a, b) => a * b, 1);
  const isGrn = /\.grn\.(gamma|beta)$/.test(canonical);
  const isEncoder = canonical.startsWith('encoder.');
  if (scheme === 'official-sparse' && isEncoder) {
    if (/^encoder\.downsample_layers\.[123]\.1\.weight$/.test(canonical)) {
      const [o, i, k] = denseShape as [number, number, number, number];
      return [k * k, i, o];
    }
    if (/\.dwconv\.weight$/.test(canonical)) return [denseShape[2]! * denseShape[3]!, denseShape[0]!];
    if (/^encoder\.downsample_layers\.[123]\.1\.bias$/.test(canonical) || /\.dwconv\.bias$/.test(canonical)) return [1, numel];
    if (isGrn) return [1, numel];
  }
  if (scheme === 'timm' && isEncoder) {
    if (isGrn) return [numel];
    if (options.timmConvMlp && /\.pwconv[12]\.weight$/.test(canonical)) return [...denseShape, 1, 1];
  }
  return [...denseShape];
}

// ---------------------------------------------------------------------------------------------
// Detection

/** Which scheme a set of names follows. Throws when none fits (naming a few of the names). */
export function detectScheme(names: Iterable<string>, fileName = 'checkpoint'): NameScheme {
  const list = [...names];
  const any = (re: RegExp): boolean => list.some((n) => re.test(n));
  if (any(/^convnextv2\./) || any(/(^|\.)embeddings\.patch_embeddings\./) || any(/^encoder\.stages\.\d+\.layers\./)) return 'huggingface';
  if (any(/^stem\.[01]\./) || any(/^stages\.\d+\.blocks\./)) return 'timm';
  if (any(/\.kernel$/) || any(/\.(ln|linear)\.(weight|bias)$/)) return 'official-sparse';
  if (any(/^encoder\.(downsample_layers|stages)\./)) return 'canonical';
  if (any(/^(downsample_layers|stages)\.\d+\./)) return 'official-dense';
  if (list.length > 0 && list.every((n) => DECODER_NAME.test(n))) return 'canonical'; // decoder-only file
  throw new CheckpointError(
    fileName,
    'not-a-state-dict',
    `the tensor names match no ConvNeXt V2 scheme (official, timm, Hugging Face); first names: ${list.slice(0, 5).join(', ') || '(none)'}`,
  );
}

// ---------------------------------------------------------------------------------------------
// Loading

export interface MisShapedTensor {
  /** Name in the file. */
  name: string;
  canonical: string;
  /** Shape the inferred configuration needs, in the file's scheme layout. */
  expected: number[];
  got: number[];
}

export interface LoadReport {
  fileName: string;
  scheme: NameScheme;
  config: CheckpointModelConfig;
  size: ModelSizeName | null;
  /** Canonical names loaded from the file. */
  loaded: string[];
  /** Canonical names the configuration needs that the file lacks (a wholly absent decoder is
   *  not listed here: see decoderInFile). */
  missing: string[];
  /** File names that map to nothing the configuration has. */
  unexpected: string[];
  misShaped: MisShapedTensor[];
  /** False when the file has no decoder tensor at all: the decoder keeps its initialisation. */
  decoderInFile: boolean;
  /** Loaded classification extras (norm.*, head.*). */
  classifier: string[];
  /** Human-readable remarks, e.g. "decoder not in file: initialised". */
  notes: string[];
}

export interface CanonicalLoad {
  scheme: NameScheme;
  config: CheckpointModelConfig;
  size: ModelSizeName | null;
  /** Canonical name → dense tensor, in canonical order; only tensors that loaded cleanly. */
  tensors: Map<string, NamedTensor>;
  report: LoadReport;
}

export interface ToCanonicalOptions {
  fileName?: string;
  /** Force a scheme instead of detecting it. */
  scheme?: NameScheme;
  /** The current model's configuration: fills in what the file cannot tell (a decoder-only
   *  file's encoder, an absent decoder's size). */
  current?: CheckpointModelConfig;
}

const squeeze = (s: readonly number[]): string => s.filter((d) => d !== 1).join('x');

interface RenamedTensor {
  source: string;
  renamed: Renamed;
  tensor: NamedTensor;
  /** Dense shape after undoing a sparse layout (as the file's data would be in dense form). */
  denseShape: number[] | null;
}

function denseShapeOf(r: Renamed, shape: readonly number[]): number[] | null {
  if (r.layout === 'dense') return [...shape];
  const kv = shape[0]!;
  const k = Math.round(Math.sqrt(kv));
  if (k * k !== kv) return null;
  if (r.layout === 'sparse-dwconv') return [shape[1]!, 1, k, k];
  if (shape.length !== 3) return null;
  return [shape[2]!, shape[1]!, k, k];
}

function inferConfig(byCanonical: Map<string, RenamedTensor>, current: CheckpointModelConfig | undefined, fileName: string): CheckpointModelConfig {
  const len = (name: string, axis = 0): number | null => {
    const t = byCanonical.get(name);
    return t?.denseShape ? (t.denseShape[axis] ?? null) : null;
  };
  const numel = (name: string): number | null => {
    const t = byCanonical.get(name);
    return t ? t.tensor.shape.reduce((a, b) => a * b, 1) : null;
  };
  const depths = [0, 0, 0, 0];
  let encoderTensors = 0;
  let decoderDepth = 0;
  let decoderTensors = 0;
  let blockTensors = 0;
  let grnTensors = 0;
  for (const name of byCanonical.keys()) {
    let m: RegExpMatchArray | null;
    if (name.startsWith('encoder.')) encoderTensors++;
    if ((m = name.match(/^encoder\.stages\.([0-3])\.(\d+)\./))) depths[+m[1]!] = Math.max(depths[+m[1]!]!, +m[2]! + 1);
    if ((m = name.match(/^decoder\.(\d+)\./))) decoderDepth = Math.max(decoderDepth, +m[1]! + 1);
    if (DECODER_NAME.test(name)) decoderTensors++;
    if (/^(encoder\.stages\.\d+|decoder)\.\d+\./.test(name)) blockTensors++;
    if (/^(encoder\.stages\.\d+|decoder)\.\d+\.grn\.(gamma|beta)$/.test(name)) grnTensors++;
  }
  // GRN is all or nothing: one GRN tensor anywhere makes every block expect GRN, so blocks
  // without it are reported missing by name. Blocks with no GRN at all: the no-GRN ablation.
  const grn = blockTensors > 0 ? grnTensors > 0 : (current?.grn ?? true);
  let dims: number[];
  let finalDepths: number[];
  if (encoderTensors === 0) {
    if (!current) throw new CheckpointError(fileName, 'not-a-state-dict', 'the file has no encoder tensors, so the model size cannot be inferred');
    dims = [...current.dims];
    finalDepths = [...current.depths];
  } else {
    dims = [0, 1, 2, 3].map((s) => {
      const d =
        len(`encoder.stages.${s}.0.norm.weight`) ??
        len(`encoder.stages.${s}.0.dwconv.bias`) ??
        (s === 0 ? len('encoder.downsample_layers.0.0.weight') : len(`encoder.downsample_layers.${s}.1.weight`)) ??
        (s < 3 ? len(`encoder.downsample_layers.${s + 1}.0.weight`) : len('norm.weight')) ??
        current?.dims[s] ??
        null;
      if (d === null || d <= 0) {
        throw new CheckpointError(fileName, 'not-a-state-dict', `cannot infer the width of encoder stage ${s} from the file`);
      }
      return d;
    });
    finalDepths = depths;
  }
  let decoderDim = current?.decoderDim ?? DEFAULT_DECODER.dim;
  if (decoderTensors > 0) {
    decoderDim =
      len('proj.weight') ?? (numel('mask_token') || null) ?? len('decoder.0.norm.weight') ?? len('decoder.0.dwconv.bias') ?? len('pred.weight', 1) ?? decoderDim;
  }
  const headRows = len('head.weight');
  return {
    depths: finalDepths,
    dims,
    decoderDepth: decoderTensors > 0 ? decoderDepth : (current?.decoderDepth ?? DEFAULT_DECODER.depth),
    decoderDim,
    numClasses: headRows ?? (byCanonical.has('head.bias') ? numel('head.bias') : null),
    grn,
    // only a headless file's norm needs saying (with a head it is always expected)
    ...(headRows === null && !byCanonical.has('head.bias') && (byCanonical.has('norm.weight') || byCanonical.has('norm.bias')) ? { finalNorm: true } : {}),
  };
}

function toDense(t: RenamedTensor): Float32Array {
  const { layout } = t.renamed;
  const s = t.tensor.shape;
  if (layout === 'sparse-dwconv') return sparseDwconvToDense(t.tensor.data, t.denseShape![2]!, s[1]!);
  if (layout === 'sparse-conv') return sparseConvToDense(t.tensor.data, t.denseShape![2]!, s[1]!, s[2]!);
  return t.tensor.data;
}

/**
 * Maps a state dict of any known scheme to canonical names and dense shapes, inferring the
 * model configuration, and reports every missing, unexpected and mis-shaped tensor by name.
 */
export function toCanonical(stateDict: ReadonlyMap<string, NamedTensor>, options: ToCanonicalOptions = {}): CanonicalLoad {
  const fileName = options.fileName ?? 'checkpoint';
  let names = [...stateDict.keys()];
  const notes: string[] = [];
  // DataParallel/DDP wrappers prefix every name with 'module.'.
  let strip = '';
  if (names.length > 0 && names.every((n) => n.startsWith('module.'))) {
    strip = 'module.';
    notes.push("names carried a 'module.' prefix (DataParallel): removed");
    names = names.map((n) => n.slice(strip.length));
  }
  const scheme = options.scheme ?? detectScheme(names, fileName);
  const hfPrefix = scheme === 'huggingface' && names.some((n) => n.startsWith('convnextv2.')) ? 'convnextv2.' : '';
  const unexpected: string[] = [];
  const byCanonical = new Map<string, RenamedTensor>();
  for (const name of names) {
    const tensor = stateDict.get(strip + name)!;
    const renamed = renameToCanonical(name, scheme, tensor.shape, hfPrefix);
    if (!renamed || byCanonical.has(renamed.canonical)) {
      unexpected.push(strip + name);
      continue;
    }
    byCanonical.set(renamed.canonical, { source: strip + name, renamed, tensor, denseShape: denseShapeOf(renamed, tensor.shape) });
  }
  const config = inferConfig(byCanonical, options.current, fileName);
  const decoderInFile = [...byCanonical.keys()].some((n) => DECODER_NAME.test(n));
  const expected = canonicalEntries(config);
  const tensors = new Map<string, NamedTensor>();
  const loaded: string[] = [];
  const missing: string[] = [];
  const misShaped: MisShapedTensor[] = [];
  const classifier: string[] = [];
  const expectedNames = new Set<string>();
  for (const e of expected) {
    expectedNames.add(e.name);
    const t = byCanonical.get(e.name);
    if (!t) {
      if (!(e.part === 'decoder' && !decoderInFile)) missing.push(e.name);
      continue;
    }
    const numel = e.shape.reduce((a, b) => a * b, 1);
    const ok = t.denseShape !== null && squeeze(t.denseShape) === squeeze(e.shape) && t.tensor.data.length === numel;
    if (!ok) {
      misShaped.push({ name: t.source, canonical: e.name, expected: schemeShape(e.name, e.shape, scheme), got: [...t.tensor.shape] });
      continue;
    }
    tensors.set(e.name, { shape: e.shape, data: toDense(t) });
    loaded.push(e.name);
    if (e.part === 'classifier') classifier.push(e.name);
  }
  for (const [canonical, t] of byCanonical) if (!expectedNames.has(canonical)) unexpected.push(t.source);
  if (!decoderInFile) notes.push('decoder not in file: initialised');
  const size = matchModelSize(config.depths, config.dims);
  const report: LoadReport = { fileName, scheme, config, size, loaded, missing, unexpected, misShaped, decoderInFile, classifier, notes };
  return { scheme, config, size, tensors, report };
}

/** One line per fact, for the UI and the CLI. */
export function formatLoadReport(r: LoadReport): string[] {
  const c = r.config;
  const lines = [
    `${r.fileName}: ${r.scheme} names, ${r.size ?? 'custom'} (depths ${c.depths.join(',')}, dims ${c.dims.join(',')}` +
      `${r.decoderInFile ? `, decoder ${c.decoderDepth}×${c.decoderDim}` : ''}${c.numClasses !== null ? `, head ${c.numClasses} classes` : ''}${c.grn === false ? ', no GRN' : ''}): ` +
      `${r.loaded.length} tensors loaded`,
  ];
  for (const n of r.notes) lines.push(n);
  if (r.missing.length) lines.push(`missing (${r.missing.length}): ${r.missing.join(', ')}`);
  if (r.unexpected.length) lines.push(`unexpected (${r.unexpected.length}): ${r.unexpected.join(', ')}`);
  for (const m of r.misShaped) lines.push(`mis-shaped: ${m.name} is (${m.got.join(', ')}), expected (${m.expected.join(', ')})`);
  return lines;
}

// ---------------------------------------------------------------------------------------------
// Writing

export interface SchemeWrite {
  tensors: Map<string, NamedTensor>;
  /** Canonical names the scheme has no place for (the decoder in timm / Hugging Face). */
  skipped: string[];
}

/** Canonical tensors → the names, shapes and layouts of `scheme`. */
export function fromCanonical(tensors: ReadonlyMap<string, NamedTensor>, scheme: NameScheme, options: SchemeWriteOptions = {}): SchemeWrite {
  const out = new Map<string, NamedTensor>();
  const skipped: string[] = [];
  for (const [canonical, t] of tensors) {
    const name = schemeName(canonical, scheme);
    if (name === null) {
      skipped.push(canonical);
      continue;
    }
    const shape = schemeShape(canonical, t.shape, scheme, options);
    let data = t.data;
    if (scheme === 'official-sparse' && name.endsWith('.kernel')) {
      const [o, i, k] = t.shape as [number, number, number, number];
      data = /\.dwconv\.kernel$/.test(name) ? denseDwconvToSparse(t.data, k, o) : denseConvToSparse(t.data, k, i, o);
    }
    out.set(name, { shape, data });
  }
  return { tensors: out, skipped };
}
