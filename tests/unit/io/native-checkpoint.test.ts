// The native checkpoint: SHA-256 against published vectors and node:crypto, an exact round trip
// of weights, AdamW moments and metadata, openAnyCheckpoint on native files, and every kind of
// damaged file refused with its specific code and the offending key or tensor.
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  isNativeCheckpoint,
  NativeCheckpointError,
  openAnyCheckpoint,
  readNativeCheckpoint,
  settingsHash,
  sha256Hex,
  writeNativeCheckpoint,
  type NativeCheckpointErrorCode,
  type NativeCheckpointInput,
} from '../../../src/io/native-checkpoint.ts';
import { parseSafetensors, writeSafetensors } from '../../../src/io/safetensors.ts';
import { customConfig, DEFAULT_STEP_OPTIONS } from '../../../src/model/config.ts';
import { initialParams, paramTable } from '../../../src/model/parameters.ts';
import { stateDictFromFlat, type StateDict } from '../../../src/model/state-dict.ts';
import { ADAMW_DEFAULTS } from '../../../src/ops/adamw.ts';
import { Random } from '../../../src/util/random.ts';
import { expectAllClose } from '../../helpers/allclose.ts';

const config = customConfig([1, 1, 2, 1], [8, 16, 24, 32], 16, 1);
const table = paramTable(config);

function input(withAdam: boolean): NativeCheckpointInput {
  const rng = new Random(7);
  const params = stateDictFromFlat(table, initialParams(table, rng));
  const moments = (scale: number): StateDict => stateDictFromFlat(table, rng.uniformArray(table.totalFloats, 0, scale));
  return {
    config,
    options: { ...DEFAULT_STEP_OPTIONS, gelu: 'tanh' },
    training: { inputSize: 64, batchSize: 2, maskRatio: 0.6, visiblePatches: 1, blr: 1.5e-4, warmupSteps: 3, totalSteps: 30, seed: 5 },
    step: 12,
    data: { source: '/data/cats', imageCount: 12 },
    params,
    adamw: withAdam ? { step: 12, settings: { ...ADAMW_DEFAULTS }, m: moments(0.01), v: moments(1e-4) } : null,
  };
}

/** Re-encodes a native file with edited metadata / tensors (hash left as it was). */
function edit(bytes: Uint8Array, change: (meta: Record<string, string>, tensors: Map<string, { shape: number[]; data: Float32Array }>) => void): Uint8Array {
  const f = parseSafetensors(bytes);
  const meta = { ...f.metadata };
  const tensors = new Map([...f.tensors].map(([k, t]) => [k, { shape: t.shape, data: t.data }]));
  change(meta, tensors);
  return writeSafetensors(tensors, meta);
}

function expectRefused(bytes: Uint8Array, code: NativeCheckpointErrorCode, what: string | RegExp): void {
  let error: unknown;
  try {
    readNativeCheckpoint(bytes, 'run.safetensors');
  } catch (e) {
    error = e;
  }
  expect(error, `expected ${code}`).toBeInstanceOf(NativeCheckpointError);
  const e = error as NativeCheckpointError;
  expect(e.code, e.message).toBe(code);
  if (typeof what === 'string') expect(e.what).toBe(what);
  else expect(e.what).toMatch(what);
  expect(e.message).toMatch(/^run\.safetensors: /);
}

function expectSameStateDict(actual: StateDict, expected: StateDict, label: string, ordered = true): void {
  if (ordered) expect([...actual.keys()], `${label}: names in table order`).toEqual([...expected.keys()]);
  else expect([...actual.keys()].sort(), `${label}: names`).toEqual([...expected.keys()].sort());
  for (const [name, t] of expected) {
    const a = actual.get(name)!;
    expect(a.shape, `${label} ${name}`).toEqual(t.shape);
    // exact: float32 values are stored bit for bit
    expectAllClose(a.data, t.data, { atol: 0, rtol: 0, label: `${label} ${name}`, shape: t.shape });
  }
}

describe('sha256Hex', () => {
  it('matches the FIPS 180-4 examples', () => {
    const enc = (s: string) => new TextEncoder().encode(s);
    expect(sha256Hex(enc(''))).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    expect(sha256Hex(enc('abc'))).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(sha256Hex(enc('abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq'))).toBe('248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1');
  });

  it('matches node:crypto at every length around the block boundaries', () => {
    const rng = new Random(3);
    for (let n = 0; n <= 200; n++) {
      const bytes = Uint8Array.from({ length: n }, () => rng.int(256));
      expect(sha256Hex(bytes), `length ${n}`).toBe(createHash('sha256').update(bytes).digest('hex'));
    }
  });
});

describe('native checkpoint', () => {
  it('round trips weights, AdamW moments and metadata exactly', () => {
    const src = input(true);
    const bytes = writeNativeCheckpoint(src);
    expect(isNativeCheckpoint(bytes)).toBe(true);
    const back = readNativeCheckpoint(bytes, 'run.safetensors');
    expect(back.config.depths).toEqual(config.depths);
    expect(back.config.dims).toEqual(config.dims);
    expect([back.config.decoderDim, back.config.decoderDepth]).toEqual([16, 1]);
    expect(back.options).toEqual(src.options);
    expect(back.training).toEqual(src.training);
    expect(back.step).toBe(12);
    expect(back.data).toEqual(src.data);
    expect(back.settingsHash).toBe(settingsHash({ config, options: src.options, training: src.training, adamwSettings: ADAMW_DEFAULTS }));
    expect(back.settingsHash).toMatch(/^[0-9a-f]{64}$/);
    expectSameStateDict(back.params, src.params, 'params');
    expect(back.adamw!.step).toBe(12);
    expect(back.adamw!.settings).toEqual(ADAMW_DEFAULTS);
    expectSameStateDict(back.adamw!.m, src.adamw!.m, 'm');
    expectSameStateDict(back.adamw!.v, src.adamw!.v, 'v');
    // every parameter incl. decoder and mask token, plus one m and one v per parameter
    expect(parseSafetensors(bytes).tensors.size).toBe(3 * table.specs.length);
    expect(back.params.has('mask_token') && back.params.has('decoder.0.grn.gamma') && back.params.has('pred.bias')).toBe(true);
  });

  it('a frozen-encoder run (decoder warm-up): stored, read back, its own settings hash; a run that trains everything stores nothing new', () => {
    const src = input(true);
    const frozen = { ...src, options: { ...src.options, freezeEncoder: true } };
    const back = readNativeCheckpoint(writeNativeCheckpoint(frozen), 'frozen.safetensors');
    expect(back.options.freezeEncoder).toBe(true);
    expect(back.settingsHash).not.toBe(readNativeCheckpoint(writeNativeCheckpoint(src), 'run.safetensors').settingsHash);
    // false is the default: the same bytes as a file written without the option
    const unfrozen = writeNativeCheckpoint({ ...src, options: { ...src.options, freezeEncoder: false } });
    expect(Buffer.compare(Buffer.from(unfrozen), Buffer.from(writeNativeCheckpoint(src)))).toBe(0);
    expect(readNativeCheckpoint(unfrozen, 'run.safetensors').options.freezeEncoder ?? false).toBe(false);
  });

  it('blocks without GRN: round trip keeps grn = false, no grn.* tensors, its own settings hash', () => {
    const noGrn = customConfig([1, 1, 2, 1], [8, 16, 24, 32], 16, 1, false);
    const t = paramTable(noGrn);
    const rng = new Random(9);
    const params = stateDictFromFlat(t, initialParams(t, rng));
    const src: NativeCheckpointInput = { ...input(false), config: noGrn, params, adamw: { step: 12, settings: { ...ADAMW_DEFAULTS }, m: stateDictFromFlat(t, rng.uniformArray(t.totalFloats)), v: stateDictFromFlat(t, rng.uniformArray(t.totalFloats)) } };
    const bytes = writeNativeCheckpoint(src);
    expect([...parseSafetensors(bytes).tensors.keys()].filter((n) => n.includes('.grn.'))).toEqual([]);
    expect(JSON.parse(parseSafetensors(bytes).metadata.config!)).toEqual({ depths: [1, 1, 2, 1], dims: [8, 16, 24, 32], decoderDim: 16, decoderDepth: 1, grn: false });
    const back = readNativeCheckpoint(bytes, 'run.safetensors');
    expect(back.config.grn).toBe(false);
    expectSameStateDict(back.params, params, 'params');
    expectSameStateDict(back.adamw!.m, src.adamw!.m, 'm');
    expect(back.settingsHash).not.toBe(settingsHash({ config, options: src.options, training: src.training, adamwSettings: ADAMW_DEFAULTS }));
    const opened = openAnyCheckpoint(bytes, 'run.safetensors');
    expect(opened.report.config.grn).toBe(false);
    expect([opened.report.missing, opened.report.unexpected, opened.report.misShaped]).toEqual([[], [], []]);
    // GRN tensors in a file whose config has none, and a grn that is not a boolean
    const withGrn = writeNativeCheckpoint(input(false));
    const relabelled = edit(withGrn, (meta) => {
      meta.config = JSON.stringify({ ...JSON.parse(meta.config!), grn: false });
      meta.settings_hash = settingsHash({ config: noGrn, options: src.options, training: src.training, adamwSettings: null });
    });
    expectRefused(relabelled, 'unexpected-tensor', /\.grn\.(gamma|beta)$/);
    expectRefused(edit(bytes, (meta) => (meta.config = JSON.stringify({ ...JSON.parse(meta.config!), grn: 'no' }))), 'bad-metadata', 'config.grn');
  });

  it('a model with GRN stores no grn key: files written before the option keep their hash', () => {
    const bytes = writeNativeCheckpoint(input(false));
    expect(Object.keys(JSON.parse(parseSafetensors(bytes).metadata.config!)).sort()).toEqual(['decoderDepth', 'decoderDim', 'depths', 'dims']);
    expect(readNativeCheckpoint(bytes).config.grn).toBe(true);
  });

  it('without AdamW state reads back adamw = null', () => {
    const back = readNativeCheckpoint(writeNativeCheckpoint(input(false)));
    expect(back.adamw).toBeNull();
    expectSameStateDict(back.params, input(false).params, 'params');
  });

  it('the settings hash changes with every setting and ignores the step', () => {
    const a = input(false);
    const h = (x: NativeCheckpointInput) => settingsHash({ ...x, adamwSettings: null });
    expect(h({ ...a, step: 99 })).toBe(h(a));
    expect(h({ ...a, training: { ...a.training, seed: 6 } })).not.toBe(h(a));
    expect(h({ ...a, training: { ...a.training, maskRatio: 0.75 } })).not.toBe(h(a));
    expect(h({ ...a, options: { ...a.options, normPix: false } })).not.toBe(h(a));
    expect(h({ ...a, config: customConfig([1, 1, 2, 1], [8, 16, 24, 32], 16, 2) })).not.toBe(h(a));
    // property order does not matter
    const t = a.training;
    const reordered = { seed: t.seed, totalSteps: t.totalSteps, warmupSteps: t.warmupSteps, blr: t.blr, maskRatio: t.maskRatio, visiblePatches: t.visiblePatches, batchSize: t.batchSize, inputSize: t.inputSize };
    expect(h({ ...a, training: reordered })).toBe(h(a));
  });

  it('openAnyCheckpoint maps a native file like a canonical one, moments not reported as unexpected', () => {
    const src = input(true);
    const opened = openAnyCheckpoint(writeNativeCheckpoint(src), 'run.safetensors');
    expect(opened.native).not.toBeNull();
    expect(opened.scheme).toBe('canonical');
    expect(opened.report.unexpected).toEqual([]);
    expect(opened.report.missing).toEqual([]);
    expect(opened.report.decoderInFile).toBe(true);
    expect(opened.config).toMatchObject({ depths: [1, 1, 2, 1], dims: [8, 16, 24, 32], decoderDim: 16, decoderDepth: 1 });
    expectSameStateDict(opened.tensors, src.params, 'opened', false); // canonical order there
    // A plain safetensors file goes through openCheckpoint and is not native.
    const plain = writeSafetensors(src.params);
    expect(isNativeCheckpoint(plain)).toBe(false);
    expect(openAnyCheckpoint(plain, 'plain.safetensors').native).toBeNull();
  });

  it('refuses damaged files naming the key or tensor', () => {
    const good = writeNativeCheckpoint(input(true));
    expectRefused(writeSafetensors(input(false).params), 'not-native', 'format');
    expectRefused(edit(good, (m) => (m.format_version = '2')), 'bad-version', 'format_version');
    expectRefused(edit(good, (m) => (m.training = m.training!.replace('"batchSize":2', '"batchSize":4'))), 'hash-mismatch', 'settings_hash');
    expectRefused(edit(good, (m) => delete m.settings_hash), 'hash-mismatch', 'settings_hash');
    expectRefused(edit(good, (m) => (m.config = '{"depths":[1,1,2,1],')), 'bad-metadata', 'config');
    expectRefused(edit(good, (m) => (m.config = m.config!.replace('"dims":[8,16,24,32]', '"dims":[8,16,24]'))), 'bad-metadata', 'config');
    expectRefused(edit(good, (m) => (m.training = m.training!.replace('"blr":0.00015', '"blr":"fast"'))), 'bad-metadata', 'training.blr');
    expectRefused(edit(good, (m) => (m.step_options = m.step_options!.replace('"tanh"', '"relu"'))), 'bad-metadata', 'step_options.gelu');
    expectRefused(edit(good, (m) => (m.step = '-1')), 'bad-metadata', 'step');
    expectRefused(edit(good, (m) => delete m.data), 'bad-metadata', 'data');
    expectRefused(edit(good, (m) => (m.adamw = m.adamw!.replace('"step":12', '"step":11'))), 'bad-metadata', 'adamw.step');
    expectRefused(
      edit(good, (_, t) => t.delete('decoder.0.pwconv1.weight')),
      'missing-tensor',
      'decoder.0.pwconv1.weight',
    );
    expectRefused(
      edit(good, (_, t) => t.delete('adamw.v.mask_token')),
      'missing-tensor',
      'adamw.v.mask_token',
    );
    expectRefused(
      edit(good, (_, t) => t.set('encoder.stages.0.0.dwconv.bias', { shape: [4, 2], data: new Float32Array(8) })),
      'mis-shaped',
      'encoder.stages.0.0.dwconv.bias',
    );
    expectRefused(
      edit(good, (_, t) => t.set('head.weight', { shape: [2, 32], data: new Float32Array(64) })),
      'unexpected-tensor',
      'head.weight',
    );
    // moments without their metadata entry: the hash then also disagrees, which is checked first
    expectRefused(edit(good, (m) => delete m.adamw), 'hash-mismatch', 'settings_hash');
  });

  it('the writer refuses inconsistent pieces', () => {
    const a = input(true);
    const refuse = (x: NativeCheckpointInput, code: NativeCheckpointErrorCode, what: string) => {
      try {
        writeNativeCheckpoint(x);
        expect.unreachable(`expected ${code}`);
      } catch (e) {
        expect(e).toBeInstanceOf(NativeCheckpointError);
        expect((e as NativeCheckpointError).code).toBe(code);
        expect((e as NativeCheckpointError).what).toBe(what);
      }
    };
    refuse({ ...a, adamw: { ...a.adamw!, step: 3 } }, 'bad-input', 'adamw.step');
    refuse({ ...a, step: 1.5 }, 'bad-input', 'step');
    const partial = new Map(a.params);
    partial.delete('proj.bias');
    refuse({ ...a, params: partial }, 'missing-tensor', 'proj.bias');
    refuse({ ...a, config: customConfig([1, 1, 2, 1], [8, 16, 24, 40], 16, 1) }, 'mis-shaped', 'encoder.downsample_layers.3.1.weight');
  });
});

describe('native checkpoint: the weight-decay rule', () => {
  it("stores the official rule and reads it back; the maintainers' rule leaves the metadata as before the option", () => {
    const base = input(true);
    const official = readNativeCheckpoint(writeNativeCheckpoint({ ...base, adamw: { ...base.adamw!, settings: { ...ADAMW_DEFAULTS, decayRule: 'official' } } }), 'run.safetensors');
    expect(official.adamw!.settings.decayRule).toBe('official');
    const plainBytes = writeNativeCheckpoint(base);
    const explicit = writeNativeCheckpoint({ ...base, adamw: { ...base.adamw!, settings: { ...ADAMW_DEFAULTS, decayRule: 'maintainers' } } });
    expect(parseSafetensors(explicit).metadata).toEqual(parseSafetensors(plainBytes).metadata);
    expect(JSON.parse(parseSafetensors(plainBytes).metadata.adamw!)).not.toHaveProperty('decayRule');
    expect(official.settingsHash).not.toBe(readNativeCheckpoint(plainBytes).settingsHash);
    expectRefused(edit(plainBytes, (meta) => (meta.adamw = JSON.stringify({ ...JSON.parse(meta.adamw!), decayRule: 'sometimes' }))), 'bad-metadata', 'adamw.decayRule');
  });
});
