// The values the safe pickle reader builds (pickle-reader.ts) and the writer shares
// (pickle-writer.ts): Python tuples, dicts and allow-listed globals as plain JS objects, and
// torch's storage vocabulary (dtypes, storage and tensor references) that a state dict names.
//
// Surprising: a torch.<T>Storage global is only a dtype marker inside a persistent id, never
// instantiated; a TensorRef is a strided view of a StorageRef whose bytes live elsewhere (zip
// entry data/<key>), so nothing here touches tensor data. An OrderedDict state dict carries
// torch's `_metadata` in PickleDict.attributes (set by BUILD). The storage references are tuples
// handed to BINPERSID; parseStoragePid is the persistentLoad helper that turns one into a
// StorageRef.
import { CheckpointError } from './zip.ts';

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

/** A short name for a value's kind, for error messages. */
export function describeValue(v: PickleValue): string {
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

/**
 * Resolves a torch storage persistent id: ('storage', torch.<T>Storage, key, location, numel)
 * (zip format) or the same plus view_metadata = None (legacy format).
 */
export function parseStoragePid(pid: PickleValue, fileName: string, part?: string): StorageRef {
  const where = part ? `${part}: ` : '';
  const bad = (what: string): never => {
    throw new CheckpointError(fileName, 'corrupt', `${where}pickle: persistent id ${what}; expected ('storage', torch.<T>Storage, key, location, numel)`);
  };
  if (!(pid instanceof PickleTuple)) return bad(`is ${describeValue(pid)}`);
  const [tag, type, key, location, numel, view] = pid.items;
  if (tag !== 'storage') return bad(`kind '${String(tag)}'`);
  if (pid.items.length !== 5 && pid.items.length !== 6) return bad(`has ${pid.items.length} fields`);
  if (pid.items.length === 6 && view !== null) {
    throw new CheckpointError(fileName, 'unsupported', 'legacy storage views (view_metadata) are not supported; re-save the checkpoint with torch ≥ 1.6');
  }
  if (!(type instanceof PickleGlobal) || type.module !== 'torch' || !(type.name in STORAGE_TYPES)) return bad(`with storage type ${describeValue(type ?? null)}`);
  if (typeof key !== 'string') return bad('with a non-string key');
  if (typeof location !== 'string') return bad('with a non-string location');
  if (typeof numel !== 'number' || !Number.isInteger(numel) || numel < 0) return bad(`with element count ${String(numel)}`);
  return new StorageRef(STORAGE_TYPES[type.name]!, key, location, numel);
}
