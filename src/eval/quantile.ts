// The one quantile: numpy.quantile(a, q) with its default 'linear' method, to the last bit.

/**
 * The value at position (n − 1)·q of the sorted data, interpolated between its neighbours with
 * numpy's lerp: a + (b − a)·t, switched to b − (b − a)·(1 − t) for t ≥ 0.5. Computed in float64.
 */
export function quantile(values: ArrayLike<number>, q: number): number {
  if (!(q >= 0 && q <= 1)) throw new RangeError(`quantile: q must be in [0, 1], got ${q}`);
  const a = Float64Array.from(values).sort();
  const n = a.length;
  if (n === 0) throw new RangeError('quantile: no values');
  const pos = (n - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, n - 1);
  const t = pos - lo;
  const d = a[hi]! - a[lo]!;
  return t >= 0.5 ? a[hi]! - d * (1 - t) : a[lo]! + d * t;
}
