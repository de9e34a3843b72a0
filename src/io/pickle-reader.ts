// A safe interpreter for the subset of Python pickle that PyTorch state dicts use.
//
// A pickle is a program: GLOBAL imports any module attribute and REDUCE calls it, so loading an
// untrusted .pt file with Python's pickle runs whatever the file says (os.system, eval...).
// This interpreter never calls or imports anything. It builds plain values (None, bools, ints,
// floats, strings, lists, tuples, dicts; see pickle-values.ts) and recognises a fixed allow-list
// of globals only as markers: collections.OrderedDict (→ a dict), torch._utils._rebuild_tensor_v2
// and _rebuild_parameter (→ a TensorRef describing a view of a storage), torch.<T>Storage (→ a
// dtype inside a persistent id) and argparse.Namespace (→ a plain record). Any other global,
// any call of something that is not on that list and any opcode outside the subset is refused
// by name, before anything else happens. Limits bound nesting, memo, strings and element
// counts so that a hostile file cannot exhaust memory or the JS stack.
//
// Surprising: protocol 2 (torch.save's default) writes ints as BININT*/LONG1 and strings as
// BINUNICODE; an OrderedDict state dict carries its `_metadata` through BUILD; the storage
// references are tuples handed to BINPERSID, resolved by the caller's persistentLoad (usually
// parseStoragePid from pickle-values.ts).
import {
  describeValue,
  PickleDict,
  PickleGlobal,
  PickleTuple,
  STORAGE_TYPES,
  StorageRef,
  TensorRef,
  type PickleKey,
  type PickleValue,
} from './pickle-values.ts';
import { CheckpointError, type CheckpointErrorReason } from './zip.ts';

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
    return this.fail('corrupt', `dict key of type ${describeValue(k)} (only str, int, float, bool, None and tuple keys are read)`);
  }

  private setItem(op: string, target: PickleValue, k: PickleValue, v: PickleValue): void {
    if (!(target instanceof PickleDict)) this.fail('corrupt', `${op} on ${describeValue(target)}, not a dict`);
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
    const name = callable instanceof PickleGlobal ? callable.fullName : describeValue(callable);
    if (!(callable instanceof PickleGlobal)) this.refuse(name, `REDUCE (a call) of ${name}`);
    if (!(args instanceof PickleTuple)) this.fail('corrupt', `REDUCE of ${name} with ${describeValue(args)} arguments, not a tuple`);
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
        if (!(data instanceof TensorRef)) this.fail('corrupt', `${name} of ${describeValue(data)}, not a tensor`);
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
      this.refuse('backward_hooks', `tensor with backward hooks (${describeValue(hooks)}); state dicts carry none`);
    }
  }

  private intList(v: PickleValue, what: string): number[] {
    if (!(v instanceof PickleTuple)) this.fail('corrupt', `tensor ${what} is ${describeValue(v)}, not a tuple`);
    if (v.items.length > 16) this.fail('bad-tensor', `tensor with ${v.items.length} dimensions (at most 16 are read)`);
    return v.items.map((x) => {
      if (typeof x !== 'number' || !Number.isInteger(x) || x < 0) this.fail('bad-tensor', `tensor ${what} entry ${String(x)} is not a non-negative integer`);
      return x;
    });
  }

  private rebuildTensor(storage: PickleValue, offset: PickleValue, size: PickleValue, stride: PickleValue, requiresGrad: PickleValue, hooks: PickleValue): TensorRef {
    if (!(storage instanceof StorageRef)) this.fail('corrupt', `tensor storage is ${describeValue(storage)}, not a storage reference`);
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
      if (!(state instanceof PickleDict)) this.fail('corrupt', `argparse.Namespace state is ${describeValue(state)}, not a dict`);
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
    this.refuse('BUILD', `BUILD (set state) on ${describeValue(inst)}`);
  }

  private newobj(): void {
    const args = this.pop('NEWOBJ');
    const cls = this.pop('NEWOBJ');
    const name = cls instanceof PickleGlobal ? cls.fullName : describeValue(cls);
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
          if (!Array.isArray(list)) this.fail('corrupt', `APPEND to ${describeValue(list)}, not a list`);
          list.push(v);
          this.contain(list, v);
          break;
        }
        case 0x65: {
          // APPENDS
          const items = this.popMark('APPENDS');
          const list = this.top('APPENDS');
          if (!Array.isArray(list)) this.fail('corrupt', `APPENDS to ${describeValue(list)}, not a list`);
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
