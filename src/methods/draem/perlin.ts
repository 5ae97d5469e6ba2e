// 2-D Perlin noise as the authors' perlin.rand_perlin_2d_np (float64, the same operation order):
// a lattice of res0 × res1 cells over an H × W image (axis 0 = rows), unit gradients at the
// (res0 + 1) × (res1 + 1) corners with angles θ, fade f(t) = 6t⁵ − 15t⁴ + 10t³, and
//   noise = √2 · lerp(lerp(n00, n10, f(t0)), lerp(n01, n11, f(t0)), f(t1)),  lerp(a, b, w) = (b − a)·w + a,
// where t0, t1 are the pixel's position inside its cell and nXY the corner ramps.
import type { Rng } from '../../data/random.js';

const fade = (t: number): number => 6 * t ** 5 - 15 * t ** 4 + 10 * t ** 3;

/** Corner angles 2π·U(0, 1), row-major (res0 + 1) × (res1 + 1), as `2π·np.random.rand(res0 + 1, res1 + 1)`. */
export function randomAngles(res0: number, res1: number, rng: Rng): Float64Array {
  const a = new Float64Array((res0 + 1) * (res1 + 1));
  for (let i = 0; i < a.length; i++) a[i] = 2 * Math.PI * rng.next();
  return a;
}

/** Each pixel's position inside its cell along one axis, (i·res/size) mod 1, and its fade; cached (6 scales per size). */
const positions = new Map<string, [Float64Array, Float64Array]>();
function cellPositions(size: number, res: number): [Float64Array, Float64Array] {
  const key = `${size}/${res}`;
  let p = positions.get(key);
  if (p === undefined) {
    const delta = res / size;
    const g = Float64Array.from({ length: size }, (_, i) => (i * delta) % 1);
    p = [g, g.map(fade)];
    if (positions.size > 64) positions.clear();
    positions.set(key, p);
  }
  return p;
}

/**
 * Perlin noise (H × W, row-major float64) for `res0` cells along the rows and `res1` along the
 * columns, given the corner angles. H must be a multiple of res0 and W of res1. Every element of
 * `out` (if given, H·W long) is written. With `hot`, the 8×8 tiles holding a value above
 * `hot.above` are flagged in `hot.tiles` (⌈H/8⌉ × ⌈W/8⌉, row-major; flags are only set), which
 * saves the mask's warp a pass over the noise.
 */
export function perlinNoise(height: number, width: number, res0: number, res1: number, angles: Float64Array, out: Float64Array = new Float64Array(height * width),
  hot?: { above: number; tiles: Uint8Array }): Float64Array {
  if (height % res0 !== 0 || width % res1 !== 0) throw new RangeError(`perlinNoise: ${height}×${width} is not divisible into ${res0}×${res1} cells`);
  if (angles.length !== (res0 + 1) * (res1 + 1)) throw new RangeError(`perlinNoise: expected ${(res0 + 1) * (res1 + 1)} angles, got ${angles.length}`);
  const d0 = height / res0, d1 = width / res1;
  const cos = angles.map(Math.cos), sin = angles.map(Math.sin);
  const stride = res1 + 1;
  // grid = mgrid[0:res0:delta0, 0:res1:delta1] % 1: position inside the cell, and its fade.
  const [g0, f0] = cellPositions(height, res0), [g1, f1] = cellPositions(width, res1);
  // The products y·sin and (y − 1)·sin of a cell row's four corner ramps, per column; x·cos and
  // (x − 1)·cos per row and cell. The same float64 products the per-pixel formula forms, so the
  // noise is unchanged; each pixel is left with additions and the two lerps.
  // Interleaved per column: y·sin00, y·sin10, (y − 1)·sin01, (y − 1)·sin11, the column's fade (one array, adjacent reads).
  const cols = new Float64Array(5 * width);
  for (let j = 0; j < width; j++) cols[5 * j + 4] = f1[j]!; // the same for every cell row
  if (out.length !== height * width) throw new RangeError(`perlinNoise: out holds ${out.length} values, not ${height * width}`);
  const above = hot?.above ?? Infinity, tiles = hot?.tiles ?? new Uint8Array(0), tw = ((width - 1) >> 3) + 1;
  for (let a = 0; a < res0; a++) {
    for (let j = 0, b = 0; b < res1; b++) {
      const k00 = a * stride + b, k10 = k00 + stride;
      for (let e = j + d1; j < e; j++) {
        const y = g1[j]!;
        const q = 5 * j;
        cols[q] = y * sin[k00]!; cols[q + 1] = y * sin[k10]!; cols[q + 2] = (y - 1) * sin[k00 + 1]!; cols[q + 3] = (y - 1) * sin[k10 + 1]!;
      }
    }
    for (let i = a * d0; i < (a + 1) * d0; i++) {
      const x = g0[i]!, t0 = f0[i]!;
      const tileRow = (i >> 3) * tw;
      let o = i * width;
      for (let j = 0, b = 0; b < res1; b++) {
        const k00 = a * stride + b, k10 = k00 + stride;
        const c00 = x * cos[k00]!, c10 = (x - 1) * cos[k10]!, c01 = x * cos[k00 + 1]!, c11 = (x - 1) * cos[k10 + 1]!;
        for (let e = j + d1, q = 5 * j; j < e; j++, o++, q += 5) {
          const n00 = c00 + cols[q]!, n10 = c10 + cols[q + 1]!, n01 = c01 + cols[q + 2]!, n11 = c11 + cols[q + 3]!;
          const l0 = (n10 - n00) * t0 + n00;
          const l1 = (n11 - n01) * t0 + n01;
          const v = Math.SQRT2 * ((l1 - l0) * cols[q + 4]! + l0);
          out[o] = v;
          if (v > above) tiles[tileRow + (j >> 3)] = 1;
        }
      }
    }
  }
  return out;
}
