// Hugging Face transformers export: the config.json and state dict that `ConvNextV2Model` /
// `ConvNextV2ForImageClassification.from_pretrained` load with no missing or unexpected key
// (transformers' models/convnextv2, read from v5.18), built from canonical tensors.
//
// Surprises:
// - ConvNextV2Model's keys have no prefix (`embeddings.*`, `encoder.*`, `layernorm.*`); the
//   classifier nests the same model under `convnextv2.` and adds `classifier.{weight,bias}`.
// - HF always has a final LayerNorm (`layernorm`, the pooler) and GRN in every block. An FCMAE
//   encoder has no final norm: weight 1, bias 0 are written, what the official fine-tuning
//   starts from (nn.LayerNorm's own init; its checkpoints have none). A no-GRN encoder gets GRN
//   weight = bias = 0, which is exactly the identity (x + 0·(x·N) + 0).
// - `layer_norm_eps` is used by the final LayerNorm only (the stem, downsampling and block norms
//   are fixed at 1e-6 in HF) and defaults to 1e-12; the official model and timm use 1e-6 there,
//   so the config always says 1e-6.
// - Every HF shape equals the canonical dense shape (GRN (1,1,1,4C), pwconv as Linear).
// Pure TypeScript: the browser can build the same export.
import { canonicalEntries, schemeName, type CheckpointModelConfig, type NamedTensor } from './name-schemes.ts';

export type HfArchitecture = 'ConvNextV2Model' | 'ConvNextV2ForImageClassification';

/** ConvNextV2PreTrainedModel.base_model_prefix: the classifier's key prefix for the backbone. */
export const HF_BASE_PREFIX = 'convnextv2.';
/** The official / timm final LayerNorm eps (HF's config default is 1e-12). */
export const HF_LAYER_NORM_EPS = 1e-6;
/** ConvNextV2Config's image_size default (informational in HF: nothing is resized by it). */
export const HF_DEFAULT_IMAGE_SIZE = 224;

/** The fields of transformers' ConvNextV2Config that config.json carries. */
export interface HfConfigJson {
  architectures: [HfArchitecture];
  model_type: 'convnextv2';
  num_channels: 3;
  patch_size: 4;
  num_stages: 4;
  hidden_sizes: number[];
  depths: number[];
  hidden_act: 'gelu';
  initializer_range: number;
  layer_norm_eps: number;
  drop_path_rate: number;
  image_size: number;
  /** Classifier only: class index (as a string, as JSON object keys are) → name. */
  id2label?: Record<string, string>;
  label2id?: Record<string, number>;
  dtype: 'float32';
}

export type HfExportErrorCode = 'missing-tensor' | 'mis-shaped' | 'bad-labels' | 'bad-config';

export class HfExportError extends Error {
  override readonly name = 'HfExportError';
  constructor(
    readonly code: HfExportErrorCode,
    /** The file (or option) at fault. */
    readonly what: string,
    detail: string,
  ) {
    super(`${what}: ${detail}`);
  }
}

/** transformers' names for classes it was given no names for (PreTrainedConfig: LABEL_k). */
export function defaultLabels(count: number): string[] {
  return Array.from({ length: count }, (_, k) => `LABEL_${k}`);
}

/** Checks class names for id2label / label2id: one per class, non-empty, distinct. */
export function checkLabels(labels: readonly string[], numClasses: number, what = '--labels'): void {
  if (labels.length !== numClasses) {
    throw new HfExportError('bad-labels', what, `${labels.length} names for a head of ${numClasses} classes: give exactly ${numClasses}, in class-index order`);
  }
  const empty = labels.findIndex((l) => l.length === 0);
  if (empty >= 0) throw new HfExportError('bad-labels', what, `name ${empty} is empty`);
  const seen = new Map<string, number>();
  for (const [k, l] of labels.entries()) {
    const first = seen.get(l);
    if (first !== undefined) throw new HfExportError('bad-labels', what, `'${l}' names classes ${first} and ${k}: label2id needs distinct names`);
    seen.set(l, k);
  }
}

/** config.json for an encoder (labels null: ConvNextV2Model) or a classifier. */
export function hfConfigJson(model: { depths: readonly number[]; dims: readonly number[] }, labels: readonly string[] | null, imageSize = HF_DEFAULT_IMAGE_SIZE): HfConfigJson {
  if (model.depths.length !== 4 || model.dims.length !== 4) {
    throw new HfExportError('bad-config', 'model', `ConvNeXt V2 has 4 stages; got depths (${model.depths.join(', ')}), dims (${model.dims.join(', ')})`);
  }
  const config: HfConfigJson = {
    architectures: [labels ? 'ConvNextV2ForImageClassification' : 'ConvNextV2Model'],
    model_type: 'convnextv2',
    num_channels: 3,
    patch_size: 4,
    num_stages: 4,
    hidden_sizes: [...model.dims],
    depths: [...model.depths],
    hidden_act: 'gelu',
    initializer_range: 0.02,
    layer_norm_eps: HF_LAYER_NORM_EPS,
    drop_path_rate: 0,
    image_size: imageSize,
    dtype: 'float32',
  };
  if (labels) {
    config.id2label = Object.fromEntries(labels.map((l, k) => [String(k), l]));
    config.label2id = Object.fromEntries(labels.map((l, k) => [l, k]));
  }
  return config;
}

/** The HF name of a canonical encoder / final-norm / head tensor in `architecture`. */
export function hfName(canonical: string, architecture: HfArchitecture): string | null {
  const name = schemeName(canonical, 'huggingface');
  if (name === null || architecture === 'ConvNextV2ForImageClassification') return name;
  return name.startsWith(HF_BASE_PREFIX) ? name.slice(HF_BASE_PREFIX.length) : null;
}

export interface HfEntry {
  /** HF name. */
  name: string;
  /** Canonical name. */
  canonical: string;
  shape: number[];
}

/** Every tensor `architecture` has for `model` (GRN always; the final norm always). */
export function hfEntries(model: Pick<CheckpointModelConfig, 'depths' | 'dims' | 'numClasses'>, architecture: HfArchitecture): HfEntry[] {
  const withHead = architecture === 'ConvNextV2ForImageClassification';
  if (withHead && (model.numClasses === null || model.numClasses < 1)) {
    throw new HfExportError('bad-config', 'model', 'ConvNextV2ForImageClassification needs a head with at least one class');
  }
  const full: CheckpointModelConfig = { depths: model.depths, dims: model.dims, decoderDepth: 0, decoderDim: 1, numClasses: withHead ? model.numClasses : 1, grn: true };
  return canonicalEntries(full, { decoder: false, classifier: true })
    .filter((e) => withHead || !e.name.startsWith('head.'))
    .map((e) => ({ name: hfName(e.name, architecture)!, canonical: e.name, shape: e.shape }));
}

export interface HfExport {
  architecture: HfArchitecture;
  config: HfConfigJson;
  /** HF name → tensor, in HF's module order. */
  tensors: Map<string, NamedTensor>;
  /** HF tensors the source had none for: their names, what they were set to, and why. */
  initialised: { names: string[]; values: string; why: string }[];
  /** Canonical names given that have no place in HF (a decoder, say). */
  unused: string[];
}

export interface HfExportOptions {
  /** Class names, in class-index order (default LABEL_k). Only for a model with a head. */
  labels?: readonly string[];
  imageSize?: number;
  /** Named in errors. */
  fileName?: string;
}

/**
 * Canonical tensors → a Hugging Face export. A head (`norm.*` + `head.*`) makes it a
 * ConvNextV2ForImageClassification; without `head.*` it is a ConvNextV2Model, whose final
 * norm comes from `norm.*` when given, else is initialised (weight 1, bias 0).
 */
export function toHuggingFace(tensors: ReadonlyMap<string, NamedTensor>, model: CheckpointModelConfig, options: HfExportOptions = {}): HfExport {
  const file = options.fileName ?? 'checkpoint';
  const withHead = model.numClasses !== null;
  const architecture: HfArchitecture = withHead ? 'ConvNextV2ForImageClassification' : 'ConvNextV2Model';
  if (!withHead && options.labels) {
    throw new HfExportError('bad-labels', '--labels', `${file} has no classification head (head.weight, head.bias), so there are no classes to name`);
  }
  const labels = withHead ? (options.labels ? [...options.labels] : defaultLabels(model.numClasses!)) : null;
  if (labels) checkLabels(labels, model.numClasses!);
  const imageSize = options.imageSize ?? HF_DEFAULT_IMAGE_SIZE;
  const out = new Map<string, NamedTensor>();
  const missing: string[] = [];
  const grnZero: string[] = [];
  const normInit: string[] = [];
  const used = new Set<string>();
  for (const e of hfEntries(model, architecture)) {
    const numel = e.shape.reduce((a, b) => a * b, 1);
    const t = tensors.get(e.canonical);
    if (t) {
      if (t.data.length !== numel || t.shape.filter((d) => d !== 1).join('x') !== e.shape.filter((d) => d !== 1).join('x')) {
        throw new HfExportError('mis-shaped', file, `${e.canonical} is (${t.shape.join(', ')}); ${architecture}'s ${e.name} needs (${e.shape.join(', ')})`);
      }
      out.set(e.name, { shape: e.shape, data: t.data });
      used.add(e.canonical);
    } else if (model.grn === false && /\.grn\.(gamma|beta)$/.test(e.canonical)) {
      out.set(e.name, { shape: e.shape, data: new Float32Array(numel) });
      grnZero.push(e.name);
    } else if (!withHead && /^norm\.(weight|bias)$/.test(e.canonical)) {
      out.set(e.name, { shape: e.shape, data: new Float32Array(numel).fill(e.canonical === 'norm.weight' ? 1 : 0) });
      normInit.push(e.name);
    } else {
      missing.push(e.canonical);
    }
  }
  if (missing.length) {
    const list = missing.length <= 6 ? missing.join(', ') : `${missing.slice(0, 5).join(', ')} … (${missing.length} in all)`;
    throw new HfExportError(
      'missing-tensor',
      file,
      `${architecture} needs ${missing.length} tensor${missing.length === 1 ? '' : 's'} the checkpoint lacks: ${list}; an export needs the whole encoder (stem, downsampling layers, every block)${withHead ? ' and the final norm with the head' : ''}`,
    );
  }
  const initialised: HfExport['initialised'] = [];
  if (normInit.length) {
    initialised.push({ names: normInit, values: 'layernorm.weight = 1, layernorm.bias = 0', why: 'the source has no final LayerNorm, as FCMAE encoders never do; the official fine-tuning starts it so' });
  }
  if (grnZero.length) {
    initialised.push({ names: grnZero, values: `${grnZero.length} grn.weight / grn.bias tensors = 0`, why: 'the encoder has no GRN; HF always has it, and GRN with weight = bias = 0 is exactly the identity' });
  }
  const unused = [...tensors.keys()].filter((n) => !used.has(n));
  return { architecture, config: hfConfigJson(model, labels, imageSize), tensors: out, initialised, unused };
}
