// The ten imgaug augmenters of the authors' MVTecDRAEMTrainDataset (data_loader.py), on 8-bit
// H×W×3 interleaved images, each split into `sample` (its random parameters, drawn from the
// ranges imgaug 0.4.0 uses for the authors' arguments) and `apply` (deterministic given them).
// Every image they see is BGR (cv2.imread); per-channel augmenters do not care, and the two
// colour-space ones treat channel 0 as R, as imgaug does with the BGR arrays the authors pass.
import type { Rng } from '../../data/random.js';
import { BRIGHTNESS_CHANNEL, BRIGHTNESS_COLORSPACES, fromRgb, toRgb, type Colorspace } from './colour.js';
import { indicesOf, type Need } from './need.js';
import { rotationMatrix, isIdentity, warpAffineU8, warpSources } from './warp.js';

/** The authors' list, in their order (np.random.choice(10, 3, replace=False) indexes it). */
export const AUGMENTERS = [
  'gammaContrast', 'multiplyAndAddToBrightness', 'enhanceSharpness', 'addToHueAndSaturation', 'solarize',
  'posterize', 'invert', 'autocontrast', 'equalize', 'affine',
] as const;
export type AugmenterName = (typeof AUGMENTERS)[number];

export type AugmenterParams =
  /** GammaContrast((0.5, 2.0), per_channel=True): one γ per channel. */
  | { name: 'gammaContrast'; gamma: [number, number, number] }
  /** MultiplyAndAddToBrightness(mul=(0.8, 1.2), add=(−30, 30)): a colour space, then Multiply and Add in random order. */
  | { name: 'multiplyAndAddToBrightness'; colorspace: Colorspace; mul: number; add: number; addFirst: boolean }
  /** pillike.EnhanceSharpness(factor=(0, 2)). */
  | { name: 'enhanceSharpness'; factor: number }
  /** AddToHueAndSaturation((−50, 50), per_channel=True): integer hue and saturation values. */
  | { name: 'addToHueAndSaturation'; hue: number; saturation: number }
  /** Solarize(0.5, threshold=(32, 128)): applied with probability 0.5. */
  | { name: 'solarize'; apply: boolean; threshold: number }
  /** Posterize(): UniformColorQuantizationToNBits(nb_bits=(1, 8)). */
  | { name: 'posterize'; bits: number }
  | { name: 'invert' }
  /** pillike.Autocontrast(cutoff=(0, 20)): an integer percentage. */
  | { name: 'autocontrast'; cutoff: number }
  | { name: 'equalize' }
  /** Affine(rotate=(−45, 45)). */
  | { name: 'affine'; degrees: number };

/** Three distinct augmenters in random order, as np.random.choice(10, 3, replace=False). */
export function chooseAugmenters(rng: Rng): AugmenterName[] {
  const pool = [...AUGMENTERS];
  const out: AugmenterName[] = [];
  for (let k = 0; k < 3; k++) out.push(pool.splice(rng.int(0, pool.length), 1)[0]!);
  return out;
}

export function sampleAugmenter(name: AugmenterName, rng: Rng): AugmenterParams {
  switch (name) {
    case 'gammaContrast': return { name, gamma: [rng.uniform(0.5, 2), rng.uniform(0.5, 2), rng.uniform(0.5, 2)] };
    case 'multiplyAndAddToBrightness':
      return { name, colorspace: BRIGHTNESS_COLORSPACES[rng.int(0, 6)]!, mul: rng.uniform(0.8, 1.2), add: rng.uniform(-30, 30), addFirst: rng.next() < 0.5 };
    case 'enhanceSharpness': return { name, factor: rng.uniform(0, 2) };
    case 'addToHueAndSaturation': return { name, hue: rng.int(-50, 51), saturation: rng.int(-50, 51) };
    case 'solarize': return { name, apply: rng.next() < 0.5, threshold: rng.uniform(32, 128) };
    case 'posterize': return { name, bits: rng.int(1, 9) };
    case 'invert': return { name };
    case 'autocontrast': return { name, cutoff: rng.int(0, 21) };
    case 'equalize': return { name };
    case 'affine': return { name, degrees: rng.uniform(-45, 45) };
  }
}

export type Lut = Uint8Array;
const f32 = Math.fround;

/** One table for every channel, or one per channel of the interleaved H×W×3 image (at `need`ed pixels). */
export function applyLut(img: Uint8Array, luts: readonly Lut[], need: Need, out: Uint8Array): Uint8Array {
  const [l0, l1, l2] = luts.length === 1 ? [luts[0]!, luts[0]!, luts[0]!] : luts as [Lut, Lut, Lut];
  for (let k = 0, end = need === null ? img.length / 3 : need.length; k < end; k++) {
    const i = 3 * (need === null ? k : need[k]!);
    out[i] = l0[img[i]!]!; out[i + 1] = l1[img[i + 1]!]!; out[i + 2] = l2[img[i + 2]!]!;
  }
  return out;
}

/** adjust_contrast_gamma: table = clip(linspace(0, 1, 256)^γ · 255) in float32, truncated. */
function gammaLut(gamma: number): Lut {
  const g = f32(gamma);
  return Uint8Array.from({ length: 256 }, (_, i) => Math.min(255, Math.trunc(f32(f32(f32(i * (1 / 255)) ** g) * 255))));
}

/** multiply_scalar (uint8): clip(float32(v)·float32(mul), 0, 255) truncated. */
const mulLut = (mul: number): Lut => Uint8Array.from({ length: 256 }, (_, v) => Math.min(255, Math.trunc(f32(v * f32(mul)))));
/** add_scalar (uint8): v + round_half_even(add), clipped. */
function addLut(add: number): Lut {
  const r = Math.round(add);
  const a = r - add === 0.5 && r % 2 !== 0 ? r - 1 : r;
  return Uint8Array.from({ length: 256 }, (_, v) => Math.min(255, Math.max(0, v + a)));
}

function brightness(img: Uint8Array, p: Extract<AugmenterParams, { name: 'multiplyAndAddToBrightness' }>, need: Need, out: Uint8Array): Uint8Array {
  const cvt = fromRgb(img, p.colorspace, need, out);
  const ch = BRIGHTNESS_CHANNEL[p.colorspace];
  const [first, second] = p.addFirst ? [addLut(p.add), mulLut(p.mul)] : [mulLut(p.mul), addLut(p.add)];
  for (let k = 0, end = need === null ? cvt.length / 3 : need.length; k < end; k++) {
    const i = 3 * (need === null ? k : need[k]!) + ch;
    cvt[i] = second[first[cvt[i]!]!]!;
  }
  return toRgb(cvt, p.colorspace, need, cvt);
}

/** PIL ImageEnhance.Sharpness: blend(SMOOTH-filtered, image, factor); SMOOTH = [1 1 1; 1 5 1; 1 1 1]/13 in float32, borders copied. */
function sharpness(img: Uint8Array, h: number, w: number, factor: number, need: Need, out: Uint8Array): Uint8Array {
  // PIL's float32 products v·k of each 8-bit level (exact in double, then rounded to float32).
  const k1 = f32(1 / 13), k5 = f32(5 / 13);
  const t1 = Float64Array.from({ length: 256 }, (_, v) => f32(v * k1));
  const t5 = Float64Array.from({ length: 256 }, (_, v) => f32(v * k5));
  const a = f32(factor);
  if (a === 1) { out.set(img); return out; }
  // The smoothed image, in `out` when it is the result (factor 0), else in a reused buffer.
  const deg = a === 0 ? out : degBuffer(img.length);
  deg.set(img);
  const row = w * 3;
  // The borders keep the image (deg starts as its copy).
  const smooth = (px: number): void => {
    for (let p = px * 3, end = p + 3; p < end; p++) {
      // Rows below, at and above, each summed left + centre + right in float32 (PIL's order).
      const q = p + row, u = p - row;
      let ss = f32(0.5 + f32(f32(t1[img[q - 3]!]! + t1[img[q]!]!) + t1[img[q + 3]!]!));
      ss = f32(ss + f32(f32(t1[img[p - 3]!]! + t5[img[p]!]!) + t1[img[p + 3]!]!));
      ss = f32(ss + f32(f32(t1[img[u - 3]!]! + t1[img[u]!]!) + t1[img[u + 3]!]!));
      deg[p] = ss <= 0 ? 0 : ss >= 255 ? 255 : Math.trunc(ss);
    }
  };
  if (need === null) {
    for (let y = 1; y < h - 1; y++) for (let x = 1; x < w - 1; x++) smooth(y * w + x);
  } else {
    for (let k = 0; k < need.length; k++) {
      const px = need[k]!, y = Math.floor(px / w), x = px - y * w;
      if (y >= 1 && y < h - 1 && x >= 1 && x < w - 1) smooth(px);
    }
  }
  if (a === 0) return out;
  // ImageEnhance's blend: deg + a·(img − deg) in float32; a·d is exact in double for |d| ≤ 255.
  const ad = Float64Array.from({ length: 511 }, (_, d) => f32(a * (d - 255)));
  for (let k = 0, count = need === null ? img.length / 3 : need.length; k < count; k++) {
    for (let i = 3 * (need === null ? k : need[k]!), end = i + 3; i < end; i++) {
      const t = f32(deg[i]! + ad[img[i]! - deg[i]! + 255]!);
      out[i] = a <= 1 ? Math.trunc(t) : t <= 0 ? 0 : t >= 255 ? 255 : Math.trunc(t);
    }
  }
  return out;
}

function hueSaturation(img: Uint8Array, hue: number, saturation: number, need: Need, out: Uint8Array): Uint8Array {
  const hsv = fromRgb(img, 'HSV', need, out);
  // OpenCV's hue is in [0, 180): imgaug maps the value v to int(float32(v)/255·180).
  const dh = Math.trunc(f32(f32(f32(hue) / 255) * 180));
  for (let k = 0, end = need === null ? hsv.length / 3 : need.length; k < end; k++) {
    const i = 3 * (need === null ? k : need[k]!);
    hsv[i] = (((hsv[i]! + dh) % 180) + 180) % 180;
    hsv[i + 1] = Math.min(255, Math.max(0, hsv[i + 1]! + saturation));
  }
  return toRgb(hsv, 'HSV', need, hsv);
}

/** Whether a Uint32Array view reads bytes 0..3 as bits 0..31 upwards (the word-read loops assume it). */
export const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** Per-channel histograms of an interleaved image (one pass). */
export function histograms(img: Uint8Array): Float64Array[] {
  const out = [new Float64Array(256), new Float64Array(256), new Float64Array(256)];
  if (LITTLE_ENDIAN && img.length % 12 === 0 && img.byteOffset % 4 === 0) {
    // Four pixels from three words, each of the 12 byte positions counted in its own histogram:
    // a third of the loads, and no increment waits on the one before (textures repeat levels).
    const words = new Uint32Array(img.buffer, img.byteOffset, img.length >> 2);
    const h = new Int32Array(12 * 256);
    for (let i = 0; i < words.length; i += 3) {
      const u = words[i]!, v = words[i + 1]!, w = words[i + 2]!;
      h[u & 255]!++; h[256 + ((u >>> 8) & 255)]!++; h[512 + ((u >>> 16) & 255)]!++; h[768 + (u >>> 24)]!++;
      h[1024 + (v & 255)]!++; h[1280 + ((v >>> 8) & 255)]!++; h[1536 + ((v >>> 16) & 255)]!++; h[1792 + (v >>> 24)]!++;
      h[2048 + (w & 255)]!++; h[2304 + ((w >>> 8) & 255)]!++; h[2560 + ((w >>> 16) & 255)]!++; h[2816 + (w >>> 24)]!++;
    }
    // Byte position s of each 12-byte group is channel s mod 3.
    for (let s = 0; s < 12; s++) for (let v = 0; v < 256; v++) out[s % 3]![v]! += h[s * 256 + v]!;
  } else {
    for (let i = 0; i < img.length; i += 3) { out[0]![img[i]!]!++; out[1]![img[i + 1]!]!++; out[2]![img[i + 2]!]!++; }
  }
  return out;
}

/** PIL ImageOps.autocontrast per band: cut `cutoff`% from both ends of the histogram, stretch [lo, hi] to [0, 255]. */
function autocontrastLut(hist: Float64Array, cutoff: number): Lut {
  const h = Float64Array.from(hist);
  if (cutoff) {
    const n = h.reduce((a, b) => a + b, 0);
    let cut = Math.floor((n * cutoff) / 100);
    for (let lo = 0; lo < 256 && cut > 0; lo++) {
      if (cut > h[lo]!) { cut -= h[lo]!; h[lo] = 0; } else { h[lo]! -= cut; cut = 0; }
    }
    cut = Math.floor((n * cutoff) / 100);
    for (let hi = 255; hi >= 0 && cut > 0; hi--) {
      if (cut > h[hi]!) { cut -= h[hi]!; h[hi] = 0; } else { h[hi]! -= cut; cut = 0; }
    }
  }
  let lo = 0, hi = 255;
  while (lo < 256 && !h[lo]) lo++;
  while (hi >= 0 && !h[hi]) hi--;
  if (hi <= lo) return Uint8Array.from({ length: 256 }, (_, i) => i);
  const scale = 255 / (hi - lo), offset = -lo * scale;
  return Uint8Array.from({ length: 256 }, (_, i) => Math.min(255, Math.max(0, Math.trunc(i * scale + offset))));
}

/** imgaug's _equalize_no_pil_ (PIL's algorithm) per channel. */
function equalizeLut(h: Float64Array): Lut {
  const identity = Uint8Array.from({ length: 256 }, (_, i) => i);
  if (h.filter((v) => v > 0).length <= 1) return identity;
  const step = Math.floor(h.slice(0, 255).reduce((a, b) => a + b, 0) / 255);
  if (!step) return identity;
  const n = Math.floor(step / 2);
  const lut = new Uint8Array(256);
  let cum = 0;
  for (let i = 0; i < 256; i++) {
    lut[i] = Math.min(255, Math.floor((n + cum) / step));
    cum += h[i]!;
  }
  return lut;
}

/**
 * The per-channel tables of the augmenters that map each channel's levels independently (gamma,
 * solarize, posterize, invert, autocontrast, equalize), or null for the others. `inputHistograms`
 * gives the per-channel histograms of the augmenter's input (called only by autocontrast and
 * equalize), so a chain of such augmenters composes into one table, and their histograms follow
 * from the first input's through the tables before them ({@link mapHistograms}).
 */
export function channelLuts(p: AugmenterParams, inputHistograms: () => Float64Array[]): [Lut, Lut, Lut] | null {
  const all = (lut: Lut): [Lut, Lut, Lut] => [lut, lut, lut];
  switch (p.name) {
    case 'gammaContrast': return p.gamma.map(gammaLut) as [Lut, Lut, Lut];
    case 'solarize': {
      const t = Math.trunc(p.threshold);
      return all(Uint8Array.from({ length: 256 }, (_, v) => (!p.apply || v < t ? v : 255 - v)));
    }
    case 'posterize': {
      const mask = (0xff << (8 - p.bits)) & 0xff;
      return all(Uint8Array.from({ length: 256 }, (_, v) => v & mask));
    }
    case 'invert': return all(Uint8Array.from({ length: 256 }, (_, v) => 255 - v));
    case 'autocontrast': return inputHistograms().map((h) => autocontrastLut(h, p.cutoff)) as [Lut, Lut, Lut];
    case 'equalize': return inputHistograms().map(equalizeLut) as [Lut, Lut, Lut];
    default: return null;
  }
}

/** The per-channel histograms of an image after per-channel tables: count h[v] moves to lut[v] (exact). */
export function mapHistograms(hist: readonly Float64Array[], luts: readonly Lut[]): Float64Array[] {
  return hist.map((h, c) => {
    const out = new Float64Array(256), lut = luts[c]!;
    for (let v = 0; v < 256; v++) out[lut[v]!]! += h[v]!;
    return out;
  });
}

/** Table b after table a, per channel. */
export function composeLuts(a: readonly Lut[], b: readonly Lut[]): [Lut, Lut, Lut] {
  return [0, 1, 2].map((c) => a[c]!.map((v) => b[c]![v]!)) as [Lut, Lut, Lut];
}

/**
 * Applies one augmenter to an 8-bit H×W×3 image, into `out` (a new array by default; never `img`
 * itself), and returns it. With `need` (a list of pixels), only the listed output pixels are
 * guaranteed; the others may be anything (the synthesis uses the augmented texture under the
 * anomaly mask only).
 */
export function applyAugmenter(img: Uint8Array, height: number, width: number, p: AugmenterParams, need: Need = null, out: Uint8Array = new Uint8Array(img.length)): Uint8Array {
  const luts = channelLuts(p, () => histograms(img));
  if (luts !== null) return applyLut(img, luts, need, out);
  switch (p.name) {
    case 'multiplyAndAddToBrightness': return brightness(img, p, need, out);
    case 'enhanceSharpness': return sharpness(img, height, width, p.factor, need, out);
    case 'addToHueAndSaturation': return hueSaturation(img, p.hue, p.saturation, need, out);
    case 'affine': {
      const m = rotationMatrix(p.degrees, height, width);
      if (isIdentity(m)) { out.set(img); return out; }
      return warpAffineU8(img, height, width, m, need, out);
    }
    default: throw new Error(`applyAugmenter: no rule for ${p.name}`);
  }
}

let degScratch = new Uint8Array(0);
function degBuffer(n: number): Uint8Array {
  if (degScratch.length !== n) degScratch = new Uint8Array(n);
  return degScratch;
}

/**
 * The input pixels an augmenter reads to produce the `need`ed output pixels (null = all):
 * pointwise ones read the same pixels, sharpness their 3×3 neighbourhoods, the rotation its
 * bilinear taps, and the histogram ones (autocontrast, equalize) every pixel.
 */
export function neededInput(p: AugmenterParams, height: number, width: number, need: Need): Need {
  if (need === null) return null;
  switch (p.name) {
    case 'autocontrast':
    case 'equalize':
      return null;
    case 'enhanceSharpness': {
      const read = new Uint8Array(height * width);
      for (let k = 0; k < need.length; k++) {
        const px = need[k]!, y = Math.floor(px / width), x = px - y * width;
        for (let yy = Math.max(0, y - 1); yy <= Math.min(height - 1, y + 1); yy++) {
          for (let xx = Math.max(0, x - 1); xx <= Math.min(width - 1, x + 1); xx++) read[yy * width + xx] = 1;
        }
      }
      return indicesOf(read);
    }
    case 'affine': {
      const m = rotationMatrix(p.degrees, height, width);
      return isIdentity(m) ? need : warpSources(m, height, width, need);
    }
    default:
      return need;
  }
}
