// Safe pickle subset: real Python pickles at protocols 2–5 decode to the values Python wrote, and
// a malicious suite (globals, calls, instantiation, deep nesting, huge lengths, unknown opcodes,
// truncation) is refused by name before anything could run.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_PICKLE_LIMITS, loadPickle, UnsafePickleError, type PickleOptions } from '../../../src/io/pickle-reader.ts';
import { parseStoragePid, PickleDict, PickleTuple, TensorRef, type PickleValue } from '../../../src/io/pickle-values.ts';
import { PickleDictWrite, PickleFloat, PickleNamespace, PickleWriter, TensorWrite } from '../../../src/io/pickle-writer.ts';
import { CheckpointError } from '../../../src/io/zip.ts';
import { FIXTURE_DIR } from '../../helpers/fixtures.ts';

const manifest = JSON.parse(readFileSync(join(FIXTURE_DIR, 'io/torch/manifest.json'), 'utf8')) as {
  pickles: Record<string, string>;
  pickleValue: unknown;
};

const hex = (h: string): Uint8Array => Uint8Array.from(h.match(/../g)!.map((b) => parseInt(b, 16)));
const ascii = (s: string): number[] => [...s].map((c) => c.charCodeAt(0));
const u32 = (n: number): number[] => [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff];
const bytes = (...parts: (number | number[])[]): Uint8Array => Uint8Array.from(parts.flat());
const shortUnicode = (s: string): number[] => [0x8c, s.length, ...ascii(s)];

/** JSON-like view of a pickle value, to compare with what Python wrote. */
function plain(v: PickleValue): unknown {
  if (typeof v === 'bigint') return v.toString();
  if (v instanceof PickleTuple) return v.items.map(plain);
  if (Array.isArray(v)) return v.map(plain);
  if (v instanceof PickleDict) return Object.fromEntries([...v.entries].map(([k, x]) => [String(k), plain(x)]));
  return v;
}

function refusal(data: Uint8Array, options: Partial<PickleOptions> = {}): CheckpointError {
  try {
    loadPickle(data, 0, { fileName: 'evil.pt (data.pkl)', ...options });
  } catch (e) {
    if (e instanceof CheckpointError) return e;
    throw e;
  }
  throw new Error('expected the pickle to be refused');
}

describe('pickle subset: real Python pickles', () => {
  for (const protocol of ['2', '3', '4', '5']) {
    it(`decodes a protocol ${protocol} pickle written by Python`, () => {
      const data = hex(manifest.pickles[protocol]!);
      const r = loadPickle(data, 0, { fileName: `p${protocol}` });
      expect(r.end).toBe(data.length);
      expect(r.protocol).toBe(Number(protocol));
      expect(plain(r.value)).toEqual(manifest.pickleValue);
      const root = r.value as PickleDict;
      expect(root.className).toBe('collections.OrderedDict');
      // Memo references resolve to the very same object, as in Python.
      const shared = root.entries.get('shared') as PickleValue[];
      expect(shared[0]).toBe(shared[1]);
      expect(typeof (root.entries.get('b') as PickleValue[])[6]).toBe('bigint');
    });
  }

  it('rebuilds tensor references through the allow-listed globals and persistent ids', () => {
    const data = new PickleWriter().write(new Map([['w', new TensorWrite('float16', '0', 6, [2, 3])]]));
    const pids: PickleValue[] = [];
    const r = loadPickle(data, 0, {
      fileName: 't',
      persistentLoad: (pid) => {
        pids.push(pid);
        return parseStoragePid(pid, 't');
      },
    });
    const t = (r.value as PickleDict).entries.get('w') as TensorRef;
    expect(t).toBeInstanceOf(TensorRef);
    expect([t.shape, t.stride, t.offset, t.storage.dtype, t.storage.key, t.storage.numel]).toEqual([[2, 3], [3, 1], 0, 'float16', '0', 6]);
    expect(pids.length).toBe(1);
  });

  it('the writer round-trips plain values (ints of every width, floats, strings, nesting)', () => {
    const value = {
      epoch: 5,
      big: 2 ** 40,
      neg: -70000,
      huge: -(2n ** 70n),
      lr: 1.5e-4,
      name: 'ünï',
      flags: [true, false, null],
      cfg: new Map<string, number[]>([['depths', [2, 2, 6, 2]]]),
      t: new PickleTuple([1, 2, 3, 4]),
    };
    const r = loadPickle(new PickleWriter().write(value), 0, { fileName: 'w' });
    expect(plain(r.value)).toEqual({
      epoch: 5,
      big: 2 ** 40,
      neg: -70000,
      huge: (-(2n ** 70n)).toString(),
      lr: 1.5e-4,
      name: 'ünï',
      flags: [true, false, null],
      cfg: { depths: [2, 2, 6, 2] },
      t: [1, 2, 3, 4],
    });
  });
});

describe('pickle subset: malicious input is refused and nothing runs', () => {
  // A sentinel the payloads "would" touch: JS cannot run Python, but the point is that the
  // interpreter stops at the GLOBAL, before any REDUCE or persistent id is even considered.
  it('GLOBAL os.system + REDUCE', () => {
    let persistentCalls = 0;
    const evil = bytes(0x80, 2, 0x63, ascii('os\nsystem\n'), 0x58, u32(9), ascii('rm -rf ~/'), 0x85, 0x52, 0x2e);
    const e = refusal(evil, { persistentLoad: () => ++persistentCalls });
    expect(e).toBeInstanceOf(UnsafePickleError);
    expect((e as UnsafePickleError).refused).toBe('os.system');
    expect(e.message).toMatch(/global 'os\.system' is not on the allow-list .* at byte 2; nothing was executed or imported/);
    expect(persistentCalls).toBe(0);
  });

  it('builtins.eval, subprocess.Popen, __builtin__.getattr, torch.load, the old _rebuild_tensor', () => {
    for (const [module, name] of [
      ['builtins', 'eval'],
      ['subprocess', 'Popen'],
      ['__builtin__', 'getattr'],
      ['torch', 'load'],
      ['torch._utils', '_rebuild_tensor'],
      ['collections', 'OrderedDict.fromkeys'],
    ] as const) {
      const e = refusal(bytes(0x80, 2, 0x63, ascii(`${module}\n${name}\n`), 0x29, 0x52, 0x2e));
      expect((e as UnsafePickleError).refused).toBe(`${module}.${name}`);
      expect(e.reason).toBe('unsafe-pickle');
    }
  });

  it('posix.system through STACK_GLOBAL (protocol 4)', () => {
    const evil = bytes(0x80, 4, shortUnicode('posix'), 0x94, shortUnicode('system'), 0x94, 0x93, shortUnicode('id'), 0x85, 0x52, 0x2e);
    const e = refusal(evil);
    expect((e as UnsafePickleError).refused).toBe('posix.system');
    expect(e.message).toMatch(/nothing was executed/);
  });

  it('calls and instantiation of allow-listed markers that are not callables', () => {
    const callStorage = refusal(bytes(0x80, 2, 0x63, ascii('torch\nFloatStorage\n'), 0x29, 0x52, 0x2e));
    expect(callStorage.message).toMatch(/call of 'torch\.FloatStorage'/);
    const odArgs = refusal(bytes(0x80, 2, 0x63, ascii('collections\nOrderedDict\n'), 0x5d, 0x85, 0x52, 0x2e));
    expect(odArgs.message).toMatch(/OrderedDict called with 1 arguments/);
    const newobj = refusal(bytes(0x80, 2, 0x63, ascii('collections\nOrderedDict\n'), 0x29, 0x81, 0x2e));
    expect(newobj.message).toMatch(/NEWOBJ \(instantiation\) of 'collections\.OrderedDict'/);
    const reduceString = refusal(bytes(0x80, 2, shortUnicode('os.system'), 0x29, 0x52, 0x2e));
    expect(reduceString.message).toMatch(/REDUCE \(a call\) of string/);
    const buildDict = refusal(bytes(0x80, 2, 0x7d, 0x7d, 0x62, 0x2e));
    expect(buildDict.message).toMatch(/BUILD \(set state\) on dict/);
  });

  it('INST, OBJ, EXT and protocol-0 text opcodes are refused by name', () => {
    const inst = refusal(bytes(0x80, 2, 0x28, ascii('ios\nsystem\n'), 0x2e));
    expect([(inst as UnsafePickleError).refused, inst.reason]).toEqual(['INST', 'unsafe-pickle']);
    expect(((refusal(bytes(0x80, 2, 0x28, 0x6f, 0x2e)) as UnsafePickleError).refused)).toBe('OBJ');
    expect(((refusal(bytes(0x80, 2, 0x82, 1, 0x2e)) as UnsafePickleError).refused)).toBe('EXT1');
    const text = refusal(bytes(0x49, ascii('1\n'), 0x2e));
    expect([(text as UnsafePickleError).refused, text.reason]).toEqual(['INT', 'unsupported']);
    expect(((refusal(bytes(0x80, 5, 0x97, 0x2e)) as UnsafePickleError).refused)).toBe('NEXT_BUFFER');
  });

  it('a persistent id where none is expected, and persistent ids that are not storages', () => {
    expect(((refusal(bytes(0x80, 2, 0x4b, 1, 0x51, 0x2e)) as UnsafePickleError).refused)).toBe('BINPERSID');
    const notStorage = bytes(0x80, 2, shortUnicode('module'), shortUnicode('x'), 0x86, 0x51, 0x2e);
    const e = refusal(notStorage, { persistentLoad: (pid) => parseStoragePid(pid, 'evil.pt') });
    expect(e.message).toMatch(/persistent id kind 'module'/);
  });

  it('unknown opcodes', () => {
    const e = refusal(bytes(0x80, 2, 0xff, 0x2e));
    expect([(e as UnsafePickleError).refused, e.reason]).toEqual(['0xff', 'corrupt']);
    expect(e.message).toMatch(/unknown opcode 0xff at byte 2/);
  });

  it('deep nesting: lists, tuples and MARKs', () => {
    const lists = bytes(0x80, 2, new Array(100).fill(0x5d), new Array(99).fill(0x61), 0x2e);
    expect(refusal(lists).message).toMatch(/nested deeper than 64 levels/);
    const tuples = bytes(0x80, 2, 0x29, new Array(100).fill(0x85), 0x2e);
    expect(refusal(tuples).message).toMatch(/nested deeper than 64 levels/);
    const marks = bytes(0x80, 2, new Array(100).fill(0x28), 0x2e);
    expect(refusal(marks).message).toMatch(/MARKs nested deeper than 64 levels/);
    // 60 levels is fine
    const ok = loadPickle(bytes(0x80, 2, new Array(60).fill(0x5d), new Array(59).fill(0x61), 0x2e), 0, { fileName: 'ok' });
    expect(Array.isArray(ok.value)).toBe(true);
  });

  it('huge lengths are refused before any allocation', () => {
    const e1 = refusal(bytes(0x80, 2, 0x58, u32(0xfffffff0), 0x2e));
    expect([e1.reason, e1.message]).toEqual(['limit-exceeded', expect.stringMatching(/BINUNICODE string of 4294967280 bytes exceeds the 16777216-byte limit/)]);
    const e2 = refusal(bytes(0x80, 4, 0x8d, [0, 0, 0, 0, 0, 0, 0, 0x10], 0x2e));
    expect(e2.reason).toBe('limit-exceeded');
    const e3 = refusal(bytes(0x80, 2, 0x8b, u32(1_000_000), 0x2e));
    expect(e3.message).toMatch(/LONG4 integer of 1000000 bytes/);
    const e4 = refusal(bytes(0x80, 4, 0x95, [0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0], 0x2e));
    expect([e4.reason, e4.message]).toEqual(['truncated', expect.stringMatching(/FRAME of 4294967295 bytes/)]);
  });

  it('memo, stack and element counts are bounded', () => {
    const limits = { ...DEFAULT_PICKLE_LIMITS, maxMemo: 10, maxStack: 50, maxElements: 20 };
    const memo = bytes(0x80, 2, 0x4e, ...Array.from({ length: 20 }, (_, i) => [0x71, i]), 0x2e);
    expect(refusal(memo, { limits }).message).toMatch(/more than 10 memo entries/);
    const stack = bytes(0x80, 2, new Array(60).fill(0x4e), 0x2e);
    expect(refusal(stack, { limits }).message).toMatch(/more than 50 values on the pickle stack/);
    // a list appended to over and over through the memo (no stack growth)
    const elements = bytes(0x80, 2, 0x5d, 0x71, 0, ...Array.from({ length: 30 }, () => [0x4e, 0x61]), 0x2e);
    expect(refusal(elements, { limits }).message).toMatch(/more than 20 elements in containers/);
  });

  it('truncated data and broken structure get specific errors', () => {
    const full = hex(manifest.pickles['2']!);
    for (const cut of [1, 2, 10, full.length >> 1, full.length - 1]) {
      const e = refusal(full.subarray(0, cut));
      expect(e.reason).toBe('truncated');
    }
    expect(refusal(bytes(0x80, 2, 0x58, u32(100), ascii('short'))).message).toMatch(/data truncated while reading BINUNICODE string: 100 bytes needed, 5 left/);
    expect(refusal(bytes(0x80, 2, 0x61, 0x2e)).message).toMatch(/APPEND on an empty stack/);
    expect(refusal(bytes(0x80, 2, 0x68, 7, 0x2e)).message).toMatch(/memo entry 7 read before it was written/);
    expect(refusal(bytes(0x80, 2, 0x4e, 0x4e, 0x75, 0x2e)).message).toMatch(/SETITEMS without a MARK/);
    expect(refusal(bytes(0x80, 9, 0x2e)).message).toMatch(/pickle protocol 9/);
  });

  it('tensor rebuilds with hooks or bad geometry are refused', () => {
    const call = (size: number[], stride: number[], hooks: number[]): Uint8Array =>
      bytes(
        0x80, 2,
        0x63, ascii('torch._utils\n_rebuild_tensor_v2\n'),
        0x28, // MARK: arguments
        0x28, shortUnicode('storage'), 0x63, ascii('torch\nFloatStorage\n'), shortUnicode('0'), shortUnicode('cpu'), 0x4b, 4, 0x74, 0x51,
        0x4b, 0,
        0x28, ...size.map((d) => [0x4b, d]), 0x74,
        0x28, ...stride.map((d) => [0x4b, d]), 0x74,
        0x89,
        hooks,
        0x74, 0x52, 0x2e,
      );
    const persistentLoad = (pid: PickleValue): PickleValue => parseStoragePid(pid, 'evil.pt');
    const emptyHooks = [0x63, ...ascii('collections\nOrderedDict\n'), 0x29, 0x52];
    const ok = loadPickle(call([2, 2], [2, 1], emptyHooks), 0, { fileName: 'ok', persistentLoad });
    expect((ok.value as TensorRef).shape).toEqual([2, 2]);
    const withHook = refusal(call([4], [1], [0x7d, ...shortUnicode('h'), 0x4b, 1, 0x73]), { persistentLoad });
    expect(withHook.message).toMatch(/tensor with backward hooks \(dict\)/);
    const mismatch = refusal(call([2, 2], [1], emptyHooks), { persistentLoad });
    expect([mismatch.reason, mismatch.message]).toEqual(['bad-tensor', expect.stringMatching(/size has 2 dims but stride has 1/)]);
  });
});

describe('pickle writer: what a training checkpoint needs (floats, int keys, Namespace, 0-dim tensors)', () => {
  it('writes Python floats for integral values, int-keyed dicts and an argparse.Namespace that the reader takes back', () => {
    const value = {
      scale: new PickleFloat(65536),
      tracker: 4,
      state: new PickleDictWrite([
        [0, { step: new TensorWrite('float32', '0', 1, []) }],
        [17, 'x'],
      ]),
      args: new PickleNamespace({ batch_size: 2, norm_pix_loss: true, log_dir: null, lr: new PickleFloat(0), betas: new PickleTuple([0.9, 0.95]) }),
    };
    const data = new PickleWriter().write(value);
    // BINFLOAT for the integral float, never an int opcode
    const scaleAt = [...data].findIndex((_, i) => String.fromCharCode(...data.subarray(i, i + 5)) === 'scale');
    expect(data[scaleAt + 5 + 2]).toBe(0x47);
    const r = loadPickle(data, 0, { fileName: 'w', persistentLoad: (pid) => parseStoragePid(pid, 'w') });
    const root = r.value as PickleDict;
    expect(root.entries.get('scale')).toBe(65536);
    const state = root.entries.get('state') as PickleDict;
    expect([...state.entries.keys()]).toEqual([0, 17]);
    const step = (state.entries.get(0) as PickleDict).entries.get('step') as TensorRef;
    expect(step).toBeInstanceOf(TensorRef);
    expect(step.shape).toEqual([]);
    expect(step.stride).toEqual([]);
    const args = root.entries.get('args') as PickleDict;
    expect(args.className).toBe('argparse.Namespace');
    expect(plain(args)).toEqual({ batch_size: 2, norm_pix_loss: true, log_dir: null, lr: 0, betas: [0.9, 0.95] });
  });
});
