// Safetensors reader/writer: round trips, files hand-encoded by Python
// (tests/reference/gen_safetensors.py → tests/fixtures/io/), byte-exact canonical output,
// and every corruption refused with its specific error code, file and tensor name.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  parseSafetensors,
  SafetensorsError,
  tensorFloat64,
  writeSafetensors,
  type SafetensorsErrorCode,
  type WriteTensor,
} from '../../../src/io/safetensors.ts';
import { Random } from '../../../src/util/random.ts';
import { expectAllClose } from '../../helpers/allclose.ts';
import { FIXTURE_DIR } from '../../helpers/fixtures.ts';

const readIo = (name: string): Uint8Array => new Uint8Array(readFileSync(join(FIXTURE_DIR, 'io', name)));

type JsonValue = number | 'nan' | 'inf' | '-inf' | '-0';
const decode = (v: JsonValue): number => (v === 'nan' ? NaN : v === 'inf' ? Infinity : v === '-inf' ? -Infinity : v === '-0' ? -0 : v);

/** Exact comparison that also accepts NaN = NaN, ±∞ and the sign of zero. */
function expectSameValues(actual: ArrayLike<number>, expected: readonly number[], label: string): void {
  expect(actual.length, `${label}: length`).toBe(expected.length);
  const finiteActual: number[] = [];
  const finiteExpected: number[] = [];
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    if (!Number.isFinite(e) || Object.is(e, -0)) {
      expect(Object.is(a, e), `${label}[${i}]: got ${Object.is(a, -0) ? '-0' : a}, want ${Object.is(e, -0) ? '-0' : e}`).toBe(true);
    } else {
      finiteActual.push(a);
      finiteExpected.push(e);
    }
  }
  // Exact: conversion of stored values is lossless into the expected precision.
  expectAllClose(finiteActual, finiteExpected, { atol: 0, rtol: 0, label });
}

/** A file with the given header text and data bytes (length prefix optionally wrong). */
function build(header: string, data: Uint8Array = new Uint8Array(0), lengthOverride?: bigint): Uint8Array {
  const json = new TextEncoder().encode(header);
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, lengthOverride ?? BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

function expectRefused(bytes: Uint8Array, code: SafetensorsErrorCode, tensor: string | undefined, fragment: string): void {
  let caught: unknown;
  try {
    parseSafetensors(bytes, { source: 'corrupt.safetensors' });
  } catch (e) {
    caught = e;
  }
  expect(caught, `expected ${code} to be thrown`).toBeInstanceOf(SafetensorsError);
  const err = caught as SafetensorsError;
  expect(err.code, err.message).toBe(code);
  expect(err.tensor, err.message).toBe(tensor);
  expect(err.file).toBe('corrupt.safetensors');
  expect(err.message).toContain('corrupt.safetensors');
  if (tensor !== undefined) expect(err.message).toContain(`'${tensor}'`);
  expect(err.message).toContain(fragment);
}

const entry = (dtype: string, shape: unknown[], begin: unknown, end: unknown): string =>
  JSON.stringify({ dtype, shape, data_offsets: [begin, end] });

describe('safetensors writer → reader round trip', () => {
  const random = new Random(11);
  const tensors: WriteTensor[] = [
    { name: 'encoder.stages.0.0.dwconv.weight', shape: [8, 1, 7, 7], data: Float32Array.from(random.uniformArray(8 * 49), (v) => v - 0.5) },
    { name: 'mask_token', shape: [1, 16, 1, 1], data: Float32Array.from(random.uniformArray(16)) },
    { name: 'scalar', shape: [], data: Float32Array.of(-3.25) },
    { name: 'empty', shape: [0, 3], data: new Float32Array(0) },
    { name: '10', shape: [1], data: Float32Array.of(10) },
    { name: '9', shape: [2], data: Float32Array.of(Infinity, NaN) },
    { name: 'ünïcode ✓', shape: [3], data: Float32Array.of(1e-45, -0, 3.4028234663852886e38) },
  ];
  const metadata = { format: 'pt', 'clé': 'valeur ✓', '2': 'integer-like key' };
  const bytes = writeSafetensors(tensors, metadata, { source: 'roundtrip' });

  it('reads back every tensor bit-exactly with metadata', () => {
    const file = parseSafetensors(bytes);
    expect(file.metadata).toEqual(metadata);
    expect([...file.tensors.keys()].sort()).toEqual(tensors.map((t) => t.name).sort());
    for (const t of tensors) {
      const got = file.tensors.get(t.name)!;
      expect(got.dtype).toBe('F32');
      expect(got.shape).toEqual([...t.shape]);
      expectSameValues(got.data, [...(t.data as Float32Array)], t.name);
      expect(got.raw.length).toBe(t.data.length * 4);
    }
  });

  it('is canonical: header padded with spaces to 8 bytes, names in code-point order, same bytes from a Map', () => {
    const headerLength = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect((8 + headerLength) % 8).toBe(0);
    const headerBytes = bytes.subarray(8, 8 + headerLength);
    const jsonEnd = headerBytes.lastIndexOf(0x7d) + 1; // the closing '}'
    expect(headerLength - jsonEnd, 'padding is under 8 bytes').toBeLessThan(8);
    expect([...headerBytes.subarray(jsonEnd)].every((b) => b === 0x20), 'padding is spaces').toBe(true);
    const header = new TextDecoder().decode(headerBytes);
    expect(header.startsWith('{"__metadata__":{"2":"integer-like key","clé":"valeur ✓","format":"pt"}')).toBe(true);
    const order = [...header.matchAll(/"([^"]+)":\{"dtype"/g)].map((m) => m[1]);
    expect(order).toEqual(['10', '9', 'empty', 'encoder.stages.0.0.dwconv.weight', 'mask_token', 'scalar', 'ünïcode ✓']);
    // Data buffer in the same order as the header.
    const file = parseSafetensors(bytes);
    expect([...file.tensors.keys()]).toEqual(order);
    const fromMap = writeSafetensors(new Map(tensors.map((t) => [t.name, { shape: t.shape, data: t.data }])), metadata);
    expect(Buffer.from(fromMap).equals(Buffer.from(bytes))).toBe(true);
  });

  it('omits __metadata__ when there is none and handles an empty file', () => {
    const empty = writeSafetensors([]);
    expect(new TextDecoder().decode(empty.subarray(8)).trimEnd()).toBe('{}');
    expect(parseSafetensors(empty).tensors.size).toBe(0);
  });

  it('refuses bad writer input by name', () => {
    const bad = (t: WriteTensor[], fragment: string, name: string) => {
      expect(() => writeSafetensors(t)).toThrowError(SafetensorsError);
      expect(() => writeSafetensors(t)).toThrowError(new RegExp(`'${name}'.*${fragment}`));
    };
    bad([{ name: 'w', shape: [2, 3], data: new Float32Array(5) }], 'has 6 elements but data has 5', 'w');
    bad([{ name: 'w', shape: [1], data: new Float32Array(1) }, { name: 'w', shape: [1], data: new Float32Array(1) }], 'given twice', 'w');
    bad([{ name: 'w', shape: [-1], data: new Float32Array(0) }], 'non-negative integers', 'w');
  });
});

describe('safetensors files written by Python (tests/reference/gen_safetensors.py)', () => {
  it('reads every dtype (data order ≠ header order ≠ name order)', () => {
    const expected = JSON.parse(readFileSync(join(FIXTURE_DIR, 'io', 'all_dtypes.json'), 'utf8')) as {
      metadata: Record<string, string>;
      tensors: Record<string, { dtype: string; shape: number[]; values: JsonValue[] }>;
    };
    const file = parseSafetensors(readIo('all_dtypes.safetensors'), { source: 'all_dtypes.safetensors' });
    expect(file.metadata).toEqual(expected.metadata);
    expect([...file.tensors.keys()].sort()).toEqual(Object.keys(expected.tensors).sort());
    const dtypes = new Set<string>();
    for (const [name, want] of Object.entries(expected.tensors)) {
      const got = file.tensors.get(name)!;
      dtypes.add(got.dtype);
      expect(got.dtype, name).toBe(want.dtype);
      expect(got.shape, name).toEqual(want.shape);
      const values = want.values.map(decode);
      expectSameValues(tensorFloat64(got, name), values, `${name} (float64)`);
      expectSameValues(got.data, values.map((v) => Math.fround(v)), `${name} (float32)`);
    }
    expect([...dtypes].sort()).toEqual(['BF16', 'BOOL', 'F16', 'F32', 'F64', 'I16', 'I32', 'I64', 'I8', 'U16', 'U32', 'U64', 'U8']);
  });

  it('reads a header without padding (data at an unaligned offset)', () => {
    const file = parseSafetensors(readIo('unpadded.safetensors'));
    expectSameValues(file.tensors.get('a')!.data, [1, 2, 3], 'a');
    expectSameValues(tensorFloat64(file.tensors.get('bb')!), [0.25, -4], 'bb');
  });

  it('refuses I64 values beyond 2^53', () => {
    expectRefused(readIo('i64_beyond_2p53.safetensors'), 'integer-overflow', 'step', '9007199254740993 is beyond 2^53');
  });

  it('the writer reproduces the canonical file Python wrote byte for byte', () => {
    const spec = JSON.parse(readFileSync(join(FIXTURE_DIR, 'io', 'canonical_f32.json'), 'utf8')) as {
      metadata: Record<string, string>;
      tensors: { name: string; shape: number[]; values: number[] }[];
    };
    const ours = writeSafetensors(
      spec.tensors.map((t) => ({ name: t.name, shape: t.shape, data: Float32Array.from(t.values) })),
      spec.metadata,
    );
    const python = readIo('canonical_f32.safetensors');
    const firstDiff = ours.findIndex((b, i) => b !== python[i]);
    expect(ours.length, 'file length').toBe(python.length);
    expect(firstDiff, `first differing byte at ${firstDiff}`).toBe(-1);
  });
});

describe('safetensors corruptions are refused with specific errors', () => {
  const f32x2 = new Uint8Array(8);
  const ok = (name: string, begin: number, end: number, shape = [(end - begin) / 4]) => `"${name}":${entry('F32', shape, begin, end)}`;

  it('truncated file and header length beyond the file', () => {
    expectRefused(new Uint8Array(5), 'truncated', undefined, 'shorter than the 8-byte header length');
    const file = build(`{${ok('a', 0, 8)}}`, f32x2);
    expectRefused(build(`{${ok('a', 0, 8)}}`, f32x2, BigInt(file.length - 7)), 'header-too-large', undefined, 'larger than the file');
    expectRefused(build('{}', new Uint8Array(0), 2n ** 64n - 1n), 'header-too-large', undefined, 'larger than the file');
  });

  it('invalid JSON, invalid UTF-8, non-object header', () => {
    expectRefused(build('{"a": {', f32x2), 'invalid-json', undefined, 'not valid JSON');
    const badUtf8 = build('{"a":1}');
    badUtf8[10] = 0xff;
    expectRefused(badUtf8, 'invalid-json', undefined, 'not valid UTF-8');
    expectRefused(build('[1, 2]'), 'invalid-json', undefined, 'not an object');
  });

  it('duplicate tensor names and duplicate entry fields', () => {
    expectRefused(build(`{${ok('a', 0, 8)},${ok('a', 8, 16)}}`, new Uint8Array(16)), 'duplicate-name', 'a', 'appears twice');
    expectRefused(build(`{"w":{"dtype":"F32","dtype":"F32","shape":[2],"data_offsets":[0,8]}}`, f32x2), 'duplicate-name', 'w', "field 'dtype' appears twice");
  });

  it('offsets out of range', () => {
    expectRefused(build(`{${ok('a', 0, 12)}}`, f32x2), 'offsets-out-of-range', 'a', 'outside the 8-byte data buffer');
    expectRefused(build(`{"a":${entry('F32', [0], 8, 4)}}`, f32x2), 'offsets-out-of-range', 'a', 'reversed');
    expectRefused(build(`{"a":${entry('F32', [2], -8, 0)}}`, f32x2), 'offsets-out-of-range', 'a', '[-8, 0]');
    expectRefused(build(`{"a":${entry('F32', [2], 0.5, 8.5)}}`, f32x2), 'offsets-out-of-range', 'a', 'not integers');
  });

  it('overlapping data and non-contiguous data', () => {
    expectRefused(build(`{${ok('a', 0, 8)},${ok('b', 4, 12)}}`, new Uint8Array(12)), 'overlap', 'b', "overlap tensor 'a'");
    // An empty tensor placed inside another one is an overlap too.
    expectRefused(build(`{${ok('a', 0, 8)},"e":${entry('F32', [0], 4, 4)}}`, f32x2), 'overlap', 'e', "overlap tensor 'a'");
    expectRefused(build(`{${ok('a', 0, 8)},${ok('b', 12, 20)}}`, new Uint8Array(20)), 'non-contiguous', 'b', '4 unused bytes');
    expectRefused(build(`{${ok('a', 4, 12)}}`, new Uint8Array(12)), 'non-contiguous', 'a', 'data starts at 4');
    expectRefused(build(`{${ok('a', 0, 8)}}`, new Uint8Array(12)), 'non-contiguous', undefined, '4 trailing bytes');
  });

  it('size ≠ product(shape) · dtype size', () => {
    expectRefused(build(`{"a":${entry('F32', [3], 0, 8)}}`, f32x2), 'size-mismatch', 'a', 'hold 8 bytes but shape [3] of F32 needs 12');
    expectRefused(build(`{"a":${entry('F64', [2], 0, 8)}}`, f32x2), 'size-mismatch', 'a', 'needs 16');
  });

  it('unknown and unsupported dtypes', () => {
    expectRefused(build(`{"a":${entry('F33', [2], 0, 8)}}`, f32x2), 'unknown-dtype', 'a', "unknown dtype 'F33'");
    expectRefused(build(`{"a":${entry('F8_E4M3', [8], 0, 8)}}`, f32x2), 'unsupported-dtype', 'a', 'F8_E4M3 is valid safetensors but not supported');
  });

  it('absurd shapes', () => {
    expectRefused(build(`{"a":${entry('F32', [-2], 0, 8)}}`, f32x2), 'bad-shape', 'a', 'not a non-negative integer');
    expectRefused(build(`{"a":${entry('F32', [2.5], 0, 8)}}`, f32x2), 'bad-shape', 'a', 'not a non-negative integer');
    expectRefused(build(`{"a":${entry('F32', ['2'], 0, 8)}}`, f32x2), 'bad-shape', 'a', 'not a non-negative integer');
    expectRefused(build(`{"a":${entry('U8', [65536, 32769], 0, 8)}}`, f32x2), 'bad-shape', 'a', 'more than 2^31');
  });

  it('malformed entries and metadata', () => {
    expectRefused(build(`{"a":{"shape":[2],"data_offsets":[0,8]}}`, f32x2), 'bad-entry', 'a', 'missing or non-string dtype');
    expectRefused(build(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8],"extra":1}}`, f32x2), 'bad-entry', 'a', "unexpected field 'extra'");
    expectRefused(build(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[8]}}`, f32x2), 'bad-entry', 'a', 'data_offsets must be [begin, end]');
    expectRefused(build(`{"a":[1]}`, f32x2), 'bad-entry', 'a', 'expected {dtype, shape, data_offsets}');
    expectRefused(build(`{"__metadata__":{"k":1},${ok('a', 0, 8)}}`, f32x2), 'bad-metadata', undefined, "value of 'k' is 1");
    expectRefused(build(`{"__metadata__":[],${ok('a', 0, 8)}}`, f32x2), 'bad-metadata', undefined, 'not an object');
  });

  it('a valid hand-built file with the same pieces parses (the corruptions above are the only faults)', () => {
    const data = new Uint8Array(new Float32Array([1, 2, 3, 4]).buffer);
    const file = parseSafetensors(build(`{"__metadata__":{"k":"v"},${ok('b', 8, 16)},${ok('a', 0, 8)},"e":${entry('F32', [0, 5], 16, 16)}}`, data));
    expectSameValues(file.tensors.get('a')!.data, [1, 2], 'a');
    expectSameValues(file.tensors.get('b')!.data, [3, 4], 'b');
    expect(file.tensors.get('e')!.shape).toEqual([0, 5]);
    expect(file.metadata).toEqual({ k: 'v' });
  });
});

describe('model fixtures (tests/reference/gen_model_fixtures.py) read through this reader', () => {
  const configs = ['base', 'nonsquare_batch_grn', 'tanh_n3', 'plain_pix_decoder2', 'dense_encoder', 'ratio0'];
  for (const name of configs) {
    it(`${name}: weights F32 and grads F64 share names and shapes; batch and outputs match expected.json`, () => {
      const dir = join('model', name);
      const expected = JSON.parse(readFileSync(join(FIXTURE_DIR, dir, 'expected.json'), 'utf8')) as {
        config: { dims: number[]; input_h: number; input_w: number };
        batch: number;
        masked_per_sample: number;
        loss: number;
        param_count: number;
        adamw: { losses: number[] };
      };
      const read = (file: string) => parseSafetensors(new Uint8Array(readFileSync(join(FIXTURE_DIR, dir, file))), { source: `${name}/${file}` });
      const weights = read('weights.safetensors');
      const grads = read('grads.safetensors');
      expect(JSON.parse(weights.metadata['config']!)).toEqual(expected.config);
      expect([...grads.tensors.keys()]).toEqual([...weights.tensors.keys()]);
      let count = 0;
      for (const [k, w] of weights.tensors) {
        expect(w.dtype, k).toBe('F32');
        expect(grads.tensors.get(k)!.dtype, k).toBe('F64');
        expect(grads.tensors.get(k)!.shape, k).toEqual(w.shape);
        count += w.data.length;
      }
      expect(count).toBe(expected.param_count);

      const { N, H, W } = { N: expected.batch, H: expected.config.input_h, W: expected.config.input_w };
      const batch = read('batch.safetensors');
      expect(batch.tensors.get('imgs')!.shape).toEqual([N, 3, H, W]);
      const L = (H / 32) * (W / 32);
      const mask = batch.tensors.get('mask')!;
      expect(mask.shape).toEqual([N, L]);
      for (let n = 0; n < N; n++) {
        const row = mask.data.subarray(n * L, (n + 1) * L);
        expect(row.every((m) => m === 0 || m === 1)).toBe(true);
        expect(row.reduce((a, b) => a + b, 0), `masked patches of sample ${n}`).toBe(expected.masked_per_sample);
      }
      const outputs = read('outputs.safetensors');
      // The loss is stored twice (JSON and F64 tensor): both are the same float64.
      expect(tensorFloat64(outputs.tensors.get('loss')!)[0]).toBe(expected.loss);
      expect(expected.adamw.losses[0]).toBe(expected.loss);
      expect(outputs.tensors.get('encoder_out')!.shape).toEqual([N, expected.config.dims[3], H / 32, W / 32]);
    });
  }
});

describe('writer: I64 tensors (labels)', () => {
  it('writes BigInt64Array data as I64 that reads back exactly', () => {
    const labels = BigInt64Array.from([0n, 3n, -1n, 6n]);
    const bytes = writeSafetensors([
      { name: 'labels', shape: [4], data: labels },
      { name: 'features', shape: [2, 2], data: Float32Array.of(1, 2, 3, 4) },
    ]);
    const file = parseSafetensors(bytes);
    expect(file.tensors.get('labels')!.dtype).toBe('I64');
    expect([...file.tensors.get('labels')!.data]).toEqual([0, 3, -1, 6]);
    expect(file.tensors.get('features')!.dtype).toBe('F32');
    expect([...file.tensors.get('features')!.data]).toEqual([1, 2, 3, 4]);
  });
});
