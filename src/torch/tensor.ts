// The Tensor handle. Each instance owns one reference to a libtorch tensor; every op returns a new
// instance (in-place ops and views too), so each handle is disposed exactly once, by its owner or
// by tidy(). The GC finalizer in the addon is only a backstop.
import { native, type NativeTensor } from './native.js';
import { TensorMethods } from './methods.generated.js';
import { track, type Trackable } from './scope.js';
import { dtypeCode, dtypeName, typedArrayFor, isFloatingPoint, isDType, type AnyTypedArray, type DType } from './dtype.js';
import * as ops from './ops.generated.js';

export interface BackwardOptions {
  retainGraph?: boolean;
  createGraph?: boolean;
  /** Accumulate gradients only into these leaves. */
  inputs?: Tensor[];
}

export class Tensor extends TensorMethods implements Trackable {
  #h: NativeTensor | null;
  kept = false;

  /** @internal Wraps a native handle; use the creation functions instead. */
  constructor(h: NativeTensor) {
    super();
    this.#h = h;
    track(this);
  }

  /** @internal The native handle; throws once the tensor is disposed. */
  get native(): NativeTensor {
    const h = this.#h;
    if (h === null) throw new Error('Tensor is disposed: it was freed by dispose() or by the tidy() that created it (return it from tidy or keep() it to use it later)');
    return h;
  }

  get isDisposed(): boolean { return this.#h === null; }

  dispose(): void {
    if (this.#h) { native.dispose(this.#h); this.#h = null; }
  }

  [Symbol.dispose](): void { this.dispose(); }

  get shape(): number[] { return native.shape(this.native); }
  get ndim(): number { return native.dim(this.native); }
  get dtype(): DType { return dtypeName(native.dtype(this.native)); }
  get device(): string { return native.device(this.native); }
  get strides(): number[] { return native.strides(this.native); }
  get isLeaf(): boolean { return native.isLeaf(this.native); }
  /** Name of the autograd node that made this tensor, e.g. `ConvolutionBackward0`. */
  get gradFn(): string | null { return native.gradFn(this.native); }
  get isContiguous(): boolean { return native.isContiguous(this.native); }

  numel(): number { return native.numel(this.native); }
  /** size() → the shape; size(d) → one dimension (negative d counts from the end). */
  size(): number[];
  size(dim: number): number;
  size(dim?: number): number[] | number {
    const s = this.shape;
    if (dim === undefined) return s;
    const d = dim < 0 ? dim + s.length : dim;
    if (d < 0 || d >= s.length) throw new RangeError(`size(${dim}): tensor has ${s.length} dimensions`);
    return s[d]!;
  }

  get requiresGrad(): boolean { return native.requiresGrad(this.native); }
  set requiresGrad(on: boolean) { native.setRequiresGrad(this.native, on); }
  requiresGrad_(on = true): this { native.setRequiresGrad(this.native, on); return this; }

  /** The accumulated gradient (a new handle each time), or null. */
  get grad(): Tensor | null {
    const g = native.gradOf(this.native);
    return g ? new Tensor(g) : null;
  }
  set grad(g: Tensor | null) { native.setGrad(this.native, g ? g.native : null); }

  backward(gradient?: Tensor, options: BackwardOptions = {}): void {
    native.backward([this.native], gradient ? [gradient.native] : undefined, options.retainGraph ?? false, options.createGraph ?? false,
      options.inputs?.map((t) => t.native));
  }

  item(): number {
    const v = native.item(this.native);
    return typeof v === 'boolean' ? Number(v) : v;
  }

  /** A copy of the values as a typed array (int64 → BigInt64Array, bool → Uint8Array, 16-bit floats → raw Uint16Array). */
  toTypedArray(): AnyTypedArray {
    return typedArrayFor(this.dtype, native.toBuffer(this.native));
  }

  /** A copy of the values as plain numbers, flattened in row-major order. */
  toArray(): number[] {
    let t: Tensor = this;
    const dt = this.dtype;
    if (dt === 'float16' || dt === 'bfloat16') t = this.to('float32');
    const a = t.toTypedArray();
    if (t !== this) t.dispose();
    return a instanceof BigInt64Array ? Array.from(a, Number) : Array.from(a as ArrayLike<number>);
  }

  /** Converts the dtype and/or device: to('float64'), to('cuda'), to({ dtype, device }). */
  to(target: DType | string | { dtype?: DType; device?: string; copy?: boolean }): Tensor {
    const opts = typeof target === 'string'
      ? (isDType(target) ? { dtype: target } : { device: target })
      : target;
    return ops._to(this, opts);
  }

  float(): Tensor { return this.to('float32'); }
  double(): Tensor { return this.to('float64'); }
  long(): Tensor { return this.to('int64'); }
  int(): Tensor { return this.to('int32'); }
  bool(): Tensor { return this.to('bool'); }
  cpu(): Tensor { return this.to('cpu'); }
  cuda(): Tensor { return this.to('cuda'); }

  get isFloatingPoint(): boolean { return isFloatingPoint(this.dtype); }

  /** True when both handles view the same storage. */
  sharesStorageWith(other: Tensor): boolean { return native.sameStorage(this.native, other.native); }

  override toString(): string {
    if (this.isDisposed) return 'Tensor(disposed)';
    const n = this.numel();
    const vals = n <= 8 ? ` ${JSON.stringify(this.toArray())}` : '';
    return `Tensor(shape=[${this.shape.join(', ')}], dtype=${this.dtype}, device=${this.device}${this.requiresGrad ? ', requiresGrad' : ''})${vals}`;
  }
}


export { dtypeCode };
