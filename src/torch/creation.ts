// Tensors from JS data. The other creation functions (zeros, ones, full, arange, linspace, rand,
// randn, randint, randperm, …) are ATen ops in ops.generated.ts.
import { native } from './native.js';
import { Tensor } from './tensor.js';
import { dtypeCode, dtypeOfTypedArray, isFloatingPoint, type AnyTypedArray, type DType } from './dtype.js';

export interface CreateOptions {
  dtype?: DType;
  device?: string;
  requiresGrad?: boolean;
}

type Nested = number | boolean | Nested[];

function shapeOf(x: Nested): number[] {
  const s: number[] = [];
  let cur: Nested = x;
  while (Array.isArray(cur)) { s.push(cur.length); cur = cur[0] as Nested; }
  return s;
}

function flatten(x: Nested, shape: number[], depth: number, out: number[]): void {
  if (depth === shape.length) {
    if (Array.isArray(x)) throw new TypeError('tensor(): ragged nested array');
    out.push(typeof x === 'boolean' ? Number(x) : x);
    return;
  }
  if (!Array.isArray(x) || x.length !== shape[depth]) throw new TypeError(`tensor(): ragged nested array at depth ${depth}`);
  for (const v of x) flatten(v, shape, depth + 1, out);
}

function allIntegers(vals: number[]): boolean {
  for (const v of vals) if (!Number.isInteger(v)) return false;
  return true;
}

function packed(vals: ArrayLike<number>, dtype: DType): ArrayBufferView {
  switch (dtype) {
    case 'float32': return Float32Array.from(vals);
    case 'float64': return Float64Array.from(vals);
    case 'int64': return BigInt64Array.from(Array.from(vals), (v) => BigInt(Math.trunc(v)));
    case 'int32': return Int32Array.from(vals);
    case 'int16': return Int16Array.from(vals);
    case 'int8': return Int8Array.from(vals);
    case 'uint8': return Uint8Array.from(vals);
    case 'bool': return Uint8Array.from(vals, (v) => (v ? 1 : 0));
    case 'float16': case 'bfloat16': return Float32Array.from(vals);
  }
}

function finish(t: Tensor, opts: CreateOptions): Tensor {
  if (opts.requiresGrad) {
    if (!isFloatingPoint(t.dtype)) throw new TypeError('tensor(): only floating-point tensors can require gradients');
    t.requiresGrad_(true);
  }
  return t;
}

/**
 * A tensor holding a copy of `data`: a number, a nested array, or a typed array (flat; give
 * `shape`). Like torch.tensor: integers → int64, other numbers → float32, booleans → bool.
 */
export function tensor(data: Nested | AnyTypedArray, options: CreateOptions & { shape?: number[] } = {}): Tensor {
  if (ArrayBuffer.isView(data)) return fromTypedArray(data as AnyTypedArray, options.shape ?? [(data as AnyTypedArray).length], options);
  const shape = shapeOf(data);
  const vals: number[] = [];
  flatten(data, shape, 0, vals);
  const isBool = !Array.isArray(data) ? typeof data === 'boolean' : vals.length > 0 && typeof firstLeaf(data) === 'boolean';
  const dtype = options.dtype ?? (isBool ? 'bool' : allIntegers(vals) && vals.length > 0 ? 'int64' : 'float32');
  return build(packed(vals, dtype), dtype, shape, options);
}

function firstLeaf(x: Nested): number | boolean {
  let cur: Nested = x;
  while (Array.isArray(cur)) cur = cur[0] as Nested;
  return cur;
}

function build(view: ArrayBufferView, dtype: DType, shape: number[], options: CreateOptions): Tensor {
  const half = dtype === 'float16' || dtype === 'bfloat16';
  let t = new Tensor(native.fromBuffer(view, dtypeCode(half ? 'float32' : dtype), shape, options.device));
  if (half) { const h = t.to(dtype); t.dispose(); t = h; }
  return finish(t, options);
}

/** A tensor of the given shape holding a copy of a typed array's values. */
export function fromTypedArray(data: AnyTypedArray | Uint8ClampedArray, shape: number[], options: CreateOptions = {}): Tensor {
  const numel = shape.reduce((a, b) => a * b, 1);
  if (numel !== data.length) throw new RangeError(`fromTypedArray(): ${data.length} values do not fill shape [${shape.join(', ')}] (${numel} elements)`);
  const own = dtypeOfTypedArray(data);
  const dtype = options.dtype ?? own;
  if (dtype === own || (dtype === 'bool' && own === 'uint8')) {
    return finish(new Tensor(native.fromBuffer(data, dtypeCode(dtype), shape, options.device)), options);
  }
  const t = new Tensor(native.fromBuffer(data, dtypeCode(own), shape, options.device));
  const c = t.to(dtype);
  t.dispose();
  return finish(c, options);
}
