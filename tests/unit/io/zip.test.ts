// Zip reader/writer: real torch.save archives, deflate entries, zip64 records, and every
// refusal (bombs, truncation, CRC mismatch, overlapping entries, unsupported features).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { deflateSync, zipSync } from 'fflate';
import { describe, expect, it } from 'vitest';
import { CheckpointError, crc32, DEFAULT_ZIP_LIMITS, readZip, writeZip, type ZipLimits } from '../../../src/io/zip.ts';
import { FIXTURE_DIR } from '../../helpers/fixtures.ts';

const TORCH_DIR = join(FIXTURE_DIR, 'io/torch');
const enc = new TextEncoder();

function refusal(fn: () => unknown): CheckpointError {
  try {
    fn();
  } catch (e) {
    if (e instanceof CheckpointError) return e;
    throw e;
  }
  throw new Error('expected a CheckpointError, nothing was thrown');
}

/** Offset of the first central directory record (signature PK\1\2). */
function centralOffset(z: Uint8Array): number {
  for (let i = 0; i < z.length - 4; i++) if (z[i] === 0x50 && z[i + 1] === 0x4b && z[i + 2] === 1 && z[i + 3] === 2) return i;
  throw new Error('no central directory');
}

/** A stored-entry archive in zip64 form: every size/offset saturated and carried by extra field 1. */
function zip64Archive(entries: { name: string; data: Uint8Array }[]): Uint8Array {
  const parts: Uint8Array[] = [];
  const locals: number[] = [];
  let at = 0;
  for (const e of entries) {
    const name = enc.encode(e.name);
    const h = new Uint8Array(30 + name.length);
    const v = new DataView(h.buffer);
    v.setUint32(0, 0x04034b50, true);
    v.setUint16(4, 45, true);
    v.setUint32(14, crc32(e.data), true);
    v.setUint32(18, e.data.length, true);
    v.setUint32(22, e.data.length, true);
    v.setUint16(26, name.length, true);
    h.set(name, 30);
    locals.push(at);
    parts.push(h, e.data);
    at += h.length + e.data.length;
  }
  const cdStart = at;
  entries.forEach((e, i) => {
    const name = enc.encode(e.name);
    const c = new Uint8Array(46 + name.length + 28);
    const v = new DataView(c.buffer);
    v.setUint32(0, 0x02014b50, true);
    v.setUint16(4, 45, true);
    v.setUint16(6, 45, true);
    v.setUint32(16, crc32(e.data), true);
    v.setUint32(20, 0xffffffff, true);
    v.setUint32(24, 0xffffffff, true);
    v.setUint16(28, name.length, true);
    v.setUint16(30, 28, true);
    v.setUint32(42, 0xffffffff, true);
    c.set(name, 46);
    const x = 46 + name.length;
    v.setUint16(x, 1, true);
    v.setUint16(x + 2, 24, true);
    v.setBigUint64(x + 4, BigInt(e.data.length), true); // uncompressed
    v.setBigUint64(x + 12, BigInt(e.data.length), true); // compressed
    v.setBigUint64(x + 20, BigInt(locals[i]!), true); // local header offset
    parts.push(c);
    at += c.length;
  });
  const cdSize = at - cdStart;
  const tail = new Uint8Array(56 + 20 + 22);
  const v = new DataView(tail.buffer);
  v.setUint32(0, 0x06064b50, true);
  v.setBigUint64(4, 44n, true);
  v.setBigUint64(24, BigInt(entries.length), true);
  v.setBigUint64(32, BigInt(entries.length), true);
  v.setBigUint64(40, BigInt(cdSize), true);
  v.setBigUint64(48, BigInt(cdStart), true);
  v.setUint32(56, 0x07064b50, true);
  v.setBigUint64(64, BigInt(at), true); // where the zip64 EOCD starts
  v.setUint32(72, 1, true);
  v.setUint32(76, 0x06054b50, true);
  v.setUint16(84, 0xffff, true); // entries on this disk
  v.setUint16(86, 0xffff, true); // entries
  v.setUint32(88, 0xffffffff, true); // central directory size
  v.setUint32(92, 0xffffffff, true); // central directory offset
  parts.push(tail);
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

describe('zip', () => {
  it('CRC-32 matches the standard check value', () => {
    expect(crc32(enc.encode('123456789'))).toBe(0xcbf43926);
    expect(crc32(enc.encode('6789'), crc32(enc.encode('12345')))).toBe(0xcbf43926);
  });

  it('reads a real torch.save archive: names, 64-byte aligned data, CRCs', () => {
    const bytes = new Uint8Array(readFileSync(join(TORCH_DIR, 'official_dense_encoder.pt')));
    const zip = readZip(bytes, 'official_dense_encoder.pt');
    const names = zip.entries.map((e) => e.name);
    expect(names[0]).toBe('official_dense_encoder/data.pkl');
    expect(names).toContain('official_dense_encoder/version');
    expect(names.filter((n) => n.includes('/data/')).length).toBe(66);
    for (const e of zip.entries) {
      expect(e.method).toBe(0);
      expect(e.dataOffset % 64).toBe(0);
      expect(zip.read(e).length).toBe(e.uncompressedSize); // CRC checked inside read()
    }
    expect(new TextDecoder().decode(zip.read('official_dense_encoder/version'))).toBe('3\n');
  });

  it('writes stored entries with 64-byte aligned data that it reads back', () => {
    const entries = [
      { name: 'archive/data.pkl', data: enc.encode('pickle bytes') },
      { name: 'archive/data/0', data: new Uint8Array(100).map((_, i) => i) },
      { name: 'archive/empty', data: new Uint8Array(0) },
      { name: 'archive/ünï', data: enc.encode('utf-8 name') },
    ];
    const bytes = writeZip(entries);
    const zip = readZip(bytes, 'written.zip');
    expect(zip.entries.map((e) => e.name)).toEqual(entries.map((e) => e.name));
    for (const e of entries) {
      expect(zip.entry(e.name).dataOffset % 64).toBe(0);
      expect([...zip.read(e.name)]).toEqual([...e.data]);
    }
    // Deterministic: the same input gives the same bytes (fixed timestamps).
    expect(writeZip(entries)).toEqual(bytes);
  });

  it('reads deflate entries (as re-zipping tools write them)', () => {
    const payload = new Uint8Array(5000).map((_, i) => (i * 7) % 13);
    const bytes = zipSync({ 'm/data.pkl': [payload, { level: 6 }], 'm/raw': [enc.encode('stored'), { level: 0 }] });
    const zip = readZip(bytes, 'deflated.zip');
    expect(zip.entry('m/data.pkl').method).toBe(8);
    expect([...zip.read('m/data.pkl')]).toEqual([...payload]);
    expect(new TextDecoder().decode(zip.read('m/raw'))).toBe('stored');
  });

  it('reads zip64 records (sizes and offsets carried by the zip64 extra field)', () => {
    const bytes = zip64Archive([
      { name: 'a/data.pkl', data: enc.encode('hello') },
      { name: 'a/data/0', data: new Uint8Array([1, 2, 3, 4]) },
    ]);
    const zip = readZip(bytes, 'zip64.zip');
    expect(zip.entries.map((e) => [e.name, e.uncompressedSize])).toEqual([
      ['a/data.pkl', 5],
      ['a/data/0', 4],
    ]);
    expect([...zip.read('a/data/0')]).toEqual([1, 2, 3, 4]);
  });

  it('refuses a truncated archive, naming the file', () => {
    const bytes = writeZip([{ name: 'a/data.pkl', data: new Uint8Array(300) }]);
    for (const cut of [bytes.length - 1, bytes.length - 30, 200, 40, 4]) {
      const e = refusal(() => readZip(bytes.subarray(0, cut), 'cut.pt'));
      expect(e.reason).toBe('truncated');
      expect(e.message).toMatch(/^cut\.pt: /);
    }
  });

  it('refuses an entry whose data runs past the end of the file', () => {
    const bytes = writeZip([{ name: 'a/data.pkl', data: new Uint8Array(10) }]);
    const v = new DataView(bytes.buffer);
    const cd = centralOffset(bytes);
    v.setUint32(cd + 20, 1_000_000, true);
    v.setUint32(cd + 24, 1_000_000, true);
    const e = refusal(() => readZip(bytes, 'short.pt'));
    expect(e.reason).toBe('truncated');
    expect(e.message).toMatch(/'a\/data\.pkl' is truncated/);
  });

  it('refuses a CRC mismatch when the entry is read', () => {
    const bytes = writeZip([{ name: 'a/data/0', data: new Uint8Array(64).fill(7) }]);
    const zip = readZip(bytes, 'flip.pt');
    bytes[zip.entry('a/data/0').dataOffset + 10] ^= 0x10;
    const e = refusal(() => zip.read('a/data/0'));
    expect(e.reason).toBe('crc-mismatch');
    expect(e.message).toMatch(/'a\/data\/0' is corrupted: CRC-32/);
  });

  it('refuses zip bombs: declared size, ratio, lying size, entry count, total, overlap', () => {
    const small: ZipLimits = { ...DEFAULT_ZIP_LIMITS, maxEntryBytes: 1000 };
    const e1 = refusal(() => readZip(writeZip([{ name: 'x', data: new Uint8Array(2000) }]), 'big.pt', small));
    expect([e1.reason, e1.message]).toEqual(['zip-bomb', expect.stringMatching(/declares 2000 bytes uncompressed, over the 1000-byte limit/)]);

    // 8 MiB of zeros deflate ~1000:1
    const zeros = zipSync({ 'b/data/0': [new Uint8Array(8 * 1024 * 1024), { level: 9 }] });
    const e2 = refusal(() => readZip(zeros, 'zeros.pt'));
    expect(e2.reason).toBe('zip-bomb');
    expect(e2.message).toMatch(/ratio \d+ > 200/);

    // A deflate entry that lies about its size: caught while inflating, not after.
    const payload = new Uint8Array(4096).fill(3);
    const lying = zipSync({ c: [payload, { level: 6 }] });
    const cd = centralOffset(lying);
    new DataView(lying.buffer).setUint32(cd + 24, 100, true);
    const zip = readZip(lying, 'liar.pt');
    const e3 = refusal(() => zip.read('c'));
    expect(e3.reason).toBe('zip-bomb');
    expect(e3.message).toMatch(/inflates past its declared 100 bytes/);

    const three = writeZip(['a', 'b', 'c'].map((name) => ({ name, data: new Uint8Array(1) })));
    const e4 = refusal(() => readZip(three, 'many.pt', { ...DEFAULT_ZIP_LIMITS, maxEntries: 2 }));
    expect([e4.reason, e4.message]).toEqual(['limit-exceeded', expect.stringMatching(/declares 3 entries, more than the limit of 2/)]);

    const e5 = refusal(() => readZip(three, 'total.pt', { ...DEFAULT_ZIP_LIMITS, maxTotalBytes: 2 }));
    expect(e5.reason).toBe('zip-bomb');

    // Two central records pointing at one local header (the overlapping-file bomb).
    const two = writeZip([
      { name: 'p', data: new Uint8Array(64) },
      { name: 'q', data: new Uint8Array(64) },
    ]);
    const cd2 = centralOffset(two);
    const v = new DataView(two.buffer);
    const secondRecord = cd2 + 46 + 1;
    v.setUint32(secondRecord + 42, 0, true);
    v.setUint32(secondRecord + 16, v.getUint32(cd2 + 16, true), true);
    const e6 = refusal(() => readZip(two, 'overlap.pt'));
    expect([e6.reason, e6.message]).toEqual(['zip-bomb', expect.stringMatching(/'p' and 'q' overlap/)]);
  });

  it('refuses what it does not read: not a zip, encryption, other compression methods', () => {
    expect(refusal(() => readZip(enc.encode('just some text, not an archive at all'), 'notes.txt')).reason).toBe('not-a-checkpoint');
    const enc1 = writeZip([{ name: 'a', data: new Uint8Array(4) }]);
    const cd = centralOffset(enc1);
    new DataView(enc1.buffer).setUint16(cd + 8, 1, true);
    expect(refusal(() => readZip(enc1, 'secret.pt')).message).toMatch(/'a' is encrypted/);
    const bz = writeZip([{ name: 'a', data: new Uint8Array(4) }]);
    new DataView(bz.buffer).setUint16(centralOffset(bz) + 10, 12, true);
    expect(refusal(() => readZip(bz, 'bzip2.pt')).message).toMatch(/compression method 12/);
  });

  it('refuses corrupt deflate data with a specific error', () => {
    const junk = new Uint8Array(64).fill(0xff);
    const bytes = zipSync({ d: [deflateSync(new Uint8Array(10)), { level: 0 }] });
    // Mark the stored entry as deflated and give it junk of the same length.
    const cd = centralOffset(bytes);
    const v = new DataView(bytes.buffer);
    v.setUint16(cd + 10, 8, true);
    v.setUint32(cd + 24, 10, true);
    const zip = readZip(bytes, 'junk.pt');
    const e = zip.entry('d');
    bytes.set(junk.subarray(0, e.compressedSize), e.dataOffset);
    const err = refusal(() => zip.read('d'));
    expect([err.reason, err.message]).toEqual(['corrupt', expect.stringMatching(/'d' has invalid deflate data/)]);
  });
});
