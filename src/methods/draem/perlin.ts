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

/**
 * Perlin noise (H × W, row-major float64) for `res0` cells along the rows and `res1` along the
 * columns, given the corner angles. H must be a multiple of res0 and W of res1.
 */
export function perlinNoise(height: number, width: number, res0: number, res1: number, angles: Float64Array): Float64Array {
  if (height % res0 !== 0 || width % res1 !== 0) throw new RangeError(`perlinNoise: ${height}×${width} is not divisible into ${res0}×${res1} cells`);
  if (angles.length !== (res0 + 1) * (res1 + 1)) throw new RangeError(`perlinNoise: expected ${(res0 + 1) * (res1 + 1)} angles, got ${angles.length}`);
  const d0 = height / res0, d1 = width / res1;
  const delta0 = res0 / height, delta1 = res1 / width;
  // grid = mgrid[0:res0:delta0, 0:res1:delta1] % 1: position inside the cell, and its fade.
  const g0 = new Float64Array(height), f0 = new Float64Array(height);
  const g1 = new Float64Array(width), f1 = new Float64Array(width);
  for (let i = 0; i < height; i++) { g0[i] = (i * delta0) % 1; f0[i] = fade(g0[i]!); }
  for (let j = 0; j < width; j++) { g1[j] = (j * delta1) % 1; f1[j] = fade(g1[j]!); }
  const cos = angles.map(Math.cos), sin = angles.map(Math.sin);
  const stride = res1 + 1;
  const cell1 = Int32Array.from({ length: width }, (_, j) => Math.floor(j / d1));
  const out = new Float64Array(height * width);
  for (let i = 0; i < height; i++) {
    const a = Math.floor(i / d0);
    const x = g0[i]!, t0 = f0[i]!;
    for (let j = 0; j < width; j++) {
      const b = cell1[j]!;
      const y = g1[j]!;
      const k00 = a * stride + b, k10 = k00 + stride, k01 = k00 + 1, k11 = k10 + 1;
      const n00 = x * cos[k00]! + y * sin[k00]!;
      const n10 = (x - 1) * cos[k10]! + y * sin[k10]!;
      const n01 = x * cos[k01]! + (y - 1) * sin[k01]!;
      const n11 = (x - 1) * cos[k11]! + (y - 1) * sin[k11]!;
      const l0 = (n10 - n00) * t0 + n00;
      const l1 = (n11 - n01) * t0 + n01;
      out[i * width + j] = Math.SQRT2 * ((l1 - l0) * f1[j]! + l0);
    }
  }
  return out;
}
