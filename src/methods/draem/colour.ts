// 8-bit colour-space round trips as imgaug's change_colorspace_ runs them through cv2.cvtColor
// (OpenCV 4.5) for MultiplyAndAddToBrightness and AddToHueAndSaturation. Pixels are interleaved
// triples whose first channel imgaug takes for R: DRAEM passes BGR arrays while imgaug assumes
// RGB, so these functions are applied to the BGR data as is, exactly like the authors' pipeline.
// YCrCb, YUV and RGB→HSV follow OpenCV's integer code; HSV→RGB and HLS its float32 SIMD code
// (HSV→RGB truncates in its 16-pixel SIMD blocks and rounds in the tail), all bit-exact with cv2
// 4.6; Lab and Luv use the CIE formulas OpenCV documents, in double precision, rounded (OpenCV's
// 8-bit Lab/Luv use fixed-point tables; the results can differ by a few levels).
// One loop per conversion, arithmetic inline and no allocation per pixel: these run in the loader
// workers for every synthesised sample.

import type { Need } from './need.js';

export type Colorspace = 'YCrCb' | 'HSV' | 'HLS' | 'Lab' | 'Luv' | 'YUV';
/** imgaug's to_colorspace list for MultiplyAndAddToBrightness, in its order. */
export const BRIGHTNESS_COLORSPACES: readonly Colorspace[] = ['YCrCb', 'HSV', 'HLS', 'Lab', 'Luv', 'YUV'];
/** The brightness channel of each (imgaug's _CSPACE_TO_CHANNEL_ID). */
export const BRIGHTNESS_CHANNEL: Readonly<Record<Colorspace, number>> = { YCrCb: 0, HSV: 2, HLS: 1, Lab: 0, Luv: 0, YUV: 0 };

const f32 = Math.fround;
const sat = (v: number): number => (v < 0 ? 0 : v > 255 ? 255 : v);
/** cvRound of a float: nearest, ties to even. */
function roundEven(v: number): number {
  const r = Math.round(v);
  return r - v === 0.5 && r % 2 !== 0 ? r - 1 : r;
}
const u8 = (v: number): number => sat(roundEven(v));

// ---- YCrCb and YUV (yuv_shift 14): CV_DESCALE(x, 14) = (x + 2^13) >> 14 -------------------------
const HALF = 128 << 14;
const R14 = 1 << 13;

function rgbToYCrCb(img: Uint8Array, out: Uint8Array, need: Need): void {
  for (let k = 0, end = need === null ? img.length / 3 : need.length; k < end; k++) {
    const i = 3 * (need === null ? k : need[k]!);
    const r = img[i]!, g = img[i + 1]!, b = img[i + 2]!;
    const y = (r * 4899 + g * 9617 + b * 1868 + R14) >> 14;
    out[i] = y;
    out[i + 1] = sat(((r - y) * 11682 + HALF + R14) >> 14);
    out[i + 2] = sat(((b - y) * 9241 + HALF + R14) >> 14);
  }
}
function yCrCbToRgb(img: Uint8Array, out: Uint8Array, need: Need): void {
  for (let k = 0, end = need === null ? img.length / 3 : need.length; k < end; k++) {
    const i = 3 * (need === null ? k : need[k]!);
    const y = img[i]!, cr = img[i + 1]! - 128, cb = img[i + 2]! - 128;
    out[i + 2] = sat(y + ((cb * 29049 + R14) >> 14));
    out[i + 1] = sat(y + ((cb * -5636 + cr * -11698 + R14) >> 14));
    out[i] = sat(y + ((cr * 22987 + R14) >> 14));
  }
}
function rgbToYuv(img: Uint8Array, out: Uint8Array, need: Need): void {
  for (let k = 0, end = need === null ? img.length / 3 : need.length; k < end; k++) {
    const i = 3 * (need === null ? k : need[k]!);
    const r = img[i]!, g = img[i + 1]!, b = img[i + 2]!;
    const y = (r * 4899 + g * 9617 + b * 1868 + R14) >> 14;
    out[i] = y;
    out[i + 1] = sat(((b - y) * 8061 + HALF + R14) >> 14);
    out[i + 2] = sat(((r - y) * 14369 + HALF + R14) >> 14);
  }
}
function yuvToRgb(img: Uint8Array, out: Uint8Array, need: Need): void {
  for (let k = 0, end = need === null ? img.length / 3 : need.length; k < end; k++) {
    const i = 3 * (need === null ? k : need[k]!);
    const y = img[i]!, u = img[i + 1]! - 128, v = img[i + 2]! - 128;
    out[i + 2] = sat(y + ((u * 33292 + R14) >> 14));
    out[i + 1] = sat(y + ((u * -6472 + v * -9519 + R14) >> 14));
    out[i] = sat(y + ((v * 18678 + R14) >> 14));
  }
}

// ---- HSV (H in [0, 180)) ----------------------------------------------------------------------
const SDIV = Int32Array.from({ length: 256 }, (_, i) => (i === 0 ? 0 : roundEven((255 << 12) / i)));
const HDIV = Int32Array.from({ length: 256 }, (_, i) => (i === 0 ? 0 : roundEven((180 << 12) / (6 * i))));
const H_SCALE = f32(6 / 180);
const INV255 = f32(1 / 255);

function rgbToHsv(img: Uint8Array, out: Uint8Array, need: Need): void {
  for (let k = 0, end = need === null ? img.length / 3 : need.length; k < end; k++) {
    const i = 3 * (need === null ? k : need[k]!);
    const r = img[i]!, g = img[i + 1]!, b = img[i + 2]!;
    const v = r > g ? (r > b ? r : b) : g > b ? g : b;
    const vmin = r < g ? (r < b ? r : b) : g < b ? g : b;
    const diff = v - vmin;
    let h = v === r ? g - b : v === g ? b - r + 2 * diff : r - g + 4 * diff;
    h = (h * HDIV[diff]! + (1 << 11)) >> 12;
    if (h < 0) h += 180;
    out[i] = sat(h);
    out[i + 1] = (diff * SDIV[v]! + (1 << 11)) >> 12;
    out[i + 2] = v;
  }
}

/**
 * The six sectors' (b, g, r) picks from tab = [v, v(1 − s), v(1 − s·h), v(1 − s(1 − h))] (HSV) or
 * [p2, p1, p1 + (p2 − p1)(1 − h), p1 + (p2 − p1)h] (HLS), as OpenCV's sector_data.
 */
const SECTOR_B = Int32Array.of(1, 1, 3, 0, 0, 2);
const SECTOR_G = Int32Array.of(3, 0, 0, 2, 1, 1);
const SECTOR_R = Int32Array.of(0, 2, 1, 1, 3, 0);

function hsvToRgb(img: Uint8Array, out: Uint8Array, need: Need): void {
  const tab = new Float32Array(4);
  // OpenCV's SIMD loop (16 pixels) truncates; its scalar tail rounds.
  const simdEnd = img.length - (img.length % 48);
  for (let k = 0, end = need === null ? img.length / 3 : need.length; k < end; k++) {
    const i = 3 * (need === null ? k : need[k]!);
    const s = f32(img[i + 1]! * INV255), v = f32(img[i + 2]! * INV255);
    let b = v, g = v, r = v;
    if (s !== 0) {
      let h = f32(img[i]! * H_SCALE);
      while (h >= 6) h = f32(h - 6);
      const sector = Math.floor(h);
      h = f32(h - sector);
      tab[0] = v;
      tab[1] = v * f32(1 - s);
      tab[2] = v * f32(1 - f32(s * h));
      tab[3] = v * f32(1 - f32(s * f32(1 - h)));
      b = tab[SECTOR_B[sector]!]!; g = tab[SECTOR_G[sector]!]!; r = tab[SECTOR_R[sector]!]!;
    }
    if (i < simdEnd) {
      out[i] = sat(Math.trunc(f32(r * 255))); out[i + 1] = sat(Math.trunc(f32(g * 255))); out[i + 2] = sat(Math.trunc(f32(b * 255)));
    } else {
      out[i] = u8(f32(r * 255)); out[i + 1] = u8(f32(g * 255)); out[i + 2] = u8(f32(b * 255));
    }
  }
}

// ---- HLS (float path) -------------------------------------------------------------------------
function rgbToHls(img: Uint8Array, out: Uint8Array, need: Need): void {
  for (let k = 0, end = need === null ? img.length / 3 : need.length; k < end; k++) {
    const i = 3 * (need === null ? k : need[k]!);
    const r = f32(img[i]! * INV255), g = f32(img[i + 1]! * INV255), b = f32(img[i + 2]! * INV255);
    const vmax = r > g ? (r > b ? r : b) : g > b ? g : b;
    const vmin = r < g ? (r < b ? r : b) : g < b ? g : b;
    let diff = f32(vmax - vmin);
    const sum = f32(vmax + vmin);
    const l = f32(sum * 0.5);
    let h = 0, s = 0;
    if (diff > 1.1920928955078125e-7) {
      // As OpenCV's SIMD path: the denominator is 2 − (vmax + vmin), not (2 − vmax) − vmin.
      s = f32(diff / (l < 0.5 ? sum : f32(2 - sum)));
      diff = f32(60 / diff);
      if (vmax === r) h = f32(f32(g - b) * diff);
      else if (vmax === g) h = f32(f32(f32(b - r) * diff) + 120);
      else h = f32(f32(f32(r - g) * diff) + 240);
      if (h < 0) h = f32(h + 360);
    }
    out[i] = u8(f32(h * 0.5)); out[i + 1] = u8(f32(l * 255)); out[i + 2] = u8(f32(s * 255));
  }
}
function hlsToRgb(img: Uint8Array, out: Uint8Array, need: Need): void {
  const tab = new Float32Array(4);
  for (let k = 0, end = need === null ? img.length / 3 : need.length; k < end; k++) {
    const i = 3 * (need === null ? k : need[k]!);
    const l = f32(img[i + 1]! * INV255), s = f32(img[i + 2]! * INV255);
    let b = l, g = l, r = l;
    if (s !== 0) {
      const p2 = l <= 0.5 ? f32(l * f32(1 + s)) : f32(f32(l + s) - f32(l * s));
      const p1 = f32(f32(2 * l) - p2);
      let h = f32(img[i]! * H_SCALE);
      while (h >= 6) h = f32(h - 6);
      const sector = Math.floor(h);
      h = f32(h - sector);
      const d = f32(p2 - p1);
      tab[0] = p2;
      tab[1] = p1;
      tab[2] = p1 + f32(d * f32(1 - h));
      tab[3] = p1 + f32(d * h);
      b = tab[SECTOR_B[sector]!]!; g = tab[SECTOR_G[sector]!]!; r = tab[SECTOR_R[sector]!]!;
    }
    out[i] = u8(f32(r * 255)); out[i + 1] = u8(f32(g * 255)); out[i + 2] = u8(f32(b * 255));
  }
}

// ---- Lab and Luv (CIE, D65; sRGB gamma) -------------------------------------------------------
const M0 = 0.412453, M1 = 0.357580, M2 = 0.180423, M3 = 0.212671, M4 = 0.715160, M5 = 0.072169, M6 = 0.019334, M7 = 0.119193, M8 = 0.950227;
const N0 = 3.240479, N1 = -1.53715, N2 = -0.498535, N3 = -0.969256, N4 = 1.875991, N5 = 0.041556, N6 = 0.055648, N7 = -0.204043, N8 = 1.057311;
const WX = 0.950456, WZ = 1.088754;
/** sRGB → linear of each 8-bit level (v / 255, then the sRGB curve). */
const LINEAR = Float64Array.from({ length: 256 }, (_, i) => {
  const v = i / 255;
  return v <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
});
const INV_GAMMA = 1 / 2.4;
/** Linear → 8-bit sRGB level (clamped to [0, 1], gamma, ×255, rounded half to even), by the formula. */
function gamma8Formula(v: number): number {
  const c = v < 0 ? 0 : v > 1 ? 1 : v;
  return u8((c <= 0.0031308 ? 12.92 * c : 1.055 * c ** INV_GAMMA - 0.055) * 255);
}
/**
 * The same without a pow per channel: GAMMA_AT[k] is the least linear value whose level is k
 * (found once by bisection on the formula, which is monotonic), and GAMMA_BIN[b] the level at
 * b/4096, where the search for a value in [b/4096, (b + 1)/4096) starts; at most a couple of steps,
 * since neighbouring levels are ≥ 1/3300 apart.
 */
const GAMMA_AT = (() => {
  const at = new Float64Array(257);
  at[256] = Infinity;
  for (let k = 1; k < 256; k++) {
    let lo = 0, hi = 1; // gamma8Formula(lo) < k ≤ gamma8Formula(hi)
    for (;;) {
      const mid = lo + (hi - lo) / 2;
      if (mid === lo || mid === hi) break;
      if (gamma8Formula(mid) >= k) hi = mid; else lo = mid;
    }
    at[k] = hi;
  }
  return at;
})();
const GAMMA_BINS = 4096;
const GAMMA_BIN = Uint8Array.from({ length: GAMMA_BINS }, (_, b) => gamma8Formula(b / GAMMA_BINS));
function gamma8(v: number): number {
  if (!(v > 0)) return 0; // also NaN, as the formula's u8
  if (v >= 1) return 255;
  let k = GAMMA_BIN[Math.floor(v * GAMMA_BINS)]!;
  while (v >= GAMMA_AT[k + 1]!) k++;
  return k;
}
const fLab = (t: number): number => (t > 0.008856 ? Math.cbrt(t) : 7.787 * t + 16 / 116);
const fLabInv = (f: number): number => (f > 0.206893 ? f * f * f : (f - 16 / 116) / 7.787);

function rgbToLab(img: Uint8Array, out: Uint8Array, need: Need): void {
  for (let k = 0, end = need === null ? img.length / 3 : need.length; k < end; k++) {
    const i = 3 * (need === null ? k : need[k]!);
    const r = LINEAR[img[i]!]!, g = LINEAR[img[i + 1]!]!, b = LINEAR[img[i + 2]!]!;
    const x = M0 * r + M1 * g + M2 * b, y = M3 * r + M4 * g + M5 * b, z = M6 * r + M7 * g + M8 * b;
    const fx = fLab(x / WX), fy = fLab(y), fz = fLab(z / WZ);
    const L = y > 0.008856 ? 116 * fy - 16 : 903.3 * y;
    out[i] = u8((L * 255) / 100); out[i + 1] = u8(500 * (fx - fy) + 128); out[i + 2] = u8(200 * (fy - fz) + 128);
  }
}
function labToRgb(img: Uint8Array, out: Uint8Array, need: Need): void {
  for (let k = 0, end = need === null ? img.length / 3 : need.length; k < end; k++) {
    const i = 3 * (need === null ? k : need[k]!);
    const L = (img[i]! * 100) / 255, a = img[i + 1]! - 128, bb = img[i + 2]! - 128;
    const fy = (L + 16) / 116;
    const y = L > 8 ? fy * fy * fy : L / 903.3;
    const fyy = L > 8 ? fy : 7.787 * y + 16 / 116;
    const x = fLabInv(a / 500 + fyy) * WX, z = fLabInv(fyy - bb / 200) * WZ;
    out[i] = gamma8(N0 * x + N1 * y + N2 * z); out[i + 1] = gamma8(N3 * x + N4 * y + N5 * z); out[i + 2] = gamma8(N6 * x + N7 * y + N8 * z);
  }
}
const UN = (4 * WX) / (WX + 15 + 3 * WZ), VN = 9 / (WX + 15 + 3 * WZ);
function rgbToLuv(img: Uint8Array, out: Uint8Array, need: Need): void {
  for (let k = 0, end = need === null ? img.length / 3 : need.length; k < end; k++) {
    const i = 3 * (need === null ? k : need[k]!);
    const r = LINEAR[img[i]!]!, g = LINEAR[img[i + 1]!]!, b = LINEAR[img[i + 2]!]!;
    const x = M0 * r + M1 * g + M2 * b, y = M3 * r + M4 * g + M5 * b, z = M6 * r + M7 * g + M8 * b;
    const L = y > 0.008856 ? 116 * Math.cbrt(y) - 16 : 903.3 * y;
    const d = x + 15 * y + 3 * z;
    const u = d === 0 ? 0 : 13 * L * ((4 * x) / d - UN);
    const v = d === 0 ? 0 : 13 * L * ((9 * y) / d - VN);
    out[i] = u8((L * 255) / 100); out[i + 1] = u8((255 / 354) * (u + 134)); out[i + 2] = u8((255 / 262) * (v + 140));
  }
}
function luvToRgb(img: Uint8Array, out: Uint8Array, need: Need): void {
  for (let k = 0, end = need === null ? img.length / 3 : need.length; k < end; k++) {
    const i = 3 * (need === null ? k : need[k]!);
    const L = (img[i]! * 100) / 255, u = (img[i + 1]! * 354) / 255 - 134, v = (img[i + 2]! * 262) / 255 - 140;
    const q3 = (L + 16) / 116;
    const y = L >= 8 ? q3 * q3 * q3 : L / 903.3;
    // x = 9y·u′/(4v′), z = y(12 − 3u′ − 20v′)/(4v′) with u′ = u/13L + u_n, v′ = v/13L + v_n, written
    // with q = 1/(4·13L·v′) clamped to ±0.25 as OpenCV does, so L → 0 stays finite.
    const up = u + 13 * L * UN;
    const q0 = 0.25 / (13 * L * VN + v);
    const q = q0 < -0.25 ? -0.25 : q0 > 0.25 ? 0.25 : q0;
    const x = 9 * y * up * q, z = y * ((12 * 13 * L - 3 * up) * q - 5);
    out[i] = gamma8(N0 * x + N1 * y + N2 * z); out[i + 1] = gamma8(N3 * x + N4 * y + N5 * z); out[i + 2] = gamma8(N6 * x + N7 * y + N8 * z);
  }
}

type Conversion = (img: Uint8Array, out: Uint8Array, need: Need) => void;
const FORWARD: Record<Colorspace, Conversion> = { YCrCb: rgbToYCrCb, HSV: rgbToHsv, HLS: rgbToHls, Lab: rgbToLab, Luv: rgbToLuv, YUV: rgbToYuv };
const BACKWARD: Record<Colorspace, Conversion> = { YCrCb: yCrCbToRgb, HSV: hsvToRgb, HLS: hlsToRgb, Lab: labToRgb, Luv: luvToRgb, YUV: yuvToRgb };

/**
 * cv2.cvtColor(img, COLOR_RGB2<space>) on interleaved 8-bit triples, into `out` (a new array by
 * default; `img` itself works too: each triple is read before it is written). With `need`, only
 * the listed pixels are converted; the others are left as they were.
 */
export function fromRgb(img: Uint8Array, space: Colorspace, need: Need = null, out: Uint8Array = new Uint8Array(img.length)): Uint8Array {
  FORWARD[space](img, out, need);
  return out;
}
/** cv2.cvtColor(img, COLOR_<space>2RGB) on interleaved 8-bit triples (`need` and `out` as {@link fromRgb}). */
export function toRgb(img: Uint8Array, space: Colorspace, need: Need = null, out: Uint8Array = new Uint8Array(img.length)): Uint8Array {
  BACKWARD[space](img, out, need);
  return out;
}
