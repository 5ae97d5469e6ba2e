// 8-bit colour-space round trips as imgaug's change_colorspace_ runs them through cv2.cvtColor
// (OpenCV 4.5) for MultiplyAndAddToBrightness and AddToHueAndSaturation. Pixels are interleaved
// triples whose first channel imgaug takes for R: DRAEM passes BGR arrays while imgaug assumes
// RGB, so these functions are applied to the BGR data as is, exactly like the authors' pipeline.
// YCrCb, YUV and RGB→HSV follow OpenCV's integer code; HSV→RGB and HLS its float32 SIMD code (HSV→RGB
// truncates in its 16-pixel SIMD blocks and rounds in the tail), all bit-exact with cv2 4.6; Lab and Luv use the CIE formulas OpenCV documents, in double precision, rounded
// (OpenCV's 8-bit Lab/Luv use fixed-point tables; the results can differ by a few levels).

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
const descale = (x: number, n: number): number => (x + (1 << (n - 1))) >> n;

type Px = (a: number, b: number, c: number, out: number[]) => void;

function map3(img: Uint8Array, fn: Px): Uint8Array {
  const out = new Uint8Array(img.length);
  const t = [0, 0, 0];
  const simdEnd = img.length - (img.length % 48);
  for (let i = 0; i < img.length; i += 3) {
    hsvTruncate = i < simdEnd;
    fn(img[i]!, img[i + 1]!, img[i + 2]!, t);
    out[i] = t[0]!; out[i + 1] = t[1]!; out[i + 2] = t[2]!;
  }
  return out;
}

// ---- YCrCb and YUV (yuv_shift 14) -----------------------------------------------------------
const Y_COEF = [4899, 9617, 1868];
const yOf = (r: number, g: number, b: number): number => descale(r * Y_COEF[0]! + g * Y_COEF[1]! + b * Y_COEF[2]!, 14);
const HALF = 128 << 14;

const rgbToYCrCb: Px = (r, g, b, o) => {
  const y = yOf(r, g, b);
  o[0] = sat(y); o[1] = sat(descale((r - y) * 11682 + HALF, 14)); o[2] = sat(descale((b - y) * 9241 + HALF, 14));
};
const yCrCbToRgb: Px = (y, cr, cb, o) => {
  cr -= 128; cb -= 128;
  o[2] = sat(y + descale(cb * 29049, 14));
  o[1] = sat(y + descale(cb * -5636 + cr * -11698, 14));
  o[0] = sat(y + descale(cr * 22987, 14));
};
const rgbToYuv: Px = (r, g, b, o) => {
  const y = yOf(r, g, b);
  o[0] = sat(y); o[1] = sat(descale((b - y) * 8061 + HALF, 14)); o[2] = sat(descale((r - y) * 14369 + HALF, 14));
};
const yuvToRgb: Px = (y, u, v, o) => {
  u -= 128; v -= 128;
  o[2] = sat(y + descale(u * 33292, 14));
  o[1] = sat(y + descale(u * -6472 + v * -9519, 14));
  o[0] = sat(y + descale(v * 18678, 14));
};

// ---- HSV (H in [0, 180)) ----------------------------------------------------------------------
const SDIV = Int32Array.from({ length: 256 }, (_, i) => (i === 0 ? 0 : roundEven((255 << 12) / i)));
const HDIV = Int32Array.from({ length: 256 }, (_, i) => (i === 0 ? 0 : roundEven((180 << 12) / (6 * i))));
const rgbToHsv: Px = (r, g, b, o) => {
  const v = Math.max(r, g, b), vmin = Math.min(r, g, b);
  const diff = v - vmin;
  const s = (diff * SDIV[v]! + (1 << 11)) >> 12;
  let h = v === r ? g - b : v === g ? b - r + 2 * diff : r - g + 4 * diff;
  h = (h * HDIV[diff]! + (1 << 11)) >> 12;
  if (h < 0) h += 180;
  o[0] = sat(h); o[1] = s; o[2] = v;
};
const SECTORS = [[1, 3, 0], [1, 0, 2], [3, 0, 1], [0, 2, 1], [0, 1, 3], [2, 1, 0]];
const H_SCALE = f32(6 / 180);
const INV255 = f32(1 / 255);
let hsvTruncate = true;
const hsvToRgb: Px = (h8, s8, v8, o) => {
  const s = f32(s8 * INV255), v = f32(v8 * INV255);
  let b = v, g = v, r = v;
  if (s !== 0) {
    let h = f32(h8 * H_SCALE);
    while (h >= 6) h = f32(h - 6);
    const sector = Math.floor(h);
    h = f32(h - sector);
    const tab = [v, f32(v * f32(1 - s)), f32(v * f32(1 - f32(s * h))), f32(v * f32(1 - f32(s * f32(1 - h))))];
    const sd = SECTORS[sector]!;
    b = tab[sd[0]!]!; g = tab[sd[1]!]!; r = tab[sd[2]!]!;
  }
  const q = hsvTruncate ? (x: number): number => sat(Math.trunc(x)) : u8;
  o[0] = q(f32(r * 255)); o[1] = q(f32(g * 255)); o[2] = q(f32(b * 255));
};

// ---- HLS (float path) -------------------------------------------------------------------------
const rgbToHls: Px = (r8, g8, b8, o) => {
  const r = f32(r8 * INV255), g = f32(g8 * INV255), b = f32(b8 * INV255);
  const vmax = Math.max(r, g, b), vmin = Math.min(r, g, b);
  let diff = f32(vmax - vmin);
  const l = f32(f32(vmax + vmin) * 0.5);
  let h = 0, s = 0;
  if (diff > 1.1920928955078125e-7) {
    // As OpenCV's SIMD path: the denominator is 2 − (vmax + vmin), not (2 − vmax) − vmin.
    const sum = f32(vmax + vmin);
    s = f32(diff / (l < 0.5 ? sum : f32(2 - sum)));
    diff = f32(60 / diff);
    if (vmax === r) h = f32(f32(g - b) * diff);
    else if (vmax === g) h = f32(f32(f32(b - r) * diff) + 120);
    else h = f32(f32(f32(r - g) * diff) + 240);
    if (h < 0) h = f32(h + 360);
  }
  o[0] = u8(f32(h * 0.5)); o[1] = u8(f32(l * 255)); o[2] = u8(f32(s * 255));
};
const hlsToRgb: Px = (h8, l8, s8, o) => {
  const l = f32(l8 * INV255), s = f32(s8 * INV255);
  let b = l, g = l, r = l;
  if (s !== 0) {
    const p2 = l <= 0.5 ? f32(l * f32(1 + s)) : f32(f32(l + s) - f32(l * s));
    const p1 = f32(f32(2 * l) - p2);
    let h = f32(h8 * H_SCALE);
    while (h >= 6) h = f32(h - 6);
    const sector = Math.floor(h);
    h = f32(h - sector);
    const tab = [p2, p1, f32(p1 + f32(f32(p2 - p1) * f32(1 - h))), f32(p1 + f32(f32(p2 - p1) * h))];
    const sd = SECTORS[sector]!;
    b = tab[sd[0]!]!; g = tab[sd[1]!]!; r = tab[sd[2]!]!;
  }
  o[0] = u8(f32(r * 255)); o[1] = u8(f32(g * 255)); o[2] = u8(f32(b * 255));
};

// ---- Lab and Luv (CIE, D65; sRGB gamma) -------------------------------------------------------
const M_RGB2XYZ = [0.412453, 0.357580, 0.180423, 0.212671, 0.715160, 0.072169, 0.019334, 0.119193, 0.950227];
const M_XYZ2RGB = [3.240479, -1.53715, -0.498535, -0.969256, 1.875991, 0.041556, 0.055648, -0.204043, 1.057311];
const WHITE = [0.950456, 1, 1.088754];
const toLinear = (v: number): number => (v <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4);
const toGamma = (v: number): number => (v <= 0.0031308 ? 12.92 * v : 1.055 * v ** (1 / 2.4) - 0.055);
const fLab = (t: number): number => (t > 0.008856 ? Math.cbrt(t) : 7.787 * t + 16 / 116);

function xyzOf(r8: number, g8: number, b8: number): [number, number, number] {
  const r = toLinear(r8 / 255), g = toLinear(g8 / 255), b = toLinear(b8 / 255);
  const m = M_RGB2XYZ;
  return [m[0]! * r + m[1]! * g + m[2]! * b, m[3]! * r + m[4]! * g + m[5]! * b, m[6]! * r + m[7]! * g + m[8]! * b];
}
function rgbOfXyz(x: number, y: number, z: number, o: number[]): void {
  const m = M_XYZ2RGB;
  const lin = [m[0]! * x + m[1]! * y + m[2]! * z, m[3]! * x + m[4]! * y + m[5]! * z, m[6]! * x + m[7]! * y + m[8]! * z];
  for (let c = 0; c < 3; c++) o[c] = u8(toGamma(Math.min(Math.max(lin[c]!, 0), 1)) * 255);
}
const rgbToLab: Px = (r, g, b, o) => {
  const [x, y, z] = xyzOf(r, g, b);
  const fx = fLab(x / WHITE[0]!), fy = fLab(y), fz = fLab(z / WHITE[2]!);
  const L = y > 0.008856 ? 116 * fy - 16 : 903.3 * y;
  o[0] = u8((L * 255) / 100); o[1] = u8(500 * (fx - fy) + 128); o[2] = u8(200 * (fy - fz) + 128);
};
const labToRgb: Px = (l8, a8, b8, o) => {
  const L = (l8 * 100) / 255, a = a8 - 128, bb = b8 - 128;
  const fy = (L + 16) / 116;
  const y = L > 8 ? fy ** 3 : L / 903.3;
  const fyy = L > 8 ? fy : 7.787 * y + 16 / 116;
  const inv = (f: number): number => (f > 0.206893 ? f ** 3 : (f - 16 / 116) / 7.787);
  rgbOfXyz(inv(a / 500 + fyy) * WHITE[0]!, y, inv(fyy - bb / 200) * WHITE[2]!, o);
};
const UN = (4 * WHITE[0]!) / (WHITE[0]! + 15 + 3 * WHITE[2]!), VN = 9 / (WHITE[0]! + 15 + 3 * WHITE[2]!);
const rgbToLuv: Px = (r, g, b, o) => {
  const [x, y, z] = xyzOf(r, g, b);
  const L = y > 0.008856 ? 116 * Math.cbrt(y) - 16 : 903.3 * y;
  const d = x + 15 * y + 3 * z;
  const u = d === 0 ? 0 : 13 * L * ((4 * x) / d - UN);
  const v = d === 0 ? 0 : 13 * L * ((9 * y) / d - VN);
  o[0] = u8((L * 255) / 100); o[1] = u8((255 / 354) * (u + 134)); o[2] = u8((255 / 262) * (v + 140));
};
const luvToRgb: Px = (l8, u8v, v8, o) => {
  const L = (l8 * 100) / 255, u = (u8v * 354) / 255 - 134, v = (v8 * 262) / 255 - 140;
  const y = L >= 8 ? ((L + 16) / 116) ** 3 : L / 903.3;
  // x = 9y·u′/(4v′), z = y(12 − 3u′ − 20v′)/(4v′) with u′ = u/13L + u_n, v′ = v/13L + v_n, written
  // with q = 1/(4·13L·v′) clamped to ±0.25 as OpenCV does, so L → 0 stays finite.
  const up = u + 13 * L * UN;
  const q = Math.min(Math.max(0.25 / (13 * L * VN + v), -0.25), 0.25);
  rgbOfXyz(9 * y * up * q, y, y * ((12 * 13 * L - 3 * up) * q - 5), o);
};

const FORWARD: Record<Colorspace, Px> = { YCrCb: rgbToYCrCb, HSV: rgbToHsv, HLS: rgbToHls, Lab: rgbToLab, Luv: rgbToLuv, YUV: rgbToYuv };
const BACKWARD: Record<Colorspace, Px> = { YCrCb: yCrCbToRgb, HSV: hsvToRgb, HLS: hlsToRgb, Lab: labToRgb, Luv: luvToRgb, YUV: yuvToRgb };

/** cv2.cvtColor(img, COLOR_RGB2<space>) on interleaved 8-bit triples. */
export function fromRgb(img: Uint8Array, space: Colorspace): Uint8Array { return map3(img, FORWARD[space]); }
/** cv2.cvtColor(img, COLOR_<space>2RGB) on interleaved 8-bit triples. */
export function toRgb(img: Uint8Array, space: Colorspace): Uint8Array { return map3(img, BACKWARD[space]); }
