// Minimal zip archive reader/writer: enough for torch's zip checkpoints (stored entries, 64-byte
// aligned data) and ordinary zips (deflate). Reading zip64 is supported; writing is zip32 only.
import * as zlib from 'node:zlib';
import { plainBytes } from './types.js';

export interface ZipEntry {
  name: string;
  method: number; // 0 = stored, 8 = deflate
  crc32: number;
  compressedSize: number;
  size: number;
  localHeaderOffset: number;
}

const SIG_EOCD = 0x06054b50;
const SIG_EOCD64 = 0x06064b50;
const SIG_EOCD64_LOCATOR = 0x07064b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_LOCAL = 0x04034b50;

const crcTable = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** CRC-32 (zip polynomial); uses node's native zlib.crc32 where the runtime has it. */
export function crc32(data: Uint8Array): number {
  const native = (zlib as { crc32?: (d: Uint8Array) => number }).crc32;
  if (native) return native(data) >>> 0;
  let c = 0xffffffff;
  for (let i = 0; i < data.length; i++) c = crcTable[(c ^ data[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function u64(view: DataView, off: number, what: string): number {
  const v = view.getBigUint64(off, true);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error(`${what}: 64-bit value ${v} is too large`);
  return Number(v);
}

export class ZipReader {
  readonly entries: ZipEntry[] = [];
  private readonly byName = new Map<string, ZipEntry>();
  private readonly view: DataView;

  /** `source` names the file in error messages. */
  readonly bytes: Uint8Array;

  constructor(bytes: Uint8Array, readonly source = '<bytes>') {
    this.bytes = plainBytes(bytes);
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.parseCentralDirectory();
  }

  static isZip(bytes: Uint8Array): boolean {
    return bytes.length >= 4 && bytes[0] === 0x50 && bytes[1] === 0x4b && bytes[2] === 0x03 && bytes[3] === 0x04;
  }

  private fail(msg: string): never {
    throw new Error(`${this.source}: corrupt or truncated zip archive: ${msg}`);
  }

  private parseCentralDirectory(): void {
    const { view, bytes } = this;
    const len = bytes.length;
    let eocd = -1;
    for (let i = len - 22; i >= Math.max(0, len - 22 - 0xffff); i--) {
      if (view.getUint32(i, true) === SIG_EOCD) { eocd = i; break; }
    }
    if (eocd < 0) this.fail('end-of-central-directory record not found (file cut short?)');
    let count = view.getUint16(eocd + 10, true);
    let cdSize = view.getUint32(eocd + 12, true);
    let cdOffset = view.getUint32(eocd + 16, true);
    if (eocd >= 20 && view.getUint32(eocd - 20, true) === SIG_EOCD64_LOCATOR) {
      const e64 = u64(view, eocd - 20 + 8, this.source);
      if (e64 + 56 > len || view.getUint32(e64, true) !== SIG_EOCD64) this.fail('bad zip64 end-of-central-directory record');
      count = u64(view, e64 + 32, this.source);
      cdSize = u64(view, e64 + 40, this.source);
      cdOffset = u64(view, e64 + 48, this.source);
    }
    if (cdOffset + cdSize > len) this.fail(`central directory (offset ${cdOffset}, ${cdSize} bytes) lies past the end of the ${len}-byte file`);
    const dec = new TextDecoder();
    let p = cdOffset;
    for (let i = 0; i < count; i++) {
      if (p + 46 > len || view.getUint32(p, true) !== SIG_CENTRAL) this.fail(`central directory entry ${i} is damaged`);
      const method = view.getUint16(p + 10, true);
      const crc = view.getUint32(p + 16, true);
      let csize = view.getUint32(p + 20, true);
      let usize = view.getUint32(p + 24, true);
      const nameLen = view.getUint16(p + 28, true);
      const extraLen = view.getUint16(p + 30, true);
      const commentLen = view.getUint16(p + 32, true);
      let lho = view.getUint32(p + 42, true);
      if (p + 46 + nameLen + extraLen > len) this.fail(`central directory entry ${i} is cut short`);
      const name = dec.decode(bytes.subarray(p + 46, p + 46 + nameLen));
      // zip64 extended information: only the fields saturated in the fixed header are present.
      let e = p + 46 + nameLen;
      const eEnd = e + extraLen;
      while (e + 4 <= eEnd) {
        const id = view.getUint16(e, true);
        const sz = view.getUint16(e + 2, true);
        if (id === 0x0001) {
          let q = e + 4;
          if (usize === 0xffffffff) { usize = u64(view, q, this.source); q += 8; }
          if (csize === 0xffffffff) { csize = u64(view, q, this.source); q += 8; }
          if (lho === 0xffffffff) { lho = u64(view, q, this.source); q += 8; }
        }
        e += 4 + sz;
      }
      const entry: ZipEntry = { name, method, crc32: crc, compressedSize: csize, size: usize, localHeaderOffset: lho };
      this.entries.push(entry);
      this.byName.set(name, entry);
      p = eEnd + commentLen;
    }
  }

  names(): string[] {
    return this.entries.map((e) => e.name);
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }

  /** Entry contents. Stored entries are returned as a view into the archive bytes (no copy). */
  read(name: string, verifyCrc = true): Uint8Array {
    const e = this.byName.get(name);
    if (!e) throw new Error(`${this.source}: zip archive has no entry '${name}'`);
    const { view, bytes } = this;
    const lho = e.localHeaderOffset;
    if (lho + 30 > bytes.length || view.getUint32(lho, true) !== SIG_LOCAL) this.fail(`local header of '${name}' is damaged`);
    const start = lho + 30 + view.getUint16(lho + 26, true) + view.getUint16(lho + 28, true);
    if (start + e.compressedSize > bytes.length) this.fail(`entry '${name}' needs ${e.compressedSize} bytes at offset ${start} but the file has ${bytes.length}`);
    const raw = bytes.subarray(start, start + e.compressedSize);
    let out: Uint8Array;
    if (e.method === 0) out = raw;
    else if (e.method === 8) {
      try {
        out = plainBytes(zlib.inflateRawSync(raw));
      } catch (err) {
        this.fail(`entry '${name}' does not inflate (${(err as Error).message})`);
      }
    } else throw new Error(`${this.source}: zip entry '${name}' uses compression method ${e.method}; only stored (0) and deflate (8) are supported`);
    if (out.length !== e.size) this.fail(`entry '${name}' has ${out.length} bytes, directory says ${e.size}`);
    if (verifyCrc && crc32(out) !== e.crc32) this.fail(`entry '${name}' fails its CRC-32 check`);
    return out;
  }
}

export interface ZipWriteEntry {
  name: string;
  data: Uint8Array;
}

/**
 * Builds a zip of stored (uncompressed) entries, each entry's data starting at a multiple of
 * `align` bytes (torch pads the same way, with an 'FB' extra field, so storages can be mapped).
 * Returns chunks to write in order, to avoid one more copy of large payloads.
 */
export function buildZip(entries: readonly ZipWriteEntry[], align = 64): Uint8Array[] {
  const enc = new TextEncoder();
  const chunks: Uint8Array[] = [];
  const central: Uint8Array[] = [];
  let offset = 0;
  for (const { name, data } of entries) {
    const nameBytes = enc.encode(name);
    const crc = crc32(data);
    let pad = align > 1 ? (align - ((offset + 30 + nameBytes.length) % align)) % align : 0;
    if (pad > 0 && pad < 4) pad += align;
    const local = new Uint8Array(30 + nameBytes.length + pad);
    const lv = new DataView(local.buffer);
    lv.setUint32(0, SIG_LOCAL, true);
    lv.setUint16(4, 20, true);
    lv.setUint16(6, 0x0800, true); // UTF-8 names
    lv.setUint16(8, 0, true);
    lv.setUint32(14, crc, true);
    lv.setUint32(18, data.length, true);
    lv.setUint32(22, data.length, true);
    lv.setUint16(26, nameBytes.length, true);
    lv.setUint16(28, pad, true);
    local.set(nameBytes, 30);
    if (pad > 0) {
      const x = 30 + nameBytes.length;
      lv.setUint16(x, 0x4246, true);
      lv.setUint16(x + 2, pad - 4, true);
      local.fill(0x5a, x + 4, x + pad);
    }
    if (offset + local.length + data.length > 0xfffffffe) {
      throw new Error(`zip writer: archive would exceed 4 GiB at entry '${name}'; zip64 writing is not supported`);
    }
    const cd = new Uint8Array(46 + nameBytes.length);
    const cv = new DataView(cd.buffer);
    cv.setUint32(0, SIG_CENTRAL, true);
    cv.setUint16(4, 20, true);
    cv.setUint16(6, 20, true);
    cv.setUint16(8, 0x0800, true);
    cv.setUint32(16, crc, true);
    cv.setUint32(20, data.length, true);
    cv.setUint32(24, data.length, true);
    cv.setUint16(28, nameBytes.length, true);
    cv.setUint32(42, offset, true);
    cd.set(nameBytes, 46);
    central.push(cd);
    chunks.push(local, data);
    offset += local.length + data.length;
  }
  const cdSize = central.reduce((s, c) => s + c.length, 0);
  if (entries.length > 0xffff) throw new Error(`zip writer: ${entries.length} entries exceed the zip32 limit of 65535`);
  const eocd = new Uint8Array(22);
  const ev = new DataView(eocd.buffer);
  ev.setUint32(0, SIG_EOCD, true);
  ev.setUint16(8, entries.length, true);
  ev.setUint16(10, entries.length, true);
  ev.setUint32(12, cdSize, true);
  ev.setUint32(16, offset, true);
  chunks.push(...central, eocd);
  return chunks;
}
