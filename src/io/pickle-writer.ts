// Writer for the protocol-2 pickle subset torch.save emits, readable by
// torch.load(weights_only=True) and by the safe reader (pickle-reader.ts).
//
// Surprising: like torch.save it memoises every global and string (a repeated key costs a
// BINGET), writes Maps as collections.OrderedDict and plain objects as dicts, and puts dict
// items in SETITEMS batches of 1000. Tensors are written as _rebuild_tensor_v2 calls over a
// BINPERSID storage id ('storage', torch.<T>Storage, key, 'cpu', numel): always a contiguous
// view at offset 0, requires_grad False, no backward hooks (a 0-dim tensor has shape and stride
// ()). The storage bytes themselves are not written here; the caller stores them (zip entry
// data/<key>).
// JS numbers that are integers are written as ints; PickleFloat forces a Python float (torch's
// optimizer groups hold `weight_decay: 0.0`, a GradScaler `scale: 65536.0`). PickleDictWrite is
// a plain dict with any keys (an optimizer's state is keyed by int parameter index) and
// PickleNamespace an argparse.Namespace, written as pickle protocol 2 does for a plain object:
// GLOBAL argparse.Namespace, EMPTY_TUPLE, NEWOBJ, then its attribute dict and BUILD.
import { PickleTuple, STORAGE_TYPES, type TorchDtype } from './pickle-values.ts';

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
  | TensorWrite
  | PickleFloat
  | PickleDictWrite
  | PickleNamespace;

/** A Python float even when the value is integral (0.0, 65536.0). */
export class PickleFloat {
  constructor(readonly value: number) {}
}

/** A plain dict whose keys may be ints, strings, None or bools, in insertion order. */
export class PickleDictWrite {
  constructor(readonly entries: readonly (readonly [number | string | boolean | null, PickleWritable])[]) {}
}

/** An argparse.Namespace with these attributes (in this order). */
export class PickleNamespace {
  constructor(readonly attributes: Readonly<Record<string, PickleWritable>>) {}
}

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

  private entries(pairs: readonly (readonly [PickleWritable, PickleWritable])[]): void {
    // SETITEMS in batches of 1000, as pickle does
    for (let i = 0; i < pairs.length; i += 1000) {
      this.byte(0x28);
      for (const [k, v] of pairs.slice(i, i + 1000)) {
        this.value(k);
        this.value(v);
      }
      this.byte(0x75);
    }
  }

  private float(x: number): void {
    this.byte(0x47);
    const b = new Uint8Array(8);
    new DataView(b.buffer).setFloat64(0, x, false);
    this.byte(...b);
  }

  private value(v: PickleWritable): void {
    if (v === null) return this.byte(0x4e);
    if (v === true) return this.byte(0x88);
    if (v === false) return this.byte(0x89);
    if (typeof v === 'bigint') return this.int(v);
    if (typeof v === 'number') {
      if (Number.isInteger(v) && Math.abs(v) <= Number.MAX_SAFE_INTEGER && !Object.is(v, -0)) return this.int(v);
      return this.float(v);
    }
    if (v instanceof PickleFloat) return this.float(v.value);
    if (v instanceof PickleDictWrite) {
      this.byte(0x7d);
      this.put();
      return this.entries(v.entries);
    }
    if (v instanceof PickleNamespace) {
      this.global('argparse', 'Namespace');
      this.byte(0x29, 0x81); // EMPTY_TUPLE, NEWOBJ
      this.put();
      this.byte(0x7d);
      this.put();
      this.entries(Object.entries(v.attributes));
      return this.byte(0x62); // BUILD
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
