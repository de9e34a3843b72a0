// The Hugging Face export (src/io/hf-config.ts) against what transformers itself lists and
// saves for the same configuration (tests/fixtures/export/manifest.json, written by
// tests/reference/gen_export_fixtures.py): every name and shape, the config.json fields, and
// the specific refusals.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkLabels, defaultLabels, hfConfigJson, hfEntries, HfExportError, toHuggingFace } from '../../../src/io/hf-config.ts';
import { canonicalEntries, type CheckpointModelConfig, type NamedTensor } from '../../../src/io/name-schemes.ts';
import { FIXTURE_DIR } from '../../helpers/fixtures.ts';

interface Manifest {
  config: { depths: number[]; dims: number[]; num_classes: number };
  keys: Record<string, [string, number[]][]>;
  hf_config: Record<'hf_model' | 'hf_classifier', Record<string, unknown>>;
}
const manifest = JSON.parse(readFileSync(join(FIXTURE_DIR, 'export', 'manifest.json'), 'utf8')) as Manifest;
const { depths, dims, num_classes: K } = manifest.config;
const withHead: CheckpointModelConfig = { depths, dims, decoderDepth: 0, decoderDim: 1, numClasses: K, grn: true };
const encoderOnly: CheckpointModelConfig = { ...withHead, numClasses: null };

const byName = (list: [string, number[]][]) => new Map(list.map(([n, s]) => [n, s.join('x')]));

/** Canonical tensors of a configuration, value i + 0.5 at flat index i (distinct, exact). */
function canonicalTensors(config: CheckpointModelConfig): Map<string, NamedTensor> {
  return new Map(
    canonicalEntries(config, { decoder: false }).map((e) => {
      const n = e.shape.reduce((a, b) => a * b, 1);
      return [e.name, { shape: e.shape, data: Float32Array.from({ length: n }, (_, i) => i + 0.5) }];
    }),
  );
}

function expectError(f: () => unknown, code: HfExportError['code'], message: RegExp): void {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(HfExportError);
    expect((e as HfExportError).code).toBe(code);
    expect((e as Error).message).toMatch(message);
    return;
  }
  throw new Error(`expected HfExportError ${code}`);
}

describe('Hugging Face export names and config', () => {
  it('hfEntries lists exactly transformers\' state-dict keys and shapes for both classes', () => {
    for (const [arch, key] of [['ConvNextV2Model', 'hf_model'], ['ConvNextV2ForImageClassification', 'hf_classifier']] as const) {
      const ours = hfEntries(withHead, arch).map((e): [string, number[]] => [e.name, e.shape]);
      expect(ours.length, arch).toBe(manifest.keys[key]!.length);
      expect(byName(ours), arch).toEqual(byName(manifest.keys[key]!));
    }
  });

  it('config.json carries the fields save_pretrained writes, with layer_norm_eps 1e-6', () => {
    for (const [labels, key] of [[null, 'hf_model'], [defaultLabels(K), 'hf_classifier']] as const) {
      const config = hfConfigJson({ depths, dims }, labels) as unknown as Record<string, unknown>;
      const library = manifest.hf_config[key];
      // stage_names / out_features / out_indices are derived by ConvNextV2Config itself; the
      // version stamp is the library's own.
      const derived = new Set(['stage_names', 'out_features', 'out_indices', 'transformers_version']);
      for (const field of Object.keys(library).filter((f) => !derived.has(f))) expect(config[field], `${key} ${field}`).toEqual(library[field]);
      expect(Object.keys(config).filter((f) => !(f in library)), key).toEqual([]);
    }
  });

  it('toHuggingFace: a head makes the classifier, values by reference; no head makes the model with norm 1 / 0', () => {
    const tensors = canonicalTensors(withHead);
    const cls = toHuggingFace(tensors, withHead);
    expect(cls.architecture).toBe('ConvNextV2ForImageClassification');
    expect(cls.initialised).toEqual([]);
    expect(cls.tensors.get('classifier.weight')!.data).toBe(tensors.get('head.weight')!.data);
    expect(cls.tensors.get('convnextv2.layernorm.bias')!.data).toBe(tensors.get('norm.bias')!.data);
    expect(cls.tensors.get('convnextv2.encoder.stages.2.layers.1.grn.weight')!.data).toBe(tensors.get('encoder.stages.2.1.grn.gamma')!.data);
    expect(cls.config.id2label).toEqual(Object.fromEntries(defaultLabels(K).map((l, k) => [String(k), l])));

    const encoder = canonicalTensors(encoderOnly);
    const model = toHuggingFace(encoder, encoderOnly);
    expect(model.architecture).toBe('ConvNextV2Model');
    expect(byName([...model.tensors].map(([n, t]): [string, number[]] => [n, t.shape]))).toEqual(byName(manifest.keys.hf_model!));
    expect([...model.tensors.get('layernorm.weight')!.data]).toEqual(new Array(dims[3]).fill(1));
    expect([...model.tensors.get('layernorm.bias')!.data]).toEqual(new Array(dims[3]).fill(0));
    expect(model.initialised).toEqual([expect.objectContaining({ names: ['layernorm.weight', 'layernorm.bias'], values: 'layernorm.weight = 1, layernorm.bias = 0' })]);
    expect(model.config.id2label).toBeUndefined();
  });

  it('a no-GRN encoder gets zero GRN tensors (the identity), listed as initialised', () => {
    const noGrn: CheckpointModelConfig = { ...withHead, grn: false };
    const out = toHuggingFace(canonicalTensors(noGrn), noGrn);
    const grn = [...out.tensors.keys()].filter((n) => n.includes('.grn.'));
    expect(grn.length).toBe(2 * depths.reduce((a, b) => a + b, 0));
    for (const n of grn) expect([...out.tensors.get(n)!.data].every((v) => v === 0), n).toBe(true);
    expect(out.initialised[0]!.names).toEqual(grn);
  });

  it('refuses a missing or mis-shaped tensor and bad labels, naming them', () => {
    const tensors = canonicalTensors(withHead);
    tensors.delete('encoder.stages.2.1.pwconv1.weight');
    expectError(() => toHuggingFace(tensors, withHead, { fileName: 'x.pth' }), 'missing-tensor', /^x\.pth: ConvNextV2ForImageClassification needs 1 tensor the checkpoint lacks: encoder\.stages\.2\.1\.pwconv1\.weight; an export needs the whole encoder/);
    const bad = canonicalTensors(withHead);
    bad.set('head.weight', { shape: [K + 1, dims[3]!], data: new Float32Array((K + 1) * dims[3]!) });
    expectError(() => toHuggingFace(bad, withHead, { fileName: 'x.pth' }), 'mis-shaped', /head\.weight is \(6, 32\); ConvNextV2ForImageClassification's classifier\.weight needs \(5, 32\)/);
    expectError(() => checkLabels(['a', 'b'], 3), 'bad-labels', /2 names for a head of 3 classes/);
    expectError(() => checkLabels(['a', 'b', 'a'], 3), 'bad-labels', /'a' names classes 0 and 2/);
    expectError(() => toHuggingFace(canonicalTensors(encoderOnly), encoderOnly, { labels: ['a'], fileName: 'enc.pth' }), 'bad-labels', /enc\.pth has no classification head/);
    expectError(() => hfConfigJson({ depths: [1, 1, 1], dims: [8, 16, 24] }, null), 'bad-config', /4 stages/);
  });
});
