// Safetensors read/write: the checkpoint format the playground saves and loads.
//
// Layout: 8-byte little-endian u64 header length N, N bytes of UTF-8 JSON
// { name: { dtype, shape, data_offsets: [begin, end] }, "__metadata__": { str: str } },
// then the byte buffer; offsets are relative to the buffer and must tile it exactly (no
// gaps, no overlaps, no trailing bytes: the format forbids holes so files cannot be
// polyglots). The reader is strict and every refusal is a SafetensorsError naming the file,
// the tensor and a machine-readable `code`.
//
// Surprises worth knowing:
// - JSON.parse silently keeps the last of duplicate keys, so duplicate tensor names are found
//   by a separate scan of the header's tokens.
// - Every tensor is converted to a Float32Array (`data`, a copy, never a view of the input);
//   integers beyond 2^24 round there, so `tensorFloat64` gives exact values (F64 fixtures,
//   I64 counters). I64/U64 values beyond 2^53 cannot be JavaScript numbers: refused.
// - The writer is canonical: F32 (and I64 for BigInt64Array data: labels), names sorted by code point (not UTF-16 unit order),
//   "__metadata__" first, compact JSON, header padded with spaces so the data starts at a
//   multiple of 8 bytes. The JSON text is assembled by hand because JavaScript objects put
//   integer-like keys ("10") first whatever their insertion order.

export type SafetensorsDtype =
  | 'BOOL'
  | 'U8'
  | 'I8'
  | 'I16'
  | 'U16'
  | 'F16'
  | 'BF16'
  | 'I32'
  | 'U32'
  | 'F32'
  | 'I64'
  | 'U64'
  | 'F64';

/** Bytes per element of each dtype this reader converts. */
export const DTYPE_SIZE: Readonly<Record<SafetensorsDtype, number>> = {
  BOOL: 1,
  U8: 1,
  I8: 1,
  I16: 2,
  U16: 2,
  F16: 2,
  BF16: 2,
  I32: 4,
  U32: 4,
  F32: 4,
  I64: 8,
  U64: 8,
  F64: 8,
};

/** Valid safetensors dtypes that this reader does not convert (8-bit and 4-bit floats). */
const KNOWN_UNSUPPORTED = new Set(['F8_E4M3', 'F8_E5M2', 'F8_E8M0', 'F6_E2M3', 'F6_E3M2', 'F4', 'C64']);

/** Largest element count accepted for one tensor (2^31): beyond it no typed array helps. */
export const MAX_TENSOR_ELEMENTS = 2 ** 31;

export type SafetensorsErrorCode =
  | 'truncated' // file shorter than the 8-byte length prefix
  | 'header-too-large' // header length larger than the file
  | 'invalid-json' // header is not UTF-8 JSON, or not a JSON object
  | 'duplicate-name' // a tensor name (or an entry field) appears twice
  | 'bad-metadata' // __metadata__ is not an object of strings
  | 'bad-entry' // entry is not {dtype, shape, data_offsets} or has other fields
  | 'unknown-dtype' // not a safetensors dtype
  | 'unsupported-dtype' // a safetensors dtype this reader does not convert
  | 'bad-shape' // negative, non-integer or absurd (> 2^31 elements) shape
  | 'offsets-out-of-range' // offsets negative, reversed or past the end of the data
  | 'size-mismatch' // end − begin ≠ product(shape) · dtype size
  | 'overlap' // two tensors share bytes
  | 'non-contiguous' // a hole between tensors, or bytes after the last one
  | 'integer-overflow' // an I64/U64 value beyond 2^53
  | 'bad-input'; // writer: data length ≠ product(shape), duplicate or empty name

export class SafetensorsError extends Error {
  override readonly name = 'SafetensorsError';
  constructor(
    readonly code: SafetensorsErrorCode,
    /** The file (or source label) being read or written. */
    readonly file: string,
    /** The offending tensor, when one is to blame. */
    readonly tensor: string | undefined,
    detail: string,
  ) {
    super(`${file}${tensor !== undefined ? `: tensor '${tensor}'` : ''}: ${detail}`);
  }
}

export interface SafetensorsTensor {
  dtype: SafetensorsDtype;
  shape: number[];
  /** Every value converted to float32 (a copy). Integers beyond 2^24 round; see tensorFloat64. */
  data: Float32Array;
  /** The tensor's stored bytes, little-endian (a view into the input). */
  raw: Uint8Array;
}

export interface SafetensorsFile {
  /** In the order of the data buffer. */
  tensors: Map<string, SafetensorsTensor>;
  metadata: Record<string, string>;
}

export interface ParseOptions {
  /** Name used in error messages (file name or URL). */
  source?: string;
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

// ---- half-precision decoding --------------------------------------------------------------

function f16ToNumber(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exponent = (h >> 10) & 0x1f;
  const fraction = h & 0x3ff;
  if (exponent === 0) return sign * fraction * 2 ** -24; // zero and subnormals
  if (exponent === 0x1f) return fraction ? NaN : sign * Infinity;
  return sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
}

// ---- header checks ------------------------------------------------------------------------

/** Finds a key repeated inside one JSON object (JSON.parse keeps the last silently). */
function findDuplicateKey(json: string): { key: string; path: string } | null {
  interface Frame {
    object: boolean;
    keys: Set<string>;
    expectKey: boolean;
    name: string;
  }
  const stack: Frame[] = [];
  let lastKey = '';
  for (let i = 0; i < json.length; i++) {
    const ch = json[i];
    if (ch === '"') {
      let j = i + 1;
      while (json[j] !== '"') j += json[j] === '\\' ? 2 : 1;
      const text = JSON.parse(json.slice(i, j + 1)) as string;
      const top = stack[stack.length - 1];
      if (top && top.object && top.expectKey) {
        if (top.keys.has(text)) return { key: text, path: top.name };
        top.keys.add(text);
        top.expectKey = false;
        lastKey = text;
      }
      i = j;
    } else if (ch === '{' || ch === '[') {
      const top = stack[stack.length - 1];
      stack.push({ object: ch === '{', keys: new Set(), expectKey: ch === '{', name: top?.object ? lastKey : '' });
    } else if (ch === '}' || ch === ']') {
      stack.pop();
    } else if (ch === ',') {
      const top = stack[stack.length - 1];
      if (top?.object) top.expectKey = true;
    }
  }
  return null;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

interface Entry {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
  begin: number;
  end: number;
}

function checkEntry(file: string, name: string, value: unknown, dataLength: number): Entry {
  const fail = (code: SafetensorsErrorCode, detail: string): never => {
    throw new SafetensorsError(code, file, name, detail);
  };
  if (!isPlainObject(value)) return fail('bad-entry', `entry is ${JSON.stringify(value)}, expected {dtype, shape, data_offsets}`);
  for (const key of Object.keys(value)) {
    if (key !== 'dtype' && key !== 'shape' && key !== 'data_offsets') fail('bad-entry', `unexpected field '${key}'`);
  }
  const { dtype, shape, data_offsets: offsets } = value;
  if (typeof dtype !== 'string') return fail('bad-entry', 'missing or non-string dtype');
  if (!(dtype in DTYPE_SIZE)) {
    if (KNOWN_UNSUPPORTED.has(dtype)) fail('unsupported-dtype', `dtype ${dtype} is valid safetensors but not supported here; convert it to F32/F16/BF16 first`);
    fail('unknown-dtype', `unknown dtype '${dtype}' (known: ${Object.keys(DTYPE_SIZE).join(', ')})`);
  }
  if (!Array.isArray(shape)) return fail('bad-entry', 'missing or non-array shape');
  let count = 1;
  for (const d of shape) {
    if (typeof d !== 'number' || !Number.isSafeInteger(d) || d < 0) fail('bad-shape', `shape [${shape.join(', ')}] has a dimension that is not a non-negative integer`);
    count *= d as number;
  }
  if (count > MAX_TENSOR_ELEMENTS) fail('bad-shape', `shape [${shape.join(', ')}] has ${count} elements (more than 2^31)`);
  if (!Array.isArray(offsets) || offsets.length !== 2) return fail('bad-entry', 'data_offsets must be [begin, end]');
  const [begin, end] = offsets as unknown[];
  if (typeof begin !== 'number' || typeof end !== 'number' || !Number.isSafeInteger(begin) || !Number.isSafeInteger(end)) {
    return fail('offsets-out-of-range', `data_offsets [${String(begin)}, ${String(end)}] are not integers`);
  }
  if (begin < 0 || end < begin || end > dataLength) {
    fail('offsets-out-of-range', `data_offsets [${begin}, ${end}] outside the ${dataLength}-byte data buffer (or reversed)`);
  }
  const bytes = count * DTYPE_SIZE[dtype as SafetensorsDtype];
  if (end - begin !== bytes) {
    fail('size-mismatch', `data_offsets [${begin}, ${end}] hold ${end - begin} bytes but shape [${shape.join(', ')}] of ${dtype} needs ${bytes}`);
  }
  return { name, dtype: dtype as SafetensorsDtype, shape: shape as number[], begin, end };
}

// ---- conversion ---------------------------------------------------------------------------

function convert(file: string, e: Entry, raw: Uint8Array): Float32Array {
  const count = (e.end - e.begin) / DTYPE_SIZE[e.dtype];
  if (e.dtype === 'F32' && LITTLE_ENDIAN) {
    const copy = new Uint8Array(raw.length);
    copy.set(raw); // aligned copy: the input offset need not be a multiple of 4
    return new Float32Array(copy.buffer, 0, count);
  }
  const out = new Float32Array(count);
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const f64 = convertFloat64(file, e.name, e.dtype, view, count);
  out.set(f64);
  return out;
}

function convertFloat64(file: string, name: string, dtype: SafetensorsDtype, view: DataView, count: number): Float64Array {
  const out = new Float64Array(count);
  const bigLimit = 2n ** 53n;
  const scratch = new DataView(new ArrayBuffer(4)); // bfloat16 is the top half of a float32
  for (let i = 0; i < count; i++) {
    switch (dtype) {
      case 'BOOL':
      case 'U8':
        out[i] = view.getUint8(i);
        break;
      case 'I8':
        out[i] = view.getInt8(i);
        break;
      case 'I16':
        out[i] = view.getInt16(2 * i, true);
        break;
      case 'U16':
        out[i] = view.getUint16(2 * i, true);
        break;
      case 'F16':
        out[i] = f16ToNumber(view.getUint16(2 * i, true));
        break;
      case 'BF16':
        scratch.setUint32(0, view.getUint16(2 * i, true) << 16, true);
        out[i] = scratch.getFloat32(0, true);
        break;
      case 'I32':
        out[i] = view.getInt32(4 * i, true);
        break;
      case 'U32':
        out[i] = view.getUint32(4 * i, true);
        break;
      case 'F32':
        out[i] = view.getFloat32(4 * i, true);
        break;
      case 'I64':
      case 'U64': {
        const v = dtype === 'I64' ? view.getBigInt64(8 * i, true) : view.getBigUint64(8 * i, true);
        if (v > bigLimit || v < -bigLimit) {
          throw new SafetensorsError('integer-overflow', file, name, `element ${i} = ${v} is beyond 2^53 and cannot be represented exactly as a JavaScript number`);
        }
        out[i] = Number(v);
        break;
      }
      case 'F64':
        out[i] = view.getFloat64(8 * i, true);
        break;
    }
  }
  return out;
}

/** Exact values of a tensor as float64 (F64 fixtures, integer counters). */
export function tensorFloat64(t: SafetensorsTensor, name = 'tensor'): Float64Array {
  const count = t.shape.reduce((a, b) => a * b, 1);
  return convertFloat64('tensorFloat64', name, t.dtype, new DataView(t.raw.buffer, t.raw.byteOffset, t.raw.byteLength), count);
}

// ---- reader -------------------------------------------------------------------------------

export function parseSafetensors(bytes: Uint8Array, options: ParseOptions = {}): SafetensorsFile {
  const file = options.source ?? 'safetensors';
  const fail = (code: SafetensorsErrorCode, detail: string): never => {
    throw new SafetensorsError(code, file, undefined, detail);
  };
  if (bytes.length < 8) fail('truncated', `file is ${bytes.length} bytes, shorter than the 8-byte header length`);
  const headerLength = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
  if (headerLength > BigInt(bytes.length - 8)) {
    fail('header-too-large', `header length ${headerLength} is larger than the file (${bytes.length} bytes): not a safetensors file, or truncated`);
  }
  const headerEnd = 8 + Number(headerLength);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, headerEnd));
  } catch {
    return fail('invalid-json', 'header is not valid UTF-8');
  }
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (e) {
    return fail('invalid-json', `header is not valid JSON (${(e as Error).message})`);
  }
  if (!isPlainObject(header)) return fail('invalid-json', 'header JSON is not an object');
  const duplicate = findDuplicateKey(text);
  if (duplicate) {
    if (duplicate.path === '') throw new SafetensorsError('duplicate-name', file, duplicate.key, 'tensor name appears twice in the header');
    const tensor = duplicate.path === '__metadata__' ? undefined : duplicate.path;
    throw new SafetensorsError('duplicate-name', file, tensor, `field '${duplicate.key}' appears twice in '${duplicate.path}'`);
  }

  const metadata: Record<string, string> = {};
  const rawMeta = header['__metadata__'];
  if (rawMeta !== undefined) {
    if (!isPlainObject(rawMeta)) fail('bad-metadata', '__metadata__ is not an object');
    for (const [k, v] of Object.entries(rawMeta as Record<string, unknown>)) {
      if (typeof v !== 'string') fail('bad-metadata', `__metadata__ value of '${k}' is ${JSON.stringify(v)}, not a string`);
      metadata[k] = v as string;
    }
  }

  const dataLength = bytes.length - headerEnd;
  const entries: Entry[] = [];
  for (const [name, value] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    entries.push(checkEntry(file, name, value, dataLength));
  }
  // The buffer must be tiled exactly: sorted by offsets, each tensor starts where the last ended.
  entries.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let cursor = 0;
  let previous: string | undefined;
  for (const e of entries) {
    if (e.begin < cursor) {
      throw new SafetensorsError('overlap', file, e.name, `data_offsets [${e.begin}, ${e.end}] overlap tensor '${previous}' (ends at ${cursor})`);
    }
    if (e.begin > cursor) {
      throw new SafetensorsError('non-contiguous', file, e.name, `data starts at ${e.begin} but the previous tensor ends at ${cursor}: ${e.begin - cursor} unused bytes`);
    }
    cursor = e.end;
    previous = e.name;
  }
  if (cursor !== dataLength) fail('non-contiguous', `tensors end at byte ${cursor} of a ${dataLength}-byte data buffer: ${dataLength - cursor} trailing bytes`);

  const tensors = new Map<string, SafetensorsTensor>();
  for (const e of entries) {
    const raw = bytes.subarray(headerEnd + e.begin, headerEnd + e.end);
    tensors.set(e.name, { dtype: e.dtype, shape: e.shape.slice(), data: convert(file, e, raw), raw });
  }
  return { tensors, metadata };
}

/** The `format` entry of a safetensors file's metadata, read from the header alone (cheap); null when absent or not safetensors. */
export function safetensorsFormat(bytes: Uint8Array): string | null {
  if (bytes.length < 10) return null;
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true));
  if (!(n > 1 && n <= bytes.length - 8) || bytes[8] !== 0x7b) return null;
  try {
    const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n))) as { __metadata__?: { format?: unknown } };
    const f = header.__metadata__?.format;
    return typeof f === 'string' ? f : null;
  } catch {
    return null;
  }
}

// ---- writer -------------------------------------------------------------------------------

export interface WriteTensor {
  name: string;
  shape: readonly number[];
  data: Float32Array | BigInt64Array;
}

/** Orders strings by Unicode code point (as Rust and Python do), not by UTF-16 unit. */
function compareCodePoints(a: string, b: string): number {
  const ia = a[Symbol.iterator]();
  const ib = b[Symbol.iterator]();
  for (;;) {
    const ca = ia.next();
    const cb = ib.next();
    if (ca.done || cb.done) return ca.done ? (cb.done ? 0 : -1) : 1;
    const d = ca.value.codePointAt(0)! - cb.value.codePointAt(0)!;
    if (d !== 0) return d;
  }
}

/** Canonical F32 (I64 for BigInt64Array data) safetensors file (see the header comment for the rules). */
export function writeSafetensors(
  tensors: readonly WriteTensor[] | ReadonlyMap<string, { shape: readonly number[]; data: Float32Array | BigInt64Array }>,
  metadata?: Record<string, string>,
  options: ParseOptions = {},
): Uint8Array {
  const file = options.source ?? 'safetensors (writing)';
  const list: WriteTensor[] = Array.isArray(tensors)
    ? [...(tensors as readonly WriteTensor[])]
    : [...(tensors as ReadonlyMap<string, { shape: readonly number[]; data: Float32Array | BigInt64Array }>).entries()].map(([name, t]) => ({ name, ...t }));
  const seen = new Set<string>();
  for (const t of list) {
    if (t.name === '' || t.name === '__metadata__') throw new SafetensorsError('bad-input', file, t.name, 'reserved or empty tensor name');
    if (seen.has(t.name)) throw new SafetensorsError('bad-input', file, t.name, 'tensor name given twice');
    seen.add(t.name);
    let count = 1;
    for (const d of t.shape) {
      if (!Number.isSafeInteger(d) || d < 0) throw new SafetensorsError('bad-input', file, t.name, `shape [${t.shape.join(', ')}] is not a list of non-negative integers`);
      count *= d;
    }
    if (count !== t.data.length) throw new SafetensorsError('bad-input', file, t.name, `shape [${t.shape.join(', ')}] has ${count} elements but data has ${t.data.length}`);
  }
  list.sort((a, b) => compareCodePoints(a.name, b.name));

  const parts: string[] = [];
  const metaKeys = Object.keys(metadata ?? {}).sort(compareCodePoints);
  if (metaKeys.length > 0) {
    parts.push(`"__metadata__":{${metaKeys.map((k) => `${JSON.stringify(k)}:${JSON.stringify(metadata![k])}`).join(',')}}`);
  }
  let offset = 0;
  for (const t of list) {
    const bytes = t.data.byteLength;
    const dtype = t.data instanceof BigInt64Array ? 'I64' : 'F32';
    parts.push(`${JSON.stringify(t.name)}:{"dtype":"${dtype}","shape":[${t.shape.join(',')}],"data_offsets":[${offset},${offset + bytes}]}`);
    offset += bytes;
  }
  const json = new TextEncoder().encode(`{${parts.join(',')}}`);
  const padding = (8 - ((8 + json.length) % 8)) % 8;
  const headerLength = json.length + padding;
  const out = new Uint8Array(8 + headerLength + offset);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(headerLength), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + headerLength);
  let cursor = 8 + headerLength;
  for (const t of list) {
    const data = t.data;
    if (LITTLE_ENDIAN) {
      out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), cursor);
    } else if (data instanceof BigInt64Array) {
      for (let i = 0; i < data.length; i++) view.setBigInt64(cursor + 8 * i, data[i]!, true);
    } else {
      for (let i = 0; i < data.length; i++) view.setFloat32(cursor + 4 * i, data[i]!, true);
    }
    cursor += t.data.byteLength;
  }
  return out;
}
