// A safe interpreter for the subset of Python pickle that PyTorch state dicts use.
//
// A pickle is a program: GLOBAL imports any module attribute and REDUCE calls it, so loading an
// untrusted .pt file with Python's pickle runs whatever the file says (os.system, eval...).
// This interpreter never calls or imports anything. It builds plain values (None, bools, ints,
// floats, strings, lists, tuples, dicts) and recognises a fixed allow-list of globals only as
// markers: collections.OrderedDict (→ a dict), torch._utils._rebuild_tensor_v2 and
// _rebuild_parameter (→ a TensorRef describing a view of a storage), torch.<T>Storage (→ a
// dtype inside a persistent id) and argparse.Namespace (→ a plain record). Any other global,
// any call of something that is not on that list and any opcode outside the subset is refused
// by name, before anything else happens. Limits bound nesting, memo, strings and element
// counts so that a hostile file cannot exhaust memory or the JS stack.
//
// Surprising: protocol 2 (torch.save's default) writes ints as BININT*/LONG1 and strings as
// BINUNICODE; an OrderedDict state dict carries its `_metadata` through BUILD; the storage
// references are tuples handed to BINPERSID, resolved by the caller's persistentLoad.
import { CheckpointError, type CheckpointErrorReason } from './zip.ts';

/** A Python tuple (kept apart from lists so that argument lists can be checked exactly). */
export class PickleTuple {
  constructor(readonly items: PickleValue[]) {}
}

export type PickleKey = string | number | bigint | boolean | null | PickleTuple;

/** A dict, an OrderedDict or an argparse.Namespace (whose attributes become its entries). */
export class PickleDict {
  readonly entries = new Map<PickleKey, PickleValue>();
  /** State set by BUILD on an OrderedDict (torch puts `_metadata` there), else null. */
  attributes: PickleValue = null;
  constructor(readonly className: 'dict' | 'collections.OrderedDict' | 'argparse.Namespace') {}
}

/** One of the allow-listed globals, as a marker on the stack (never a callable). */
export class PickleGlobal {
  constructor(
    readonly module: string,
    readonly name: string,
  ) {}
  get fullName(): string {
    return `${this.module}.${this.name}`;
  }
}

export type TorchDtype = 'float32' | 'float16' | 'bfloat16' | 'float64' | 'int64' | 'int32' | 'int16' | 'int8' | 'uint8' | 'bool';

/** Element size in bytes of each dtype. */
export const DTYPE_BYTES: Record<TorchDtype, number> = {
  float32: 4,
  float16: 2,
  bfloat16: 2,
  float64: 8,
  int64: 8,
  int32: 4,
  int16: 2,
  int8: 1,
  uint8: 1,
  bool: 1,
};

/** torch.<Name>Storage → dtype. These are data markers only; none is ever instantiated. */
export const STORAGE_TYPES: Record<string, TorchDtype> = {
  FloatStorage: 'float32',
  HalfStorage: 'float16',
  BFloat16Storage: 'bfloat16',
  DoubleStorage: 'float64',
  LongStorage: 'int64',
  IntStorage: 'int32',
  ShortStorage: 'int16',
  CharStorage: 'int8',
  ByteStorage: 'uint8',
  BoolStorage: 'bool',
};

/** A storage named by a persistent id: the raw bytes live elsewhere (zip entry data/<key>). */
export class StorageRef {
  constructor(
    readonly dtype: TorchDtype,
    readonly key: string,
    readonly location: string,
    /** Element count as declared in the persistent id. */
    readonly numel: number,
  ) {}
}

/** A tensor as torch rebuilds it: a strided view of a storage. No data is touched here. */
export class TensorRef {
  constructor(
    readonly storage: StorageRef,
    readonly offset: number,
    readonly shape: number[],
    readonly stride: number[],
    readonly requiresGrad: boolean,
  ) {}
}

export type PickleValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | Uint8Array
  | PickleValue[]
  | PickleTuple
  | PickleDict
  | PickleGlobal
  | StorageRef
  | TensorRef;

export interface PickleLimits {
  /** Deepest nesting of containers. */
  maxDepth: number;
  /** Most memo entries. */
  maxMemo: number;
  /** Longest string or bytes value, bytes. */
  maxStringBytes: number;
  /** Most values stored into containers in total. */
  maxElements: number;
  /** Most values on the stack (and nested MARKs). */
  maxStack: number;
}

export const DEFAULT_PICKLE_LIMITS: PickleLimits = {
  maxDepth: 64,
  maxMemo: 4_000_000,
  maxStringBytes: 16 * 1024 * 1024,
  maxElements: 20_000_000,
  maxStack: 1_000_000,
};

/** The pickle asked for something outside the safe subset. Nothing was executed. */
export class UnsafePickleError extends CheckpointError {
  override readonly name: string = 'UnsafePickleError';
  constructor(
    file: string,
    reason: CheckpointErrorReason,
    /** The refused global ('os.system'), call or opcode ('INST'). */
    readonly refused: string,
    detail: string,
  ) {
    super(file, reason, detail);
  }
}

export interface PickleOptions {
  /** The file named in errors. */
  fileName: string;
  /** Which pickle inside the file, e.g. 'archive/data.pkl', named in messages. */
  part?: string;
  limits?: PickleLimits;
  /** Resolves a BINPERSID id; without it persistent ids are refused. */
  persistentLoad?: (pid: PickleValue) => PickleValue;
}

export interface PickleResult {
  value: PickleValue;
  /** Offset just past the STOP opcode (legacy torch files hold several pickles in a row). */
  end: number;
  protocol: number;
}

/** Allow-listed globals. Anything else named by GLOBAL/STACK_GLOBAL is refused. */
const ALLOWED_GLOBALS = new Set<string>([
  'collections.OrderedDict',
  'torch._utils._rebuild_tensor_v2',
  'torch._utils._rebuild_parameter',
  'torch._utils._rebuild_parameter_with_state',
  'argparse.Namespace',
  ...Object.keys(STORAGE_TYPES).map((s) => `torch.${s}`),
]);

/** Opcode names, for messages about opcodes outside the subset. */
const OPCODE_NAMES: Record<number, string> = {
  0x28: 'MARK', 0x2e: 'STOP', 0x30: 'POP', 0x31: 'POP_MARK', 0x32: 'DUP', 0x46: 'FLOAT', 0x49: 'INT',
  0x4a: 'BININT', 0x4b: 'BININT1', 0x4c: 'LONG', 0x4d: 'BININT2', 0x4e: 'NONE', 0x50: 'PERSID',
  0x51: 'BINPERSID', 0x52: 'REDUCE', 0x53: 'STRING', 0x54: 'BINSTRING', 0x55: 'SHORT_BINSTRING',
  0x56: 'UNICODE', 0x58: 'BINUNICODE', 0x61: 'APPEND', 0x62: 'BUILD', 0x63: 'GLOBAL', 0x64: 'DICT',
  0x7d: 'EMPTY_DICT', 0x65: 'APPENDS', 0x67: 'GET', 0x68: 'BINGET', 0x69: 'INST', 0x6a: 'LONG_BINGET',
  0x6c: 'LIST', 0x5d: 'EMPTY_LIST', 0x6f: 'OBJ', 0x70: 'PUT', 0x71: 'BINPUT', 0x72: 'LONG_BINPUT',
  0x73: 'SETITEM', 0x74: 'TUPLE', 0x29: 'EMPTY_TUPLE', 0x75: 'SETITEMS', 0x47: 'BINFLOAT',
  0x80: 'PROTO', 0x81: 'NEWOBJ', 0x82: 'EXT1', 0x83: 'EXT2', 0x84: 'EXT4', 0x85: 'TUPLE1',
  0x86: 'TUPLE2', 0x87: 'TUPLE3', 0x88: 'NEWTRUE', 0x89: 'NEWFALSE', 0x8a: 'LONG1', 0x8b: 'LONG4',
  0x42: 'BINBYTES', 0x43: 'SHORT_BINBYTES', 0x8c: 'SHORT_BINUNICODE', 0x8d: 'BINUNICODE8',
  0x8e: 'BINBYTES8', 0x8f: 'EMPTY_SET', 0x90: 'ADDITEMS', 0x91: 'FROZENSET', 0x92: 'NEWOBJ_EX',
  0x93: 'STACK_GLOBAL', 0x94: 'MEMOIZE', 0x95: 'FRAME', 0x96: 'BYTEARRAY8', 0x97: 'NEXT_BUFFER',
  0x98: 'READONLY_BUFFER',
};

/** Opcodes whose whole purpose is to create or call arbitrary objects. */
const CODE_OPCODES = new Set([0x69 /* INST */, 0x6f /* OBJ */, 0x92 /* NEWOBJ_EX */, 0x82, 0x83, 0x84 /* EXT* */]);

const NOTHING_RAN = 'nothing was executed or imported (this reader only rebuilds tensors and plain values)';

function describe(v: PickleValue): string {
  if (v === null) return 'None';
  if (v instanceof PickleGlobal) return v.fullName;
  if (v instanceof PickleTuple) return `tuple(${v.items.length})`;
  if (v instanceof PickleDict) return v.className;
  if (Array.isArray(v)) return `list(${v.length})`;
  if (v instanceof TensorRef) return 'tensor';
  if (v instanceof StorageRef) return 'storage';
  if (v instanceof Uint8Array) return 'bytes';
  return typeof v;
}

/** Interprets one pickle starting at `offset`. Throws CheckpointError / UnsafePickleError. */
export function loadPickle(bytes: Uint8Array, offset: number, options: PickleOptions): PickleResult {
  return new Interpreter(bytes, offset, options).run();
}

class Interpreter {
  private pos: number;
  private readonly view: DataView;
  private readonly limits: PickleLimits;
  private readonly file: string;
  private readonly where: string;
  private stack: PickleValue[] = [];
  private readonly metastack: PickleValue[][] = [];
  private readonly memo = new Map<number, PickleValue>();
  private readonly depth = new WeakMap<object, number>();
  private elements = 0;
  private stackTotal = 0;
  private protocol = 0;
  private opStart = 0;
  private readonly utf8 = new TextDecoder('utf-8');

  constructor(
    private readonly bytes: Uint8Array,
    offset: number,
    private readonly options: PickleOptions,
  ) {
    this.pos = offset;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.limits = options.limits ?? DEFAULT_PICKLE_LIMITS;
    this.file = options.fileName;
    this.where = options.part ? `${options.part}: ` : '';
  }

  private fail(reason: CheckpointErrorReason, detail: string): never {
    throw new CheckpointError(this.file, reason, `${this.where}pickle: ${detail} (at byte ${this.opStart})`);
  }

  private refuse(refused: string, detail: string, reason: CheckpointErrorReason = 'unsafe-pickle'): never {
    throw new UnsafePickleError(this.file, reason, refused, `${this.where}pickle refused: ${detail} at byte ${this.opStart}; ${NOTHING_RAN}`);
  }

  private need(n: number, what: string): void {
    if (this.pos + n > this.bytes.length) {
      this.fail('truncated', `data truncated while reading ${what}: ${n} bytes needed, ${this.bytes.length - this.pos} left`);
    }
  }

  private u8(): number {
    this.need(1, 'an opcode argument');
    return this.bytes[this.pos++]!;
  }
  private u16(): number {
    this.need(2, 'an opcode argument');
    const v = this.view.getUint16(this.pos, true);
    this.pos += 2;
    return v;
  }
  private u32(): number {
    this.need(4, 'an opcode argument');
    const v = this.view.getUint32(this.pos, true);
    this.pos += 4;
    return v;
  }
  private u64(what: string): number {
    this.need(8, what);
    const lo = this.view.getUint32(this.pos, true);
    const hi = this.view.getUint32(this.pos + 4, true);
    this.pos += 8;
    return hi >= 0x200000 ? Infinity : hi * 4294967296 + lo;
  }

  private take(length: number, what: string): Uint8Array {
    if (length > this.limits.maxStringBytes) {
      this.fail('limit-exceeded', `${what} of ${length} bytes exceeds the ${this.limits.maxStringBytes}-byte limit`);
    }
    this.need(length, what);
    const out = this.bytes.subarray(this.pos, this.pos + length);
    this.pos += length;
    return out;
  }

  private line(what: string): string {
    const MAX = 256; // module and attribute names
    const found = this.bytes.subarray(this.pos, this.pos + MAX + 1).indexOf(0x0a);
    if (found < 0) {
      if (this.bytes.length - this.pos <= MAX) this.fail('truncated', `data truncated inside ${what}`);
      this.fail('corrupt', `${what} longer than ${MAX} bytes`);
    }
    const end = this.pos + found;
    const s = new TextDecoder('latin1').decode(this.bytes.subarray(this.pos, end));
    this.pos = end + 1;
    return s;
  }

  private push(v: PickleValue): void {
    if (++this.stackTotal > this.limits.maxStack) this.fail('limit-exceeded', `more than ${this.limits.maxStack} values on the pickle stack`);
    this.stack.push(v);
  }

  private pop(op: string): PickleValue {
    if (this.stack.length === 0) this.fail('corrupt', `${op} on an empty stack`);
    this.stackTotal--;
    return this.stack.pop()!;
  }

  private top(op: string): PickleValue {
    if (this.stack.length === 0) this.fail('corrupt', `${op} on an empty stack`);
    return this.stack[this.stack.length - 1]!;
  }

  private popMark(op: string): PickleValue[] {
    const items = this.stack;
    const prev = this.metastack.pop();
    if (!prev) this.fail('corrupt', `${op} without a MARK`);
    this.stackTotal -= items.length;
    this.stack = prev;
    return items;
  }

  private depthOf(v: PickleValue): number {
    return v !== null && typeof v === 'object' ? (this.depth.get(v) ?? 1) : 0;
  }

  /** Records that `child` now lives inside `container`, enforcing the depth and element limits. */
  private contain(container: object, child: PickleValue): void {
    const d = this.depthOf(child) + 1;
    if (d > this.limits.maxDepth) this.fail('limit-exceeded', `containers nested deeper than ${this.limits.maxDepth} levels`);
    if (d > (this.depth.get(container) ?? 1)) this.depth.set(container, d);
    if (++this.elements > this.limits.maxElements) this.fail('limit-exceeded', `more than ${this.limits.maxElements} elements in containers`);
  }

  private tuple(items: PickleValue[]): PickleTuple {
    const t = new PickleTuple(items);
    for (const it of items) this.contain(t, it);
    return t;
  }

  private key(k: PickleValue): PickleKey {
    if (k === null || typeof k === 'string' || typeof k === 'number' || typeof k === 'bigint' || typeof k === 'boolean' || k instanceof PickleTuple) {
      return k;
    }
    return this.fail('corrupt', `dict key of type ${describe(k)} (only str, int, float, bool, None and tuple keys are read)`);
  }

  private setItem(op: string, target: PickleValue, k: PickleValue, v: PickleValue): void {
    if (!(target instanceof PickleDict)) this.fail('corrupt', `${op} on ${describe(target)}, not a dict`);
    target.entries.set(this.key(k), v);
    this.contain(target, v);
  }

  private memoPut(index: number): void {
    if (!this.memo.has(index) && this.memo.size >= this.limits.maxMemo) {
      this.fail('limit-exceeded', `more than ${this.limits.maxMemo} memo entries`);
    }
    this.memo.set(index, this.top('memo put'));
  }

  private memoGet(index: number): void {
    if (!this.memo.has(index)) this.fail('corrupt', `memo entry ${index} read before it was written`);
    this.push(this.memo.get(index)!);
  }

  private global(module: string, name: string): void {
    const full = `${module}.${name}`;
    if (!ALLOWED_GLOBALS.has(full)) {
      this.refuse(full, `global '${full}' is not on the allow-list of state-dict types`);
    }
    this.push(new PickleGlobal(module, name));
  }

  private reduce(): void {
    const args = this.pop('REDUCE');
    const callable = this.pop('REDUCE');
    const name = callable instanceof PickleGlobal ? callable.fullName : describe(callable);
    if (!(callable instanceof PickleGlobal)) this.refuse(name, `REDUCE (a call) of ${name}`);
    if (!(args instanceof PickleTuple)) this.fail('corrupt', `REDUCE of ${name} with ${describe(args)} arguments, not a tuple`);
    const a = args.items;
    switch (name) {
      case 'collections.OrderedDict':
        if (a.length !== 0) this.refuse(name, `OrderedDict called with ${a.length} arguments (torch writes it empty)`);
        this.push(new PickleDict('collections.OrderedDict'));
        return;
      case 'torch._utils._rebuild_tensor_v2':
        if (a.length !== 6 && a.length !== 7) this.fail('corrupt', `${name} with ${a.length} arguments (6 or 7 expected)`);
        this.push(this.rebuildTensor(a[0]!, a[1]!, a[2]!, a[3]!, a[4]!, a[5]!));
        return;
      case 'torch._utils._rebuild_parameter':
      case 'torch._utils._rebuild_parameter_with_state': {
        const want = name.endsWith('with_state') ? 4 : 3;
        if (a.length !== want) this.fail('corrupt', `${name} with ${a.length} arguments (${want} expected)`);
        const data = a[0]!;
        if (!(data instanceof TensorRef)) this.fail('corrupt', `${name} of ${describe(data)}, not a tensor`);
        this.checkHooks(a[2]!);
        this.push(new TensorRef(data.storage, data.offset, data.shape, data.stride, a[1] === true));
        return;
      }
      default:
        this.refuse(name, `call of '${name}' (only OrderedDict and the tensor rebuild functions may be called)`);
    }
  }

  private checkHooks(hooks: PickleValue): void {
    if (!(hooks instanceof PickleDict) || hooks.entries.size !== 0) {
      this.refuse('backward_hooks', `tensor with backward hooks (${describe(hooks)}); state dicts carry none`);
    }
  }

  private intList(v: PickleValue, what: string): number[] {
    if (!(v instanceof PickleTuple)) this.fail('corrupt', `tensor ${what} is ${describe(v)}, not a tuple`);
    if (v.items.length > 16) this.fail('bad-tensor', `tensor with ${v.items.length} dimensions (at most 16 are read)`);
    return v.items.map((x) => {
      if (typeof x !== 'number' || !Number.isInteger(x) || x < 0) this.fail('bad-tensor', `tensor ${what} entry ${String(x)} is not a non-negative integer`);
      return x;
    });
  }

  private rebuildTensor(storage: PickleValue, offset: PickleValue, size: PickleValue, stride: PickleValue, requiresGrad: PickleValue, hooks: PickleValue): TensorRef {
    if (!(storage instanceof StorageRef)) this.fail('corrupt', `tensor storage is ${describe(storage)}, not a storage reference`);
    if (typeof offset !== 'number' || !Number.isInteger(offset) || offset < 0) this.fail('bad-tensor', `tensor storage offset ${String(offset)}`);
    const shape = this.intList(size, 'size');
    const strides = this.intList(stride, 'stride');
    if (shape.length !== strides.length) this.fail('bad-tensor', `tensor size has ${shape.length} dims but stride has ${strides.length}`);
    this.checkHooks(hooks);
    return new TensorRef(storage, offset, shape, strides, requiresGrad === true);
  }

  private build(): void {
    const state = this.pop('BUILD');
    const inst = this.top('BUILD');
    if (inst instanceof PickleDict && inst.className === 'argparse.Namespace') {
      if (!(state instanceof PickleDict)) this.fail('corrupt', `argparse.Namespace state is ${describe(state)}, not a dict`);
      for (const [k, v] of state.entries) {
        inst.entries.set(k, v);
        this.contain(inst, v);
      }
      return;
    }
    if (inst instanceof PickleDict && inst.className === 'collections.OrderedDict') {
      inst.attributes = state;
      this.contain(inst, state);
      return;
    }
    if (inst instanceof TensorRef && (state === null || state instanceof PickleDict || state instanceof PickleTuple)) {
      return; // Parameter/tensor python attributes: not part of the weights
    }
    this.refuse('BUILD', `BUILD (set state) on ${describe(inst)}`);
  }

  private newobj(): void {
    const args = this.pop('NEWOBJ');
    const cls = this.pop('NEWOBJ');
    const name = cls instanceof PickleGlobal ? cls.fullName : describe(cls);
    if (name !== 'argparse.Namespace') this.refuse(name, `NEWOBJ (instantiation) of '${name}'`);
    if (!(args instanceof PickleTuple) || args.items.length !== 0) this.fail('corrupt', 'argparse.Namespace created with arguments');
    this.push(new PickleDict('argparse.Namespace'));
  }

  private long(data: Uint8Array): number | bigint {
    if (data.length === 0) return 0;
    let v = 0n;
    for (let i = data.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(data[i]!);
    if (data[data.length - 1]! & 0x80) v -= 1n << BigInt(8 * data.length);
    return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  }

  run(): PickleResult {
    for (;;) {
      this.opStart = this.pos;
      if (this.pos >= this.bytes.length) this.fail('truncated', 'data ends before the STOP opcode');
      const op = this.bytes[this.pos++]!;
      switch (op) {
        case 0x80: // PROTO
          this.protocol = this.u8();
          if (this.protocol > 5) this.fail('unsupported', `pickle protocol ${this.protocol} (2–5 are read)`);
          break;
        case 0x95: {
          // FRAME: a length prefix for buffered reading; everything is in memory already.
          const n = this.u64('a FRAME length');
          if (this.pos + n > this.bytes.length) this.fail('truncated', `FRAME of ${n} bytes runs past the end of the data`);
          break;
        }
        case 0x2e: // STOP
          if (this.metastack.length) this.fail('corrupt', 'STOP inside an unclosed MARK');
          return { value: this.pop('STOP'), end: this.pos, protocol: this.protocol };
        case 0x28: // MARK
          if (this.metastack.length >= this.limits.maxDepth) this.fail('limit-exceeded', `MARKs nested deeper than ${this.limits.maxDepth} levels`);
          this.metastack.push(this.stack);
          this.stack = [];
          break;
        case 0x30: // POP
          this.pop('POP');
          break;
        case 0x31: // POP_MARK
          this.popMark('POP_MARK');
          break;
        case 0x7d: // EMPTY_DICT
          this.push(new PickleDict('dict'));
          break;
        case 0x5d: // EMPTY_LIST
          this.push([]);
          break;
        case 0x29: // EMPTY_TUPLE
          this.push(new PickleTuple([]));
          break;
        case 0x74: // TUPLE
          this.push(this.tuple(this.popMark('TUPLE')));
          break;
        case 0x85: // TUPLE1
        case 0x86: // TUPLE2
        case 0x87: {
          // TUPLE3
          const n = op - 0x84;
          if (this.stack.length < n) this.fail('corrupt', `${OPCODE_NAMES[op]} with ${this.stack.length} values on the stack`);
          const items: PickleValue[] = [];
          for (let i = 0; i < n; i++) items.unshift(this.pop('TUPLE'));
          this.push(this.tuple(items));
          break;
        }
        case 0x4e: // NONE
          this.push(null);
          break;
        case 0x88: // NEWTRUE
          this.push(true);
          break;
        case 0x89: // NEWFALSE
          this.push(false);
          break;
        case 0x4a: // BININT
          this.need(4, 'BININT');
          this.push(this.view.getInt32(this.pos, true));
          this.pos += 4;
          break;
        case 0x4b: // BININT1
          this.push(this.u8());
          break;
        case 0x4d: // BININT2
          this.push(this.u16());
          break;
        case 0x8a: {
          // LONG1
          const n = this.u8();
          this.push(this.long(this.take(n, 'LONG1')));
          break;
        }
        case 0x8b: {
          // LONG4: only small ones (an int of 64 KiB of digits is an attack, not a weight)
          const n = this.u32();
          if (n > 64) this.fail('limit-exceeded', `LONG4 integer of ${n} bytes`);
          this.push(this.long(this.take(n, 'LONG4')));
          break;
        }
        case 0x47: // BINFLOAT (big-endian double)
          this.need(8, 'BINFLOAT');
          this.push(this.view.getFloat64(this.pos, false));
          this.pos += 8;
          break;
        case 0x58: // BINUNICODE
          this.push(this.utf8.decode(this.take(this.u32(), 'BINUNICODE string')));
          break;
        case 0x8c: // SHORT_BINUNICODE
          this.push(this.utf8.decode(this.take(this.u8(), 'SHORT_BINUNICODE string')));
          break;
        case 0x8d: // BINUNICODE8
          this.push(this.utf8.decode(this.take(this.u64('a BINUNICODE8 length'), 'BINUNICODE8 string')));
          break;
        case 0x55: // SHORT_BINSTRING (Python 2 str)
          this.push(new TextDecoder('latin1').decode(this.take(this.u8(), 'SHORT_BINSTRING')));
          break;
        case 0x54: // BINSTRING
          this.push(new TextDecoder('latin1').decode(this.take(this.u32(), 'BINSTRING')));
          break;
        case 0x43: // SHORT_BINBYTES
          this.push(this.take(this.u8(), 'SHORT_BINBYTES').slice());
          break;
        case 0x42: // BINBYTES
          this.push(this.take(this.u32(), 'BINBYTES').slice());
          break;
        case 0x8e: // BINBYTES8
          this.push(this.take(this.u64('a BINBYTES8 length'), 'BINBYTES8').slice());
          break;
        case 0x71: // BINPUT
          this.memoPut(this.u8());
          break;
        case 0x72: // LONG_BINPUT
          this.memoPut(this.u32());
          break;
        case 0x94: // MEMOIZE
          this.memoPut(this.memo.size);
          break;
        case 0x68: // BINGET
          this.memoGet(this.u8());
          break;
        case 0x6a: // LONG_BINGET
          this.memoGet(this.u32());
          break;
        case 0x73: {
          // SETITEM
          const v = this.pop('SETITEM');
          const k = this.pop('SETITEM');
          this.setItem('SETITEM', this.top('SETITEM'), k, v);
          break;
        }
        case 0x75: {
          // SETITEMS
          const items = this.popMark('SETITEMS');
          if (items.length % 2) this.fail('corrupt', 'SETITEMS with an odd number of values');
          const target = this.top('SETITEMS');
          for (let i = 0; i < items.length; i += 2) this.setItem('SETITEMS', target, items[i]!, items[i + 1]!);
          break;
        }
        case 0x61: {
          // APPEND
          const v = this.pop('APPEND');
          const list = this.top('APPEND');
          if (!Array.isArray(list)) this.fail('corrupt', `APPEND to ${describe(list)}, not a list`);
          list.push(v);
          this.contain(list, v);
          break;
        }
        case 0x65: {
          // APPENDS
          const items = this.popMark('APPENDS');
          const list = this.top('APPENDS');
          if (!Array.isArray(list)) this.fail('corrupt', `APPENDS to ${describe(list)}, not a list`);
          for (const v of items) {
            list.push(v);
            this.contain(list, v);
          }
          break;
        }
        case 0x63: {
          // GLOBAL
          const module = this.line('a GLOBAL module name');
          const name = this.line('a GLOBAL attribute name');
          this.global(module, name);
          break;
        }
        case 0x93: {
          // STACK_GLOBAL
          const name = this.pop('STACK_GLOBAL');
          const module = this.pop('STACK_GLOBAL');
          if (typeof module !== 'string' || typeof name !== 'string') this.fail('corrupt', 'STACK_GLOBAL with non-string names');
          this.global(module, name);
          break;
        }
        case 0x52: // REDUCE
          this.reduce();
          break;
        case 0x62: // BUILD
          this.build();
          break;
        case 0x81: // NEWOBJ
          this.newobj();
          break;
        case 0x51: {
          // BINPERSID
          const pid = this.pop('BINPERSID');
          if (!this.options.persistentLoad) this.refuse('BINPERSID', 'a persistent id where none is expected');
          this.push(this.options.persistentLoad(pid));
          break;
        }
        default: {
          const name = OPCODE_NAMES[op];
          if (name === undefined) this.refuse(`0x${op.toString(16).padStart(2, '0')}`, `unknown opcode 0x${op.toString(16).padStart(2, '0')}`, 'corrupt');
          if (CODE_OPCODES.has(op)) this.refuse(name, `opcode ${name}, which creates arbitrary objects`);
          this.refuse(name, `opcode ${name}, which torch state dicts never use`, 'unsupported');
        }
      }
    }
  }
}

/**
 * Resolves a torch storage persistent id: ('storage', torch.<T>Storage, key, location, numel)
 * (zip format) or the same plus view_metadata = None (legacy format).
 */
export function parseStoragePid(pid: PickleValue, fileName: string, part?: string): StorageRef {
  const where = part ? `${part}: ` : '';
  const bad = (what: string): never => {
    throw new CheckpointError(fileName, 'corrupt', `${where}pickle: persistent id ${what}; expected ('storage', torch.<T>Storage, key, location, numel)`);
  };
  if (!(pid instanceof PickleTuple)) return bad(`is ${describe(pid)}`);
  const [tag, type, key, location, numel, view] = pid.items;
  if (tag !== 'storage') return bad(`kind '${String(tag)}'`);
  if (pid.items.length !== 5 && pid.items.length !== 6) return bad(`has ${pid.items.length} fields`);
  if (pid.items.length === 6 && view !== null) {
    throw new CheckpointError(fileName, 'unsupported', 'legacy storage views (view_metadata) are not supported; re-save the checkpoint with torch ≥ 1.6');
  }
  if (!(type instanceof PickleGlobal) || type.module !== 'torch' || !(type.name in STORAGE_TYPES)) return bad(`with storage type ${describe(type ?? null)}`);
  if (typeof key !== 'string') return bad('with a non-string key');
  if (typeof location !== 'string') return bad('with a non-string location');
  if (typeof numel !== 'number' || !Number.isInteger(numel) || numel < 0) return bad(`with element count ${String(numel)}`);
  return new StorageRef(STORAGE_TYPES[type.name]!, key, location, numel);
}

// ---------------------------------------------------------------------------------------------
// Writer: the protocol-2 subset torch.save emits, readable by torch.load(weights_only=True).

/** A value the writer can emit. Plain objects become dicts; Maps become OrderedDicts. */
export type PickleWritable =
  | null
  | boolean
  | number
  | bigint
  | string
  | PickleWritable[]
  | PickleTuple
  | Map<string, PickleWritable>
  | { [key: string]: PickleWritable }
  | TensorWrite;

/** A tensor to write: a contiguous view of storage `key` of the given dtype. */
export class TensorWrite {
  constructor(
    readonly dtype: TorchDtype,
    readonly key: string,
    /** Elements in the storage. */
    readonly numel: number,
    readonly shape: number[],
  ) {}
}

const STORAGE_NAME_OF: Record<TorchDtype, string> = Object.fromEntries(
  Object.entries(STORAGE_TYPES).map(([name, dtype]) => [dtype, name]),
) as Record<TorchDtype, string>;

/** Serialises a value as torch.save does (protocol 2, memoised globals, BINPERSID storages). */
export class PickleWriter {
  private readonly chunks: number[] = [];
  private memoCount = 0;
  private readonly globalsMemo = new Map<string, number>();
  private readonly stringsMemo = new Map<string, number>();

  write(value: PickleWritable): Uint8Array {
    this.byte(0x80, 2); // PROTO 2
    this.value(value);
    this.byte(0x2e); // STOP
    return Uint8Array.from(this.chunks);
  }

  private byte(...b: number[]): void {
    for (const x of b) this.chunks.push(x);
  }
  private u32(n: number): void {
    this.byte(n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff);
  }
  private put(): number {
    const i = this.memoCount++;
    if (i < 256) this.byte(0x71, i);
    else {
      this.byte(0x72);
      this.u32(i);
    }
    return i;
  }
  private get(i: number): void {
    if (i < 256) this.byte(0x68, i);
    else {
      this.byte(0x6a);
      this.u32(i);
    }
  }

  private global(module: string, name: string): void {
    const full = `${module}\n${name}\n`;
    const m = this.globalsMemo.get(full);
    if (m !== undefined) return this.get(m);
    this.byte(0x63, ...new TextEncoder().encode(full));
    this.globalsMemo.set(full, this.put());
  }

  private string(s: string): void {
    const m = this.stringsMemo.get(s);
    if (m !== undefined) return this.get(m);
    const b = new TextEncoder().encode(s);
    this.byte(0x58);
    this.u32(b.length);
    for (const x of b) this.chunks.push(x);
    this.stringsMemo.set(s, this.put());
  }

  private int(n: number | bigint): void {
    if (typeof n === 'number' && n >= 0 && n < 256) return this.byte(0x4b, n);
    if (typeof n === 'number' && n >= 0 && n < 65536) return this.byte(0x4d, n & 0xff, n >> 8);
    if (typeof n === 'number' && n >= -2147483648 && n < 2147483648) {
      this.byte(0x4a);
      return this.u32(n >>> 0);
    }
    // LONG1: little-endian two's complement, minimal length
    let v = BigInt(n);
    const out: number[] = [];
    for (;;) {
      out.push(Number(v & 0xffn));
      v >>= 8n;
      const sign = out[out.length - 1]! & 0x80;
      if ((v === 0n && !sign) || (v === -1n && sign)) break;
    }
    this.byte(0x8a, out.length, ...out);
  }

  private tuple(items: (() => void)[]): void {
    if (items.length === 0) return this.byte(0x29);
    if (items.length <= 3) {
      items.forEach((f) => f());
      this.byte(0x84 + items.length);
    } else {
      this.byte(0x28);
      items.forEach((f) => f());
      this.byte(0x74);
    }
    this.put();
  }

  private emptyOrderedDict(): void {
    this.global('collections', 'OrderedDict');
    this.byte(0x29, 0x52); // EMPTY_TUPLE, REDUCE
    this.put();
  }

  private tensor(t: TensorWrite): void {
    this.global('torch._utils', '_rebuild_tensor_v2');
    const stride: number[] = new Array(t.shape.length);
    let s = 1;
    for (let i = t.shape.length - 1; i >= 0; i--) {
      stride[i] = s;
      s *= t.shape[i]!;
    }
    this.byte(0x28); // MARK (arguments)
    this.tuple([
      () => this.string('storage'),
      () => this.global('torch', STORAGE_NAME_OF[t.dtype]),
      () => this.string(t.key),
      () => this.string('cpu'),
      () => this.int(t.numel),
    ]);
    this.byte(0x51); // BINPERSID
    this.int(0);
    this.tuple(t.shape.map((d) => () => this.int(d)));
    this.tuple(stride.map((d) => () => this.int(d)));
    this.byte(0x89); // requires_grad False
    this.emptyOrderedDict(); // backward hooks
    this.byte(0x74); // TUPLE
    this.put();
    this.byte(0x52); // REDUCE
    this.put();
  }

  private entries(pairs: [string, PickleWritable][]): void {
    // SETITEMS in batches of 1000, as pickle does
    for (let i = 0; i < pairs.length; i += 1000) {
      this.byte(0x28);
      for (const [k, v] of pairs.slice(i, i + 1000)) {
        this.string(k);
        this.value(v);
      }
      this.byte(0x75);
    }
  }

  private value(v: PickleWritable): void {
    if (v === null) return this.byte(0x4e);
    if (v === true) return this.byte(0x88);
    if (v === false) return this.byte(0x89);
    if (typeof v === 'bigint') return this.int(v);
    if (typeof v === 'number') {
      if (Number.isInteger(v) && Math.abs(v) <= Number.MAX_SAFE_INTEGER && !Object.is(v, -0)) return this.int(v);
      this.byte(0x47);
      const b = new Uint8Array(8);
      new DataView(b.buffer).setFloat64(0, v, false);
      return this.byte(...b);
    }
    if (typeof v === 'string') return this.string(v);
    if (v instanceof TensorWrite) return this.tensor(v);
    if (v instanceof PickleTuple) {
      return this.tuple(v.items.map((x) => () => this.value(x as PickleWritable)));
    }
    if (Array.isArray(v)) {
      this.byte(0x5d);
      this.put();
      if (v.length) {
        this.byte(0x28);
        v.forEach((x) => this.value(x));
        this.byte(0x65);
      }
      return;
    }
    if (v instanceof Map) {
      this.emptyOrderedDict();
      return this.entries([...v.entries()]);
    }
    this.byte(0x7d);
    this.put();
    this.entries(Object.entries(v));
  }
}
