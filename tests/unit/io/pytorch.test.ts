// PyTorch checkpoints: real torch.save files (zip and legacy, every scheme and dtype, views)
// read with the exact values PyTorch wrote; files we write are byte-compared with the ones
// PyTorch verified (tests/reference/gen_torch_checkpoints.py --verify); bad files of every kind
// are refused with a specific error.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { canonicalEntries, fromCanonical, toCanonical, type CheckpointModelConfig, type NameScheme, type NamedTensor } from '../../../src/io/name-schemes.ts';
import { UnsafePickleError } from '../../../src/io/pickle-reader.ts';
import { PickleWriter, TensorWrite } from '../../../src/io/pickle-writer.ts';
import {
  CheckpointError,
  detectCheckpointFormat,
  float32ToBfloat16Bits,
  float32ToFloat16Bits,
  readTorchCheckpoint,
  writeTorchCheckpoint,
  type TorchExtra,
} from '../../../src/io/pytorch.ts';
import { crc32, readZip, writeZip } from '../../../src/io/zip.ts';
import { expectAllClose } from '../../helpers/allclose.ts';
import { FIXTURE_DIR } from '../../helpers/fixtures.ts';

const DIR = join(FIXTURE_DIR, 'io/torch');
interface ManifestTensor {
  shape: number[];
  dtype: string;
  checksum: number;
}
interface ManifestFile {
  scheme: NameScheme | null;
  stateDictKey: string | null;
  topLevelKeys: string[];
  tensors: Record<string, ManifestTensor>;
  extra?: Record<string, unknown>;
  strides?: Record<string, number[]>;
}
const manifest = JSON.parse(readFileSync(join(DIR, 'manifest.json'), 'utf8')) as {
  config: { depths: number[]; dims: number[]; decoder_depth: number; decoder_dim: number; num_classes: number };
  files: Record<string, ManifestFile>;
  values: Record<string, Record<string, { shape: number[]; dtype: string; data: number[] }>>;
  roundings: { float32Bits: number[]; float16Bits: number[]; bfloat16Bits: number[] };
};
const CONFIG: CheckpointModelConfig = {
  depths: manifest.config.depths,
  dims: manifest.config.dims,
  decoderDepth: manifest.config.decoder_depth,
  decoderDim: manifest.config.decoder_dim,
  numClasses: manifest.config.num_classes,
};

const load = (name: string): Uint8Array => new Uint8Array(readFileSync(join(DIR, name)));

/** The generator's value formula (see gen_torch_checkpoints.py), exact in float32/16/bf16. */
function formula(name: string, n: number): Float32Array {
  let h = 0;
  for (let j = 0; j < name.length; j++) h += (j + 1) * name.charCodeAt(j);
  h %= 1009;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = (((h * 131 + i * 31) % 257) - 128) / 64;
  return out;
}

function checksum(data: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < data.length; i++) s += data[i]! * ((i % 7) + 1);
  return s;
}

function canonicalState(parts: { decoder: boolean; classifier: boolean }): Map<string, NamedTensor> {
  const m = new Map<string, NamedTensor>();
  for (const e of canonicalEntries(CONFIG, parts)) m.set(e.name, { shape: e.shape, data: formula(e.name, e.shape.reduce((a, b) => a * b, 1)) });
  return m;
}

function refusal(fn: () => unknown): CheckpointError {
  try {
    fn();
  } catch (e) {
    if (e instanceof CheckpointError) return e;
    throw e;
  }
  throw new Error('expected a CheckpointError, nothing was thrown');
}

describe('readTorchCheckpoint: files written by torch.save (PyTorch 1.13)', () => {
  for (const [file, spec] of Object.entries(manifest.files)) {
    it(`${file}: names, shapes, dtypes and values`, () => {
      const ck = readTorchCheckpoint(load(file), file);
      expect(ck.format).toBe(file === 'legacy.pt' ? 'legacy' : 'zip');
      expect(ck.stateDictKey).toBe(spec.stateDictKey);
      if (spec.stateDictKey) expect(ck.topLevelKeys).toEqual(spec.topLevelKeys);
      expect([...ck.stateDict.keys()]).toEqual(Object.keys(spec.tensors));
      for (const [name, want] of Object.entries(spec.tensors)) {
        const t = ck.stateDict.get(name)!;
        expect([name, t.shape, t.dtype]).toEqual([name, want.shape, want.dtype]);
        // The formula's values are multiples of 1/64 and the weights small integers: the
        // checksum is exact in float64 in any summation order, except for the f64/int tensors
        // of dtypes.pt (checked element by element below).
        if (want.dtype === 'float32' || want.dtype === 'float16' || want.dtype === 'bfloat16') {
          expect(checksum(t.data), `checksum of ${name}`).toBe(want.checksum);
        }
      }
      for (const [k, v] of Object.entries(spec.extra ?? {})) expect(ck.extra[k], `extra ${k}`).toEqual(v);
    });
  }

  it('the official pretraining checkpoint keeps optimizer state as tensor summaries', () => {
    const ck = readTorchCheckpoint(load('official_sparse_fcmae.pt'), 'official_sparse_fcmae.pt');
    const opt = ck.extra['optimizer'] as { state: Record<string, Record<string, unknown>>; param_groups: Record<string, unknown>[] };
    expect(Object.keys(opt.state)).toEqual(['1', '5']);
    expect(opt.state['1']!['exp_avg']).toEqual({ tensor: { shape: [4], dtype: 'float32' } });
    expect(opt.param_groups[0]!['betas']).toEqual([0.9, 0.95]);
    expect(opt.param_groups[0]!['weight_decay']).toBe(0.05);
  });

  for (const file of ['dtypes.pt', 'legacy.pt']) {
    it(`${file}: every element of float16/bfloat16/float64/int64/int32 and strided views`, () => {
      const ck = readTorchCheckpoint(load(file), file);
      for (const [name, want] of Object.entries(manifest.values[file]!)) {
        const t = ck.stateDict.get(name)!;
        expect(t.shape).toEqual(want.shape);
        // float64 and large int64 values are rounded to the nearest float32: relative 2^-24.
        const rtol = want.dtype === 'float64' || want.dtype === 'int64' ? 2 ** -24 : 0;
        expectAllClose(t.data, want.data, { atol: 0, rtol, label: `${file}:${name}`, shape: want.shape });
      }
    });
  }

  it('the views in dtypes.pt really are non-contiguous / offset / stride-0 in the file', () => {
    const strides = manifest.files['dtypes.pt']!.strides!;
    expect(strides['transposed']).toEqual([1, 6]);
    expect(strides['sliced']).toEqual([6, 1]);
    expect(strides['expanded']).toEqual([1, 0]);
  });
});

describe('float32 → float16 / bfloat16 rounding matches torch', () => {
  const inputs = manifest.roundings.float32Bits.map((b) => new Float32Array(new Uint32Array([b]).buffer)[0]!);
  it('float16: nearest even, subnormals, overflow to inf', () => {
    expect(inputs.map(float32ToFloat16Bits)).toEqual(manifest.roundings.float16Bits);
  });
  it('bfloat16: nearest even', () => {
    expect(inputs.map(float32ToBfloat16Bits)).toEqual(manifest.roundings.bfloat16Bits);
  });
});

/** Files our writer produced and PyTorch verified (mirrors WRITTEN in gen_torch_checkpoints.py). */
const WRITTEN: {
  file: string;
  scheme: NameScheme;
  parts: { decoder: boolean; classifier: boolean };
  dtype: 'float32' | 'float16' | 'bfloat16';
  key: string | null;
  extras: Record<string, TorchExtra>;
}[] = [
  { file: 'ts_official_sparse.pth', scheme: 'official-sparse', parts: { decoder: true, classifier: false }, dtype: 'float32', key: 'model', extras: { epoch: 5, step: 123, note: 'written by src/io/pytorch.ts' } },
  { file: 'ts_official_dense.pth', scheme: 'official-dense', parts: { decoder: false, classifier: true }, dtype: 'float16', key: 'model', extras: { epoch: 0 } },
  { file: 'ts_timm.pth', scheme: 'timm', parts: { decoder: false, classifier: true }, dtype: 'bfloat16', key: null, extras: {} },
];

describe('writeTorchCheckpoint', () => {
  for (const w of WRITTEN) {
    it(`${w.file}: byte-identical to the file torch.load verified, and reads back`, () => {
      const canonical = canonicalState(w.parts);
      const { tensors } = fromCanonical(canonical, w.scheme, { timmConvMlp: true });
      const bytes = writeTorchCheckpoint(tensors, w.extras, { dtype: w.dtype, stateDictKey: w.key });
      const path = join(DIR, w.file);
      if (process.env['UPDATE_TORCH_FIXTURES'] === '1') writeFileSync(path, bytes);
      // A changed writer must be re-verified by PyTorch:
      //   UPDATE_TORCH_FIXTURES=1 npx vitest run tests/unit/io/pytorch.test.ts
      //   /usr/bin/python3 tests/reference/gen_torch_checkpoints.py --verify
      expect(existsSync(path), `${w.file} is missing: regenerate and verify it (see comment)`).toBe(true);
      expect(crc32(bytes), `${w.file} differs from the PyTorch-verified file`).toBe(crc32(readFileSync(path)));
      expect(bytes.length).toBe(readFileSync(path).length);

      const ck = readTorchCheckpoint(bytes, w.file);
      expect(ck.stateDictKey).toBe(w.key);
      for (const [k, v] of Object.entries(w.extras)) expect(ck.extra[k]).toEqual(v);
      const back = toCanonical(ck.stateDict, { fileName: w.file });
      expect(back.scheme).toBe(w.scheme);
      expect([back.report.missing, back.report.unexpected, back.report.misShaped]).toEqual([[], [], []]);
      for (const [name, t] of canonical) {
        // every formula value is exact in float16 and bfloat16
        expectAllClose(back.tensors.get(name)!.data, t.data, { atol: 0, rtol: 0, label: name, shape: t.shape });
      }
    });
  }

  it('round-trips float32 exactly and rounds float16/bfloat16 like torch', () => {
    const data = Float32Array.from({ length: 24 }, (_, i) => Math.sin(i) * 1000 + 1 / 3);
    const sd = new Map([['w', { shape: [2, 3, 4], data }]]);
    const f32 = readTorchCheckpoint(writeTorchCheckpoint(sd, { epoch: 1 }), 'f32.pth').stateDict.get('w')!;
    expect(f32.shape).toEqual([2, 3, 4]);
    expectAllClose(f32.data, data, { atol: 0, rtol: 0, label: 'float32 round trip' });
    const f16 = readTorchCheckpoint(writeTorchCheckpoint(sd, {}, { dtype: 'float16' }), 'f16.pth').stateDict.get('w')!;
    expect(f16.dtype).toBe('float16');
    // float16 keeps 11 significant bits: relative error ≤ 2^-11 after round-to-nearest.
    expectAllClose(f16.data, data, { atol: 0, rtol: 2 ** -11, label: 'float16 round trip' });
    const bf16 = readTorchCheckpoint(writeTorchCheckpoint(sd, {}, { dtype: 'bfloat16' }), 'bf16.pth').stateDict.get('w')!;
    // bfloat16 keeps 8 significant bits: relative error ≤ 2^-8.
    expectAllClose(bf16.data, data, { atol: 0, rtol: 2 ** -8, label: 'bfloat16 round trip' });
  });

  it("honours a 'big' byteorder record (torch ≥ 2 on big-endian hosts)", () => {
    const data = Float32Array.from({ length: 6 }, (_, i) => i - 2.25);
    const little = readZip(writeTorchCheckpoint(new Map([['w', { shape: [3, 2], data }]])), 'le.pth');
    const entries = little.entries.map((e) => {
      let bytes = little.read(e).slice();
      if (e.name === 'archive/byteorder') bytes = new TextEncoder().encode('big');
      if (e.name === 'archive/data/0') for (let i = 0; i < bytes.length; i += 4) bytes.subarray(i, i + 4).reverse();
      return { name: e.name, data: bytes };
    });
    const big = readTorchCheckpoint(writeZip(entries), 'be.pth').stateDict.get('w')!;
    expectAllClose(big.data, data, { atol: 0, rtol: 0, label: 'big-endian storage', shape: [3, 2] });
  });

  it('refuses inconsistent input instead of writing a broken file', () => {
    expect(() => writeTorchCheckpoint(new Map([['w', { shape: [2, 2], data: new Float32Array(3) }]]))).toThrow(/'w' has shape \(2, 2\) = 4 elements but 3 values/);
    expect(() => writeTorchCheckpoint(new Map(), { model: 1 })).toThrow(/would overwrite the state dict/);
  });
});

describe('readTorchCheckpoint: bad files are refused with a specific error', () => {
  it('truncated zip and legacy files, at many points', () => {
    for (const file of ['official_dense_encoder.pt', 'legacy.pt']) {
      const full = load(file);
      for (const frac of [0.999, 0.9, 0.5, 0.1, 0.01]) {
        const cut = Math.floor(full.length * frac);
        const e = refusal(() => readTorchCheckpoint(full.subarray(0, cut), file));
        expect(e.reason, `${file} cut at ${cut}: ${e.message}`).toBe('truncated');
        expect(e.file).toBe(file);
      }
    }
  });

  it('a corrupted storage byte is caught by its CRC', () => {
    const bytes = load('official_dense_encoder.pt').slice();
    const zip = readZip(bytes, 'x');
    bytes[zip.entry('official_dense_encoder/data/5').dataOffset + 1] ^= 1;
    expect(refusal(() => readTorchCheckpoint(bytes, 'flipped.pt')).reason).toBe('crc-mismatch');
  });

  it('files that are not PyTorch checkpoints', () => {
    const text = new TextEncoder().encode('name,value\nlr,0.001\n'.repeat(10));
    expect(refusal(() => readTorchCheckpoint(text, 'notes.csv')).message).toMatch(/^notes\.csv: not a PyTorch checkpoint/);
    const header = new TextEncoder().encode('{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}');
    const st = new Uint8Array(8 + header.length + 4);
    new DataView(st.buffer).setUint32(0, header.length, true);
    st.set(header, 8);
    expect(detectCheckpointFormat(st)).toBe('safetensors');
    expect(refusal(() => readTorchCheckpoint(st, 'model.safetensors')).message).toMatch(/safetensors file/);
    const tar = new Uint8Array(1024);
    tar.set(new TextEncoder().encode('ustar'), 257);
    expect(refusal(() => readTorchCheckpoint(tar, 'old.tar')).reason).toBe('unsupported');
    const barePickle = new PickleWriter().write({ a: 1 });
    expect(refusal(() => readTorchCheckpoint(barePickle, 'x.pkl')).message).toMatch(/bare Python pickle/);
    const jit = writeZip([{ name: 'm/constants.pkl', data: barePickle }, { name: 'm/code/m.py', data: new Uint8Array(1) }]);
    expect(refusal(() => readTorchCheckpoint(jit, 'scripted.pt')).message).toMatch(/TorchScript archive/);
    const otherZip = writeZip([{ name: 'readme.txt', data: text }]);
    expect(refusal(() => readTorchCheckpoint(otherZip, 'docs.zip')).message).toMatch(/without <name>\/data\.pkl/);
    expect(refusal(() => readTorchCheckpoint(new Uint8Array(0), 'empty.pt')).reason).toBe('truncated');
  });

  it('a zip whose data.pkl asks for os.system is refused by name; nothing runs', () => {
    const evil = Uint8Array.from([0x80, 2, 0x63, ...new TextEncoder().encode('os\nsystem\n'), 0x8c, 2, 0x69, 0x64, 0x85, 0x52, 0x2e]);
    const file = writeZip([
      { name: 'archive/data.pkl', data: evil },
      { name: 'archive/version', data: new TextEncoder().encode('3\n') },
    ]);
    const e = refusal(() => readTorchCheckpoint(file, 'evil.pt'));
    expect(e).toBeInstanceOf(UnsafePickleError);
    expect(e.message).toBe(
      "evil.pt: archive/data.pkl: pickle refused: global 'os.system' is not on the allow-list of state-dict types at byte 2; " +
        'nothing was executed or imported (this reader only rebuilds tensors and plain values)',
    );
  });

  /** A one-tensor checkpoint with a chosen declared shape and storage size. */
  function crafted(shape: number[], storageElements: number, numel = storageElements): Uint8Array {
    const pkl = new PickleWriter().write({ model: new Map([['w', new TensorWrite('float32', '0', numel, shape)]]) });
    return writeZip([
      { name: 'archive/data.pkl', data: pkl },
      { name: 'archive/data/0', data: new Uint8Array(storageElements * 4) },
      { name: 'archive/version', data: new TextEncoder().encode('3\n') },
    ]);
  }

  it('tensors that do not fit their storage, absurd shapes, missing storages', () => {
    expect(readTorchCheckpoint(crafted([2, 3], 6), 'fine.pt').stateDict.get('w')!.shape).toEqual([2, 3]);
    const short = refusal(() => readTorchCheckpoint(crafted([4, 4], 6), 'short.pt'));
    expect([short.reason, short.message]).toEqual(['bad-tensor', expect.stringMatching(/tensor 'w' \(shape 4×4, stride 4,1, offset 0\) reaches element 15 of storage '0', which holds 6/)]);
    const absurd = refusal(() => readTorchCheckpoint(crafted([100000, 100000, 100000], 6), 'absurd.pt'));
    expect([absurd.reason, absurd.message]).toEqual(['bad-tensor', expect.stringMatching(/absurd shape \(100000, 100000, 100000\)/)]);
    const pkl = new PickleWriter().write({ model: new Map([['w', new TensorWrite('float32', '7', 1, [1])]]) });
    const noStorage = writeZip([{ name: 'a/data.pkl', data: pkl }]);
    expect(refusal(() => readTorchCheckpoint(noStorage, 'nostorage.pt')).message).toMatch(/storage '7' is referenced but a\/data\/7 is missing/);
  });

  it('no state dict: a list, or a dict without tensors; non-tensors inside model', () => {
    const wrap = (value: Parameters<PickleWriter['write']>[0]): Uint8Array => writeZip([{ name: 'a/data.pkl', data: new PickleWriter().write(value) }]);
    expect(refusal(() => readTorchCheckpoint(wrap([1, 2]), 'list.pt')).message).toMatch(/holds a list, not a dict of tensors/);
    expect(refusal(() => readTorchCheckpoint(wrap({ epoch: 3, lr: 0.1 }), 'meta.pt')).message).toMatch(/no state dict found: top-level keys are epoch, lr/);
    expect(refusal(() => readTorchCheckpoint(wrap({ model: new Map([['w', 3]]) }), 'odd.pt')).message).toMatch(/'model' entry 'w' is a number, not a tensor/);
  });

  it('metadata that expands exponentially or refers to itself is bounded', () => {
    // "billion laughs": each level is a list holding the previous level twice (memo shares them)
    const laughs: number[] = [0x80, 2, 0x7d, 0x28, 0x8c, 5, ...new TextEncoder().encode('model'), 0x7d, 0x8c, 5, ...new TextEncoder().encode('extra'), 0x4e];
    // 30 levels: 60 deep (under the pickle depth limit) but 2^30 leaves once expanded
    for (let i = 0; i < 30; i++) laughs.push(0x71, i, 0x30, 0x5d, 0x68, i, 0x68, i, 0x86, 0x61); // memo x, pop it, x = [(x, x)]
    laughs.push(0x75, 0x2e);
    const file = writeZip([{ name: 'a/data.pkl', data: Uint8Array.from(laughs) }]);
    const e = refusal(() => readTorchCheckpoint(file, 'laughs.pt'));
    expect([e.reason, e.message]).toEqual(['limit-exceeded', 'laughs.pt: checkpoint metadata has more than 1,000,000 values']);
    // a list that contains itself
    const cyclic = [0x80, 2, 0x7d, 0x28, 0x8c, 5, ...new TextEncoder().encode('model'), 0x7d, 0x8c, 1, 0x78, 0x5d, 0x71, 0, 0x68, 0, 0x61, 0x75, 0x2e];
    const c = refusal(() => readTorchCheckpoint(writeZip([{ name: 'a/data.pkl', data: Uint8Array.from(cyclic) }]), 'cycle.pt'));
    expect([c.reason, c.message]).toEqual(['limit-exceeded', 'cycle.pt: checkpoint metadata nested deeper than 64 levels']);
  });
});
