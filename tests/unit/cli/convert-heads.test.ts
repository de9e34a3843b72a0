// `convert` exports with the head, checked against what the real libraries expect without
// running them: tests/fixtures/export/ (tests/reference/gen_export_fixtures.py) holds a small
// random timm ConvNeXt V2 with a 5-class head and the exact state-dict keys and shapes of
// transformers' ConvNextV2Model / ConvNextV2ForImageClassification, timm's ConvNeXt and the
// official models/convnextv2.py for that configuration, plus the config.json save_pretrained
// writes. Each export must match its library's list exactly (nothing missing, nothing extra)
// and read back to the source's values bit for bit. When the reference venv is present, the
// last test loads the exports into the libraries themselves (scripts/check-exports.py).
// No GPU: convert only moves tensors, but it runs through the real CLI like the other commands.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openCheckpoint } from '../../../src/io/checkpoint.ts';
import { writeNativeCheckpoint } from '../../../src/io/native-checkpoint.ts';
import { readTorchCheckpoint } from '../../../src/io/pytorch.ts';
import { parseSafetensors, writeSafetensors } from '../../../src/io/safetensors.ts';
import type { NamedTensor } from '../../../src/io/name-schemes.ts';
import { customConfig, DEFAULT_STEP_OPTIONS } from '../../../src/model/config.ts';
import { initialParams, paramTable } from '../../../src/model/parameters.ts';
import { stateDictFromFlat } from '../../../src/model/state-dict.ts';
import { cliDefaultRunConfig, trainingSettingsOf } from '../../../src/train/run-config.ts';
import { Random } from '../../../src/util/random.ts';
import { expectAllClose } from '../../helpers/allclose.ts';
import { ROOT, runCli } from '../../helpers/cli.ts';
import { FIXTURE_DIR } from '../../helpers/fixtures.ts';

const EXPORT_DIR = join(FIXTURE_DIR, 'export');
const SOURCE = join(EXPORT_DIR, 'timm_head.safetensors');
type KeyList = [string, number[]][];
interface Manifest {
  config: { depths: number[]; dims: number[]; num_classes: number };
  keys: Record<'hf_model' | 'hf_classifier' | 'timm_head' | 'timm_head_conv_mlp' | 'timm_encoder' | 'timm_no_grn_head' | 'official_dense_head', KeyList>;
  hf_config: Record<'hf_model' | 'hf_classifier', Record<string, unknown>>;
}
const manifest = JSON.parse(readFileSync(join(EXPORT_DIR, 'manifest.json'), 'utf8')) as Manifest;
const K = manifest.config.num_classes;
/** The reference venv's Python (torch, timm, transformers); the library test is skipped without it. */
const PYTHON = process.env.FCMAE_REFERENCE_PYTHON ?? '/work/.refvenv/bin/python';

let root = '';
const path = (name: string): string => join(root, name);

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'fcmae-convert-heads-'));
  // An FCMAE encoder in the official pretraining layout, from the source (its head dropped).
  const r = runCli(['convert', '--in', SOURCE, '--out', path('fcmae_sparse.pth'), '--format', 'official-sparse']);
  if (r.code !== 0) throw new Error(`convert to official-sparse failed:\n${r.stderr}`);
  if (!r.stdout.includes('dropped: classification head (norm.weight, norm.bias, head.weight, head.bias)')) throw new Error(`official-sparse did not report the head dropped:\n${r.stdout}`);
}, 60_000);
afterAll(() => {
  if (root) rmSync(root, { recursive: true, force: true });
});

/** Runs `convert` and fails with its stderr when it does not exit 0. */
function convert(args: string[]): { stdout: string; stderr: string } {
  const r = runCli(['convert', ...args]);
  expect(r.code, `convert ${args.join(' ')}\n${r.stderr}`).toBe(0);
  return r;
}

/** A file's [name, shape] list, sorted (safetensors stores names sorted; the libraries list module order). */
function keysOf(tensors: ReadonlyMap<string, { shape: number[] }>): KeyList {
  return [...tensors].map(([n, t]): [string, number[]] => [n, [...t.shape]]).sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
}

/** Exactly the library's keys and shapes: the failure names what is missing, extra or mis-shaped. */
function expectSameKeys(actual: KeyList, expected: KeyList, label: string): void {
  const want = new Map(expected.map(([n, s]) => [n, s.join('x')]));
  const got = new Map(actual.map(([n, s]) => [n, s.join('x')]));
  expect([...want.keys()].filter((n) => !got.has(n)), `${label}: missing`).toEqual([]);
  expect([...got.keys()].filter((n) => !want.has(n)), `${label}: unexpected`).toEqual([]);
  expect([...want].filter(([n, s]) => got.get(n) !== s).map(([n, s]) => `${n}: ${got.get(n)} vs ${s}`), `${label}: mis-shaped`).toEqual([]);
}

function readSafetensors(file: string): { tensors: Map<string, NamedTensor>; metadata: Record<string, string> } {
  const f = parseSafetensors(new Uint8Array(readFileSync(file)), { source: file });
  return { tensors: new Map([...f.tensors].map(([n, t]) => [n, { shape: t.shape, data: t.data }])), metadata: f.metadata };
}

/** Canonical tensors of any checkpoint, through the project's reader. */
const canonicalOf = (file: string) => openCheckpoint(new Uint8Array(readFileSync(file)), file);

/** Every tensor of `expected` is in `actual` under the same canonical name, bit for bit. */
function expectSameValues(actual: ReadonlyMap<string, NamedTensor>, expected: ReadonlyMap<string, NamedTensor>, label: string, names?: string[]): void {
  for (const name of names ?? [...expected.keys()]) {
    const a = actual.get(name);
    expect(a, `${label}: ${name} missing`).toBeDefined();
    const e = expected.get(name)!;
    expectAllClose(a!.data, e.data, { atol: 0, rtol: 0, label: `${label} ${name}`, shape: e.shape });
  }
}

/** The source with some tensors left out, as a timm safetensors file. */
function sourceWithout(drop: RegExp, name: string): string {
  const { tensors } = readSafetensors(SOURCE);
  const file = path(name);
  writeFileSync(file, writeSafetensors(new Map([...tensors].filter(([n]) => !drop.test(n))), { format: 'pt' }));
  return file;
}

const source = () => canonicalOf(SOURCE);
const encoderNames = (m: ReadonlyMap<string, NamedTensor>) => [...m.keys()].filter((n) => n.startsWith('encoder.'));

describe('fcmae convert: exports with the head', { timeout: 120_000 }, () => {
  it('timm with a head → hf: ConvNextV2ForImageClassification keys exactly transformers\', config.json as save_pretrained, values bit-exact', () => {
    const dir = path('hf');
    const r = convert(['--in', SOURCE, '--out', dir, '--format', 'hf']);
    expect(r.stdout).toContain(`head: ConvNextV2ForImageClassification, ${K} classes (LABEL_0, LABEL_1, LABEL_2, LABEL_3, LABEL_4; --labels names them)`);
    expect(r.stdout).toContain('layer_norm_eps 1e-6');
    expect(r.stdout).toMatch(/^70 tensors written to .*hf\/model\.safetensors and .*hf\/config\.json \(hf, ConvNextV2ForImageClassification, safetensors\)$/m);
    expect(r.stdout).not.toContain('initialised');

    const { tensors, metadata } = readSafetensors(join(dir, 'model.safetensors'));
    expect(metadata).toEqual({ format: 'pt' }); // transformers refuses safetensors without format=pt
    expectSameKeys(keysOf(tensors), manifest.keys.hf_classifier, 'hf classifier');

    const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
    const library = manifest.hf_config.hf_classifier;
    for (const field of ['architectures', 'model_type', 'depths', 'hidden_sizes', 'num_channels', 'patch_size', 'num_stages', 'hidden_act', 'layer_norm_eps', 'drop_path_rate', 'image_size', 'id2label', 'label2id']) {
      expect(config[field], `config.json ${field}`).toEqual(library[field]);
    }
    expect(config.layer_norm_eps).toBe(1e-6);
    expect(config.architectures).toEqual(['ConvNextV2ForImageClassification']);

    // back through the project's reader: every tensor, head included, bit for bit
    const back = canonicalOf(join(dir, 'model.safetensors'));
    expect(back.scheme).toBe('huggingface');
    expect(back.report.unexpected).toEqual([]);
    expect(back.report.missing).toEqual([]);
    expect(back.config.numClasses).toBe(K);
    const src = source();
    expect(back.tensors.size).toBe(src.tensors.size);
    expectSameValues(back.tensors, src.tensors, 'hf → canonical');
  });

  it('--labels names the classes in id2label / label2id', () => {
    const dir = path('hf-labels');
    const r = convert(['--in', SOURCE, '--out', dir, '--format', 'hf', '--labels', 'cat, dog,fish,bird,frog']);
    expect(r.stdout).toContain('head: ConvNextV2ForImageClassification, 5 classes (cat, dog, fish, bird, frog)');
    const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as { id2label: Record<string, string>; label2id: Record<string, number> };
    expect(config.id2label).toEqual({ 0: 'cat', 1: 'dog', 2: 'fish', 3: 'bird', 4: 'frog' });
    expect(config.label2id).toEqual({ cat: 0, dog: 1, fish: 2, bird: 3, frog: 4 });
  });

  it('an FCMAE encoder (official sparse, native) → hf: ConvNextV2Model keys plus the final norm initialised to 1 / 0, and the output says so', () => {
    const sparse = path('fcmae_sparse.pth');
    const dir = path('hf-encoder');
    const r = convert(['--in', sparse, '--out', dir, '--format', 'hf']);
    expect(r.stdout).toContain('no head in fcmae_sparse.pth: ConvNextV2Model');
    expect(r.stdout).toContain('initialised: layernorm.weight = 1, layernorm.bias = 0 (the source has no final LayerNorm, as FCMAE encoders never do; the official fine-tuning starts it so)');
    expect(r.stdout).toMatch(/^68 tensors written to .* \(hf, ConvNextV2Model, safetensors\)$/m);
    const { tensors } = readSafetensors(join(dir, 'model.safetensors'));
    expectSameKeys(keysOf(tensors), manifest.keys.hf_model, 'hf model');
    expect([...tensors.keys()].some((n) => n.startsWith('convnextv2.'))).toBe(false);
    expect([...tensors.get('layernorm.weight')!.data].every((v) => v === 1)).toBe(true);
    expect([...tensors.get('layernorm.bias')!.data].every((v) => v === 0)).toBe(true);
    const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
    for (const field of ['architectures', 'model_type', 'depths', 'hidden_sizes', 'num_channels', 'patch_size', 'num_stages', 'hidden_act', 'layer_norm_eps', 'drop_path_rate', 'image_size']) {
      expect(config[field], `config.json ${field}`).toEqual(manifest.hf_config.hf_model[field]);
    }
    expect(config).not.toHaveProperty('id2label');

    // the encoder (through the sparse layout and back) equals the source's, bit for bit
    const back = canonicalOf(join(dir, 'model.safetensors'));
    expect(back.scheme).toBe('huggingface');
    expect(back.report.missing).toEqual([]);
    const src = source();
    expectSameValues(back.tensors, src.tensors, 'hf encoder → canonical', encoderNames(src.tensors));

    // a native FCMAE checkpoint: the decoder is reported dropped, the keys are the same
    const config2 = customConfig(manifest.config.depths, manifest.config.dims, 16, 1);
    const table = paramTable(config2);
    const native = path('native.safetensors');
    writeFileSync(
      native,
      writeNativeCheckpoint({
        config: config2,
        options: DEFAULT_STEP_OPTIONS,
        training: trainingSettingsOf(cliDefaultRunConfig()),
        step: 3,
        data: { source: 'test', imageCount: 0 },
        params: stateDictFromFlat(table, initialParams(table, new Random(3))),
      }),
    );
    const r2 = convert(['--in', native, '--out', path('hf-native'), '--format', 'hf']);
    expect(r2.stdout).toMatch(/dropped: decoder \(\d+ tensors: proj\.weight, .*\): hf holds the encoder only/);
    expect(r2.stdout).toContain('initialised: layernorm.weight = 1, layernorm.bias = 0');
    expectSameKeys(keysOf(readSafetensors(join(path('hf-native'), 'model.safetensors')).tensors), manifest.keys.hf_model, 'hf model from native');
  });

  it('timm with a head → timm: keys exactly timm\'s ConvNeXt (Linear and 1×1-conv mlp), loadable with strict=True; head bit-exact', () => {
    const src = source();
    for (const convMlp of [false, true]) {
      const out = path(`timm-${convMlp}.safetensors`);
      const r = convert(['--in', SOURCE, '--out', out, '--format', 'timm', '--timm-conv-mlp', String(convMlp)]);
      expect(r.stdout).toContain(
        `head written: head.norm + head.fc, ${K} classes; timm.models.convnext.ConvNeXt(depths=(1, 1, 2, 1), dims=(8, 16, 24, 32), use_grn=True, ls_init_value=None${convMlp ? ', conv_mlp=True' : ''}, num_classes=${K}) loads it with strict=True`,
      );
      expect(r.stdout).not.toContain('no head.norm');
      const { tensors, metadata } = readSafetensors(out);
      expect(metadata).toEqual({ format: 'pt' });
      expectSameKeys(keysOf(tensors), convMlp ? manifest.keys.timm_head_conv_mlp : manifest.keys.timm_head, `timm conv_mlp=${convMlp}`);
      expectSameValues(canonicalOf(out).tensors, src.tensors, `timm conv_mlp=${convMlp} → canonical`);
    }
    // the Linear export is the source file itself, byte for byte
    expect(Buffer.compare(readFileSync(path('timm-false.safetensors')), readFileSync(SOURCE))).toBe(0);
  });

  it('timm with a head → official-dense keeps norm.* and head.*: keys exactly the official ConvNeXtV2\'s, {\'model\', \'epoch\'} as main_finetune.py saves', () => {
    const out = path('dense.pth');
    const r = convert(['--in', SOURCE, '--out', out, '--format', 'official-dense']);
    expect(r.stdout).toContain(`head written: norm + head, ${K} classes; {'model': state dict, 'epoch': 0}`);
    expect(r.stdout).not.toContain('dropped');
    const torch = readTorchCheckpoint(new Uint8Array(readFileSync(out)), 'dense.pth');
    expect(torch.stateDictKey).toBe('model');
    expect(torch.topLevelKeys).toEqual(['model', 'epoch']);
    expect(torch.extra).toEqual({ epoch: 0 });
    expectSameKeys(keysOf(torch.stateDict), manifest.keys.official_dense_head, 'official dense');
    expectSameValues(canonicalOf(out).tensors, source().tensors, 'official-dense → canonical');

    // an encoder without head: the same file without norm/head, and the output says so
    const r2 = convert(['--in', path('fcmae_sparse.pth'), '--out', path('dense-encoder.pth'), '--format', 'official-dense']);
    expect(r2.stdout).toContain("no head in fcmae_sparse.pth: encoder only, as the released *_fcmae.pt; {'model': state dict, 'epoch': 0}");
    const enc = readTorchCheckpoint(new Uint8Array(readFileSync(path('dense-encoder.pth'))), 'dense-encoder.pth');
    expectSameKeys(keysOf(enc.stateDict), manifest.keys.official_dense_head.filter(([n]) => !/^(norm|head)\./.test(n)), 'official dense encoder');
  });

  it('a final norm without a classifier (timm num_classes=0) is kept: timm strict keys, hf layernorm from the file', () => {
    const headless = sourceWithout(/^head\.fc\./, 'timm_num_classes_0.safetensors');
    const r = convert(['--in', headless, '--out', path('timm-nc0.safetensors'), '--format', 'timm']);
    expect(r.stderr).toContain('final norm without a classifier (head.norm.weight, head.norm.bias): read as norm.*');
    expect(r.stderr).not.toMatch(/unexpected|not converted/);
    expect(r.stdout).toContain('head.norm written, no classifier: timm.models.convnext.ConvNeXt(depths=(1, 1, 2, 1), dims=(8, 16, 24, 32), use_grn=True, ls_init_value=None, num_classes=0) loads it with strict=True');
    expectSameKeys(keysOf(readSafetensors(path('timm-nc0.safetensors')).tensors), manifest.keys.timm_encoder, 'timm num_classes=0');

    const dir = path('hf-nc0');
    const r2 = convert(['--in', headless, '--out', dir, '--format', 'hf']);
    expect(r2.stdout).toContain('final LayerNorm (layernorm.*) from head.norm.weight, head.norm.bias');
    expect(r2.stdout).not.toContain('initialised');
    const { tensors } = readSafetensors(join(dir, 'model.safetensors'));
    expectSameKeys(keysOf(tensors), manifest.keys.hf_model, 'hf model from num_classes=0');
    const src = readSafetensors(SOURCE).tensors;
    expectAllClose(tensors.get('layernorm.weight')!.data, src.get('head.norm.weight')!.data, { atol: 0, rtol: 0, label: 'layernorm.weight' });
    expectAllClose(tensors.get('layernorm.bias')!.data, src.get('head.norm.bias')!.data, { atol: 0, rtol: 0, label: 'layernorm.bias' });
  });

  it('a no-GRN encoder: hf gets GRN weight = bias = 0 (the identity, said so), timm the no-GRN ConvNeXt keys', () => {
    const noGrn = sourceWithout(/\.mlp\.grn\./, 'timm_no_grn.safetensors');
    const r = convert(['--in', noGrn, '--out', path('hf-no-grn'), '--format', 'hf']);
    expect(r.stdout).toContain('initialised: 10 grn.weight / grn.bias tensors = 0 (the encoder has no GRN; HF always has it, and GRN with weight = bias = 0 is exactly the identity)');
    const { tensors } = readSafetensors(join(path('hf-no-grn'), 'model.safetensors'));
    expectSameKeys(keysOf(tensors), manifest.keys.hf_classifier, 'hf from no-GRN');
    for (const [n, t] of tensors) if (n.includes('.grn.')) expect([...t.data].every((v) => v === 0), n).toBe(true);

    const r2 = convert(['--in', noGrn, '--out', path('timm-no-grn.safetensors'), '--format', 'timm']);
    expect(r2.stdout).toContain('use_grn=False, ls_init_value=None, num_classes=5) loads it with strict=True');
    expectSameKeys(keysOf(readSafetensors(path('timm-no-grn.safetensors')).tensors), manifest.keys.timm_no_grn_head, 'timm no-GRN');
  });

  it('an hf folder reads back as --in: hf → timm gives the source file byte for byte', () => {
    const dir = path('hf-there');
    convert(['--in', SOURCE, '--out', dir, '--format', 'hf']);
    const out = path('hf-back.safetensors');
    const r = convert(['--in', dir, '--out', out, '--format', 'timm']);
    expect(r.stderr).toContain('model.safetensors: huggingface names');
    expect(Buffer.compare(readFileSync(out), readFileSync(SOURCE))).toBe(0);
  });

  it('refuses bad input with a specific message', () => {
    const file = path('a-file');
    writeFileSync(file, 'x');
    const emptyDir = path('empty-dir');
    mkdirSync(emptyDir, { recursive: true });
    const incomplete = sourceWithout(/^stages\.2\.blocks\.1\.conv_dw\.weight$/, 'timm_incomplete.safetensors');
    const cases: [string[], number, RegExp][] = [
      [['--in', SOURCE, '--out', file, '--format', 'hf'], 2, /--out .*a-file is an existing file; --format hf writes a folder \(config\.json \+ model\.safetensors\)/],
      [['--in', SOURCE, '--out', path('x'), '--format', 'hf', '--labels', 'a,b,c'], 2, /--labels: 3 names for a head of 5 classes: give exactly 5, in class-index order$/],
      [['--in', SOURCE, '--out', path('x'), '--format', 'hf', '--labels', 'a,b,a,c,d'], 2, /--labels: 'a' names classes 0 and 2: label2id needs distinct names$/],
      [['--in', SOURCE, '--out', path('x'), '--format', 'hf', '--labels', 'a,,b,c,d'], 2, /--labels: name 1 is empty$/],
      [['--in', path('fcmae_sparse.pth'), '--out', path('x'), '--format', 'hf', '--labels', 'a,b'], 2, /--labels: fcmae_sparse\.pth has no classification head/],
      [['--in', SOURCE, '--out', path('x.safetensors'), '--format', 'timm', '--labels', 'a,b,c,d,e'], 2, /--labels is for --format hf \(config\.json\); timm files have no place for it$/],
      [['--in', SOURCE, '--out', path('x'), '--format', 'hf', '--image-size', '16'], 2, /--image-size 16: must be ≥ 32$/],
      [['--in', emptyDir, '--out', path('x'), '--format', 'hf'], 2, /--in .*empty-dir is a folder without model\.safetensors or pytorch_model\.bin/],
      [['--in', incomplete, '--out', path('x'), '--format', 'hf'], 1, /timm_incomplete\.safetensors: cannot convert an incomplete model: missing encoder\.stages\.2\.1\.dwconv\.weight$/],
    ];
    for (const [args, code, want] of cases) {
      const r = runCli(['convert', ...args]);
      expect(r.code, `${args.join(' ')}\n${r.stderr}`).toBe(code);
      expect(r.stderr.trim().split('\n').pop(), args.join(' ')).toMatch(want);
    }
    expect(existsSync(path('x'))).toBe(false);
  });

  // The real libraries, when this machine has them (CI without Python skips this).
  it.skipIf(!existsSync(PYTHON))('loads into transformers, timm and the official layout with the source logits (scripts/check-exports.py)', () => {
    // its own exports (the tests above may have been filtered out)
    const exports: [string, string, string, string[]][] = [
      ['--hf', 'py-hf', SOURCE, ['--format', 'hf']],
      ['--hf', 'py-hf-labels', SOURCE, ['--format', 'hf', '--labels', 'a,b,c,d,e']],
      ['--hf', 'py-hf-encoder', path('fcmae_sparse.pth'), ['--format', 'hf']],
      ['--hf', 'py-hf-nc0', sourceWithout(/^head\.fc\./, 'py_timm_nc0.safetensors'), ['--format', 'hf']],
      ['--timm', 'py-timm.safetensors', SOURCE, ['--format', 'timm']],
      ['--timm', 'py-timm-conv.safetensors', SOURCE, ['--format', 'timm', '--timm-conv-mlp', 'true']],
      ['--timm', 'py-timm-nc0.safetensors', path('py_timm_nc0.safetensors'), ['--format', 'timm']],
      ['--timm', 'py-timm-encoder.safetensors', path('fcmae_sparse.pth'), ['--format', 'timm']],
      ['--official-dense', 'py-dense.pth', SOURCE, ['--format', 'official-dense']],
      ['--official-dense', 'py-dense-encoder.pth', path('fcmae_sparse.pth'), ['--format', 'official-dense']],
    ];
    const args: string[] = [];
    for (const [flag, out, input, format] of exports) {
      convert(['--in', input, '--out', path(out), ...format]);
      args.push(flag, path(out));
    }
    const r = spawnSync(
      PYTHON,
      [
        join(ROOT, 'scripts/check-exports.py'),
        '--source', SOURCE,
        '--batch', join(EXPORT_DIR, 'batch.safetensors'),
        ...args,
        // the official models/convnextv2.py too, given a checkout of facebookresearch/ConvNeXt-V2
        ...(process.env.FCMAE_OFFICIAL_REPO ? ['--official', process.env.FCMAE_OFFICIAL_REPO] : []),
      ],
      { encoding: 'utf8', timeout: 110_000 },
    );
    expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(0);
    expect(r.stdout).toContain('all checks passed');
    expect(r.stdout).not.toContain('FAIL');
  });
});
