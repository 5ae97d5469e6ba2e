import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';

export type DType =
  | 'float32' | 'float64' | 'float16' | 'bfloat16'
  | 'int64' | 'int32' | 'int16' | 'int8' | 'uint8' | 'bool';

/** A tensor as bytes: `data` is contiguous, row-major, little-endian, exactly numel * itemsize bytes. */
export interface RawTensor {
  dtype: DType;
  shape: number[];
  data: Uint8Array;
}

export const DTYPE_ITEMSIZE: Readonly<Record<DType, number>> = {
  float32: 4, float64: 8, float16: 2, bfloat16: 2,
  int64: 8, int32: 4, int16: 2, int8: 1, uint8: 1, bool: 1,
};

export function isDType(x: unknown): x is DType {
  return typeof x === 'string' && Object.prototype.hasOwnProperty.call(DTYPE_ITEMSIZE, x);
}

export function numelOf(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function isRawTensor(x: unknown): x is RawTensor {
  if (typeof x !== 'object' || x === null) return false;
  const t = x as Partial<RawTensor>;
  return isDType(t.dtype) && Array.isArray(t.shape) && t.data instanceof Uint8Array;
}

/** Throws unless `t` is well formed; `what` names the tensor in the message. */
export function checkRawTensor(t: RawTensor, what: string): void {
  if (!isDType(t.dtype)) throw new Error(`${what}: unknown dtype ${String(t.dtype)}; use one of ${Object.keys(DTYPE_ITEMSIZE).join(', ')}`);
  for (const d of t.shape) {
    if (!Number.isSafeInteger(d) || d < 0) throw new Error(`${what}: bad shape [${t.shape.join(', ')}]; dimensions must be non-negative integers`);
  }
  const want = numelOf(t.shape) * DTYPE_ITEMSIZE[t.dtype];
  if (t.data.byteLength !== want) {
    throw new Error(`${what}: ${t.data.byteLength} data bytes but shape [${t.shape.join(', ')}] of ${t.dtype} needs ${want}`);
  }
}

/** Writes `chunks` to a temp file next to `path`, fsyncs, then renames, so readers never see a partial file. */
export function writeFileAtomic(path: string, chunks: readonly Uint8Array[]): void {
  const tmp = `${path}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  const fd = openSync(tmp, 'w');
  try {
    for (const c of chunks) {
      let off = 0;
      while (off < c.byteLength) off += writeSync(fd, c, off, c.byteLength - off);
    }
    fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw e;
  }
  closeSync(fd);
  try {
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}

/**
 * Copies a strided view (element strides and offset, as torch/numpy store them) out of `src`
 * into a new contiguous row-major buffer. Contiguous runs are copied with one `set` each.
 * With `viewIfContiguous`, a view already laid out contiguously is returned as a subarray of
 * `src` (no copy). Throws a RangeError when the view reaches outside `src`; callers add the
 * file/tensor name.
 */
export function stridedCopy(
  src: Uint8Array, itemsize: number, shape: readonly number[], strides: readonly number[], offset: number,
  viewIfContiguous = false,
): Uint8Array {
  const ndim = shape.length;
  if (strides.length !== ndim) throw new RangeError(`stride [${strides.join(', ')}] does not match shape [${shape.join(', ')}]`);
  const numel = numelOf(shape);
  if (numel === 0) return new Uint8Array(0);
  const srcElems = Math.floor(src.byteLength / itemsize);
  let lo = offset;
  let hi = offset;
  for (let i = 0; i < ndim; i++) {
    const span = (shape[i] - 1) * strides[i];
    if (span < 0) lo += span; else hi += span;
  }
  if (!Number.isSafeInteger(lo) || lo < 0 || hi >= srcElems) {
    throw new RangeError(`view (offset ${offset}, shape [${shape.join(', ')}], stride [${strides.join(', ')}]) reaches element ${lo < 0 ? lo : hi} of a ${srcElems}-element storage`);
  }
  // Trailing dims that are laid out contiguously form one block copied at once.
  let block = 1;
  let k = ndim;
  while (k > 0 && (shape[k - 1] === 1 || strides[k - 1] === block)) {
    block *= shape[k - 1];
    k--;
  }
  const blockBytes = block * itemsize;
  if (k === 0) {
    const run = src.subarray(offset * itemsize, offset * itemsize + blockBytes);
    return viewIfContiguous ? run : run.slice();
  }
  const out = new Uint8Array(numel * itemsize);
  const idx = new Array<number>(k).fill(0);
  let srcPos = offset;
  let dst = 0;
  for (;;) {
    const s = srcPos * itemsize;
    if (blockBytes === 1) out[dst] = src[s];
    else out.set(src.subarray(s, s + blockBytes), dst);
    dst += blockBytes;
    let d = k - 1;
    while (d >= 0) {
      idx[d]++;
      srcPos += strides[d];
      if (idx[d] < shape[d]) break;
      srcPos -= strides[d] * shape[d];
      idx[d] = 0;
      d--;
    }
    if (d < 0) return out;
  }
}

export function contiguousStrides(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i];
  }
  return s;
}

/** A plain Uint8Array view of `b`: Buffer's slice() returns a view, and readers rely on slice() copying. */
export function plainBytes(b: Uint8Array): Uint8Array {
  return Object.getPrototypeOf(b) === Uint8Array.prototype ? b : new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}
