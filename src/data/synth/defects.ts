import type { Rng } from '../random.js';
import { clamp01, type Rendered } from './textures.js';

/**
 * Defects painted onto a rendered good image. Each function changes pixels only where it sets the
 * returned mask to 1, so the mask is exactly the defect (tests check this pixel by pixel).
 * On the 'object' category the defect is clipped to the object.
 */
export type Defect = 'scratch' | 'hole' | 'stain' | 'missing' | 'colour';
export const DEFECTS: readonly Defect[] = ['scratch', 'hole', 'stain', 'missing', 'colour'];

type Painter = (img: Rendered, rng: Rng, size: number) => Uint8Array;

function lum(img: Rendered, n: number, p: number): number {
  return 0.299 * img.rgb[p]! + 0.587 * img.rgb[n + p]! + 0.114 * img.rgb[2 * n + p]!;
}

function set(img: Rendered, n: number, p: number, c: readonly [number, number, number]): void {
  img.rgb[p] = clamp01(c[0]);
  img.rgb[n + p] = clamp01(c[1]);
  img.rgb[2 * n + p] = clamp01(c[2]);
}

/** A point inside the object (or anywhere with a margin on textures). */
function pickCenter(img: Rendered, rng: Rng, size: number, margin: number): [number, number] {
  for (let tries = 0; tries < 10000; tries++) {
    const x = rng.uniform(margin, size - margin);
    const y = rng.uniform(margin, size - margin);
    if (img.objectMask === null || img.objectMask[Math.floor(y) * size + Math.floor(x)] === 1) return [x, y];
  }
  throw new Error('synth: could not place a defect inside the object');
}

/** Bounding-box scan helper: calls fn(x, y, p) for pixels whose centre is within the box. */
function scan(size: number, x0: number, y0: number, x1: number, y1: number, fn: (x: number, y: number, p: number) => void): void {
  const xa = Math.max(0, Math.floor(x0));
  const xb = Math.min(size - 1, Math.ceil(x1));
  const ya = Math.max(0, Math.floor(y0));
  const yb = Math.min(size - 1, Math.ceil(y1));
  for (let y = ya; y <= yb; y++) for (let x = xa; x <= xb; x++) fn(x + 0.5, y + 0.5, y * size + x);
}

function allowed(img: Rendered, p: number): boolean {
  return img.objectMask === null || img.objectMask[p] === 1;
}

/** Thin curved line (quadratic Bézier), lighter or darker than its surroundings. */
const scratch: Painter = (img, rng, size) => {
  const n = size * size;
  const mask = new Uint8Array(n);
  const [cx, cy] = pickCenter(img, rng, size, size * 0.2);
  const len = size * rng.uniform(0.18, 0.32);
  const a = rng.uniform(0, Math.PI);
  const dx = (Math.cos(a) * len) / 2;
  const dy = (Math.sin(a) * len) / 2;
  const bend = rng.uniform(-0.3, 0.3) * len;
  const pts: Array<[number, number]> = [];
  const steps = Math.ceil(len * 2);
  for (let s = 0; s <= steps; s++) {
    const t = s / steps;
    const bx = (1 - t) * (1 - t) * (cx - dx) + 2 * t * (1 - t) * (cx - Math.sin(a) * bend) + t * t * (cx + dx);
    const by = (1 - t) * (1 - t) * (cy - dy) + 2 * t * (1 - t) * (cy + Math.cos(a) * bend) + t * t * (cy + dy);
    pts.push([bx, by]);
  }
  const half = rng.uniform(0.9, 1.4);
  for (const [px, py] of pts) {
    scan(size, px - half, py - half, px + half, py + half, (x, y, p) => {
      if ((x - px) ** 2 + (y - py) ** 2 <= half * half && allowed(img, p)) mask[p] = 1;
    });
  }
  let mean = 0;
  let count = 0;
  for (let p = 0; p < n; p++) if (mask[p]) (mean += lum(img, n, p)), count++;
  const bright = count > 0 && mean / count < 0.5;
  for (let p = 0; p < n; p++) {
    if (!mask[p]) continue;
    const v = bright ? 0.93 + rng.uniform(-0.03, 0.03) : 0.08 + rng.uniform(-0.03, 0.03);
    set(img, n, p, [v, v, v * 0.97]);
  }
  return mask;
};

/** A dark elliptical hole with a shaded inner wall. */
const hole: Painter = (img, rng, size) => {
  const n = size * size;
  const mask = new Uint8Array(n);
  const [cx, cy] = pickCenter(img, rng, size, size * 0.12);
  const ra = rng.uniform(0.022, 0.045) * size;
  const rb = ra * rng.uniform(0.7, 1);
  const rot = rng.uniform(0, Math.PI);
  const c = Math.cos(rot);
  const s = Math.sin(rot);
  scan(size, cx - ra, cy - ra, cx + ra, cy + ra, (x, y, p) => {
    const u = ((x - cx) * c + (y - cy) * s) / ra;
    const v = (-(x - cx) * s + (y - cy) * c) / rb;
    const d = u * u + v * v;
    if (d <= 1 && allowed(img, p)) {
      mask[p] = 1;
      const wall = 0.04 + 0.1 * Math.max(0, u * 0.7 + v * 0.7) * Math.sqrt(d);
      set(img, n, p, [wall, wall * 0.95, wall * 0.9]);
    }
  });
  return mask;
};

/** Irregular translucent blob (contamination), blended with a contrasting colour. */
const stain: Painter = (img, rng, size) => {
  const n = size * size;
  const mask = new Uint8Array(n);
  const [cx, cy] = pickCenter(img, rng, size, size * 0.15);
  const r0 = rng.uniform(0.035, 0.07) * size;
  const harmonics = [2, 3, 5].map((k) => ({ k, amp: rng.uniform(0.05, 0.15), ph: rng.uniform(0, 2 * Math.PI) }));
  const alpha = rng.uniform(0.6, 0.75);
  let mean = 0;
  let count = 0;
  const inside = (x: number, y: number): boolean => {
    const th = Math.atan2(y - cy, x - cx);
    let r = r0;
    for (const h of harmonics) r += r0 * h.amp * Math.sin(h.k * th + h.ph);
    return Math.hypot(x - cx, y - cy) <= r;
  };
  const R = r0 * 1.5;
  scan(size, cx - R, cy - R, cx + R, cy + R, (x, y, p) => {
    if (inside(x, y) && allowed(img, p)) {
      mask[p] = 1;
      mean += lum(img, n, p);
      count++;
    }
  });
  const colour: [number, number, number] = count > 0 && mean / count > 0.45 ? [0.28, 0.16, 0.05] : [0.85, 0.75, 0.35];
  for (let p = 0; p < n; p++) {
    if (!mask[p]) continue;
    set(img, n, p, [
      img.rgb[p]! * (1 - alpha) + colour[0] * alpha,
      img.rgb[n + p]! * (1 - alpha) + colour[1] * alpha,
      img.rgb[2 * n + p]! * (1 - alpha) + colour[2] * alpha,
    ]);
  }
  return mask;
};

/**
 * Missing material: on textures a torn-out quadrilateral that shows the backing surface; on the
 * object a chip bitten out of its rim, which shows the background.
 */
const missing: Painter = (img, rng, size) => {
  const n = size * size;
  const mask = new Uint8Array(n);
  if (img.objectMask !== null) {
    const om = img.objectMask;
    const r = rng.uniform(0.05, 0.08) * size;
    for (let tries = 0; tries < 10000; tries++) {
      const [cx, cy] = pickCenter(img, rng, size, r);
      // Near the outer rim: some pixel at distance r outside the object, but not inside the hole.
      let outside = 0;
      for (let k = 0; k < 16; k++) {
        const a = (k / 16) * 2 * Math.PI;
        const x = Math.floor(cx + Math.cos(a) * r * 0.9);
        const y = Math.floor(cy + Math.sin(a) * r * 0.9);
        if (x < 0 || y < 0 || x >= size || y >= size || om[y * size + x] === 0) outside++;
      }
      const dc = Math.hypot(cx - size / 2, cy - size / 2);
      if (outside < 3 || outside > 8 || dc < size * 0.2) continue;
      scan(size, cx - r, cy - r, cx + r, cy + r, (x, y, p) => {
        if ((x - cx) ** 2 + (y - cy) ** 2 <= r * r && om[p] === 1) {
          mask[p] = 1;
          set(img, n, p, img.backing(x, y));
        }
      });
      return mask;
    }
    throw new Error('synth: could not place a missing chip on the object rim');
  }
  const [cx, cy] = pickCenter(img, rng, size, size * 0.15);
  const corners: Array<[number, number]> = [];
  const base = rng.uniform(0, Math.PI / 2);
  for (let k = 0; k < 4; k++) {
    const a = base + (k * Math.PI) / 2 + rng.uniform(-0.35, 0.35);
    const r = rng.uniform(0.04, 0.075) * size;
    corners.push([cx + Math.cos(a) * r, cy + Math.sin(a) * r]);
  }
  const R = 0.08 * size;
  scan(size, cx - R, cy - R, cx + R, cy + R, (x, y, p) => {
    // Convex test: same side of all four edges (corners are in angular order).
    for (let k = 0; k < 4; k++) {
      const [ax, ay] = corners[k]!;
      const [bx, by] = corners[(k + 1) % 4]!;
      if ((bx - ax) * (y - ay) - (by - ay) * (x - ax) < 0) return;
    }
    mask[p] = 1;
    const c = img.backing(x, y);
    const e = rng.normal() * 0.01;
    set(img, n, p, [c[0] + e, c[1] + e, c[2] + e]);
  });
  return mask;
};

/** A spot of foreign colour: same shading, strongly saturated hue. */
const colour: Painter = (img, rng, size) => {
  const n = size * size;
  const mask = new Uint8Array(n);
  const [cx, cy] = pickCenter(img, rng, size, size * 0.12);
  const r = rng.uniform(0.03, 0.06) * size;
  const hues: Array<[number, number, number]> = [
    [1, 0.15, 0.1],
    [0.15, 0.85, 0.2],
    [0.9, 0.2, 0.9],
  ];
  const hue = hues[rng.int(0, hues.length)]!;
  scan(size, cx - r, cy - r, cx + r, cy + r, (x, y, p) => {
    if ((x - cx) ** 2 + (y - cy) ** 2 <= r * r && allowed(img, p)) {
      mask[p] = 1;
      const l = 0.35 + 0.9 * lum(img, n, p);
      set(img, n, p, [hue[0] * l, hue[1] * l, hue[2] * l]);
    }
  });
  return mask;
};

const PAINTERS: Record<Defect, Painter> = { scratch, hole, stain, missing, colour };

/** Paints `defect` onto `img` in place and returns its exact 0/1 mask (H·W, row-major). */
export function paintDefect(defect: Defect, img: Rendered, rng: Rng, size: number): Uint8Array {
  for (let attempt = 0; attempt < 50; attempt++) {
    const backup = img.rgb.slice();
    const mask = PAINTERS[defect](img, rng, size);
    let area = 0;
    for (let p = 0; p < mask.length; p++) area += mask[p]!;
    // Too small to be a visible defect (e.g. clipped away by the object outline): try again.
    if (area >= Math.max(4, 0.0003 * size * size)) return mask;
    img.rgb.set(backup);
  }
  throw new Error(`synth: could not paint a visible '${defect}' defect`);
}
