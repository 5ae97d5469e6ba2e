// Which pixels of an intermediate image are used downstream: the synthesis computes each
// augmenter only where the next one (and finally the anomaly mask) reads it.

/**
 * The pixels (indices y·W + x, ascending) whose output is used; the others may be skipped.
 * null = every pixel. A list, not one flag per pixel: under a typical anomaly mask (~5 % of the
 * image) the loops visit only those pixels.
 */
export type Need = Int32Array | null;

/** The indices of the non-zero flags, ascending. */
export function indicesOf(flags: Uint8Array): Int32Array {
  let count = 0;
  for (let i = 0; i < flags.length; i++) count += flags[i]! === 0 ? 0 : 1;
  const out = new Int32Array(count);
  for (let i = 0, k = 0; k < count; i++) if (flags[i]! !== 0) out[k++] = i;
  return out;
}
