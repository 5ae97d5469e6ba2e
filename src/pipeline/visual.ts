// Heatmaps: a map at model-input resolution is projected back onto the original image (undoing
// the resize/crop steps of the eval transforms), coloured and blended over the image. Pixels the
// model never saw (outside a centre crop) are NaN in the projected map and shaded grey with
// hatching; ground-truth and predicted-mask contours are drawn on top.
import type { Image } from '../data/image/index.js';
import { outputSize, roundHalfEven, type TransformSpec } from '../data/transforms/index.js';

/** orig = a·model + b per axis, in pixel-centre coordinates. */
interface Affine { ay: number; by: number; ax: number; bx: number }

/** Where each model-input pixel came from in the original image, for the geometric ops of `spec`. */
export function inputToOriginal(spec: readonly TransformSpec[], height: number, width: number): { affine: Affine; inputH: number; inputW: number } {
  let h = height;
  let w = width;
  const f: Affine = { ay: 1, by: 0, ax: 1, bx: 0 };
  for (const t of spec) {
    if (t.op === 'resize') {
      const [nh, nw] = outputSize(h, w, t.size);
      // prev = s·new + (s − 1)/2 with s = prev/new
      const sy = h / nh;
      const sx = w / nw;
      f.by += f.ay * (sy - 1) / 2; f.ay *= sy;
      f.bx += f.ax * (sx - 1) / 2; f.ax *= sx;
      h = nh; w = nw;
    } else if (t.op === 'centerCrop') {
      const [th, tw] = typeof t.size === 'number' ? [t.size, t.size] : t.size;
      const padTop = th > h ? Math.floor((th - h) / 2) : 0;
      const padLeft = tw > w ? Math.floor((tw - w) / 2) : 0;
      const hh = th > h ? h + padTop + Math.floor((th - h + 1) / 2) : h;
      const ww = tw > w ? w + padLeft + Math.floor((tw - w + 1) / 2) : w;
      const top = roundHalfEven((hh - th) / 2) - padTop;
      const left = roundHalfEven((ww - tw) / 2) - padLeft;
      f.by += f.ay * top;
      f.bx += f.ax * left;
      h = th; w = tw;
    } else if (t.op === 'randomCrop' || t.op === 'randomHorizontalFlip') {
      throw new Error(`heatmap projection: random op '${t.op}' in the eval transforms`);
    }
  }
  return { affine: f, inputH: h, inputW: w };
}

/**
 * The part of a height × width original that reaches the model through `spec` (a centre crop
 * drops the rest): its box in original pixels and its share of the image area.
 */
export function inspectedArea(spec: readonly TransformSpec[], height: number, width: number): { top: number; left: number; bottom: number; right: number; share: number } {
  const { affine: f, inputH, inputW } = inputToOriginal(spec, height, width);
  const clamp = (v: number, hi: number): number => Math.min(Math.max(v, 0), hi);
  const top = clamp(f.by - f.ay / 2 + 0.5, height), bottom = clamp(f.by + f.ay * (inputH - 0.5) + 0.5, height);
  const left = clamp(f.bx - f.ax / 2 + 0.5, width), right = clamp(f.bx + f.ax * (inputW - 0.5) + 0.5, width);
  return { top, left, bottom, right, share: ((bottom - top) * (right - left)) / (height * width) };
}

/**
 * Resamples an H×W map (model input grid) onto the original height × width (bilinear);
 * pixels outside the cropped window get `outside` (NaN: "not inspected", shaded by overlay()).
 */
export function mapToOriginal(map: Float32Array, inputH: number, inputW: number, spec: readonly TransformSpec[], height: number, width: number, outside = 0): Float32Array {
  const { affine: f, inputH: h, inputW: w } = inputToOriginal(spec, height, width);
  if (h !== inputH || w !== inputW) throw new Error(`heatmap projection: the transforms give ${h}×${w} inputs but the map is ${inputH}×${inputW}`);
  const out = new Float32Array(height * width);
  for (let Y = 0; Y < height; Y++) {
    const y = (Y - f.by) / f.ay;
    for (let X = 0; X < width; X++) {
      const x = (X - f.bx) / f.ax;
      if (y < -0.5 || y > h - 0.5 || x < -0.5 || x > w - 0.5) { out[Y * width + X] = outside; continue; }
      const yc = Math.min(Math.max(y, 0), h - 1);
      const xc = Math.min(Math.max(x, 0), w - 1);
      const y0 = Math.floor(yc), x0 = Math.floor(xc);
      const y1 = Math.min(y0 + 1, h - 1), x1 = Math.min(x0 + 1, w - 1);
      const dy = yc - y0, dx = xc - x0;
      const v = (map[y0 * w + x0]! * (1 - dx) + map[y0 * w + x1]! * dx) * (1 - dy) + (map[y1 * w + x0]! * (1 - dx) + map[y1 * w + x1]! * dx) * dy;
      out[Y * width + X] = v;
    }
  }
  return out;
}

// Turbo-like colour ramp: anchor colours at 0, .25, .5, .75, 1 (dark blue → cyan → green → yellow → red).
const RAMP: Array<[number, number, number]> = [[48, 18, 59], [40, 160, 230], [80, 220, 90], [250, 190, 40], [180, 20, 10]];

export function colour(v: number): [number, number, number] {
  const x = Math.min(Math.max(v, 0), 1) * (RAMP.length - 1);
  const i = Math.min(Math.floor(x), RAMP.length - 2);
  const t = x - i;
  const a = RAMP[i]!, b = RAMP[i + 1]!;
  return [a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t, a[2] + (b[2] - a[2]) * t];
}

/**
 * HWC RGB bytes of the image with the normalised map (values in [0, 1], 0.5 = threshold) blended
 * over it; NaN pixels (not inspected) are greyed and hatched.
 */
export function overlay(img: Image, normMap: Float32Array, alpha = 0.45): Uint8Array {
  const { height: h, width: w } = img;
  const n = h * w;
  if (normMap.length !== n) throw new Error(`overlay: map has ${normMap.length} pixels, image ${w}×${h}`);
  const out = new Uint8Array(n * 3);
  const period = Math.max(6, Math.round(Math.min(h, w) / 24));
  for (let i = 0; i < n; i++) {
    const v = normMap[i]!;
    if (Number.isNaN(v)) {
      const y = Math.floor(i / w), x = i % w;
      const hatch = (x + y) % period < Math.max(1, period / 4);
      for (let k = 0; k < 3; k++) {
        const base = img.data[(img.channels === 3 ? k : 0) * n + i]! * 255;
        out[i * 3 + k] = hatch ? 70 : Math.round(base * 0.35 + 128 * 0.65);
      }
      continue;
    }
    const c = colour(v);
    // Below-threshold regions get a lighter tint so the defect stands out.
    const a = v >= 0.5 ? alpha + 0.15 : alpha * 0.6;
    for (let k = 0; k < 3; k++) {
      const base = img.data[(img.channels === 3 ? k : 0) * n + i]! * 255;
      out[i * 3 + k] = Math.round(base * (1 - a) + c[k]! * a);
    }
  }
  return out;
}

/** The image itself as HWC RGB bytes. */
export function rgbBytes(img: Image): Uint8Array {
  const n = img.height * img.width;
  const out = new Uint8Array(n * 3);
  for (let i = 0; i < n; i++) for (let k = 0; k < 3; k++) out[i * 3 + k] = Math.round(img.data[(img.channels === 3 ? k : 0) * n + i]! * 255);
  return out;
}

/** Draws the outline of a 0/1 mask (pixels of the mask with a neighbour outside it) in `rgb`, `thickness` px wide. */
export function drawContour(rgb: Uint8Array, h: number, w: number, mask: ArrayLike<number>, colour: readonly [number, number, number], thickness = 1): void {
  const edge = new Uint8Array(h * w);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
    if (!mask[y * w + x]) continue;
    const out = (yy: number, xx: number): boolean => yy < 0 || yy >= h || xx < 0 || xx >= w || !mask[yy * w + xx];
    if (out(y - 1, x) || out(y + 1, x) || out(y, x - 1) || out(y, x + 1)) edge[y * w + x] = 1;
  }
  const r = thickness - 1;
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
    if (!edge[y * w + x]) continue;
    for (let dy = -r; dy <= r; dy++) for (let dx = -r; dx <= r; dx++) {
      const yy = y + dy, xx = x + dx;
      if (yy < 0 || yy >= h || xx < 0 || xx >= w || !mask[yy * w + xx]) continue;
      rgb.set(colour, (yy * w + xx) * 3);
    }
  }
}

/** The ramp's anchor colours (for the report's colour bar). */
export function rampStops(): Array<{ at: number; rgb: [number, number, number] }> {
  return RAMP.map((rgb, i) => ({ at: i / (RAMP.length - 1), rgb }));
}

/** Nearest-neighbour upscale of HWC bytes by an integer factor (tiny 28×28 inputs are unreadable otherwise). */
export function upscale(rgb: Uint8Array, h: number, w: number, channels: number, factor: number): Uint8Array {
  if (factor <= 1) return rgb;
  const H = h * factor, W = w * factor;
  const out = new Uint8Array(H * W * channels);
  for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) {
    const src = (Math.floor(y / factor) * w + Math.floor(x / factor)) * channels;
    for (let c = 0; c < channels; c++) out[(y * W + x) * channels + c] = rgb[src + c]!;
  }
  return out;
}

/** Predicted mask (0/255) from a normalised map: threshold at 0.5 (not-inspected NaN pixels are 0). */
export function maskBytes(normMap: Float32Array): Uint8Array {
  const out = new Uint8Array(normMap.length);
  for (let i = 0; i < normMap.length; i++) out[i] = normMap[i]! >= 0.5 ? 255 : 0;
  return out;
}
