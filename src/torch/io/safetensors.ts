// safetensors: u64 little-endian header length N, N bytes of JSON header (padded with spaces),
// then one byte buffer that the tensors' data_offsets (relative to it) cover without holes.
import { readFileSync } from 'node:fs';
import type { DType, RawTensor } from './types.js';
import { DTYPE_ITEMSIZE, checkRawTensor, numelOf, plainBytes, writeFileAtomic } from './types.js';

const CODES: Readonly<Record<DType, string>> = {
  float32: 'F32', float64: 'F64', float16: 'F16', bfloat16: 'BF16',
  int64: 'I64', int32: 'I32', int16: 'I16', int8: 'I8', uint8: 'U8', bool: 'BOOL',
};
const FROM_CODE: Readonly<Record<string, DType>> = Object.fromEntries(
  Object.entries(CODES).map(([d, c]) => [c, d as DType]),
);
const MAX_HEADER = 100_000_000;

export interface SafetensorsFile {
  tensors: Map<string, RawTensor>;
  metadata: Record<string, string>;
}

/** Reads and validates a safetensors file; each tensor's `data` is a view into the file's bytes. */
export function readSafetensors(src: string | Uint8Array): SafetensorsFile {
  const source = typeof src === 'string' ? src : '<bytes>';
  let bytes: Uint8Array;
  if (typeof src === 'string') {
    try {
      bytes = readFileSync(src);
    } catch (e) {
      throw new Error(`${src}: cannot read safetensors file: ${(e as Error).message}`);
    }
  } else bytes = src;
  bytes = plainBytes(bytes);
  const fail = (msg: string): never => {
    throw new Error(`${source}: invalid safetensors file: ${msg}`);
  };
  if (bytes.length < 8) fail(`only ${bytes.length} bytes; a header length (8 bytes) is required`);
  const n64 = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
  if (n64 > BigInt(MAX_HEADER)) fail(`header length ${n64} exceeds the ${MAX_HEADER}-byte limit`);
  const n = Number(n64);
  if (8 + n > bytes.length) fail(`header length ${n} runs past the end of the ${bytes.length}-byte file (truncated?)`);
  const headerText = new TextDecoder('utf-8', { fatal: false }).decode(bytes.subarray(8, 8 + n));
  if (!headerText.startsWith('{')) fail('header does not start with "{"');
  let header: unknown;
  try {
    header = JSON.parse(headerText);
  } catch (e) {
    fail(`header is not valid JSON (${(e as Error).message})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) fail('header is not a JSON object');
  const body = bytes.subarray(8 + n);
  const metadata: Record<string, string> = {};
  const spans: Array<{ name: string; begin: number; end: number }> = [];
  const tensors = new Map<string, RawTensor>();
  for (const [name, info] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (typeof info !== 'object' || info === null || Array.isArray(info)) fail('__metadata__ must be an object of strings');
      for (const [k, v] of Object.entries(info as Record<string, unknown>)) {
        if (typeof v !== 'string') fail(`__metadata__ entry '${k}' is not a string`);
        metadata[k] = v as string;
      }
      continue;
    }
    const t = info as { dtype?: unknown; shape?: unknown; data_offsets?: unknown } | null;
    if (typeof t !== 'object' || t === null) fail(`tensor '${name}': entry is not an object`);
    const dtype = typeof t!.dtype === 'string' ? FROM_CODE[t!.dtype] : undefined;
    if (!dtype) fail(`tensor '${name}': unsupported dtype ${JSON.stringify(t!.dtype)} (supported: ${Object.values(CODES).join(', ')})`);
    const shape = t!.shape;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) fail(`tensor '${name}': shape must be a list of non-negative integers`);
    const offs = t!.data_offsets;
    if (!Array.isArray(offs) || offs.length !== 2 || !offs.every((o) => Number.isSafeInteger(o) && o >= 0)) fail(`tensor '${name}': data_offsets must be [begin, end]`);
    const [begin, end] = offs as number[];
    if (begin > end || end > body.length) fail(`tensor '${name}': data_offsets [${begin}, ${end}] lie outside the ${body.length}-byte data buffer`);
    const want = numelOf(shape as number[]) * DTYPE_ITEMSIZE[dtype!];
    if (end - begin !== want) fail(`tensor '${name}': data_offsets span ${end - begin} bytes but shape [${(shape as number[]).join(', ')}] of ${t!.dtype as string} needs ${want}`);
    spans.push({ name, begin, end });
    tensors.set(name, { dtype: dtype!, shape: [...(shape as number[])], data: bytes.subarray(8 + n + begin, 8 + n + end) });
  }
  spans.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let covered = 0;
  for (const s of spans) {
    if (s.begin < covered) fail(`tensor '${s.name}' overlaps the previous tensor (starts at ${s.begin}, previous ends at ${covered})`);
    if (s.begin > covered) fail(`gap in the data buffer before tensor '${s.name}' (bytes ${covered}..${s.begin} unused)`);
    covered = s.end;
  }
  if (covered !== body.length) fail(`data buffer has ${body.length} bytes but the tensors cover ${covered}`);
  return { tensors, metadata };
}

/** Serialises tensors (largest itemsize first, then by name, so every tensor stays aligned). */
export function serializeSafetensors(tensors: ReadonlyMap<string, RawTensor>, metadata?: Readonly<Record<string, string>>): Uint8Array[] {
  const names = [...tensors.keys()].sort((a, b) => {
    const d = DTYPE_ITEMSIZE[tensors.get(b)!.dtype] - DTYPE_ITEMSIZE[tensors.get(a)!.dtype];
    return d || (a < b ? -1 : a > b ? 1 : 0);
  });
  const header: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string') throw new Error(`safetensors metadata '${k}' must be a string`);
    }
    header.__metadata__ = metadata;
  }
  let off = 0;
  for (const name of names) {
    if (name === '__metadata__') throw new Error("safetensors: a tensor may not be named '__metadata__'");
    const t = tensors.get(name)!;
    checkRawTensor(t, `safetensors tensor '${name}'`);
    header[name] = { dtype: CODES[t.dtype], shape: t.shape, data_offsets: [off, off + t.data.length] };
    off += t.data.length;
  }
  let json = JSON.stringify(header);
  let hb = new TextEncoder().encode(json);
  const pad = (8 - (hb.length % 8)) % 8;
  if (pad) {
    json += ' '.repeat(pad);
    hb = new TextEncoder().encode(json);
  }
  const len = new Uint8Array(8);
  new DataView(len.buffer).setBigUint64(0, BigInt(hb.length), true);
  return [len, hb, ...names.map((name) => tensors.get(name)!.data)];
}

/** Writes a safetensors file atomically. */
export function writeSafetensors(path: string, tensors: ReadonlyMap<string, RawTensor>, metadata?: Readonly<Record<string, string>>): void {
  writeFileAtomic(path, serializeSafetensors(tensors, metadata));
}
