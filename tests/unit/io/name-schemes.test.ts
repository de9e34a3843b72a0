// Name schemes: real torch.save files in every scheme map to canonical names with the exact
// dense values (the official sparse kernels included), sizes are inferred, and every missing,
// unexpected or mis-shaped tensor is reported by name.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  canonicalEntries,
  DEFAULT_DECODER,
  detectScheme,
  formatLoadReport,
  fromCanonical,
  MODEL_SIZES,
  schemeName,
  toCanonical,
  type CheckpointModelConfig,
  type NamedTensor,
  type NameScheme,
} from '../../../src/io/name-schemes.ts';
import { readTorchCheckpoint } from '../../../src/io/pytorch.ts';
import { CheckpointError } from '../../../src/io/zip.ts';
import { expectAllClose } from '../../helpers/allclose.ts';
import { FIXTURE_DIR } from '../../helpers/fixtures.ts';

const DIR = join(FIXTURE_DIR, 'io/torch');
const manifest = JSON.parse(readFileSync(join(DIR, 'manifest.json'), 'utf8')) as {
  config: { depths: number[]; dims: number[]; decoder_depth: number; decoder_dim: number; num_classes: number };
  files: Record<string, { scheme: NameScheme | null; decoder?: boolean; classifier?: boolean }>;
};
const TINY: CheckpointModelConfig = {
  depths: manifest.config.depths,
  dims: manifest.config.dims,
  decoderDepth: manifest.config.decoder_depth,
  decoderDim: manifest.config.decoder_dim,
  numClasses: manifest.config.num_classes,
};

/** The generator's value formula (see gen_torch_checkpoints.py), keyed by canonical name. */
function formula(name: string, n: number): Float32Array {
  let h = 0;
  for (let j = 0; j < name.length; j++) h += (j + 1) * name.charCodeAt(j);
  h %= 1009;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = (((h * 131 + i * 31) % 257) - 128) / 64;
  return out;
}

const numel = (s: readonly number[]): number => s.reduce((a, b) => a * b, 1);

function canonicalState(config: CheckpointModelConfig, parts: { decoder: boolean; classifier: boolean }, fill: 'formula' | 'zeros' = 'formula'): Map<string, NamedTensor> {
  const m = new Map<string, NamedTensor>();
  for (const e of canonicalEntries(config, parts)) {
    m.set(e.name, { shape: e.shape, data: fill === 'formula' ? formula(e.name, numel(e.shape)) : new Float32Array(numel(e.shape)) });
  }
  return m;
}

describe('real files in every scheme map to canonical names and dense values', () => {
  for (const [file, spec] of Object.entries(manifest.files)) {
    if (!spec.scheme) continue;
    it(`${file} (${spec.scheme})`, () => {
      const ck = readTorchCheckpoint(new Uint8Array(readFileSync(join(DIR, file))), file);
      const load = toCanonical(ck.stateDict, { fileName: file });
      expect(load.scheme).toBe(spec.scheme);
      const parts = { decoder: !!spec.decoder, classifier: !!spec.classifier };
      expect(load.config).toEqual({
        depths: TINY.depths,
        dims: TINY.dims,
        decoderDepth: parts.decoder ? TINY.decoderDepth : DEFAULT_DECODER.depth,
        decoderDim: parts.decoder ? TINY.decoderDim : DEFAULT_DECODER.dim,
        numClasses: parts.classifier ? TINY.numClasses : null,
        grn: true,
      });
      expect(load.size).toBeNull();
      const r = load.report;
      expect([r.missing, r.unexpected, r.misShaped]).toEqual([[], [], []]);
      expect(r.decoderInFile).toBe(parts.decoder);
      expect(r.notes).toEqual(parts.decoder ? [] : ['decoder not in file: initialised']);
      expect(r.classifier).toEqual(parts.classifier ? ['norm.weight', 'norm.bias', 'head.weight', 'head.bias'] : []);
      const expected = canonicalEntries(TINY, parts);
      expect([...load.tensors.keys()]).toEqual(expected.map((e) => e.name));
      expect(r.loaded.length).toBe(expected.length);
      for (const e of expected) {
        const t = load.tensors.get(e.name)!;
        expect(t.shape, e.name).toEqual(e.shape);
        // Values are copied or permuted, never computed: exact.
        expectAllClose(t.data, formula(e.name, numel(e.shape)), { atol: 0, rtol: 0, label: `${file} → ${e.name}`, shape: e.shape });
      }
    });
  }
});

describe('size inference', () => {
  const schemes: { scheme: NameScheme; timmConvMlp?: boolean }[] = [
    { scheme: 'canonical' },
    { scheme: 'official-dense' },
    { scheme: 'official-sparse' },
    { scheme: 'timm', timmConvMlp: true },
    { scheme: 'timm', timmConvMlp: false },
    { scheme: 'huggingface' },
  ];
  const atto: CheckpointModelConfig = { ...MODEL_SIZES.atto, decoderDepth: 1, decoderDim: 512, numClasses: 1000 };
  const state = canonicalState(atto, { decoder: false, classifier: true }, 'zeros');
  for (const s of schemes) {
    it(`atto in ${s.scheme}${s.timmConvMlp !== undefined ? (s.timmConvMlp ? ' (conv mlp)' : ' (linear mlp)') : ''}`, () => {
      const load = toCanonical(fromCanonical(state, s.scheme, s).tensors);
      expect([load.scheme, load.size, load.config.depths, load.config.dims, load.config.numClasses]).toEqual([
        s.scheme,
        'atto',
        [2, 2, 6, 2],
        [40, 80, 160, 320],
        1000,
      ]);
      expect(load.report.loaded.length).toBe(state.size);
    });
  }

  it('nano with the default FCMAE decoder (official sparse)', () => {
    const nano: CheckpointModelConfig = { ...MODEL_SIZES.nano, decoderDepth: 1, decoderDim: 512, numClasses: null };
    const load = toCanonical(fromCanonical(canonicalState(nano, { decoder: true, classifier: false }, 'zeros'), 'official-sparse').tensors);
    expect([load.size, load.config.decoderDepth, load.config.decoderDim, load.report.decoderInFile]).toEqual(['nano', 1, 512, true]);
  });
});

describe('blocks without GRN (the no-GRN ablation)', () => {
  const noGrn: CheckpointModelConfig = { ...TINY, grn: false };
  const state = canonicalState(noGrn, { decoder: true, classifier: false });
  const schemes: NameScheme[] = ['canonical', 'official-dense', 'official-sparse', 'timm', 'huggingface'];

  it('canonical entries have no grn.* and 8C fewer values per block', () => {
    const withGrn = canonicalEntries(TINY, { decoder: true, classifier: false });
    const without = canonicalEntries(noGrn, { decoder: true, classifier: false });
    expect(without.map((e) => e.name)).toEqual(withGrn.map((e) => e.name).filter((n) => !/\.grn\./.test(n)));
    const values = (es: typeof without) => es.reduce((a, e) => a + numel(e.shape), 0);
    const blockWidths = [...TINY.depths.flatMap((d, s) => Array<number>(d).fill(TINY.dims[s]!)), ...Array<number>(TINY.decoderDepth).fill(TINY.decoderDim)];
    expect(values(withGrn) - values(without)).toBe(blockWidths.reduce((a, C) => a + 8 * C, 0));
  });

  for (const scheme of schemes) {
    it(`${scheme}: round trip infers no GRN and reports nothing missing`, () => {
      const written = fromCanonical(state, scheme).tensors;
      expect([...written.keys()].filter((n) => /grn/.test(n))).toEqual([]);
      const load = toCanonical(written, { fileName: 'v1style.pt' });
      const hasDecoder = scheme !== 'timm' && scheme !== 'huggingface';
      expect(load.config.grn).toBe(false);
      expect([load.report.missing, load.report.unexpected, load.report.misShaped]).toEqual([[], [], []]);
      const kept = [...state].filter(([n]) => hasDecoder || n.startsWith('encoder.'));
      expect(load.report.loaded.length).toBe(kept.length);
      // values are copied or permuted, never computed: exact
      for (const [name, t] of kept) expectAllClose(load.tensors.get(name)!.data, t.data, { atol: 0, rtol: 0, label: `${scheme} → ${name}`, shape: t.shape });
      expect(formatLoadReport(load.report)[0]).toMatch(/, no GRN\): \d+ tensors loaded$/);
    });
  }

  it('GRN in some blocks only: the model has GRN and the others are missing by name', () => {
    const withGrn = canonicalState(TINY, { decoder: true, classifier: false });
    const src = new Map([...withGrn].filter(([n]) => !/^encoder\.stages\.2\.\d+\.grn\./.test(n)));
    const r = toCanonical(src).report;
    expect(r.config.grn).toBe(true);
    expect(r.missing).toEqual(['encoder.stages.2.0.grn.gamma', 'encoder.stages.2.0.grn.beta', 'encoder.stages.2.1.grn.gamma', 'encoder.stages.2.1.grn.beta']);
  });

  it('a decoder-only file without decoder blocks takes GRN on/off from the current model', () => {
    const src = new Map([...state].filter(([n]) => /^(proj|mask_token|pred)/.test(n)));
    expect(toCanonical(src, { current: { ...noGrn, decoderDepth: 0 } }).config.grn).toBe(false);
    expect(toCanonical(src, { current: { ...TINY, decoderDepth: 0 } }).config.grn).toBe(true);
  });
});

describe('load report', () => {
  const full = canonicalState(TINY, { decoder: true, classifier: false });

  it('missing, unexpected and mis-shaped tensors are reported by name (official sparse)', () => {
    const src = new Map(fromCanonical(full, 'official-sparse').tensors);
    src.delete('encoder.stages.2.1.grn.gamma');
    src.set('encoder.stages.0.0.extra_scale', { shape: [4], data: new Float32Array(4) });
    src.set('encoder.stages.7.0.norm.ln.weight', { shape: [4], data: new Float32Array(4) });
    src.set('num_batches_tracked', { shape: [], data: new Float32Array(1) });
    // a transposed Linear and a 7×7 depthwise kernel stored as 5×5
    src.set('encoder.stages.3.0.pwconv1.linear.weight', { shape: [16, 64], data: new Float32Array(1024) });
    src.set('encoder.stages.1.0.dwconv.kernel', { shape: [25, 8], data: new Float32Array(200) });
    const load = toCanonical(src, { fileName: 'edited.pt' });
    const r = load.report;
    expect(r.missing).toEqual(['encoder.stages.2.1.grn.gamma']);
    expect(r.unexpected.sort()).toEqual(['encoder.stages.0.0.extra_scale', 'encoder.stages.7.0.norm.ln.weight', 'num_batches_tracked']);
    expect(r.misShaped).toEqual([
      { name: 'encoder.stages.1.0.dwconv.kernel', canonical: 'encoder.stages.1.0.dwconv.weight', expected: [49, 8], got: [25, 8] },
      { name: 'encoder.stages.3.0.pwconv1.linear.weight', canonical: 'encoder.stages.3.0.pwconv1.weight', expected: [64, 16], got: [16, 64] },
    ]);
    // Refused tensors are not handed over: the model keeps its own values for them.
    expect(load.tensors.has('encoder.stages.3.0.pwconv1.weight')).toBe(false);
    expect(load.tensors.has('encoder.stages.2.1.grn.gamma')).toBe(false);
    expect(r.loaded.length).toBe(full.size - 3);
    expect(formatLoadReport(r)).toEqual([
      `edited.pt: official-sparse names, custom (depths 1,1,2,1, dims 4,8,12,16, decoder 1×4): ${full.size - 3} tensors loaded`,
      'missing (1): encoder.stages.2.1.grn.gamma',
      expect.stringMatching(/^unexpected \(3\): /),
      'mis-shaped: encoder.stages.1.0.dwconv.kernel is (25, 8), expected (49, 8)',
      'mis-shaped: encoder.stages.3.0.pwconv1.linear.weight is (16, 64), expected (64, 16)',
    ]);
  });

  it('a partial decoder lists what is missing; a decoder-only file takes the encoder size from the current model', () => {
    const src = new Map(full);
    src.delete('pred.bias');
    const r = toCanonical(src).report;
    expect([r.missing, r.decoderInFile, r.notes]).toEqual([['pred.bias'], true, []]);

    const decoderOnly = new Map([...full].filter(([n]) => !n.startsWith('encoder.')));
    expect(() => toCanonical(decoderOnly, { fileName: 'dec.pt' })).toThrow(/dec\.pt: the file has no encoder tensors/);
    const load = toCanonical(decoderOnly, { current: TINY });
    expect(load.report.missing.length).toBe(canonicalEntries(TINY, { decoder: false, classifier: false }).length);
    expect(load.report.loaded.length).toBe(decoderOnly.size);
  });

  it("strips DataParallel's 'module.' prefix and says so", () => {
    const src = new Map([...fromCanonical(full, 'official-dense').tensors].map(([n, t]) => [`module.${n}`, t]));
    const load = toCanonical(src);
    expect([load.scheme, load.report.unexpected, load.report.notes]).toEqual(['official-dense', [], ["names carried a 'module.' prefix (DataParallel): removed"]]);
  });

  it('an official sparse encoder saved on its own (no encoder. prefix)', () => {
    const encoderOnly = canonicalState(TINY, { decoder: false, classifier: false });
    const sparse = fromCanonical(encoderOnly, 'official-sparse').tensors;
    const bare = new Map([...sparse].map(([n, t]) => [n.replace(/^encoder\./, ''), t]));
    const load = toCanonical(bare);
    expect([load.scheme, load.report.loaded.length, load.report.unexpected, load.report.misShaped]).toEqual(['official-sparse', encoderOnly.size, [], []]);
    for (const [name, t] of encoderOnly) expectAllClose(load.tensors.get(name)!.data, t.data, { atol: 0, rtol: 0, label: name });
  });

  it('names of another network are refused with a specific error', () => {
    const e = (() => {
      try {
        detectScheme(['conv1.weight', 'bn1.running_mean', 'fc.weight'], 'resnet50.pth');
      } catch (err) {
        return err as CheckpointError;
      }
      return null;
    })();
    expect(e).toBeInstanceOf(CheckpointError);
    expect(e!.message).toBe('resnet50.pth: the tensor names match no ConvNeXt V2 scheme (official, timm, Hugging Face); first names: conv1.weight, bn1.running_mean, fc.weight');
  });
});

describe('writing: canonical → scheme → canonical', () => {
  const cls = canonicalState(TINY, { decoder: true, classifier: true });
  for (const s of ['canonical', 'official-dense', 'official-sparse', 'timm', 'huggingface'] as NameScheme[]) {
    it(`${s}: identical values, decoder skipped only where the scheme has none`, () => {
      const written = fromCanonical(cls, s, { timmConvMlp: true });
      const hasDecoder = s !== 'timm' && s !== 'huggingface';
      expect(written.skipped.length).toBe(hasDecoder ? 0 : canonicalEntries(TINY, { decoder: true, classifier: false }).filter((e) => e.part === 'decoder').length);
      expect(detectScheme(written.tensors.keys())).toBe(s);
      const back = toCanonical(written.tensors);
      expect([back.report.missing, back.report.unexpected, back.report.misShaped]).toEqual([[], [], []]);
      for (const [name, t] of cls) {
        if (!hasDecoder && written.skipped.includes(name)) continue;
        expectAllClose(back.tensors.get(name)!.data, t.data, { atol: 0, rtol: 0, label: `${s}: ${name}` });
      }
    });
  }

  it('scheme names of representative tensors', () => {
    const n = 'encoder.stages.2.1.grn.gamma';
    expect(['official-dense', 'official-sparse', 'timm', 'huggingface'].map((s) => schemeName(n, s as NameScheme))).toEqual([
      'stages.2.1.grn.gamma',
      'encoder.stages.2.1.grn.gamma',
      'stages.2.blocks.1.mlp.grn.weight',
      'convnextv2.encoder.stages.2.layers.1.grn.weight',
    ]);
    expect(schemeName('encoder.downsample_layers.2.1.weight', 'official-sparse')).toBe('encoder.downsample_layers.2.1.kernel');
    expect(schemeName('encoder.downsample_layers.2.0.bias', 'official-sparse')).toBe('encoder.downsample_layers.2.0.ln.bias');
    expect(schemeName('encoder.stages.0.0.pwconv2.weight', 'official-sparse')).toBe('encoder.stages.0.0.pwconv2.linear.weight');
    expect(schemeName('head.weight', 'timm')).toBe('head.fc.weight');
    expect(schemeName('norm.bias', 'huggingface')).toBe('convnextv2.layernorm.bias');
    expect(schemeName('pred.weight', 'timm')).toBeNull();
  });
});
