/**
 * IDX reader/writer (the MNIST / Fashion-MNIST file format, http://yann.lecun.com/exdb/mnist/):
 * two zero bytes, a dtype byte, a rank byte, the dimensions as big-endian uint32, then the
 * values in row-major order, big-endian. Files may be gzipped; that is detected from the content.
 */
import { readFile } from 'node:fs/promises';
import { gunzipSync } from 'node:zlib';
import { DatasetError } from '../dataset-error.js';

export type IdxDtype = 'uint8' | 'int8' | 'int16' | 'int32' | 'float32' | 'float64';

export interface IdxArray {
  readonly dtype: IdxDtype;
  readonly shape: readonly number[];
  readonly data: Uint8Array | Int8Array | Int16Array | Int32Array | Float32Array | Float64Array;
}

const CODES: ReadonlyArray<readonly [number, IdxDtype, number]> = [
  [0x08, 'uint8', 1],
  [0x09, 'int8', 1],
  [0x0b, 'int16', 2],
  [0x0c, 'int32', 4],
  [0x0d, 'float32', 4],
  [0x0e, 'float64', 8],
];

/** True when `bytes` starts with the gzip magic number. */
export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/** Parses IDX content (gzipped or raw). `name` is used in error messages only. */
export function parseIdx(bytes: Uint8Array, name = '<buffer>'): IdxArray {
  if (isGzip(bytes)) {
    try {
      bytes = gunzipSync(bytes);
    } catch (e) {
      throw new DatasetError('bad-format', `${name}: gzip data is corrupt (${(e as Error).message}); download the file again`, name, { cause: e });
    }
  }
  if (bytes.length < 4 || bytes[0] !== 0 || bytes[1] !== 0) {
    throw new DatasetError('bad-format', `${name}: not an IDX file (the first two bytes must be zero)`, name);
  }
  const entry = CODES.find((c) => c[0] === bytes[2]);
  if (entry === undefined) {
    throw new DatasetError('bad-format', `${name}: unknown IDX dtype code 0x${bytes[2]!.toString(16)}`, name);
  }
  const [, dtype, size] = entry;
  const rank = bytes[3]!;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerBytes = 4 + 4 * rank;
  if (bytes.length < headerBytes) throw new DatasetError('bad-format', `${name}: truncated IDX header`, name);
  const shape: number[] = [];
  let count = 1;
  for (let i = 0; i < rank; i++) {
    const d = view.getUint32(4 + 4 * i, false);
    shape.push(d);
    count *= d;
  }
  const expected = headerBytes + count * size;
  if (bytes.length !== expected) {
    throw new DatasetError(
      'bad-format',
      `${name}: IDX header says shape [${shape.join(', ')}] (${expected} bytes) but the file has ${bytes.length} bytes; the file is truncated or corrupt`,
      name,
    );
  }
  return { dtype, shape, data: decodeValues(view, headerBytes, count, dtype, bytes) };
}

function decodeValues(view: DataView, offset: number, count: number, dtype: IdxDtype, bytes: Uint8Array): IdxArray['data'] {
  switch (dtype) {
    // Copy into plain typed arrays: a Buffer's slice() is a view into node's shared pool.
    case 'uint8':
      return new Uint8Array(bytes.subarray(offset, offset + count));
    case 'int8':
      return new Int8Array(new Uint8Array(bytes.subarray(offset, offset + count)).buffer);
    case 'int16': {
      const out = new Int16Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getInt16(offset + 2 * i, false);
      return out;
    }
    case 'int32': {
      const out = new Int32Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getInt32(offset + 4 * i, false);
      return out;
    }
    case 'float32': {
      const out = new Float32Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getFloat32(offset + 4 * i, false);
      return out;
    }
    case 'float64': {
      const out = new Float64Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getFloat64(offset + 8 * i, false);
      return out;
    }
  }
}

/** Reads an IDX file (gzipped or raw). Errors name the file. */
export async function readIdx(path: string): Promise<IdxArray> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (e) {
    throw new DatasetError('not-found', `cannot read IDX file ${path}: ${(e as Error).message}`, path, { cause: e });
  }
  return parseIdx(bytes, path);
}

/** Reads an IDX image file: uint8, rank 3 (N×H×W). */
export async function readIdxImages(path: string): Promise<{ data: Uint8Array; count: number; height: number; width: number }> {
  const arr = await readIdx(path);
  if (arr.dtype !== 'uint8' || arr.shape.length !== 3) {
    throw new DatasetError('bad-format', `${path}: expected uint8 images of rank 3 (N×H×W), got ${arr.dtype} [${arr.shape.join(', ')}]`, path);
  }
  return { data: arr.data as Uint8Array, count: arr.shape[0]!, height: arr.shape[1]!, width: arr.shape[2]! };
}

/** Reads an IDX label file: uint8, rank 1. */
export async function readIdxLabels(path: string): Promise<Uint8Array> {
  const arr = await readIdx(path);
  if (arr.dtype !== 'uint8' || arr.shape.length !== 1) {
    throw new DatasetError('bad-format', `${path}: expected uint8 labels of rank 1, got ${arr.dtype} [${arr.shape.join(', ')}]`, path);
  }
  return arr.data as Uint8Array;
}

/** Encodes an array as raw (uncompressed) IDX bytes. */
export function encodeIdx(arr: IdxArray): Uint8Array {
  const entry = CODES.find((c) => c[1] === arr.dtype);
  if (entry === undefined) throw new RangeError(`unknown IDX dtype ${arr.dtype}`);
  const [code, , size] = entry;
  const count = arr.shape.reduce((a, b) => a * b, 1);
  if (arr.data.length !== count) {
    throw new RangeError(`IDX data has ${arr.data.length} values but shape [${arr.shape.join(', ')}] needs ${count}`);
  }
  const header = 4 + 4 * arr.shape.length;
  const out = new Uint8Array(header + count * size);
  const view = new DataView(out.buffer);
  out[2] = code;
  out[3] = arr.shape.length;
  arr.shape.forEach((d, i) => view.setUint32(4 + 4 * i, d, false));
  for (let i = 0; i < count; i++) {
    const v = arr.data[i]!;
    const at = header + i * size;
    switch (arr.dtype) {
      case 'uint8': view.setUint8(at, v); break;
      case 'int8': view.setInt8(at, v); break;
      case 'int16': view.setInt16(at, v, false); break;
      case 'int32': view.setInt32(at, v, false); break;
      case 'float32': view.setFloat32(at, v, false); break;
      case 'float64': view.setFloat64(at, v, false); break;
    }
  }
  return out;
}
