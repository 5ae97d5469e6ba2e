/**
 * Small seeded PRNG shared by the data layer (shuffling, random crops, synthetic data).
 * mulberry32: 32-bit state, fast, good enough for augmentation and procedural images;
 * not for cryptography. Same seed → same sequence on every platform.
 */
export interface Rng {
  /** Uniform float in [0, 1). */
  next(): number;
  /** Uniform integer in [lo, hi) (hi exclusive). */
  int(lo: number, hi: number): number;
  /** Uniform float in [lo, hi). */
  uniform(lo: number, hi: number): number;
  /** Standard normal (Box–Muller). */
  normal(): number;
}

export function mulberry32(seed: number): Rng {
  let a = seed >>> 0;
  const next = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int(lo: number, hi: number): number {
      if (!(hi > lo)) throw new Error(`Rng.int: empty range [${lo}, ${hi})`);
      return lo + Math.floor(next() * (hi - lo));
    },
    uniform(lo: number, hi: number): number {
      return lo + next() * (hi - lo);
    },
    normal(): number {
      const u = 1 - next();
      const v = next();
      return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
    },
  };
}

/**
 * Derives a 32-bit seed from a base seed and any number of integer or string parts
 * (FNV-1a over the parts, then a murmur3 finaliser). Lets independent streams, e.g. one per
 * (epoch, sample), be reproduced without consuming a shared generator in a fixed order.
 */
export function deriveSeed(base: number, ...parts: Array<number | string>): number {
  let h = 0x811c9dc5 ^ (base >>> 0);
  const mix = (byte: number): void => {
    h ^= byte & 0xff;
    h = Math.imul(h, 0x01000193);
  };
  for (const p of parts) {
    if (typeof p === 'number') {
      const v = p >>> 0;
      mix(v);
      mix(v >>> 8);
      mix(v >>> 16);
      mix(v >>> 24);
    } else {
      for (let i = 0; i < p.length; i++) {
        const c = p.charCodeAt(i);
        mix(c);
        mix(c >>> 8);
      }
    }
    mix(0x5c);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Fisher–Yates shuffle of 0..n-1. */
export function permutation(n: number, rng: Rng): number[] {
  const p = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = rng.int(0, i + 1);
    const t = p[i]!;
    p[i] = p[j]!;
    p[j] = t;
  }
  return p;
}
