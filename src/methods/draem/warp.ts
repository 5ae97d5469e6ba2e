// Rotation as imgaug's `Affine(rotate=θ)` does it with its cv2 backend (imgaug 0.4.0, OpenCV 4.5):
// the matrix is imgaug's composition about the centre ((W−1)/2, (H−1)/2) and the resampling is
// cv2.warpAffine(INTER_LINEAR, BORDER_CONSTANT 0), reproduced exactly: the inverse map in double,
// source coordinates in 1/32-pixel fixed point (AB_BITS 10, INTER_BITS 5, saturate_cast = round
// half to even), and bilinear weights from 32×32 tables — 15-bit integer weights with rounding for
// uint8, float weights for float64. Pixels outside the source count as 0.

/** 2×3 forward matrix [a b c; d e f] (x = column, y = row), as skimage's params[:2]. */
export type Affine2x3 = [number, number, number, number, number, number];

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

interface Coords {
  /** Integer source column/row of the top-left tap, per destination pixel. */
  sx: Int32Array;
  sy: Int32Array;
  /** Fractional parts in 1/32: fy·32 + fx. */
  frac: Int32Array;
}

/** warpAffine's per-pixel source coordinates for an H×W destination (forward matrix m). */
function sourceCoords(m: Affine2x3, height: number, width: number): Coords {
  let [a, b, c, d, e, f] = m;
  let det = a * e - b * d;
  det = det !== 0 ? 1 / det : 0;
  const a11 = e * det, a22 = a * det;
  a = a11; b *= -det; d *= -det; e = a22;
  const c2 = -a * c - b * f;
  const f2 = -d * c - e * f;
  const adelta = new Int32Array(width), bdelta = new Int32Array(width);
  for (let x = 0; x < width; x++) {
    adelta[x] = cvRound(a * x * 1024);
    bdelta[x] = cvRound(d * x * 1024);
  }
  const n = height * width;
  const out: Coords = { sx: new Int32Array(n), sy: new Int32Array(n), frac: new Int32Array(n) };
  for (let y = 0; y < height; y++) {
    const x0 = cvRound((b * y + c2) * 1024) + 16;
    const y0 = cvRound((e * y + f2) * 1024) + 16;
    for (let x = 0; x < width; x++) {
      const X = (x0 + adelta[x]!) >> 5;
      const Y = (y0 + bdelta[x]!) >> 5;
      const i = y * width + x;
      out.sx[i] = X >> 5;
      out.sy[i] = Y >> 5;
      out.frac[i] = ((Y & 31) << 5) | (X & 31);
    }
  }
  return out;
}

/**
 * cv2.warpAffine of an 8-bit H×W×C image (interleaved, C ≤ 4), INTER_LINEAR, constant border 0.
 * Returns a new array.
 */
export function warpAffineU8(src: Uint8Array, height: number, width: number, channels: number, m: Affine2x3): Uint8Array {
  const { sx, sy, frac } = sourceCoords(m, height, width);
  const out = new Uint8Array(src.length);
  const rowStride = width * channels;
  for (let i = 0; i < sx.length; i++) {
    const x = sx[i]!, y = sy[i]!;
    if (x >= width || x < -1 || y >= height || y < -1) continue;
    const fx = frac[i]! & 31, fy = frac[i]! >> 5;
    // The 15-bit table entries: (32 − fy)(32 − fx)·32 etc.; the 32768 entry saturates to 32767,
    // which cannot change a rounded 8-bit result.
    const w00 = Math.min((32 - fy) * (32 - fx) * 32, 32767), w01 = (32 - fy) * fx * 32, w10 = fy * (32 - fx) * 32, w11 = fy * fx * 32;
    const inX0 = x >= 0, inX1 = x + 1 < width, inY0 = y >= 0, inY1 = y + 1 < height;
    const base = y * rowStride + x * channels;
    for (let k = 0; k < channels; k++) {
      const p = base + k;
      const v00 = inY0 && inX0 ? src[p]! : 0;
      const v01 = inY0 && inX1 ? src[p + channels]! : 0;
      const v10 = inY1 && inX0 ? src[p + rowStride]! : 0;
      const v11 = inY1 && inX1 ? src[p + rowStride + channels]! : 0;
      const s = (v00 * w00 + v01 * w01 + v10 * w10 + v11 * w11 + 16384) >> 15;
      out[i * channels + k] = s > 255 ? 255 : s;
    }
  }
  return out;
}

/** cv2.warpAffine of a single-channel float64 H×W array, INTER_LINEAR, constant border 0. */
export function warpAffineF64(src: Float64Array, height: number, width: number, m: Affine2x3): Float64Array {
  const { sx, sy, frac } = sourceCoords(m, height, width);
  const out = new Float64Array(src.length);
  for (let i = 0; i < sx.length; i++) {
    const x = sx[i]!, y = sy[i]!;
    if (x >= width || x < -1 || y >= height || y < -1) continue;
    const fx = (frac[i]! & 31) / 32, fy = (frac[i]! >> 5) / 32;
    const inX0 = x >= 0, inX1 = x + 1 < width, inY0 = y >= 0, inY1 = y + 1 < height;
    const p = y * width + x;
    const v00 = inY0 && inX0 ? src[p]! : 0;
    const v01 = inY0 && inX1 ? src[p + 1]! : 0;
    const v10 = inY1 && inX0 ? src[p + width]! : 0;
    const v11 = inY1 && inX1 ? src[p + width + 1]! : 0;
    // Float table weights (1 − fy)(1 − fx) etc., exact in float32.
    out[i] = v00 * ((1 - fy) * (1 - fx)) + v01 * ((1 - fy) * fx) + v10 * (fy * (1 - fx)) + v11 * (fy * fx);
  }
  return out;
}

/** imgaug's Affine(rotate=degrees) on an 8-bit H×W×C image (unchanged if the matrix is ≈ identity). */
export function rotateU8(src: Uint8Array, height: number, width: number, channels: number, degrees: number): Uint8Array {
  const m = rotationMatrix(degrees, height, width);
  return isIdentity(m) ? src.slice() : warpAffineU8(src, height, width, channels, m);
}

/** imgaug's Affine(rotate=degrees) on a float64 H×W array. */
export function rotateF64(src: Float64Array, height: number, width: number, degrees: number): Float64Array {
  const m = rotationMatrix(degrees, height, width);
  return isIdentity(m) ? src.slice() : warpAffineF64(src, height, width, m);
}
