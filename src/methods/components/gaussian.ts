// scipy.ndimage.gaussian_filter for anomaly maps, shared by the methods that smooth their maps
// (PatchCore's σ = 4, KDAD's localisation): separable, truncate 4.0 (radius int(4σ+0.5)), mode
// 'reflect' (edge sample repeated: d c b a | a b c d), computed in float64 like scipy and
// returned as float32.
import * as torch from '../../torch/index.js';
import type { Tensor } from '../../torch/index.js';

/** scipy's normalised Gaussian kernel (order 0). */
export function gaussianKernel1d(sigma: number, truncate = 4.0): Float64Array {
  const radius = Math.floor(truncate * sigma + 0.5);
  const k = new Float64Array(2 * radius + 1);
  let sum = 0;
  for (let i = -radius; i <= radius; i++) {
    const v = Math.exp((-0.5 / (sigma * sigma)) * i * i);
    k[i + radius] = v;
    sum += v;
  }
  for (let i = 0; i < k.length; i++) k[i]! /= sum;
  return k;
}

/** Source index for each padded position under scipy's 'reflect' (any pad size, any n ≥ 1). */
export function reflectIndices(n: number, radius: number): number[] {
  const idx: number[] = [];
  for (let i = -radius; i < n + radius; i++) {
    let j = ((i % (2 * n)) + 2 * n) % (2 * n);
    if (j >= n) j = 2 * n - 1 - j;
    idx.push(j);
  }
  return idx;
}

/** Gaussian filter of N×H×W maps over the last two axes (scipy semantics). */
export function gaussianFilter2d(maps: Tensor, sigma: number, truncate = 4.0): Tensor {
  if (sigma <= 0) return torch.alias(maps);
  const k = gaussianKernel1d(sigma, truncate);
  const r = (k.length - 1) / 2;
  return torch.noGrad(() => torch.tidy(() => {
    const [, H, W] = maps.shape as [number, number, number];
    const x = maps.to('float64').unsqueeze(1);
    const kt = torch.fromTypedArray(k, [k.length]);
    const xw = torch.index_select(x, 3, torch.tensor(reflectIndices(W, r), { dtype: 'int64' }));
    const h = torch.conv2d(xw, kt.reshape([1, 1, 1, -1]));
    const xh = torch.index_select(h, 2, torch.tensor(reflectIndices(H, r), { dtype: 'int64' }));
    const v = torch.conv2d(xh, kt.reshape([1, 1, -1, 1]));
    return v.squeeze(1).to('float32');
  }));
}
