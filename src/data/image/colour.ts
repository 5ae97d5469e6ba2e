import type { Image } from './types.js';

/**
 * RGB → gray exactly as Pillow (≥ 8.x) `convert('L')` does on 8-bit data:
 * L = (R·19595 + G·38470 + B·7471 + 0x8000) >> 16, i.e. ITU-R 601-2 luma (0.299, 0.587, 0.114)
 * in 16-bit fixed point with rounding. Older Pillow truncated R·299/1000 + …; that differs on
 * about half of all pixels by 1, so the fixed-point form is the one to match.
 */
export function lumaPil(r: number, g: number, b: number): number {
  return (r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16;
}

/**
 * Gray conversion on an Image. precision 'uint8' (default) quantises to 8-bit and applies PIL's
 * formula (bit-identical to PIL for 8-bit sources); 'float' uses the float luma, for 16-bit or
 * already-processed images (values outside [0,1] would be clipped by 'uint8').
 */
export function toGray(img: Image, opts: { precision?: 'uint8' | 'float' } = {}): Image {
  if (img.channels === 1) return { ...img, data: img.data.slice() };
  const n = img.height * img.width;
  const out = new Float32Array(n);
  const d = img.data;
  if ((opts.precision ?? 'uint8') === 'uint8') {
    for (let i = 0; i < n; i++) {
      const r = Math.round(d[i]! * 255);
      const g = Math.round(d[n + i]! * 255);
      const b = Math.round(d[2 * n + i]! * 255);
      out[i] = lumaPil(clamp255(r), clamp255(g), clamp255(b)) / 255;
    }
  } else {
    for (let i = 0; i < n; i++) out[i] = d[i]! * 0.299 + d[n + i]! * 0.587 + d[2 * n + i]! * 0.114;
  }
  return { data: out, channels: 1, height: img.height, width: img.width };
}

/** Gray → RGB by replicating the channel (PIL `convert('RGB')` from 'L'). */
export function toRgb(img: Image): Image {
  if (img.channels === 3) return { ...img, data: img.data.slice() };
  const n = img.height * img.width;
  const out = new Float32Array(3 * n);
  out.set(img.data, 0);
  out.set(img.data, n);
  out.set(img.data, 2 * n);
  return { data: out, channels: 3, height: img.height, width: img.width };
}

function clamp255(v: number): number {
  return v < 0 ? 0 : v > 255 ? 255 : v;
}
