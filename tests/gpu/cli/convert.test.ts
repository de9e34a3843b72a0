// The `convert` command: native → official-sparse → native keeps every weight bit for bit;
// official-dense and timm outputs read back through openCheckpoint with the encoder's exact
// values; what a format cannot hold is reported; bad options and files are refused.
// (No GPU is involved, but the command runs through the real CLI like the other commands.)
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openCheckpoint } from '../../../src/io/checkpoint.ts';
import { readNativeCheckpoint, writeNativeCheckpoint, type NativeCheckpointInput } from '../../../src/io/native-checkpoint.ts';
import { readTorchCheckpoint } from '../../../src/io/pytorch.ts';
import { customConfig, DEFAULT_STEP_OPTIONS } from '../../../src/model/config.ts';
import { initialParams, paramTable } from '../../../src/model/parameters.ts';
import { stateDictFromFlat, type StateDict } from '../../../src/model/state-dict.ts';
import { ADAMW_DEFAULTS } from '../../../src/ops/adamw.ts';
import { Random } from '../../../src/util/random.ts';
import { expectAllClose } from '../../helpers/allclose.ts';
import { runCli } from '../../helpers/cli.ts';

const config = customConfig([1, 2, 1, 1], [8, 16, 24, 32], 16, 2);
const table = paramTable(config);
let root = '';
let nativePath = '';
let source: NativeCheckpointInput;

/** Every tensor of `expected` is in `actual` with the same shape and bit-identical values. */
function expectSameTensors(actual: StateDict, expected: StateDict, label: string): void {
  const missing = [...expected.keys()].filter((n) => !actual.has(n));
  expect(missing, `${label}: missing`).toEqual([]);
  for (const [name, t] of expected) {
    const a = actual.get(name)!;
    expect(a.shape, `${label} ${name}`).toEqual(t.shape);
    // exact: every format stores float32 and the layout permutations are exact
    expectAllClose(a.data, t.data, { atol: 0, rtol: 0, label: `${label} ${name}`, shape: t.shape });
  }
}

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'fcmae-convert-'));
  const rng = new Random(5);
  source = {
    config,
    options: { ...DEFAULT_STEP_OPTIONS, grnMode: 'batch' },
    training: { inputSize: 96, batchSize: 4, maskRatio: 0.6, visiblePatches: 3, blr: 1e-3, warmupSteps: 2, totalSteps: 40, seed: 9 },
    step: 17,
    data: { source: '/data/x', imageCount: 33 },
    params: stateDictFromFlat(table, initialParams(table, rng)),
    adamw: { step: 17, settings: { ...ADAMW_DEFAULTS }, m: stateDictFromFlat(table, rng.uniformArray(table.totalFloats)), v: stateDictFromFlat(table, rng.uniformArray(table.totalFloats, 0, 1)) },
  };
  nativePath = join(root, 'run.safetensors');
  writeFileSync(nativePath, writeNativeCheckpoint(source));
});

const encoderOf = (sd: StateDict): StateDict => new Map([...sd].filter(([n]) => n.startsWith('encoder.')));

afterAll(() => {
  if (root) rmSync(root, { recursive: true, force: true });
});

describe('fcmae convert', () => {
  it('native → official-sparse → native keeps every weight exactly', () => {
    const pth = join(root, 'official_sparse.pth');
    const r1 = runCli(['convert', '--in', nativePath, '--out', pth, '--format', 'official-sparse']);
    expect(r1.code, r1.stderr).toBe(0);
    expect(r1.stdout).toContain('dropped: AdamW state');
    expect(r1.stdout).toMatch(new RegExp(`^${table.specs.length} tensors written to .*official_sparse\\.pth \\(official-sparse, PyTorch zip\\)$`, 'm'));
    const torch = readTorchCheckpoint(new Uint8Array(readFileSync(pth)), 'official_sparse.pth');
    expect(torch.stateDictKey).toBe('model');
    expect(torch.extra.epoch).toBe(17);
    expect(torch.stateDict.get('encoder.stages.1.1.dwconv.kernel')?.shape).toEqual([49, 16]);
    expect(torch.stateDict.get('encoder.downsample_layers.2.1.kernel')?.shape).toEqual([4, 16, 24]);
    expect(torch.stateDict.get('encoder.stages.0.0.pwconv1.linear.weight')?.shape).toEqual([32, 8]);
    expect(torch.stateDict.get('decoder.1.dwconv.weight')?.shape).toEqual([16, 1, 7, 7]);

    const back = join(root, 'back.safetensors');
    const r2 = runCli(['convert', '--in', pth, '--out', back, '--format', 'native']);
    expect(r2.code, r2.stderr).toBe(0);
    expect(r2.stderr).toContain('official-sparse names');
    expect(r2.stdout).toContain("no training settings in the source: the train command's defaults are recorded");
    const native = readNativeCheckpoint(new Uint8Array(readFileSync(back)), 'back.safetensors');
    expectSameTensors(native.params, source.params, 'round trip');
    expect(native.params.size).toBe(source.params.size);
    expect(native.config).toMatchObject({ depths: [1, 2, 1, 1], dims: [8, 16, 24, 32], decoderDim: 16, decoderDepth: 2 });
    expect(native.step).toBe(0);
    expect(native.adamw).toBeNull();
    expect(native.data.source).toMatch(/converted from official_sparse\.pth \(official-sparse, epoch 17\)/);
  });

  it('native → native keeps settings and AdamW state (byte-identical file)', () => {
    const out = join(root, 'copy.safetensors');
    const r = runCli(['convert', '--in', nativePath, '--out', out, '--format', 'native']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('step 17, settings and AdamW state kept');
    expect(Buffer.compare(readFileSync(out), readFileSync(nativePath))).toBe(0);
  });

  it('official-dense and timm outputs read back through openCheckpoint; the decoder is reported dropped', () => {
    const dense = join(root, 'dense.pth');
    const r1 = runCli(['convert', '--in', nativePath, '--out', dense, '--format', 'official-dense']);
    expect(r1.code, r1.stderr).toBe(0);
    const decoderCount = table.specs.filter((s) => !s.name.startsWith('encoder.')).length;
    expect(r1.stdout).toMatch(new RegExp(`dropped: decoder \\(${decoderCount} tensors: proj\\.weight, .*\\): official-dense holds the encoder only`));
    const d = openCheckpoint(new Uint8Array(readFileSync(dense)), 'dense.pth');
    expect(d.scheme).toBe('official-dense');
    expect(d.report.decoderInFile).toBe(false);
    expect(d.report.unexpected).toEqual([]);
    expect(d.report.missing).toEqual([]);
    expect(d.original.has('stages.1.1.dwconv.weight')).toBe(true);
    expectSameTensors(d.tensors, encoderOf(source.params), 'official-dense');

    // back to native: the absent decoder is initialised at the size the flags choose
    const fromDense = join(root, 'from-dense.safetensors');
    const r3 = runCli(['convert', '--in', dense, '--out', fromDense, '--format', 'native', '--decoder-dim', '8', '--decoder-depth', '0']);
    expect(r3.code, r3.stderr).toBe(0);
    expect(r3.stdout).toContain('decoder not in dense.pth: initialised with seed 0 (0×8');
    const n = readNativeCheckpoint(new Uint8Array(readFileSync(fromDense)));
    expect(n.config).toMatchObject({ decoderDim: 8, decoderDepth: 0 });
    expect(n.params.get('pred.weight')!.shape).toEqual([3072, 8, 1, 1]);
    expectSameTensors(encoderOf(n.params), encoderOf(source.params), 'official-dense → native');

    for (const convMlp of [false, true]) {
      const timm = join(root, `timm-${convMlp}.safetensors`);
      const r2 = runCli(['convert', '--in', nativePath, '--out', timm, '--format', 'timm', '--timm-conv-mlp', String(convMlp)]);
      expect(r2.code, r2.stderr).toBe(0);
      expect(r2.stdout).toMatch(/dropped: decoder/);
      expect(r2.stdout).toMatch(/no head\.norm/);
      const t = openCheckpoint(new Uint8Array(readFileSync(timm)), 'timm.safetensors');
      expect(t.scheme).toBe('timm');
      expect(t.report.unexpected).toEqual([]);
      expect(t.report.missing).toEqual([]);
      expect(t.original.get('stages.0.blocks.0.mlp.fc1.weight')?.shape).toEqual(convMlp ? [32, 8, 1, 1] : [32, 8]);
      expect(t.original.get('stages.0.blocks.0.mlp.grn.weight')?.shape).toEqual([32]);
      expectSameTensors(t.tensors, encoderOf(source.params), `timm conv-mlp ${convMlp}`);
    }
  });

  it('refuses bad options and files', () => {
    const junk = join(root, 'junk.pth');
    writeFileSync(junk, 'definitely not a checkpoint');
    const out = join(root, 'o.safetensors');
    const cases: [string[], number, RegExp][] = [
      [['convert', '--in', nativePath, '--out', out, '--format', 'onnx'], 2, /--format onnx: expected one of native, official-sparse, official-dense, timm/],
      [['convert', '--in', nativePath, '--out', out], 2, /--format is required/],
      [['convert', '--in', join(root, 'absent.pth'), '--out', out, '--format', 'native'], 2, /--in .*absent\.pth: ENOENT/],
      [['convert', '--in', nativePath, '--format', 'native'], 2, /--out is required/],
      [['convert', '--in', nativePath, '--out', out, '--format', 'native', '--decoder-dim', '8'], 2, /--decoder-dim: run\.safetensors has its own decoder \(2×16\)/],
      [['convert', '--in', junk, '--out', out, '--format', 'timm'], 1, /^fcmae convert: junk\.pth: /],
    ];
    for (const [args, code, want] of cases) {
      const r = runCli(args);
      expect(r.code, `${args.join(' ')}\n${r.stderr}`).toBe(code);
      expect(r.stderr.trim().split('\n').pop(), args.join(' ')).toMatch(want);
    }
  });
});
