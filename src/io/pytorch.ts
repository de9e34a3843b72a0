// PyTorch checkpoint files (.pt/.pth/.bin): reading what torch.save wrote, and writing files
// that torch.load reads (also with weights_only=True).
//
// Two on-disk formats exist. The zip format (torch ≥ 1.6): <prefix>/data.pkl holds the pickled
// object, <prefix>/data/<key> the raw bytes of each storage, <prefix>/version and (torch ≥ 2)
// <prefix>/byteorder. <prefix> is the file's base name in torch 1.x and 'archive' in 2.x. The
// legacy format (_use_new_zipfile_serialization=False): five pickles in a row (magic number,
// protocol version, sys info, the object, the sorted storage keys), then for each storage an
// int64 element count and its raw bytes.
//
// The pickle goes through the safe subset interpreter (pickle-reader.ts): nothing the file names is
// executed. Tensors are strided views of storages; non-contiguous views are gathered. Every
// tensor comes back as float32 data (dtype says what the file held).
import { loadPickle, type PickleLimits } from './pickle-reader.ts';
import {
  DTYPE_BYTES,
  parseStoragePid,
  PickleDict,
  PickleGlobal,
  PickleTuple,
  StorageRef,
  TensorRef,
  type PickleValue,
  type TorchDtype,
} from './pickle-values.ts';
import { PickleWriter, TensorWrite, type PickleWritable } from './pickle-writer.ts';
import { CheckpointError, looksLikeZip, readZip, writeZip, type ZipArchive, type ZipLimits } from './zip.ts';

export { CheckpointError } from './zip.ts';
export type { TorchDtype } from './pickle-values.ts';

/** A dense, row-major tensor. */
export interface TorchTensor {
  shape: number[];
  /** What the file stored; data is always float32. */
  dtype: TorchDtype;
  data: Float32Array;
}

/** JSON-like value for everything in a checkpoint that is not the state dict. */
export type PlainValue = null | boolean | number | string | PlainValue[] | { [key: string]: PlainValue };

export interface TorchCheckpoint {
  fileName: string;
  format: 'zip' | 'legacy';
  /** name → tensor, in file order. */
  stateDict: Map<string, TorchTensor>;
  /** The top-level key holding the state dict ('model'), or null when the file is the state dict. */
  stateDictKey: string | null;
  /** Keys of the top-level dict, in file order. */
  topLevelKeys: string[];
  /** The other top-level entries (epoch, args, optimizer...) as plain values; tensors become
   *  { tensor: { shape, dtype } } summaries. */
  extra: Record<string, PlainValue>;
  /**
   * The tensors inside the top-level entries named in ReadTorchOptions.extraTensorKeys (by
   * default 'optimizer'), loaded, by their path of keys joined with '.':
   * 'optimizer.state.3.exp_avg'. The summaries in `extra` stay.
   */
  extraTensors: Map<string, TorchTensor>;
}

export interface ReadTorchOptions {
  zipLimits?: ZipLimits;
  pickleLimits?: PickleLimits;
  /** Largest element count of one tensor (absurd shapes are refused before allocation). */
  maxTensorElements?: number;
  /** Top-level entries whose tensors are loaded into extraTensors (default ['optimizer']). */
  extraTensorKeys?: readonly string[];
}

/** Top-level keys tried, in order, for the state dict of a training checkpoint. */
const STATE_DICT_KEYS = ['model', 'state_dict'];

const LEGACY_MAGIC = 0x1950a86a20f9469cfc6cn;
const LEGACY_PROTOCOL = 1001;

export type CheckpointFormat = 'torch-zip' | 'torch-legacy' | 'torch-tar' | 'safetensors' | 'unknown';

/** What kind of file this is, from its first bytes (no parsing). */
export function detectCheckpointFormat(bytes: Uint8Array): CheckpointFormat {
  if (looksLikeZip(bytes)) return 'torch-zip';
  // protocol-2 pickle of the LONG1 magic number
  const legacy = [0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19];
  // (a file cut inside the magic number still goes to the legacy reader, to be called truncated)
  if (bytes.length >= 3 && legacy.every((b, i) => i >= bytes.length || bytes[i] === b)) return 'torch-legacy';
  if (bytes.length > 262 && String.fromCharCode(...bytes.subarray(257, 262)) === 'ustar') return 'torch-tar';
  if (bytes.length >= 9 && bytes[8] === 0x7b) {
    const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (v.getUint32(4, true) === 0 && v.getUint32(0, true) + 8 <= bytes.length) return 'safetensors';
  }
  return 'unknown';
}

/** Reads a torch.save file. Throws CheckpointError naming the file and the reason. */
export function readTorchCheckpoint(bytes: Uint8Array, fileName: string, options: ReadTorchOptions = {}): TorchCheckpoint {
  const format = detectCheckpointFormat(bytes);
  switch (format) {
    case 'torch-zip':
      return readZipCheckpoint(bytes, fileName, options);
    case 'torch-legacy':
      return readLegacyCheckpoint(bytes, fileName, options);
    case 'torch-tar':
      throw new CheckpointError(fileName, 'unsupported', 'tar-based checkpoint from PyTorch < 0.4 is not supported; load and re-save it with a current torch.save');
    case 'safetensors':
      throw new CheckpointError(fileName, 'not-a-checkpoint', 'this is a safetensors file, not a PyTorch pickle checkpoint; open it with the safetensors reader');
    default:
      if (bytes.length > 0 && bytes[0] === 0x80) {
        throw new CheckpointError(fileName, 'not-a-checkpoint', 'a bare Python pickle without the torch.save magic number: not a PyTorch checkpoint');
      }
      throw new CheckpointError(
        fileName,
        bytes.length < 64 ? 'truncated' : 'not-a-checkpoint',
        `not a PyTorch checkpoint (${bytes.length} bytes, starts with ${[...bytes.subarray(0, 4)].map((b) => b.toString(16).padStart(2, '0')).join(' ')})`,
      );
  }
}

function archivePrefix(zip: ZipArchive, fileName: string): string {
  const pickles = zip.entries.filter((e) => /^[^/]+\/data\.pkl$/.test(e.name));
  if (pickles.length === 1) return pickles[0]!.name.slice(0, -'data.pkl'.length);
  if (pickles.length > 1) throw new CheckpointError(fileName, 'corrupt', `zip holds ${pickles.length} data.pkl records`);
  if (zip.entries.some((e) => /^[^/]+\/constants\.pkl$/.test(e.name))) {
    throw new CheckpointError(fileName, 'unsupported', 'this is a TorchScript archive (torch.jit.save); save model.state_dict() with torch.save instead');
  }
  const names = zip.entries.slice(0, 5).map((e) => e.name).join(', ');
  throw new CheckpointError(fileName, 'not-a-checkpoint', `zip archive without <name>/data.pkl: not a PyTorch checkpoint (entries: ${names}${zip.entries.length > 5 ? ', …' : ''})`);
}

function readZipCheckpoint(bytes: Uint8Array, fileName: string, options: ReadTorchOptions): TorchCheckpoint {
  const zip = readZip(bytes, fileName, options.zipLimits);
  const prefix = archivePrefix(zip, fileName);
  let littleEndian = true;
  if (zip.has(`${prefix}byteorder`)) {
    const order = new TextDecoder().decode(zip.read(`${prefix}byteorder`)).trim();
    if (order !== 'little' && order !== 'big') throw new CheckpointError(fileName, 'corrupt', `byteorder record says '${order}'`);
    littleEndian = order === 'little';
  }
  const part = `${prefix}data.pkl`;
  const { value } = loadPickle(zip.read(part), 0, {
    fileName,
    part,
    limits: options.pickleLimits,
    persistentLoad: (pid) => parseStoragePid(pid, fileName, part),
  });
  const storages = new Map<string, Uint8Array>();
  const storageBytes = (ref: StorageRef): Uint8Array => {
    let data = storages.get(ref.key);
    if (!data) {
      const name = `${prefix}data/${ref.key}`;
      if (!zip.has(name)) throw new CheckpointError(fileName, 'corrupt', `storage '${ref.key}' is referenced but ${name} is missing`);
      data = zip.read(name);
      storages.set(ref.key, data);
    }
    return data;
  };
  return assemble(value, fileName, 'zip', storageBytes, littleEndian, options);
}

function readLegacyCheckpoint(bytes: Uint8Array, fileName: string, options: ReadTorchOptions): TorchCheckpoint {
  const opts = { fileName, part: 'legacy header', limits: options.pickleLimits };
  const magic = loadPickle(bytes, 0, opts);
  if (magic.value !== LEGACY_MAGIC) throw new CheckpointError(fileName, 'not-a-checkpoint', 'legacy torch magic number mismatch');
  const protocol = loadPickle(bytes, magic.end, opts);
  if (protocol.value !== LEGACY_PROTOCOL) {
    throw new CheckpointError(fileName, 'unsupported', `legacy torch protocol version ${String(protocol.value)} (only ${LEGACY_PROTOCOL} is read)`);
  }
  const sysInfo = loadPickle(bytes, protocol.end, opts);
  let littleEndian = true;
  if (sysInfo.value instanceof PickleDict) {
    const le = sysInfo.value.entries.get('little_endian');
    if (typeof le === 'boolean') littleEndian = le;
  }
  const part = 'legacy pickle';
  const refs = new Map<string, StorageRef>();
  const main = loadPickle(bytes, sysInfo.end, {
    fileName,
    part,
    limits: options.pickleLimits,
    persistentLoad: (pid) => {
      const ref = parseStoragePid(pid, fileName, part);
      const known = refs.get(ref.key);
      if (known && known.dtype !== ref.dtype) throw new CheckpointError(fileName, 'corrupt', `storage '${ref.key}' referenced with two dtypes`);
      refs.set(ref.key, ref);
      return ref;
    },
  });
  const keysPickle = loadPickle(bytes, main.end, { fileName, part: 'legacy storage keys', limits: options.pickleLimits });
  const keys = keysPickle.value;
  if (!Array.isArray(keys) || !keys.every((k) => typeof k === 'string')) {
    throw new CheckpointError(fileName, 'corrupt', 'legacy storage key list is not a list of strings');
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const storages = new Map<string, Uint8Array>();
  let at = keysPickle.end;
  for (const key of keys as string[]) {
    const ref = refs.get(key);
    if (!ref) throw new CheckpointError(fileName, 'corrupt', `legacy storage '${key}' is listed but never referenced`);
    if (at + 8 > bytes.length) throw new CheckpointError(fileName, 'truncated', `file ends before the size of storage '${key}' (offset ${at})`);
    const lo = view.getUint32(at + (littleEndian ? 0 : 4), littleEndian);
    const hi = view.getUint32(at + (littleEndian ? 4 : 0), littleEndian);
    const numel = hi * 4294967296 + lo;
    const length = numel * DTYPE_BYTES[ref.dtype];
    at += 8;
    if (!(at + length <= bytes.length)) {
      throw new CheckpointError(fileName, 'truncated', `storage '${key}' needs ${length} bytes at offset ${at}, the file has ${bytes.length - at} left`);
    }
    storages.set(key, bytes.subarray(at, at + length));
    at += length;
  }
  const storageBytes = (ref: StorageRef): Uint8Array => {
    const data = storages.get(ref.key);
    if (!data) throw new CheckpointError(fileName, 'corrupt', `storage '${ref.key}' is not in the file's storage list`);
    return data;
  };
  return assemble(main.value, fileName, 'legacy', storageBytes, littleEndian, options);
}

function isStateDict(v: PickleValue): v is PickleDict {
  if (!(v instanceof PickleDict) || v.entries.size === 0) return false;
  for (const [k, t] of v.entries) if (typeof k !== 'string' || !(t instanceof TensorRef)) return false;
  return true;
}

function assemble(
  root: PickleValue,
  fileName: string,
  format: 'zip' | 'legacy',
  storageBytes: (ref: StorageRef) => Uint8Array,
  littleEndian: boolean,
  options: ReadTorchOptions,
): TorchCheckpoint {
  if (!(root instanceof PickleDict)) {
    throw new CheckpointError(fileName, 'not-a-state-dict', `the checkpoint holds a ${describeValue(root)}, not a dict of tensors`);
  }
  const topLevelKeys = [...root.entries.keys()].map((k) => String(k));
  let stateDictKey: string | null = null;
  let sd: PickleDict | null = null;
  for (const key of STATE_DICT_KEYS) {
    const v = root.entries.get(key);
    if (v === undefined) continue;
    if (!(v instanceof PickleDict)) continue;
    for (const [k, t] of v.entries) {
      if (typeof k !== 'string' || !(t instanceof TensorRef)) {
        throw new CheckpointError(fileName, 'not-a-state-dict', `'${key}' entry '${String(k)}' is a ${describeValue(t)}, not a tensor`);
      }
    }
    stateDictKey = key;
    sd = v;
    break;
  }
  if (!sd) {
    if (!isStateDict(root)) {
      throw new CheckpointError(
        fileName,
        'not-a-state-dict',
        `no state dict found: top-level keys are ${topLevelKeys.slice(0, 12).join(', ') || '(none)'}; expected a 'model' entry or a dict of tensors`,
      );
    }
    sd = root;
  }
  const stateDict = new Map<string, TorchTensor>();
  const maxElements = options.maxTensorElements ?? 2 ** 31 - 1;
  for (const [name, ref] of sd.entries) {
    stateDict.set(name as string, materialize(ref as TensorRef, name as string, fileName, storageBytes, littleEndian, maxElements));
  }
  const extra: Record<string, PlainValue> = {};
  const extraTensors = new Map<string, TorchTensor>();
  if (stateDictKey !== null) {
    const budget = { left: 1_000_000 };
    for (const [k, v] of root.entries) if (k !== stateDictKey) extra[String(k)] = toPlain(v, 0, budget, fileName);
    const load = (v: PickleValue, path: string, depth: number): void => {
      if (depth > 16) return;
      if (v instanceof TensorRef) extraTensors.set(path, materialize(v, path, fileName, storageBytes, littleEndian, maxElements));
      else if (v instanceof PickleDict) for (const [k, x] of v.entries) load(x, `${path}.${String(k)}`, depth + 1);
      else if (Array.isArray(v) || v instanceof PickleTuple) (Array.isArray(v) ? v : v.items).forEach((x, i) => load(x, `${path}.${i}`, depth + 1));
    };
    for (const key of options.extraTensorKeys ?? ['optimizer']) {
      const v = root.entries.get(key);
      if (v !== undefined && key !== stateDictKey) load(v, key, 0);
    }
  }
  return { fileName, format, stateDict, stateDictKey, topLevelKeys, extra, extraTensors };
}

function describeValue(v: PickleValue): string {
  if (v === null) return 'None';
  if (v instanceof PickleDict) return v.className;
  if (v instanceof PickleTuple) return 'tuple';
  if (Array.isArray(v)) return 'list';
  if (v instanceof TensorRef) return 'tensor';
  if (v instanceof PickleGlobal) return v.fullName;
  return typeof v;
}

/** Converts pickle values to JSON-like ones, bounding depth and total work (memo can share). */
function toPlain(v: PickleValue, depth: number, budget: { left: number }, fileName: string): PlainValue {
  if (--budget.left < 0) throw new CheckpointError(fileName, 'limit-exceeded', 'checkpoint metadata has more than 1,000,000 values');
  if (depth > 64) throw new CheckpointError(fileName, 'limit-exceeded', 'checkpoint metadata nested deeper than 64 levels');
  if (v === null || typeof v === 'boolean' || typeof v === 'number' || typeof v === 'string') return v;
  if (typeof v === 'bigint') return Number.isSafeInteger(Number(v)) ? Number(v) : v.toString();
  if (v instanceof Uint8Array) return { bytes: v.length };
  if (v instanceof TensorRef) return { tensor: { shape: v.shape, dtype: v.storage.dtype } };
  if (v instanceof StorageRef) return { storage: { dtype: v.dtype, numel: v.numel } };
  if (v instanceof PickleGlobal) return { global: v.fullName };
  if (v instanceof PickleTuple) return v.items.map((x) => toPlain(x, depth + 1, budget, fileName));
  if (Array.isArray(v)) return v.map((x) => toPlain(x, depth + 1, budget, fileName));
  const out: { [key: string]: PlainValue } = {};
  for (const [k, x] of v.entries) out[k instanceof PickleTuple ? `(${k.items.map(String).join(', ')})` : String(k)] = toPlain(x, depth + 1, budget, fileName);
  return out;
}

const f16Table = (() => {
  const t = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const exp = (h >> 10) & 0x1f;
    const frac = h & 0x3ff;
    t[h] =
      exp === 0 ? sign * frac * 2 ** -24 : exp === 31 ? (frac ? NaN : sign * Infinity) : sign * (1 + frac / 1024) * 2 ** (exp - 15);
  }
  return t;
})();

/** Reads element i (storage index) as a number. */
function elementReader(dtype: TorchDtype, view: DataView, le: boolean): (i: number) => number {
  const bf16 = new Float32Array(1);
  const bf16Bits = new Uint32Array(bf16.buffer);
  switch (dtype) {
    case 'float32':
      return (i) => view.getFloat32(i * 4, le);
    case 'float64':
      return (i) => view.getFloat64(i * 8, le);
    case 'float16':
      return (i) => f16Table[view.getUint16(i * 2, le)]!;
    case 'bfloat16':
      return (i) => {
        bf16Bits[0] = view.getUint16(i * 2, le) << 16;
        return bf16[0]!;
      };
    case 'int64':
      return (i) => {
        const lo = view.getUint32(i * 8 + (le ? 0 : 4), le);
        const hi = view.getInt32(i * 8 + (le ? 4 : 0), le);
        return hi * 4294967296 + lo;
      };
    case 'int32':
      return (i) => view.getInt32(i * 4, le);
    case 'int16':
      return (i) => view.getInt16(i * 2, le);
    case 'int8':
      return (i) => view.getInt8(i);
    case 'uint8':
    case 'bool':
      return (i) => view.getUint8(i);
  }
}

function materialize(
  ref: TensorRef,
  name: string,
  fileName: string,
  storageBytes: (ref: StorageRef) => Uint8Array,
  littleEndian: boolean,
  maxElements: number,
): TorchTensor {
  const { shape, stride, offset } = ref;
  const dtype = ref.storage.dtype;
  const elementBytes = DTYPE_BYTES[dtype];
  let numel = 1;
  for (const d of shape) {
    numel *= d;
    if (numel > maxElements) {
      throw new CheckpointError(fileName, 'bad-tensor', `tensor '${name}' has absurd shape (${shape.join(', ')}): more than ${maxElements} elements`);
    }
  }
  const data = new Float32Array(numel); // (numel) row-major
  if (numel === 0) return { shape: [...shape], dtype, data };
  let last = offset; // largest storage index the view touches
  for (let d = 0; d < shape.length; d++) last += (shape[d]! - 1) * stride[d]!;
  const raw = storageBytes(ref.storage);
  // Zip storages record bytes; torch writes numel·elementSize of them (untyped storages in 2.x
  // give numel in bytes). Either must hold the view.
  if (raw.length % elementBytes !== 0) {
    throw new CheckpointError(fileName, 'corrupt', `storage '${ref.storage.key}' of ${raw.length} bytes is not a whole number of ${dtype} elements`);
  }
  const available = raw.length / elementBytes;
  if (last >= available) {
    throw new CheckpointError(
      fileName,
      'bad-tensor',
      `tensor '${name}' (shape ${shape.join('×')}, stride ${stride.join(',')}, offset ${offset}) reaches element ${last} of storage '${ref.storage.key}', which holds ${available}`,
    );
  }
  const contiguous = isContiguous(shape, stride);
  if (contiguous && dtype === 'float32' && littleEndian && (raw.byteOffset + offset * 4) % 4 === 0) {
    data.set(new Float32Array(raw.buffer, raw.byteOffset + offset * 4, numel));
    return { shape: [...shape], dtype, data };
  }
  const read = elementReader(dtype, new DataView(raw.buffer, raw.byteOffset, raw.byteLength), littleEndian);
  if (contiguous) {
    for (let i = 0; i < numel; i++) data[i] = read(offset + i);
    return { shape: [...shape], dtype, data };
  }
  // Strided gather: walk the row-major multi-index of the output.
  const rank = shape.length;
  const index = new Array<number>(rank).fill(0);
  let src = offset;
  for (let i = 0; i < numel; i++) {
    data[i] = read(src);
    for (let d = rank - 1; d >= 0; d--) {
      index[d]!++;
      src += stride[d]!;
      if (index[d]! < shape[d]!) break;
      src -= index[d]! * stride[d]!;
      index[d] = 0;
    }
  }
  return { shape: [...shape], dtype, data };
}

function isContiguous(shape: number[], stride: number[]): boolean {
  let expected = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    if (shape[d] !== 1 && stride[d] !== expected) return false;
    expected *= shape[d]!;
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// Writing

/** A tensor to write; data is row-major. */
export interface TensorToWrite {
  shape: readonly number[];
  data: Float32Array | Float64Array | ArrayLike<number>;
}

export interface WriteTorchOptions {
  /** Storage dtype of every tensor (default float32). */
  dtype?: 'float32' | 'float16' | 'bfloat16';
  /** Top-level key of the state dict (default 'model', as the official trainer writes); null
   *  writes the state dict itself as the top level (timm / Hugging Face .bin files). */
  stateDictKey?: string | null;
  /** Folder name inside the zip (torch 2.x writes 'archive'). */
  archiveName?: string;
}

/** Plain extras for the top-level dict: epoch, step, config... */
export type TorchExtra = null | boolean | number | string | TorchExtra[] | { [key: string]: TorchExtra };

/** float32 → float16 bits, round to nearest even (as torch's .half()). */
export function float32ToFloat16Bits(x: number): number {
  const f = new Float32Array([x]);
  const b = new Uint32Array(f.buffer)[0]!;
  const sign = (b >>> 16) & 0x8000;
  const exp = (b >>> 23) & 0xff;
  let mant = b & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let h = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    if (rem > half || (rem === half && h & 1)) h++;
    return sign | h;
  }
  let h = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && h & 1)) h++; // a carry into the exponent rounds up correctly (to Inf at most)
  return sign | h;
}

/** float32 → bfloat16 bits, round to nearest even (as torch's .bfloat16()). */
export function float32ToBfloat16Bits(x: number): number {
  const f = new Float32Array([x]);
  const b = new Uint32Array(f.buffer)[0]!;
  if ((b & 0x7fffffff) > 0x7f800000) return ((b >>> 16) & 0xffff) | 0x40; // quiet NaN
  return ((b + 0x7fff + ((b >>> 16) & 1)) >>> 16) & 0xffff;
}

function storageData(t: TensorToWrite, dtype: 'float32' | 'float16' | 'bfloat16'): Uint8Array {
  const n = t.data.length;
  if (dtype === 'float32') {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = t.data[i]!;
    return new Uint8Array(out.buffer); // little-endian hosts only (every browser target is)
  }
  const out = new Uint16Array(n);
  const convert = dtype === 'float16' ? float32ToFloat16Bits : float32ToBfloat16Bits;
  for (let i = 0; i < n; i++) out[i] = convert(t.data[i]!);
  return new Uint8Array(out.buffer);
}

/**
 * A torch.save zip of any object the pickle writer takes: tensor() registers a tensor's bytes
 * (storage keys '0', '1', ... in call order, as torch.save numbers them) and returns the value to
 * place in the object; finish() writes the archive. A 0-dim tensor has shape [].
 */
export class TorchZipBuilder {
  private readonly files: { key: string; data: Uint8Array }[] = [];

  tensor(t: TensorToWrite, dtype: 'float32' | 'float16' | 'bfloat16' = 'float32'): TensorWrite {
    const numel = t.shape.reduce((a, b) => a * b, 1);
    if (numel !== t.data.length) throw new Error(`TorchZipBuilder: shape (${t.shape.join(', ')}) = ${numel} elements but ${t.data.length} values`);
    const key = String(this.files.length);
    this.files.push({ key, data: storageData(t, dtype) });
    return new TensorWrite(dtype, key, numel, [...t.shape]);
  }

  finish(root: PickleWritable, archive = 'archive'): Uint8Array {
    const enc = new TextEncoder();
    return writeZip([
      { name: `${archive}/data.pkl`, data: new PickleWriter().write(root) },
      { name: `${archive}/byteorder`, data: enc.encode('little') },
      ...this.files.map((f) => ({ name: `${archive}/data/${f.key}`, data: f.data })),
      { name: `${archive}/version`, data: enc.encode('3\n') },
    ]);
  }
}

/**
 * A torch.save-compatible zip: {stateDictKey: OrderedDict(name → tensor), ...extras}. torch 1.13
 * reads it with weights_only=True as long as the extras hold no floats (its safe unpickler has no
 * BINFLOAT); weights_only=False reads everything.
 */
export function writeTorchCheckpoint(
  stateDict: ReadonlyMap<string, TensorToWrite>,
  extras: Record<string, TorchExtra> = {},
  options: WriteTorchOptions = {},
): Uint8Array {
  const dtype = options.dtype ?? 'float32';
  const key = options.stateDictKey === undefined ? 'model' : options.stateDictKey;
  const archive = options.archiveName ?? 'archive';
  if (key !== null && key in extras) throw new Error(`writeTorchCheckpoint: extra '${key}' would overwrite the state dict`);
  if (key === null && Object.keys(extras).length) throw new Error('writeTorchCheckpoint: extras need a state dict key (the top level is the state dict)');
  const model = new Map<string, PickleWritable>();
  const files: { name: string; data: Uint8Array }[] = [];
  let storageIndex = 0;
  for (const [name, t] of stateDict) {
    const numel = t.shape.reduce((a, b) => a * b, 1);
    if (numel !== t.data.length) {
      throw new Error(`writeTorchCheckpoint: tensor '${name}' has shape (${t.shape.join(', ')}) = ${numel} elements but ${t.data.length} values`);
    }
    const storageKey = String(storageIndex++);
    model.set(name, new TensorWrite(dtype, storageKey, numel, [...t.shape]));
    files.push({ name: `${archive}/data/${storageKey}`, data: storageData(t, dtype) });
  }
  const top: PickleWritable = key === null ? model : { [key]: model, ...(extras as { [k: string]: PickleWritable }) };
  const pickle = new PickleWriter().write(top);
  const enc = new TextEncoder();
  return writeZip([
    { name: `${archive}/data.pkl`, data: pickle },
    { name: `${archive}/byteorder`, data: enc.encode('little') },
    ...files,
    { name: `${archive}/version`, data: enc.encode('3\n') },
  ]);
}
