// The official FCMAE model's parameters as the official PyTorch code sees them
// (facebookresearch/ConvNeXt-V2 models/fcmae.py over models/convnextv2_sparse.py): their names,
// shapes, the order of FCMAE.named_parameters() and the two AdamW groups main_pretrain.py builds
// from them. torch's optimizer state_dict numbers parameters by that group order, so this is
// the map between an official `optimizer` entry and our canonical names.
//
// Surprising (module registration order decides named_parameters()):
// - `mask_token` comes first: it is FCMAE's own parameter, and a module's own parameters precede
//   its submodules' even though `encoder` and `proj` were assigned before it.
// - SparseConvNeXtV2 registers all four downsample layers before the stages, unlike our
//   interleaved network order.
// - The sparse encoder block registers pwconv2 before grn; the dense decoder block (models/
//   convnextv2.py) registers grn before pwconv2.
// - Groups: [no-decay, decay] (timm's add_weight_decay); params are numbered 0.. through the
//   no-decay group, then on through the decay group, each group in named_parameters() order.
import type { ModelConfig } from '../model/config.ts';
import { officialRuleDecays } from '../model/parameters.ts';
import type { WeightDecayRule } from '../ops/adamw.ts';
import { canonicalEntries, schemeName, schemeShape } from './name-schemes.ts';

export interface OfficialParam {
  /** Name in the official FCMAE state dict (sparse encoder names). */
  name: string;
  /** Our canonical name. */
  canonical: string;
  /** Shape in the official model. */
  shape: number[];
  /** Dense (canonical) shape. */
  canonicalShape: number[];
  /** Index in FCMAE.named_parameters(). */
  moduleIndex: number;
}

const SPARSE_BLOCK = ['dwconv.weight', 'dwconv.bias', 'norm.weight', 'norm.bias', 'pwconv1.weight', 'pwconv1.bias', 'pwconv2.weight', 'pwconv2.bias', 'grn.gamma', 'grn.beta'];
const DENSE_BLOCK = ['dwconv.weight', 'dwconv.bias', 'norm.weight', 'norm.bias', 'pwconv1.weight', 'pwconv1.bias', 'grn.gamma', 'grn.beta', 'pwconv2.weight', 'pwconv2.bias'];

/** FCMAE.named_parameters() of the official model for this config, in order. */
export function officialParameterOrder(config: Pick<ModelConfig, 'depths' | 'dims' | 'decoderDim' | 'decoderDepth' | 'grn'>): OfficialParam[] {
  const shapes = new Map(canonicalEntries({ ...config, numClasses: null }, { decoder: true }).map((e) => [e.name, e.shape]));
  const names: string[] = ['mask_token'];
  // stem (dense conv, LayerNorm), then (MinkowskiLayerNorm, MinkowskiConvolution) ×3
  for (let s = 0; s < 4; s++) for (const x of ['0.weight', '0.bias', '1.weight', '1.bias']) names.push(`encoder.downsample_layers.${s}.${x}`);
  const block = (prefix: string, order: string[]) => {
    for (const p of order) if (config.grn || !p.startsWith('grn.')) names.push(`${prefix}.${p}`);
  };
  for (let s = 0; s < 4; s++) for (let b = 0; b < config.depths[s]!; b++) block(`encoder.stages.${s}.${b}`, SPARSE_BLOCK);
  names.push('proj.weight', 'proj.bias');
  for (let b = 0; b < config.decoderDepth; b++) block(`decoder.${b}`, DENSE_BLOCK);
  names.push('pred.weight', 'pred.bias');
  return names.map((canonical, moduleIndex) => {
    const canonicalShape = shapes.get(canonical);
    if (!canonicalShape) throw new Error(`officialParameterOrder: ${canonical} is not a parameter of the config`);
    return { name: schemeName(canonical, 'official-sparse')!, canonical, shape: schemeShape(canonical, canonicalShape, 'official-sparse'), canonicalShape: [...canonicalShape], moduleIndex };
  });
}

/** Whether the official parameter decays under `rule` (the maintainers' rule: conv and linear weights only). */
export function officialParamDecays(p: OfficialParam, rule: WeightDecayRule): boolean {
  if (rule === 'official') return officialRuleDecays(p.name, p.shape);
  return officialRuleDecays(p.name, p.shape) && !/\.grn\.(gamma|beta)$/.test(p.name) && p.name !== 'mask_token';
}

export interface OfficialGroups {
  /** Group 0 (weight_decay 0), then group 1 (the run's weight decay), in named_parameters() order. */
  noDecay: OfficialParam[];
  decay: OfficialParam[];
  /** Optimizer index (torch's state_dict numbering) → parameter. */
  byIndex: OfficialParam[];
}

/** The two AdamW parameter groups of main_pretrain.py under a rule, and torch's numbering. */
export function officialGroups(order: readonly OfficialParam[], rule: WeightDecayRule): OfficialGroups {
  const noDecay = order.filter((p) => !officialParamDecays(p, rule));
  const decay = order.filter((p) => officialParamDecays(p, rule));
  return { noDecay, decay, byIndex: [...noDecay, ...decay] };
}
