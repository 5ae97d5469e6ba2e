import { checkImage, type Image } from '../image/types.js';
import type { Rng } from '../random.js';

export type CropSize = number | readonly [number, number];

function cropDims(size: CropSize, where: string): [number, number] {
  const [h, w] = typeof size === 'number' ? [size, size] : size;
  if (!Number.isInteger(h) || !Number.isInteger(w) || h <= 0 || w <= 0) {
    throw new Error(`${where}: size must be a positive integer or [height, width], got ${JSON.stringify(size)}`);
  }
  return [h, w];
}

/** Python's round(): half to even. torchvision's center_crop offsets depend on it. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** Copies the window [top, top+h) × [left, left+w); parts outside the image are zero (torchvision crop). */
export function crop(img: Image, top: number, left: number, h: number, w: number): Image {
  const { channels, height, width, data } = img;
  const out = new Float32Array(channels * h * w);
  const x0 = Math.max(0, -left);
  const x1 = Math.min(w, width - left);
  for (let c = 0; c < channels; c++) {
    for (let y = 0; y < h; y++) {
      const sy = y + top;
      if (sy < 0 || sy >= height || x1 <= x0) continue;
      const s = c * height * width + sy * width + left;
      out.set(data.subarray(s + x0, s + x1), c * h * w + y * w + x0);
    }
  }
  return { data: out, channels, height: h, width: w };
}

/**
 * torchvision CenterCrop: top = round((H − h)/2), left = round((W − w)/2) with Python rounding;
 * a crop larger than the image zero-pads first ((w − W)//2 on the left, the rest on the right).
 */
export function centerCrop(img: Image, size: CropSize): Image {
  checkImage(img, 'centerCrop');
  const [th, tw] = cropDims(size, 'centerCrop');
  let { height: h, width: w } = img;
  let padTop = 0;
  let padLeft = 0;
  if (th > h || tw > w) {
    padLeft = tw > w ? Math.floor((tw - w) / 2) : 0;
    padTop = th > h ? Math.floor((th - h) / 2) : 0;
    const padRight = tw > w ? Math.floor((tw - w + 1) / 2) : 0;
    const padBottom = th > h ? Math.floor((th - h + 1) / 2) : 0;
    w += padLeft + padRight;
    h += padTop + padBottom;
    if (h === th && w === tw) return crop(img, -padTop, -padLeft, th, tw);
  }
  const top = roundHalfEven((h - th) / 2) - padTop;
  const left = roundHalfEven((w - tw) / 2) - padLeft;
  return crop(img, top, left, th, tw);
}

/**
 * torchvision RandomCrop(size, padding, fill=0): zero-pad by `padding` on every side, then pick
 * top in [0, H+2p−h], left in [0, W+2p−w] uniformly (top drawn first). The draws come from `rng`,
 * so the crops are reproducible but not the ones torch's generator would pick.
 */
export function randomCrop(img: Image, size: CropSize, rng: Rng, padding = 0): Image {
  checkImage(img, 'randomCrop');
  const { top, left, height, width } = randomCropWindow(img.height, img.width, size, padding, rng);
  return crop(img, top, left, height, width);
}

/** The window randomCrop would cut (in unpadded coordinates, so top/left may be negative). */
export function randomCropWindow(
  imgHeight: number,
  imgWidth: number,
  size: CropSize,
  padding: number,
  rng: Rng,
): { top: number; left: number; height: number; width: number } {
  const [th, tw] = cropDims(size, 'randomCrop');
  if (!Number.isInteger(padding) || padding < 0) throw new Error(`randomCrop: padding must be a non-negative integer, got ${padding}`);
  const h = imgHeight + 2 * padding;
  const w = imgWidth + 2 * padding;
  if (th > h || tw > w) {
    throw new Error(`randomCrop: crop ${th}x${tw} is larger than the padded image ${h}x${w}; resize first or add padding`);
  }
  const top = rng.int(0, h - th + 1) - padding;
  const left = rng.int(0, w - tw + 1) - padding;
  return { top, left, height: th, width: tw };
}

export function horizontalFlip(img: Image): Image {
  const { channels, height, width, data } = img;
  const out = new Float32Array(data.length);
  for (let r = 0; r < channels * height; r++) {
    const o = r * width;
    for (let x = 0; x < width; x++) out[o + x] = data[o + width - 1 - x]!;
  }
  return { data: out, channels, height, width };
}

/** Flips with probability p (one rng draw per call, flip when draw < p). */
export function randomHorizontalFlip(img: Image, rng: Rng, p = 0.5): Image {
  if (!(p >= 0 && p <= 1)) throw new Error(`randomHorizontalFlip: p must be in [0, 1], got ${p}`);
  return rng.next() < p ? horizontalFlip(img) : img;
}
