import { checkImage, type Image } from '../image/types.js';

export const IMAGENET_MEAN: readonly [number, number, number] = [0.485, 0.456, 0.406];
export const IMAGENET_STD: readonly [number, number, number] = [0.229, 0.224, 0.225];

/**
 * (x − mean[c]) / std[c] per channel, rounded to float32 at each step as torch's
 * `x.sub_(mean).div_(std)` on a float32 tensor does (mean/std are float32 tensors there too).
 * A single value broadcasts over all channels.
 */
export function normalize(img: Image, mean: readonly number[], std: readonly number[]): Image {
  checkImage(img, 'normalize');
  const c = img.channels;
  const m = broadcast(mean, c, 'mean');
  const s = broadcast(std, c, 'std');
  for (const v of s) if (v === 0) throw new Error('normalize: std must not contain 0');
  const n = img.height * img.width;
  const out = new Float32Array(img.data.length);
  for (let ch = 0; ch < c; ch++) {
    const mf = Math.fround(m[ch]!);
    const sf = Math.fround(s[ch]!);
    for (let i = ch * n; i < (ch + 1) * n; i++) out[i] = Math.fround(img.data[i]! - mf) / sf;
  }
  return { ...img, data: out };
}

function broadcast(v: readonly number[], c: number, name: string): number[] {
  if (v.length === 1) return Array(c).fill(v[0]) as number[];
  if (v.length !== c) throw new Error(`normalize: ${name} has ${v.length} values but the image has ${c} channels`);
  return [...v];
}
