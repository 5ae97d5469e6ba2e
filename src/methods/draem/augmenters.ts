// The ten imgaug augmenters of the authors' MVTecDRAEMTrainDataset (data_loader.py), on 8-bit
// H×W×3 interleaved images, each split into `sample` (its random parameters, drawn from the
// ranges imgaug 0.4.0 uses for the authors' arguments) and `apply` (deterministic given them).
// Every image they see is BGR (cv2.imread); per-channel augmenters do not care, and the two
// colour-space ones treat channel 0 as R, as imgaug does with the BGR arrays the authors pass.
import type { Rng } from '../../data/random.js';
import { BRIGHTNESS_CHANNEL, BRIGHTNESS_COLORSPACES, fromRgb, toRgb, type Colorspace } from './colour.js';
import { rotateU8 } from './warp.js';

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

type Lut = Uint8Array;
const f32 = Math.fround;

function applyLut(img: Uint8Array, luts: readonly Lut[]): Uint8Array {
  const out = new Uint8Array(img.length);
  const c = luts.length;
  for (let i = 0; i < img.length; i++) out[i] = luts[i % c]![img[i]!]!;
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

function brightness(img: Uint8Array, p: Extract<AugmenterParams, { name: 'multiplyAndAddToBrightness' }>): Uint8Array {
  const cvt = fromRgb(img, p.colorspace);
  const ch = BRIGHTNESS_CHANNEL[p.colorspace];
  const [first, second] = p.addFirst ? [addLut(p.add), mulLut(p.mul)] : [mulLut(p.mul), addLut(p.add)];
  for (let i = ch; i < cvt.length; i += 3) cvt[i] = second[first[cvt[i]!]!]!;
  return toRgb(cvt, p.colorspace);
}

/** PIL ImageEnhance.Sharpness: blend(SMOOTH-filtered, image, factor); SMOOTH = [1 1 1; 1 5 1; 1 1 1]/13 in float32, borders copied. */
function sharpness(img: Uint8Array, h: number, w: number, factor: number): Uint8Array {
  const k1 = f32(1 / 13), k5 = f32(5 / 13);
  const deg = img.slice();
  const row = w * 3;
  const k3 = (p: number, center: number): number => f32(f32(f32(img[p - 3]! * k1) + f32(img[p]! * center)) + f32(img[p + 3]! * k1));
  for (let y = 1; y < h - 1; y++) {
    for (let x = 1; x < w - 1; x++) {
      for (let c = 0; c < 3; c++) {
        const p = y * row + x * 3 + c;
        let ss = f32(0.5 + k3(p + row, k1));
        ss = f32(ss + k3(p, k5));
        ss = f32(ss + k3(p - row, k1));
        deg[p] = ss <= 0 ? 0 : ss >= 255 ? 255 : Math.trunc(ss);
      }
    }
  }
  const a = f32(factor);
  if (a === 0) return deg;
  if (a === 1) return img.slice();
  const out = new Uint8Array(img.length);
  for (let i = 0; i < img.length; i++) {
    const t = f32(deg[i]! + f32(a * (img[i]! - deg[i]!)));
    out[i] = a <= 1 ? Math.trunc(t) : t <= 0 ? 0 : t >= 255 ? 255 : Math.trunc(t);
  }
  return out;
}

function hueSaturation(img: Uint8Array, hue: number, saturation: number): Uint8Array {
  const hsv = fromRgb(img, 'HSV');
  // OpenCV's hue is in [0, 180): imgaug maps the value v to int(float32(v)/255·180).
  const dh = Math.trunc(f32(f32(f32(hue) / 255) * 180));
  for (let i = 0; i < hsv.length; i += 3) {
    hsv[i] = (((hsv[i]! + dh) % 180) + 180) % 180;
    hsv[i + 1] = Math.min(255, Math.max(0, hsv[i + 1]! + saturation));
  }
  return toRgb(hsv, 'HSV');
}

/** Per-channel histograms of an interleaved image. */
function histograms(img: Uint8Array): Float64Array[] {
  const hs = [new Float64Array(256), new Float64Array(256), new Float64Array(256)];
  for (let i = 0; i < img.length; i++) hs[i % 3]![img[i]!]! += 1;
  return hs;
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

/** Applies one augmenter to an 8-bit H×W×3 image; returns a new array. */
export function applyAugmenter(img: Uint8Array, height: number, width: number, p: AugmenterParams): Uint8Array {
  switch (p.name) {
    case 'gammaContrast': return applyLut(img, p.gamma.map(gammaLut));
    case 'multiplyAndAddToBrightness': return brightness(img, p);
    case 'enhanceSharpness': return sharpness(img, height, width, p.factor);
    case 'addToHueAndSaturation': return hueSaturation(img, p.hue, p.saturation);
    case 'solarize': {
      if (!p.apply) return img.slice();
      const t = Math.trunc(p.threshold);
      return applyLut(img, [Uint8Array.from({ length: 256 }, (_, v) => (v < t ? v : 255 - v))]);
    }
    case 'posterize': {
      const mask = (0xff << (8 - p.bits)) & 0xff;
      return applyLut(img, [Uint8Array.from({ length: 256 }, (_, v) => v & mask)]);
    }
    case 'invert': return applyLut(img, [Uint8Array.from({ length: 256 }, (_, v) => 255 - v)]);
    case 'autocontrast': return applyLut(img, histograms(img).map((h) => autocontrastLut(h, p.cutoff)));
    case 'equalize': return applyLut(img, histograms(img).map(equalizeLut));
    case 'affine': return rotateU8(img, height, width, 3, p.degrees);
  }
}
