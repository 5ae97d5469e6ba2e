// Rotation as imgaug's `Affine(rotate=θ)` does it with its cv2 backend (imgaug 0.4.0, OpenCV 4.5):
// the matrix is imgaug's composition about the centre ((W−1)/2, (H−1)/2) and the resampling is
// cv2.warpAffine(INTER_LINEAR, BORDER_CONSTANT 0), reproduced exactly: the inverse map in double,
// source coordinates in 1/32-pixel fixed point (AB_BITS 10, INTER_BITS 5, saturate_cast = round
// half to even), and bilinear weights from 32×32 tables — 15-bit integer weights with rounding for
// uint8, float weights for float64. Pixels outside the source count as 0. 8-bit images are
// interleaved H×W×3 (all DRAEM rotates).

/** 2×3 forward matrix [a b c; d e f] (x = column, y = row), as skimage's params[:2]. */
export type Affine2x3 = [number, number, number, number, number, number];

import { indicesOf } from './need.js';

type M3 = number[];
const mul = (a: M3, b: M3): M3 => [
  a[0]! * b[0]! + a[1]! * b[3]! + a[2]! * b[6]!, a[0]! * b[1]! + a[1]! * b[4]! + a[2]! * b[7]!, a[0]! * b[2]! + a[1]! * b[5]! + a[2]! * b[8]!,
  a[3]! * b[0]! + a[4]! * b[3]! + a[5]! * b[6]!, a[3]! * b[1]! + a[4]! * b[4]! + a[5]! * b[7]!, a[3]! * b[2]! + a[4]! * b[5]! + a[5]! * b[8]!,
  a[6]! * b[0]! + a[7]! * b[3]! + a[8]! * b[6]!, a[6]! * b[1]! + a[7]! * b[4]! + a[8]! * b[7]!, a[6]! * b[2]! + a[7]! * b[5]! + a[8]! * b[8]!,
];
const translate = (tx: number, ty: number): M3 => [1, 0, tx, 0, 1, ty, 0, 0, 1];
const rotation = (r: number): M3 => [Math.cos(r), -Math.sin(r), 0, Math.sin(r), Math.cos(r), 0, 0, 0, 1];

/**
 * imgaug's Affine matrix for a rotation of `degrees` on an H×W image: to_topleft, the shear-y
 * rotations (±3.141592/2, shear 0), the rotation, to_center, composed as skimage's `+` does.
 */
export function rotationMatrix(degrees: number, height: number, width: number): Affine2x3 {
  const sy = height / 2 - 0.5;
  const sx = width / 2 - 0.5;
  const chain = [translate(-sx, -sy), rotation(-3.141592 / 2), rotation(0), rotation(3.141592 / 2), rotation((degrees * Math.PI) / 180), translate(sx, sy)];
  let m = chain[0]!;
  for (const t of chain.slice(1)) m = mul(t, m);
  return [m[0]!, m[1]!, m[2]!, m[3]!, m[4]!, m[5]!];
}

/** imgaug's `_is_identity_matrix` (mean |M − I| ≤ 1e-4 over the 3×3): such images are returned unchanged. */
export function isIdentity(m: Affine2x3): boolean {
  const d = Math.abs(m[0] - 1) + Math.abs(m[1]) + Math.abs(m[2]) + Math.abs(m[3]) + Math.abs(m[4] - 1) + Math.abs(m[5]);
  return d / 9 <= 1e-4;
}

/** cvRound: nearest integer, ties to even (lrint in the default rounding mode). */
function cvRound(v: number): number {
  const r = Math.round(v);
  return r - v === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * warpAffine's inverse map in fixed point: for destination row y and column x the source position
 * in 1/32 pixel is ((x0(y) + adelta[x]) >> 5, (y0(y) + bdelta[x]) >> 5), as OpenCV computes it.
 */
interface InverseMap {
  adelta: Int32Array;
  bdelta: Int32Array;
  /** x0(y), y0(y) per destination row. */
  x0: Int32Array;
  y0: Int32Array;
}

function inverseMap(m: Affine2x3, height: number, width: number): InverseMap {
  let [a, b, c, d, e, f] = m;
  let det = a * e - b * d;
  det = det !== 0 ? 1 / det : 0;
  const a11 = e * det, a22 = a * det;
  a = a11; b *= -det; d *= -det; e = a22;
  const c2 = -a * c - b * f;
  const f2 = -d * c - e * f;
  const out: InverseMap = { adelta: new Int32Array(width), bdelta: new Int32Array(width), x0: new Int32Array(height), y0: new Int32Array(height) };
  for (let x = 0; x < width; x++) {
    out.adelta[x] = cvRound(a * x * 1024);
    out.bdelta[x] = cvRound(d * x * 1024);
  }
  for (let y = 0; y < height; y++) {
    out.x0[y] = cvRound((b * y + c2) * 1024) + 16;
    out.y0[y] = cvRound((e * y + f2) * 1024) + 16;
  }
  return out;
}

/** The 15-bit bilinear weights of each 1/32-pixel fraction fy·32 + fx: (32 − fy)(32 − fx)·32 etc. */
const W15 = (() => {
  const w = new Int32Array(4 * 1024);
  for (let fy = 0; fy < 32; fy++) {
    for (let fx = 0; fx < 32; fx++) {
      const k = 4 * (fy * 32 + fx);
      // The 32768 entry saturates to 32767, which cannot change a rounded 8-bit result.
      w[k] = Math.min((32 - fy) * (32 - fx) * 32, 32767); w[k + 1] = (32 - fy) * fx * 32; w[k + 2] = fy * (32 - fx) * 32; w[k + 3] = fy * fx * 32;
    }
  }
  return w;
})();

/**
 * cv2.warpAffine of an interleaved 8-bit H×W×3 image, INTER_LINEAR, constant border 0. Returns
 * `out` (a new array by default). With `need` (a list of pixels) only those destination pixels are
 * computed; the others are 0.
 */
export function warpAffineU8(src: Uint8Array, height: number, width: number, m: Affine2x3, need: Int32Array | null = null, out?: Uint8Array): Uint8Array {
  const map = inverseMap(m, height, width);
  if (out === undefined) out = new Uint8Array(src.length);
  else out.fill(0);
  const count = need === null ? height * width : need.length;
  for (let k = 0; k < count; k++) {
    const px = need === null ? k : need[k]!;
    const yd = Math.floor(px / width);
    const v = warpPixel3(src, height, width, map, yd, px - yd * width);
    out[3 * px] = v & 255; out[3 * px + 1] = (v >> 8) & 255; out[3 * px + 2] = v >> 16;
  }
  return out;
}

/**
 * {@link warpAffineU8} over every pixel, written as planar float32 through `lut` (value → float)
 * into both `a` and `b` from `offset` (the synthesis's clean image and its network input).
 */
export function warpAffineU8ToPlanar(src: Uint8Array, height: number, width: number, m: Affine2x3, lut: Float32Array, a: Float32Array, b: Float32Array, offset: number): void {
  const map = inverseMap(m, height, width);
  const { adelta, bdelta, x0, y0 } = map;
  const n = height * width, o1 = offset + n, o2 = offset + 2 * n, row = width * 3, xMax = width - 1, yMax = height - 1;
  for (let yd = 0, p = 0; yd < height; yd++) {
    const xr = x0[yd]!, yr = y0[yd]!;
    for (let xd = 0; xd < width; xd++, p++) {
      // Interior pixels inline (every sample with an input rotation goes through here); pixels
      // whose taps leave the image through warpPixel3.
      const X = (xr + adelta[xd]!) >> 5, Y = (yr + bdelta[xd]!) >> 5;
      const x = X >> 5, y = Y >> 5;
      let c0: number, c1: number, c2: number;
      if (x >= 0 && x < xMax && y >= 0 && y < yMax) {
        const k = 4 * (((Y & 31) << 5) | (X & 31));
        const w00 = W15[k]!, w01 = W15[k + 1]!, w10 = W15[k + 2]!, w11 = W15[k + 3]!;
        const s = y * row + x * 3, q = s + row;
        c0 = lut[(src[s]! * w00 + src[s + 3]! * w01 + src[q]! * w10 + src[q + 3]! * w11 + 16384) >> 15]!;
        c1 = lut[(src[s + 1]! * w00 + src[s + 4]! * w01 + src[q + 1]! * w10 + src[q + 4]! * w11 + 16384) >> 15]!;
        c2 = lut[(src[s + 2]! * w00 + src[s + 5]! * w01 + src[q + 2]! * w10 + src[q + 5]! * w11 + 16384) >> 15]!;
      } else if (x >= width || x < -1 || y >= height || y < -1) {
        // Outside the source (a rotated image's corners): 0.
        c0 = c1 = c2 = lut[0]!;
      } else {
        const v = warpPixel3(src, height, width, map, yd, xd);
        c0 = lut[v & 255]!; c1 = lut[(v >> 8) & 255]!; c2 = lut[v >> 16]!;
      }
      a[offset + p] = c0; a[o1 + p] = c1; a[o2 + p] = c2;
    }
  }
  // A memcpy costs less than a second store per value.
  b.set(a.subarray(offset, offset + 3 * n), offset);
}

/** The three channels of destination pixel (yd, xd), packed c0 | c1 << 8 | c2 << 16 (0 where it maps outside). */
function warpPixel3(src: Uint8Array, height: number, width: number, map: InverseMap, yd: number, xd: number): number {
  const X = (map.x0[yd]! + map.adelta[xd]!) >> 5, Y = (map.y0[yd]! + map.bdelta[xd]!) >> 5;
  const x = X >> 5, y = Y >> 5;
  if (x >= width || x < -1 || y >= height || y < -1) return 0;
  const k = 4 * (((Y & 31) << 5) | (X & 31));
  const w00 = W15[k]!, w01 = W15[k + 1]!, w10 = W15[k + 2]!, w11 = W15[k + 3]!;
  const row = width * 3;
  const p = y * row + x * 3, q = p + row;
  // The weights sum to at most 32768, so no result exceeds 255.
  if (x >= 0 && x + 1 < width && y >= 0 && y + 1 < height) {
    return ((src[p]! * w00 + src[p + 3]! * w01 + src[q]! * w10 + src[q + 3]! * w11 + 16384) >> 15)
      | (((src[p + 1]! * w00 + src[p + 4]! * w01 + src[q + 1]! * w10 + src[q + 4]! * w11 + 16384) >> 15) << 8)
      | (((src[p + 2]! * w00 + src[p + 5]! * w01 + src[q + 2]! * w10 + src[q + 5]! * w11 + 16384) >> 15) << 16);
  }
  // Border pixels: taps outside the source count as 0.
  const inX0 = x >= 0, inX1 = x + 1 < width, inY0 = y >= 0, inY1 = y + 1 < height;
  let v = 0;
  for (let c = 0; c < 3; c++) {
    const v00 = inY0 && inX0 ? src[p + c]! : 0;
    const v01 = inY0 && inX1 ? src[p + c + 3]! : 0;
    const v10 = inY1 && inX0 ? src[q + c]! : 0;
    const v11 = inY1 && inX1 ? src[q + c + 3]! : 0;
    v |= ((v00 * w00 + v01 * w01 + v10 * w10 + v11 * w11 + 16384) >> 15) << (8 * c);
  }
  return v;
}

/** The source pixels (a list, ascending) that warpAffine's bilinear taps read for the `need`ed destination pixels. */
export function warpSources(m: Affine2x3, height: number, width: number, need: Int32Array): Int32Array {
  const { adelta, bdelta, x0, y0 } = inverseMap(m, height, width);
  const read = new Uint8Array(height * width);
  for (let k = 0; k < need.length; k++) {
    const yd = Math.floor(need[k]! / width), xd = need[k]! - yd * width;
    const x = ((x0[yd]! + adelta[xd]!) >> 5) >> 5, y = ((y0[yd]! + bdelta[xd]!) >> 5) >> 5;
    for (let yy = y; yy <= y + 1; yy++) {
      if (yy < 0 || yy >= height) continue;
      if (x >= 0 && x < width) read[yy * width + x] = 1;
      if (x + 1 >= 0 && x + 1 < width) read[yy * width + x + 1] = 1;
    }
  }
  return indicesOf(read);
}

/** warpAffine's float bilinear weights of each fraction fy·32 + fx: (1 − fy)(1 − fx), (1 − fy)fx, fy(1 − fx), fy·fx. */
const WF = (() => {
  const w = new Float64Array(4 * 1024);
  for (let k = 0; k < 1024; k++) {
    const fx = (k & 31) / 32, fy = (k >> 5) / 32;
    w[4 * k] = (1 - fy) * (1 - fx); w[4 * k + 1] = (1 - fy) * fx; w[4 * k + 2] = fy * (1 - fx); w[4 * k + 3] = fy * fx;
  }
  return w;
})();

/**
 * cv2.warpAffine of a single-channel float64 H×W array (INTER_LINEAR, constant border 0), each
 * result compared with `threshold`: returns the pixels (ascending) where it is greater; the float
 * results are not kept.
 */
export function warpAffineAboveF64(src: Float64Array, height: number, width: number, m: Affine2x3, threshold: number, hotTiles?: Uint8Array): Int32Array {
  const map = inverseMap(m, height, width);
  const { adelta, bdelta, x0, y0 } = map;
  // Pixels that map outside the source are 0.
  const outside = 0 > threshold;
  const near = nearTiles(src, height, width, threshold, hotTiles);
  const above = listBuffer(height * width);
  let count = 0;
  for (let yd = 0; yd < height; yd++) {
    const xr = x0[yd]!, yr = y0[yd]!;
    for (let x8 = 0; x8 < width; x8 += 8) {
      const end = Math.min(width, x8 + 8);
      if (near !== null && !near.any(xr, yr, adelta, bdelta, x8, end - 1)) continue;
      for (let xd = x8, o = yd * width + x8; xd < end; xd++, o++) {
        const X = (xr + adelta[xd]!) >> 5, Y = (yr + bdelta[xd]!) >> 5;
        const x = X >> 5, y = Y >> 5;
        if (x >= width || x < -1 || y >= height || y < -1) {
          if (outside) above[count++] = o;
          continue;
        }
        const k = 4 * (((Y & 31) << 5) | (X & 31));
        const p = y * width + x;
        let v00 = 0, v01 = 0, v10 = 0, v11 = 0;
        if (x >= 0 && x + 1 < width && y >= 0 && y + 1 < height) {
          v00 = src[p]!; v01 = src[p + 1]!; v10 = src[p + width]!; v11 = src[p + width + 1]!;
        } else {
          const inX0 = x >= 0, inX1 = x + 1 < width, inY0 = y >= 0, inY1 = y + 1 < height;
          if (inY0 && inX0) v00 = src[p]!;
          if (inY0 && inX1) v01 = src[p + 1]!;
          if (inY1 && inX0) v10 = src[p + width]!;
          if (inY1 && inX1) v11 = src[p + width + 1]!;
        }
        if (v00 * WF[k]! + v01 * WF[k + 1]! + v10 * WF[k + 2]! + v11 * WF[k + 3]! > threshold) above[count++] = o;
      }
    }
  }
  return above.slice(0, count);
}

const TILE_BITS = 3;
/** Values above this may take a bilinear result above `threshold` (rounding margin). */
export const nearValue = (threshold: number): number => threshold - 1e-9;
/**
 * Where a source holds values near a threshold, by 8×8 tiles, to skip runs of 8 destination
 * pixels that cannot exceed it (the anomaly mask is ~5 % of the image). A bilinear result is a
 * convex combination of its four taps (weights are multiples of 1/1024 summing to exactly 1), so it
 * exceeds the threshold only if a tap is above threshold − 1e-9. The taps of a run lie in the box of
 * its end pixels' top-left taps, widened by one pixel for the fixed-point rounding and one for the
 * right/lower taps; `any` asks an integral image of the tiles holding such values about that box.
 * null when threshold ≤ 1e-9 (pixels outside the source, 0, would then count). `known`: the tiles
 * holding a value above nearValue(threshold), when the caller flagged them while making `src`.
 */
function nearTiles(src: Float64Array, height: number, width: number, threshold: number, known?: Uint8Array) {
  if (!(threshold > 1e-9)) return null;
  const tw = ((width - 1) >> TILE_BITS) + 1, th = ((height - 1) >> TILE_BITS) + 1;
  let hot = known;
  if (hot === undefined) {
    const near = nearValue(threshold);
    hot = new Uint8Array(tw * th);
    for (let y = 0, p = 0; y < height; y++) {
      const row = (y >> TILE_BITS) * tw;
      for (let x = 0; x < width; x++, p++) if (src[p]! > near) hot[row + (x >> TILE_BITS)] = 1;
    }
  } else if (hot.length !== tw * th) {
    throw new RangeError(`warpAffineAboveF64: ${hot.length} tile flags for ${tw}×${th} tiles`);
  }
  // sum[(ty + 1)(tw + 1) + tx + 1] = hot tiles in rows ≤ ty, columns ≤ tx.
  const sw = tw + 1;
  const sum = new Int32Array(sw * (th + 1));
  for (let ty = 0; ty < th; ty++) {
    for (let tx = 0, run = 0; tx < tw; tx++) {
      run += hot[ty * tw + tx]!;
      sum[(ty + 1) * sw + tx + 1] = sum[ty * sw + tx + 1]! + run;
    }
  }
  const tile = (v: number, n: number): number => (v < 0 ? 0 : v >= n ? n - 1 : v) >> TILE_BITS;
  return {
    any(xr: number, yr: number, adelta: Int32Array, bdelta: Int32Array, first: number, last: number): boolean {
      const xa = (xr + adelta[first]!) >> 10, ya = (yr + bdelta[first]!) >> 10;
      const xb = (xr + adelta[last]!) >> 10, yb = (yr + bdelta[last]!) >> 10;
      const tx1 = tile(Math.min(xa, xb) - 1, width), tx2 = tile(Math.max(xa, xb) + 2, width);
      const ty1 = tile(Math.min(ya, yb) - 1, height), ty2 = tile(Math.max(ya, yb) + 2, height);
      return sum[(ty2 + 1) * sw + tx2 + 1]! - sum[ty1 * sw + tx2 + 1]! - sum[(ty2 + 1) * sw + tx1]! + sum[ty1 * sw + tx1]! > 0;
    },
  };
}

/** A reused room for pixel lists of up to n entries (the synthesis copies out what it keeps). */
let lists = new Int32Array(0);
function listBuffer(n: number): Int32Array {
  if (lists.length < n) lists = new Int32Array(n);
  return lists;
}

/** imgaug's Affine(rotate=degrees) on an interleaved 8-bit H×W×3 image (unchanged if the matrix is ≈ identity), into `out` if given. */
export function rotateU8(src: Uint8Array, height: number, width: number, degrees: number, out?: Uint8Array): Uint8Array {
  const m = rotationMatrix(degrees, height, width);
  if (!isIdentity(m)) return warpAffineU8(src, height, width, m, null, out);
  if (out === undefined) return src.slice();
  out.set(src);
  return out;
}

/** imgaug's Affine(rotate=degrees) on a float64 H×W array, thresholded: the pixels (ascending) where the result is > `threshold`. */
export function rotateAboveF64(src: Float64Array, height: number, width: number, degrees: number, threshold: number, hotTiles?: Uint8Array): Int32Array {
  const m = rotationMatrix(degrees, height, width);
  if (!isIdentity(m)) return warpAffineAboveF64(src, height, width, m, threshold, hotTiles);
  const above = listBuffer(src.length);
  let count = 0;
  for (let i = 0; i < src.length; i++) if (src[i]! > threshold) above[count++] = i;
  return above.slice(0, count);
}
