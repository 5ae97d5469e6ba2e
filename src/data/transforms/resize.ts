import { checkImage, toUint8, type Image } from '../image/types.js';

/**
 * Resize that reproduces Pillow's `Image.resize` (what torchvision's `Resize` does on PIL images).
 *
 * Facts taken from Pillow's libImaging/Resample.c:
 * - separable convolution, horizontal pass first (only over the rows the vertical pass needs), then vertical;
 * - output pixel i samples around center = (i + 0.5)·scale with scale = in/out; when downscaling the
 *   filter is stretched by scale (support·scale), which is the antialiasing;
 * - taps from xmin = trunc(center − support + 0.5) to trunc(center + support + 0.5), clipped to the image,
 *   weights filter((x − center + 0.5)/filterscale), normalised to sum 1;
 * - 8-bit data: weights become int32 in 22-bit fixed point (PRECISION_BITS = 32 − 8 − 2), rounded half
 *   away from zero; each sum starts at 2^21 (rounding) and is clipped to 0..255 after >> 22; the
 *   intermediate image between the passes is 8-bit too.
 * NEAREST goes through Pillow's affine scaler instead: source index = trunc(a·(i + 0.5)) with the
 * position accumulated by repeated addition, as Geometry.c does.
 */

export type Interpolation = 'nearest' | 'bilinear' | 'bicubic' | 'lanczos' | 'box' | 'hamming';

export interface ResizeOptions {
  interpolation?: Interpolation;
  /**
   * Stretch the filter when downscaling (Pillow always does; torch's antialias=True). Default true.
   * false gives plain interpolation (torch antialias=False for bilinear; bicubic keeps a = −0.5).
   */
  antialias?: boolean;
  /**
   * 'uint8' (default): quantise to 8 bits and run Pillow's fixed-point code, bit-exact with PIL for
   * 8-bit sources. 'float': same weights in double precision on float data (≈ torch tensor resize
   * with antialias=True), for 16-bit or already processed images.
   */
  precision?: 'uint8' | 'float';
}

/** torchvision semantics: a number resizes the shorter side (long side = trunc(size·long/short)); [h, w] is exact. */
export type ResizeSize = number | readonly [number, number];

export function outputSize(height: number, width: number, size: ResizeSize): [number, number] {
  if (typeof size === 'number') {
    if (!Number.isInteger(size) || size <= 0) throw new Error(`resize: size must be a positive integer, got ${size}`);
    if (width <= height) return [Math.trunc((size * height) / width), size];
    return [size, Math.trunc((size * width) / height)];
  }
  const [h, w] = size;
  if (!Number.isInteger(h) || !Number.isInteger(w) || h <= 0 || w <= 0) {
    throw new Error(`resize: size must be positive integers [height, width], got [${h}, ${w}]`);
  }
  return [h, w];
}

interface Filter {
  fn: (x: number) => number;
  support: number;
}

const FILTERS: Record<Exclude<Interpolation, 'nearest'>, Filter> = {
  box: { fn: (x) => (x > -0.5 && x <= 0.5 ? 1 : 0), support: 0.5 },
  bilinear: {
    fn: (x) => {
      x = Math.abs(x);
      return x < 1 ? 1 - x : 0;
    },
    support: 1,
  },
  hamming: {
    fn: (x) => {
      x = Math.abs(x);
      if (x === 0) return 1;
      if (x >= 1) return 0;
      x *= Math.PI;
      // Pillow writes the constants as C floats (0.54f, 0.46f).
      return (Math.sin(x) / x) * (Math.fround(0.54) + Math.fround(0.46) * Math.cos(x));
    },
    support: 1,
  },
  bicubic: {
    fn: (x) => {
      const a = -0.5;
      x = Math.abs(x);
      if (x < 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
      if (x < 2) return (((x - 5) * x + 8) * x - 4) * a;
      return 0;
    },
    support: 2,
  },
  lanczos: {
    fn: (x) => (x >= -3 && x < 3 ? sinc(x) * sinc(x / 3) : 0),
    support: 3,
  },
};

function sinc(x: number): number {
  if (x === 0) return 1;
  x *= Math.PI;
  return Math.sin(x) / x;
}

interface Coeffs {
  ksize: number;
  bounds: Int32Array; // [xmin, count] per output
  weights: Float64Array; // outSize × ksize
}

function precompute(inSize: number, outSize: number, filter: Filter, antialias: boolean): Coeffs {
  const scale = inSize / outSize;
  const filterscale = antialias && scale > 1 ? scale : 1;
  const support = filter.support * filterscale;
  const ksize = Math.ceil(support) * 2 + 1;
  const bounds = new Int32Array(outSize * 2);
  const weights = new Float64Array(outSize * ksize);
  const ss = 1 / filterscale;
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale;
    let xmin = Math.trunc(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    let xmax = Math.trunc(center + support + 0.5);
    if (xmax > inSize) xmax = inSize;
    xmax -= xmin;
    let ww = 0;
    const k = xx * ksize;
    for (let x = 0; x < xmax; x++) {
      const w = filter.fn((x + xmin - center + 0.5) * ss);
      weights[k + x] = w;
      ww += w;
    }
    if (ww !== 0) for (let x = 0; x < xmax; x++) weights[k + x] = weights[k + x]! / ww;
    bounds[xx * 2] = xmin;
    bounds[xx * 2 + 1] = xmax;
  }
  return { ksize, bounds, weights };
}

const PRECISION_BITS = 32 - 8 - 2;

function fixedPoint(w: Float64Array): Int32Array {
  const out = new Int32Array(w.length);
  const one = 1 << PRECISION_BITS;
  for (let i = 0; i < w.length; i++) {
    const v = w[i]!;
    out[i] = v < 0 ? Math.trunc(-0.5 + v * one) : Math.trunc(0.5 + v * one);
  }
  return out;
}

function clip8(ss: number): number {
  const v = ss >> PRECISION_BITS;
  return v < 0 ? 0 : v > 255 ? 255 : v;
}

/** Resizes every channel plane. */
export function resize(img: Image, size: ResizeSize, opts: ResizeOptions = {}): Image {
  checkImage(img, 'resize');
  const [oh, ow] = outputSize(img.height, img.width, size);
  const interpolation = opts.interpolation ?? 'bilinear';
  const precision = opts.precision ?? 'uint8';
  if (!(interpolation in FILTERS) && interpolation !== 'nearest') {
    throw new Error(`resize: unknown interpolation '${String(interpolation)}' (use nearest, bilinear, bicubic, lanczos, box or hamming)`);
  }
  const { channels, height: ih, width: iw } = img;
  if (oh === ih && ow === iw) {
    // Pillow returns a copy; in uint8 mode the copy is still quantised, as a PIL round trip would be.
    return { ...img, data: precision === 'uint8' ? quantised(img.data) : img.data.slice() };
  }
  const out = new Float32Array(channels * oh * ow);
  if (interpolation === 'nearest') {
    const xs = nearestIndex(iw, ow);
    const ys = nearestIndex(ih, oh);
    const src = precision === 'uint8' ? quantised(img.data) : img.data;
    for (let c = 0; c < channels; c++) {
      const si = c * ih * iw;
      const so = c * oh * ow;
      for (let y = 0; y < oh; y++) for (let x = 0; x < ow; x++) out[so + y * ow + x] = src[si + ys[y]! * iw + xs[x]!]!;
    }
    return { data: out, channels, height: oh, width: ow };
  }
  const filter = FILTERS[interpolation];
  const antialias = opts.antialias ?? true;
  const vert = precompute(ih, oh, filter, antialias);
  const needH = ow !== iw;
  const needV = oh !== ih;
  // Rows of the source actually read by the vertical pass.
  const yFirst = needV ? vert.bounds[0]! : 0;
  const yLast = needV ? vert.bounds[(oh - 1) * 2]! + vert.bounds[(oh - 1) * 2 + 1]! : ih;
  const horiz = needH ? precompute(iw, ow, filter, antialias) : null;
  const plane = ih * iw;
  if (precision === 'uint8') {
    const q = toUint8(img.data);
    const kh = horiz ? fixedPoint(horiz.weights) : null;
    const kv = fixedPoint(vert.weights);
    const tmpRows = yLast - yFirst;
    for (let c = 0; c < channels; c++) {
      let tmp: Uint8Array;
      let tw: number;
      let rowOffset: number;
      if (horiz && kh) {
        tw = ow;
        tmp = new Uint8Array(tmpRows * ow);
        for (let y = 0; y < tmpRows; y++) {
          const row = c * plane + (y + yFirst) * iw;
          for (let xx = 0; xx < ow; xx++) {
            const xmin = horiz.bounds[xx * 2]!;
            const n = horiz.bounds[xx * 2 + 1]!;
            const k = xx * horiz.ksize;
            let ss = 1 << (PRECISION_BITS - 1);
            for (let x = 0; x < n; x++) ss += q[row + xmin + x]! * kh[k + x]!;
            tmp[y * ow + xx] = clip8(ss);
          }
        }
        rowOffset = yFirst;
      } else {
        tw = iw;
        tmp = q.subarray(c * plane, (c + 1) * plane);
        rowOffset = 0;
      }
      const so = c * oh * ow;
      if (needV) {
        for (let yy = 0; yy < oh; yy++) {
          const ymin = vert.bounds[yy * 2]! - rowOffset;
          const n = vert.bounds[yy * 2 + 1]!;
          const k = yy * vert.ksize;
          for (let xx = 0; xx < tw; xx++) {
            let ss = 1 << (PRECISION_BITS - 1);
            for (let y = 0; y < n; y++) ss += tmp[(ymin + y) * tw + xx]! * kv[k + y]!;
            out[so + yy * ow + xx] = clip8(ss) / 255;
          }
        }
      } else {
        for (let i = 0; i < oh * ow; i++) out[so + i] = tmp[i]! / 255;
      }
    }
    return { data: out, channels, height: oh, width: ow };
  }
  const src = img.data;
  const tmpRows = yLast - yFirst;
  for (let c = 0; c < channels; c++) {
    let tmp: Float32Array;
    let tw: number;
    let rowOffset: number;
    if (horiz) {
      tw = ow;
      tmp = new Float32Array(tmpRows * ow);
      for (let y = 0; y < tmpRows; y++) {
        const row = c * plane + (y + yFirst) * iw;
        for (let xx = 0; xx < ow; xx++) {
          const xmin = horiz.bounds[xx * 2]!;
          const n = horiz.bounds[xx * 2 + 1]!;
          const k = xx * horiz.ksize;
          let ss = 0;
          for (let x = 0; x < n; x++) ss += src[row + xmin + x]! * horiz.weights[k + x]!;
          tmp[y * ow + xx] = ss;
        }
      }
      rowOffset = yFirst;
    } else {
      tw = iw;
      tmp = src.subarray(c * plane, (c + 1) * plane);
      rowOffset = 0;
    }
    const so = c * oh * ow;
    if (needV) {
      for (let yy = 0; yy < oh; yy++) {
        const ymin = vert.bounds[yy * 2]! - rowOffset;
        const n = vert.bounds[yy * 2 + 1]!;
        const k = yy * vert.ksize;
        for (let xx = 0; xx < tw; xx++) {
          let ss = 0;
          for (let y = 0; y < n; y++) ss += tmp[(ymin + y) * tw + xx]! * vert.weights[k + y]!;
          out[so + yy * ow + xx] = ss;
        }
      }
    } else {
      out.set(tmp.subarray(0, oh * ow), so);
    }
  }
  return { data: out, channels, height: oh, width: ow };
}

// Pillow's ImagingScaleAffine: position starts at a/2 and is advanced by repeated addition.
function nearestIndex(inSize: number, outSize: number): Int32Array {
  const a = inSize / outSize;
  const idx = new Int32Array(outSize);
  let pos = a * 0.5;
  for (let i = 0; i < outSize; i++) {
    const v = pos < 0 ? -1 : Math.trunc(pos);
    idx[i] = Math.min(Math.max(v, 0), inSize - 1);
    pos += a;
  }
  return idx;
}

function quantised(data: Float32Array): Float32Array {
  const q = toUint8(data);
  const out = new Float32Array(q.length);
  for (let i = 0; i < q.length; i++) out[i] = q[i]! / 255;
  return out;
}
