import type { Rng } from '../random.js';

/**
 * Procedural "good" images for the synthetic MVTec-style categories. Every image draws its own
 * pose, period, colour and noise from `rng`, so normal images differ and a model has to learn the
 * texture rather than memorise one picture.
 * Buffers are planar RGB floats (3·H·W) in [0,1].
 */

export type Category = 'woven' | 'grainy' | 'striped' | 'object';
export const CATEGORIES: readonly Category[] = ['woven', 'grainy', 'striped', 'object'];

export interface Rendered {
  rgb: Float32Array;
  /** Pixels that belong to the object (only for 'object'); defects are placed inside it. */
  objectMask: Uint8Array | null;
  /** What a pixel looks like where material is missing (background or backing surface). */
  backing: (x: number, y: number) => [number, number, number];
}

/** Smooth value noise in [0,1]: random lattice values every `cell` pixels, smoothstep-interpolated. */
export function valueNoise(rng: Rng, size: number, cell: number): Float32Array {
  const g = Math.ceil(size / cell) + 2;
  const lattice = new Float32Array(g * g);
  for (let i = 0; i < lattice.length; i++) lattice[i] = rng.next();
  const ox = rng.next() * cell;
  const oy = rng.next() * cell;
  const out = new Float32Array(size * size);
  for (let y = 0; y < size; y++) {
    const fy = (y + oy) / cell;
    const iy = Math.floor(fy);
    let ty = fy - iy;
    ty = ty * ty * (3 - 2 * ty);
    for (let x = 0; x < size; x++) {
      const fx = (x + ox) / cell;
      const ix = Math.floor(fx);
      let tx = fx - ix;
      tx = tx * tx * (3 - 2 * tx);
      const a = lattice[iy * g + ix]!;
      const b = lattice[iy * g + ix + 1]!;
      const c = lattice[(iy + 1) * g + ix]!;
      const d = lattice[(iy + 1) * g + ix + 1]!;
      out[y * size + x] = (a + (b - a) * tx) * (1 - ty) + (c + (d - c) * tx) * ty;
    }
  }
  return out;
}

/** Cheap zero-mean unit-variance noise (sum of two uniforms); Box–Muller costs too much per pixel. */
function grain(rng: Rng): number {
  return (rng.next() + rng.next() - 1) * 2.449;
}

function jitterColour(rng: Rng, base: readonly [number, number, number], amount: number): [number, number, number] {
  return [base[0] + rng.uniform(-amount, amount), base[1] + rng.uniform(-amount, amount), base[2] + rng.uniform(-amount, amount)];
}

function put(rgb: Float32Array, n: number, i: number, r: number, g: number, b: number): void {
  rgb[i] = clamp01(r);
  rgb[n + i] = clamp01(g);
  rgb[2 * n + i] = clamp01(b);
}

export function clamp01(v: number): number {
  return v < 0 ? 0 : v > 1 ? 1 : v;
}

/** Plain-weave fabric: over/under threads with a rounded profile, small rotation and colour jitter. */
function woven(rng: Rng, size: number): Rendered {
  const n = size * size;
  const rgb = new Float32Array(3 * n);
  const period = rng.uniform(14, 18);
  const angle = (rng.uniform(-4, 4) * Math.PI) / 180;
  const ca = Math.cos(angle);
  const sa = Math.sin(angle);
  const ox = rng.uniform(0, 2 * period);
  const oy = rng.uniform(0, 2 * period);
  const warp = jitterColour(rng, [0.62, 0.52, 0.36], 0.04);
  const weft = jitterColour(rng, [0.55, 0.47, 0.33], 0.04);
  const gap = rng.uniform(0.07, 0.11);
  const low = valueNoise(rng, size, 64);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const u = (x * ca + y * sa + ox) / period;
      const v = (-x * sa + y * ca + oy) / period;
      const j = Math.floor(u);
      const i = Math.floor(v);
      const fu = u - j;
      const fv = v - i;
      const horizontalOnTop = ((i + j) & 1) === 0;
      const across = horizontalOnTop ? fv : fu;
      const along = horizontalOnTop ? fu : fv;
      const col = horizontalOnTop ? weft : warp;
      let shade = 0.55 + 0.45 * Math.sin(Math.PI * across) * (0.85 + 0.15 * Math.sin(Math.PI * along));
      if (across < gap || across > 1 - gap) shade *= 0.45;
      const p = y * size + x;
      shade *= 0.92 + 0.16 * low[p]! + grain(rng) * 0.02;
      put(rgb, n, p, col[0] * shade, col[1] * shade, col[2] * shade);
    }
  }
  const dark = jitterColour(rng, [0.12, 0.1, 0.08], 0.02);
  return { rgb, objectMask: null, backing: () => dark };
}

/** Noise texture (like sandpaper or concrete): several octaves of value noise plus sparse grains. */
function grainy(rng: Rng, size: number): Rendered {
  const n = size * size;
  const rgb = new Float32Array(3 * n);
  const base = jitterColour(rng, [0.5, 0.52, 0.47], 0.04);
  const octaves = [valueNoise(rng, size, 32), valueNoise(rng, size, 12), valueNoise(rng, size, 4)];
  const weights = [0.18, 0.12, 0.1];
  for (let p = 0; p < n; p++) {
    let v = 0;
    for (let o = 0; o < 3; o++) v += (octaves[o]![p]! - 0.5) * weights[o]!;
    const r = rng.next();
    if (r < 0.03) v -= 0.15;
    else if (r > 0.97) v += 0.15;
    v += grain(rng) * 0.03;
    put(rgb, n, p, base[0] + v, base[1] + v, base[2] + v);
  }
  const backing = jitterColour(rng, [0.9, 0.88, 0.82], 0.02);
  return { rgb, objectMask: null, backing: () => backing };
}

/** Diagonal stripes of two colours with soft edges, period/phase/angle jitter and noise. */
function striped(rng: Rng, size: number): Rendered {
  const n = size * size;
  const rgb = new Float32Array(3 * n);
  const period = rng.uniform(18, 24);
  const angle = ((30 + rng.uniform(-4, 4)) * Math.PI) / 180;
  const ca = Math.cos(angle);
  const sa = Math.sin(angle);
  const phase = rng.uniform(0, period);
  const a = jitterColour(rng, [0.2, 0.3, 0.55], 0.04);
  const b = jitterColour(rng, [0.85, 0.85, 0.8], 0.03);
  const low = valueNoise(rng, size, 48);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const s = Math.sin((2 * Math.PI * (x * ca + y * sa + phase)) / period);
      const t = clamp01(0.5 + 1.8 * s);
      const p = y * size + x;
      const k = 0.94 + 0.12 * low[p]! + grain(rng) * 0.02;
      put(rgb, n, p, (a[0] + (b[0] - a[0]) * t) * k, (a[1] + (b[1] - a[1]) * t) * k, (a[2] + (b[2] - a[2]) * t) * k);
    }
  }
  const backing = jitterColour(rng, [0.1, 0.1, 0.1], 0.02);
  return { rgb, objectMask: null, backing: () => backing };
}

/** A hexagonal nut with a round hole on a plain background, with small pose, size and colour jitter. */
function object(rng: Rng, size: number): Rendered {
  const n = size * size;
  const rgb = new Float32Array(3 * n);
  const objectMask = new Uint8Array(n);
  const bg = jitterColour(rng, [0.82, 0.82, 0.8], 0.02);
  const metal = jitterColour(rng, [0.55, 0.5, 0.38], 0.04);
  const cx = size / 2 + rng.uniform(-0.04, 0.04) * size;
  const cy = size / 2 + rng.uniform(-0.04, 0.04) * size;
  const radius = size * 0.33 * rng.uniform(0.96, 1.04);
  const holeR = radius * rng.uniform(0.38, 0.42);
  const rot = rng.uniform(0, Math.PI / 3);
  const light = rng.uniform(0, 2 * Math.PI);
  const lx = Math.cos(light);
  const ly = Math.sin(light);
  const bgNoise = 0.01;
  const background = (x: number, y: number): [number, number, number] => {
    const g = 1 + 0.04 * ((x + y) / size - 1);
    return [bg[0] * g, bg[1] * g, bg[2] * g];
  };
  const inrad = Math.cos(Math.PI / 6);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const p = y * size + x;
      const dx = x + 0.5 - cx;
      const dy = y + 0.5 - cy;
      const r = Math.hypot(dx, dy);
      // Hexagon: distance along the nearest of 6 face normals.
      const th = Math.atan2(dy, dx) - rot;
      const sector = th - (Math.PI / 3) * Math.round(th / (Math.PI / 3));
      const faceDist = r * Math.cos(sector);
      const inside = faceDist <= radius * inrad && r >= holeR;
      if (inside) {
        objectMask[p] = 1;
        const bevel = Math.min(1, (radius * inrad - faceDist) / 6, (r - holeR) / 4);
        const shade = (0.8 + 0.2 * ((dx * lx + dy * ly) / radius)) * (0.75 + 0.25 * bevel) + 0.03 * Math.sin(r * 0.9) + grain(rng) * 0.015;
        put(rgb, n, p, metal[0] * shade, metal[1] * shade, metal[2] * shade);
      } else {
        // Soft shadow below-right of the nut.
        const sd = Math.hypot(dx - 5, dy - 5);
        const shadow = sd < radius * 1.02 && sd > holeR ? 0.9 : 1;
        const c = background(x, y);
        const e = grain(rng) * bgNoise;
        put(rgb, n, p, c[0] * shadow + e, c[1] * shadow + e, c[2] * shadow + e);
      }
    }
  }
  return { rgb, objectMask, backing: background };
}

export function renderGood(category: Category, rng: Rng, size: number): Rendered {
  switch (category) {
    case 'woven':
      return woven(rng, size);
    case 'grainy':
      return grainy(rng, size);
    case 'striped':
      return striped(rng, size);
    case 'object':
      return object(rng, size);
  }
}
