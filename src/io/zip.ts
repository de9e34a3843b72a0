// Zip archives as PyTorch writes them (torch.save ≥ 1.6): a reader with hard limits and a
// writer of stored (uncompressed) entries whose data starts on a 64-byte boundary.
//
// The reader trusts only the central directory (torch sets the data-descriptor flag and leaves
// sizes/CRC in the local headers at zero), checks every entry against the file's size, refuses
// zip bombs (declared sizes, compression ratio, entry count, overlapping entries) and verifies
// each entry's CRC-32 when it is read. Deflate entries are inflated in chunks so that a lying
// size is caught after a bounded amount of work, not after the whole bomb has expanded.
//
// CheckpointError lives here because zip is the lowest layer every checkpoint reader shares.
import { Inflate } from 'fflate';

/** Why a checkpoint file was refused. */
export type CheckpointErrorReason =
  | 'not-a-checkpoint' // not a format we read (or not a model file at all)
  | 'truncated' // the file ends before a structure it declares
  | 'corrupt' // inconsistent structure: bad signature, sizes that disagree, overlapping entries
  | 'crc-mismatch' // an entry's bytes do not match its CRC-32
  | 'zip-bomb' // declared or actual expansion beyond the limits
  | 'limit-exceeded' // more entries/elements/depth than a checkpoint plausibly needs
  | 'unsupported' // a valid feature we do not read (encryption, a compression method, a dtype)
  | 'unsafe-pickle' // the pickle asked for a global/opcode outside the safe subset
  | 'bad-tensor' // a tensor whose shape/stride/offset does not fit its storage, or absurd shapes
  | 'not-a-state-dict'; // readable, but holds no name → tensor mapping

/** A checkpoint file was refused. Nothing in the running model is changed by a refused file. */
export class CheckpointError extends Error {
  override readonly name: string = 'CheckpointError';
  constructor(
    readonly file: string,
    readonly reason: CheckpointErrorReason,
    readonly detail: string,
  ) {
    super(`${file}: ${detail}`);
  }
}

export interface ZipLimits {
  /** Most entries in one archive (a huge model's checkpoint with optimizer state has ~1k). */
  maxEntries: number;
  /** Largest uncompressed size of one entry, bytes. */
  maxEntryBytes: number;
  /** Largest sum of uncompressed sizes, bytes. */
  maxTotalBytes: number;
  /** Largest uncompressed/compressed ratio of a deflated entry bigger than ratioFloorBytes. */
  maxRatio: number;
  /** Entries up to this uncompressed size are exempt from the ratio cap (zero-initialised GRN/bias). */
  ratioFloorBytes: number;
}

export const DEFAULT_ZIP_LIMITS: ZipLimits = {
  maxEntries: 65_536,
  maxEntryBytes: 4 * 1024 ** 3,
  maxTotalBytes: 16 * 1024 ** 3,
  maxRatio: 200,
  ratioFloorBytes: 1024 ** 2,
};

export interface ZipEntry {
  name: string;
  /** 0 stored, 8 deflate. */
  method: number;
  compressedSize: number;
  uncompressedSize: number;
  crc32: number;
  /** Offset of the local file header. */
  localHeaderOffset: number;
  /** Offset of the entry's (compressed) bytes. */
  dataOffset: number;
}

const SIG_LOCAL = 0x04034b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_EOCD = 0x06054b50;
const SIG_EOCD64 = 0x06064b50;
const SIG_EOCD64_LOCATOR = 0x07064b50;
const U32_MAX = 0xffffffff;

let crcTable: Uint32Array | null = null;

/** CRC-32 (IEEE, as zip uses), optionally continuing from a previous value. */
export function crc32(bytes: Uint8Array, previous = 0): number {
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  const table = crcTable;
  let c = ~previous >>> 0;
  for (let i = 0; i < bytes.length; i++) c = table[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

/** True when the bytes start like a zip archive (a local header or an empty archive). */
export function looksLikeZip(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && bytes[0] === 0x50 && bytes[1] === 0x4b && (bytes[2] === 3 || bytes[2] === 5);
}

function u64(view: DataView, at: number): number {
  const lo = view.getUint32(at, true);
  const hi = view.getUint32(at + 4, true);
  // Offsets and sizes beyond 2^53 cannot address a JS buffer anyway: treat as corrupt.
  return hi >= 0x200000 ? Infinity : hi * 4294967296 + lo;
}

/** A read-only view of a zip archive held in memory. */
export class ZipArchive {
  readonly entries: ZipEntry[];
  private readonly byName = new Map<string, ZipEntry>();
  private readonly view: DataView;

  constructor(
    readonly bytes: Uint8Array,
    readonly fileName: string,
    readonly limits: ZipLimits = DEFAULT_ZIP_LIMITS,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.entries = this.readCentralDirectory();
    for (const e of this.entries) {
      if (this.byName.has(e.name)) this.fail('corrupt', `zip entry '${e.name}' appears twice`);
      this.byName.set(e.name, e);
    }
  }

  private fail(reason: CheckpointErrorReason, detail: string): never {
    throw new CheckpointError(this.fileName, reason, detail);
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }

  entry(name: string): ZipEntry {
    const e = this.byName.get(name);
    if (!e) this.fail('corrupt', `zip entry '${name}' is missing`);
    return e;
  }

  /**
   * The entry's uncompressed bytes, CRC-checked. Stored entries come back as a view into the
   * archive (no copy); deflated ones as a new buffer of exactly the declared size.
   */
  read(nameOrEntry: string | ZipEntry): Uint8Array {
    const e = typeof nameOrEntry === 'string' ? this.entry(nameOrEntry) : nameOrEntry;
    const raw = this.bytes.subarray(e.dataOffset, e.dataOffset + e.compressedSize);
    const data = e.method === 0 ? raw : this.inflateEntry(e, raw);
    const crc = crc32(data);
    if (crc !== e.crc32) {
      this.fail(
        'crc-mismatch',
        `zip entry '${e.name}' is corrupted: CRC-32 ${hex(crc)} ≠ recorded ${hex(e.crc32)}. ` +
          'The file was damaged in transfer; download it again.',
      );
    }
    return data;
  }

  private inflateEntry(e: ZipEntry, raw: Uint8Array): Uint8Array {
    const out = new Uint8Array(e.uncompressedSize); // (uncompressedSize) bytes
    let written = 0;
    let tooBig = false;
    const inflater = new Inflate((chunk) => {
      if (written + chunk.length > out.length) {
        tooBig = true;
        return;
      }
      out.set(chunk, written);
      written += chunk.length;
    });
    // 64 KiB of input expands to at most ~66 MiB: the lie is caught within one chunk.
    const CHUNK = 65536;
    try {
      for (let at = 0; at < raw.length && !tooBig; at += CHUNK) {
        const end = Math.min(raw.length, at + CHUNK);
        inflater.push(raw.subarray(at, end), end === raw.length);
      }
    } catch (err) {
      this.fail('corrupt', `zip entry '${e.name}' has invalid deflate data (${(err as Error).message})`);
    }
    if (tooBig) {
      this.fail('zip-bomb', `zip entry '${e.name}' inflates past its declared ${e.uncompressedSize} bytes: refused as a zip bomb`);
    }
    if (written !== e.uncompressedSize) {
      this.fail('truncated', `zip entry '${e.name}' inflates to ${written} bytes, ${e.uncompressedSize} declared`);
    }
    return out;
  }

  private findEocd(): number {
    const b = this.bytes;
    // The EOCD record is 22 bytes plus a comment of at most 65535 bytes.
    const stop = Math.max(0, b.length - 22 - 65535);
    for (let i = b.length - 22; i >= stop; i--) {
      if (b[i] === 0x50 && b[i + 1] === 0x4b && b[i + 2] === 5 && b[i + 3] === 6) {
        const commentLength = this.view.getUint16(i + 20, true);
        if (i + 22 + commentLength === b.length) return i;
      }
    }
    if (looksLikeZip(b)) {
      this.fail('truncated', `zip archive is truncated: no end-of-central-directory record (${b.length} bytes present)`);
    }
    return this.fail('not-a-checkpoint', 'not a zip archive (no end-of-central-directory record)');
  }

  private readCentralDirectory(): ZipEntry[] {
    const v = this.view;
    const size = this.bytes.length;
    const eocd = this.findEocd();
    if (v.getUint16(eocd + 4, true) !== 0 || v.getUint16(eocd + 6, true) !== 0) {
      this.fail('unsupported', 'multi-disk (split) zip archives are not supported');
    }
    let count = v.getUint16(eocd + 10, true);
    let cdSize = v.getUint32(eocd + 12, true);
    let cdOffset = v.getUint32(eocd + 16, true);
    if (count === 0xffff || cdSize === U32_MAX || cdOffset === U32_MAX) {
      const loc = eocd - 20;
      if (loc < 0 || v.getUint32(loc, true) !== SIG_EOCD64_LOCATOR) this.fail('corrupt', 'zip64 archive without its zip64 locator');
      const at = u64(v, loc + 8);
      if (!(at + 56 <= size) || v.getUint32(at, true) !== SIG_EOCD64) this.fail('corrupt', 'zip64 end-of-central-directory record missing or out of range');
      count = u64(v, at + 32);
      cdSize = u64(v, at + 40);
      cdOffset = u64(v, at + 48);
    }
    if (count > this.limits.maxEntries) {
      this.fail('limit-exceeded', `zip archive declares ${count} entries, more than the limit of ${this.limits.maxEntries}`);
    }
    if (!(cdOffset + cdSize <= size)) {
      this.fail('truncated', `zip central directory (${cdSize} bytes at ${cdOffset}) runs past the end of the file (${size} bytes)`);
    }
    const entries: ZipEntry[] = [];
    let p = cdOffset;
    let total = 0;
    const decoder = new TextDecoder('utf-8', { fatal: false });
    for (let n = 0; n < count; n++) {
      if (p + 46 > cdOffset + cdSize || v.getUint32(p, true) !== SIG_CENTRAL) {
        this.fail('corrupt', `zip central directory entry ${n} is malformed (bad signature at offset ${p})`);
      }
      const flags = v.getUint16(p + 8, true);
      const method = v.getUint16(p + 10, true);
      const crc = v.getUint32(p + 16, true);
      let compressedSize = v.getUint32(p + 20, true);
      let uncompressedSize = v.getUint32(p + 24, true);
      const nameLength = v.getUint16(p + 28, true);
      const extraLength = v.getUint16(p + 30, true);
      const commentLength = v.getUint16(p + 32, true);
      let localHeaderOffset = v.getUint32(p + 42, true);
      const nameEnd = p + 46 + nameLength;
      const next = nameEnd + extraLength + commentLength;
      if (next > cdOffset + cdSize) this.fail('corrupt', `zip central directory entry ${n} runs past the directory`);
      const name = decoder.decode(this.bytes.subarray(p + 46, nameEnd));
      // zip64 extra field: only the fields whose 32-bit slot is saturated are present, in order.
      for (let x = nameEnd; x + 4 <= nameEnd + extraLength; ) {
        const id = v.getUint16(x, true);
        const len = v.getUint16(x + 2, true);
        if (id === 0x0001) {
          let f = x + 4;
          const take = (): number => {
            if (f + 8 > x + 4 + len) this.fail('corrupt', `zip entry '${name}' has a short zip64 extra field`);
            const value = u64(v, f);
            f += 8;
            return value;
          };
          if (uncompressedSize === U32_MAX) uncompressedSize = take();
          if (compressedSize === U32_MAX) compressedSize = take();
          if (localHeaderOffset === U32_MAX) localHeaderOffset = take();
        }
        x += 4 + len;
      }
      if (flags & 1) this.fail('unsupported', `zip entry '${name}' is encrypted`);
      if (method !== 0 && method !== 8) {
        this.fail('unsupported', `zip entry '${name}' uses compression method ${method}; only stored (0) and deflate (8) are read`);
      }
      if (uncompressedSize > this.limits.maxEntryBytes) {
        this.fail('zip-bomb', `zip entry '${name}' declares ${uncompressedSize} bytes uncompressed, over the ${this.limits.maxEntryBytes}-byte limit`);
      }
      if (method === 0 && compressedSize !== uncompressedSize) {
        this.fail('corrupt', `stored zip entry '${name}' has compressed size ${compressedSize} ≠ uncompressed ${uncompressedSize}`);
      }
      if (
        method === 8 &&
        uncompressedSize > this.limits.ratioFloorBytes &&
        uncompressedSize > this.limits.maxRatio * Math.max(1, compressedSize)
      ) {
        this.fail(
          'zip-bomb',
          `zip entry '${name}' expands ${compressedSize} → ${uncompressedSize} bytes ` +
            `(ratio ${(uncompressedSize / Math.max(1, compressedSize)).toFixed(0)} > ${this.limits.maxRatio}): refused as a zip bomb`,
        );
      }
      total += uncompressedSize;
      if (total > this.limits.maxTotalBytes) {
        this.fail('zip-bomb', `zip archive declares more than ${this.limits.maxTotalBytes} bytes uncompressed in total: refused as a zip bomb`);
      }
      if (!(localHeaderOffset + 30 <= size)) {
        this.fail('truncated', `zip entry '${name}': local header at ${localHeaderOffset} is past the end of the file (${size} bytes)`);
      }
      if (v.getUint32(localHeaderOffset, true) !== SIG_LOCAL) {
        this.fail('corrupt', `zip entry '${name}': no local file header at offset ${localHeaderOffset}`);
      }
      // The local header's extra field differs from the central one (torch pads it for alignment).
      const dataOffset = localHeaderOffset + 30 + v.getUint16(localHeaderOffset + 26, true) + v.getUint16(localHeaderOffset + 28, true);
      if (!(dataOffset + compressedSize <= size)) {
        this.fail(
          'truncated',
          `zip entry '${name}' is truncated: its ${compressedSize} bytes at offset ${dataOffset} run past the end of the file (${size} bytes)`,
        );
      }
      entries.push({ name, method, compressedSize, uncompressedSize, crc32: crc, localHeaderOffset, dataOffset });
      p = next;
    }
    // Overlapping entries are the trick behind non-recursive zip bombs (and never legitimate).
    const sorted = [...entries].sort((a, b) => a.localHeaderOffset - b.localHeaderOffset);
    for (let i = 1; i < sorted.length; i++) {
      const prev = sorted[i - 1]!;
      const cur = sorted[i]!;
      if (prev.dataOffset + prev.compressedSize > cur.localHeaderOffset) {
        this.fail('zip-bomb', `zip entries '${prev.name}' and '${cur.name}' overlap: refused as a zip bomb`);
      }
    }
    const last = sorted[sorted.length - 1];
    if (last && last.dataOffset + last.compressedSize > cdOffset) {
      this.fail('corrupt', `zip entry '${last.name}' overlaps the central directory`);
    }
    return entries;
  }
}

function hex(n: number): string {
  return '0x' + n.toString(16).padStart(8, '0');
}

export function readZip(bytes: Uint8Array, fileName: string, limits: ZipLimits = DEFAULT_ZIP_LIMITS): ZipArchive {
  return new ZipArchive(bytes, fileName, limits);
}

export interface ZipWriteEntry {
  name: string;
  data: Uint8Array;
}

/**
 * A zip of stored entries, each entry's data starting on an `align`-byte boundary (torch uses
 * 64 so storages can be memory-mapped). The padding sits in an extra field with id "FB", as
 * torch's writer does. Sizes and CRC are in the local headers (no data descriptors).
 */
export function writeZip(entries: readonly ZipWriteEntry[], align = 64): Uint8Array {
  const encoder = new TextEncoder();
  const names = entries.map((e) => encoder.encode(e.name));
  const crcs = entries.map((e) => crc32(e.data));
  // Layout pass: offsets of every local header and data block.
  const localOffsets: number[] = [];
  const paddings: number[] = [];
  let at = 0;
  entries.forEach((e, i) => {
    localOffsets.push(at);
    const headerEnd = at + 30 + names[i]!.length + 4; // 4: the FB extra field's id and length
    const padding = (align - (headerEnd % align)) % align;
    paddings.push(padding);
    at = headerEnd + padding + e.data.length;
  });
  const cdOffset = at;
  const cdSize = names.reduce((s, n) => s + 46 + n.length, 0);
  const total = cdOffset + cdSize + 22;
  if (total > U32_MAX || entries.length > 0xfffe) {
    throw new Error(`writeZip: ${total} bytes / ${entries.length} entries need zip64, which this writer does not produce`);
  }
  const out = new Uint8Array(total);
  const v = new DataView(out.buffer);
  const DOS_TIME = 0; // 1980-01-01 00:00: fixed, so that the same weights give the same file
  const DOS_DATE = (0 << 9) | (1 << 5) | 1;
  const FLAGS = 0x0800; // names are UTF-8
  entries.forEach((e, i) => {
    const p = localOffsets[i]!;
    const name = names[i]!;
    v.setUint32(p, SIG_LOCAL, true);
    v.setUint16(p + 4, 20, true); // version needed: 2.0
    v.setUint16(p + 6, FLAGS, true);
    v.setUint16(p + 8, 0, true); // stored
    v.setUint16(p + 10, DOS_TIME, true);
    v.setUint16(p + 12, DOS_DATE, true);
    v.setUint32(p + 14, crcs[i]!, true);
    v.setUint32(p + 18, e.data.length, true);
    v.setUint32(p + 22, e.data.length, true);
    v.setUint16(p + 26, name.length, true);
    v.setUint16(p + 28, 4 + paddings[i]!, true);
    out.set(name, p + 30);
    const x = p + 30 + name.length;
    v.setUint16(x, 0x4246, true); // "FB"
    v.setUint16(x + 2, paddings[i]!, true);
    out.fill(0x5a, x + 4, x + 4 + paddings[i]!); // 'Z', torch's padding byte
    out.set(e.data, x + 4 + paddings[i]!);
  });
  let p = cdOffset;
  entries.forEach((e, i) => {
    const name = names[i]!;
    v.setUint32(p, SIG_CENTRAL, true);
    v.setUint16(p + 4, 20, true); // version made by
    v.setUint16(p + 6, 20, true);
    v.setUint16(p + 8, FLAGS, true);
    v.setUint16(p + 10, 0, true);
    v.setUint16(p + 12, DOS_TIME, true);
    v.setUint16(p + 14, DOS_DATE, true);
    v.setUint32(p + 16, crcs[i]!, true);
    v.setUint32(p + 20, e.data.length, true);
    v.setUint32(p + 24, e.data.length, true);
    v.setUint16(p + 28, name.length, true);
    // extra length, comment length, disk, internal attributes, external attributes: 0
    v.setUint32(p + 42, localOffsets[i]!, true);
    out.set(name, p + 46);
    p += 46 + name.length;
  });
  v.setUint32(p, SIG_EOCD, true);
  v.setUint16(p + 8, entries.length, true);
  v.setUint16(p + 10, entries.length, true);
  v.setUint32(p + 12, cdSize, true);
  v.setUint32(p + 16, cdOffset, true);
  return out;
}
