// DRAEM's training loss, as the authors' loss.py and train_DRAEM.py (VitjanZ/DRAEM @ 2dbf673):
//   L = MSE(rec, img) + (1 − SSIM(rec, img)) + Focal(softmax(seg), mask)
// all three with weight 1, where rec = G(augmented) and img is the clean image.
import * as torch from '../../torch/index.js';
import type { Tensor } from '../../torch/index.js';
import { nn } from '../../torch/index.js';

const F = nn.F;

/**
 * The authors' SSIM window: a 1-D Gaussian g(x) = exp(−(x − ⌊k/2⌋)² / 2σ²), x = 0…k−1, normalised
 * in float32, its outer product, expanded to (C, 1, k, k) for a depthwise convolution.
 */
export function ssimWindow(channels: number, size = 11, sigma = 1.5, dtype: 'float32' | 'float64' = 'float32'): Tensor {
  return torch.tidy(() => {
    const g = Array.from({ length: size }, (_, x) => Math.exp(-((x - Math.floor(size / 2)) ** 2) / (2 * sigma * sigma)));
    let g1 = torch.tensor(g, { dtype: 'float32' });
    g1 = g1.div(g1.sum()).unsqueeze(1);
    const w = g1.mm(g1.t()).unsqueeze(0).unsqueeze(0);
    return w.expand([channels, 1, size, size]).contiguous().to(dtype);
  });
}

/**
 * The authors' dynamic-range rule, read from img1 (the reconstruction in DRAEM):
 * max_val = 255 if max(img1) > 128 else 1; min_val = −1 if min(img1) < −0.5 else 0; L = max_val − min_val.
 */
export function dynamicRange(img1: Tensor): number {
  const [max, min] = torch.tidy(() => [img1.max().item(), img1.min().item()]);
  return (max > 128 ? 255 : 1) - (min < -0.5 ? -1 : 0);
}

/**
 * Mean SSIM of (N, C, H, W) images with the authors' window (11, σ 1.5), zero padding ⌊k/2⌋,
 * σ² from E[x²] − μ², C1 = (0.01L)², C2 = (0.03L)².
 */
export function ssim(img1: Tensor, img2: Tensor, options: { windowSize?: number } = {}): Tensor {
  const k = options.windowSize ?? 11;
  const c = img1.shape[1]!;
  const L = dynamicRange(img1);
  return torch.tidy(() => {
    let window = ssimWindow(c, k, 1.5, img1.dtype === 'float64' ? 'float64' : 'float32');
    if (img1.device !== 'cpu') window = window.to(img1.device);
    const filt = (x: Tensor): Tensor => F.conv2d(x, window, { padding: Math.floor(k / 2), groups: c });
    const mu1 = filt(img1);
    const mu2 = filt(img2);
    const mu1Sq = mu1.pow(2);
    const mu2Sq = mu2.pow(2);
    const mu1Mu2 = mu1.mul(mu2);
    const sigma1Sq = filt(img1.mul(img1)).sub(mu1Sq);
    const sigma2Sq = filt(img2.mul(img2)).sub(mu2Sq);
    const sigma12 = filt(img1.mul(img2)).sub(mu1Mu2);
    const c1 = (0.01 * L) ** 2;
    const c2 = (0.03 * L) ** 2;
    const v1 = sigma12.mul(2.0).add(c2);
    const v2 = sigma1Sq.add(sigma2Sq).add(c2);
    const map = mu1Mu2.mul(2).add(c1).mul(v1).div(mu1Sq.add(mu2Sq).add(c1).mul(v2));
    return map.mean();
  });
}

/** The SSIM loss term: 1 − ssim(rec, img). */
export function ssimLoss(rec: Tensor, img: Tensor): Tensor {
  return torch.tidy(() => torch.rsub(ssim(rec, img), 1.0));
}

export interface FocalOptions {
  /** Focusing parameter γ (default 2). */
  gamma?: number;
  /** Label smoothing and pt offset (default 1e-5). */
  smooth?: number;
}

/**
 * The authors' FocalLoss (a copy of Hsuxu's) with apply_nonlin=None, alpha=None (all ones),
 * size_average=True, on probabilities p (N, C, H, W) and a 0/1 mask (N, 1, H, W):
 *   one_hot = clamp(onehot(mask), smooth/(C−1), 1 − smooth);  pt = Σ_c one_hot·p + smooth;
 *   loss = mean(−(1 − pt)^γ · log pt).
 */
export function focalLoss(probs: Tensor, mask: Tensor, options: FocalOptions = {}): Tensor {
  const gamma = options.gamma ?? 2;
  const smooth = options.smooth ?? 1e-5;
  const c = probs.shape[1]!;
  return torch.tidy(() => {
    const p = probs.permute([0, 2, 3, 1]).reshape([-1, c]);
    const idx = mask.reshape([-1, 1]).to('int64');
    // As the authors' torch.FloatTensor: the smoothed one-hot is float32 whatever p's dtype.
    const zeros = torch.zeros([idx.shape[0]!, c], { dtype: 'float32', device: p.device });
    const oneHot = zeros.scatter(1, idx, 1).clamp(smooth / (c - 1), 1.0 - smooth);
    const pt = oneHot.mul(p).sum(1).add(smooth);
    return torch.rsub(pt, 1).pow(gamma).mul(pt.log()).neg().mean();
  });
}

export interface DraemLosses {
  /** l2 + ssim + focal, with its graph (call backward on it). */
  loss: Tensor;
  l2: number;
  ssim: number;
  focal: number;
}

/**
 * The three terms of train_DRAEM.py from the networks' outputs: rec = G(augmented) (N, 3, H, W),
 * seg = D(cat(rec, augmented)) logits (N, 2, H, W), the clean images and the anomaly masks (N, 1, H, W).
 */
export function draemLoss(rec: Tensor, img: Tensor, seg: Tensor, mask: Tensor): DraemLosses {
  // Under mixed precision (model.train.precision) the networks' outputs arrive in bfloat16; the
  // terms are computed in float32 with autocast off: in bfloat16, SSIM's variances
  // E[x²] − E[x]² cancel to zero or below over flat regions and its ratio becomes 0/0.
  const wide = (t: Tensor): Tensor => (t.dtype === 'bfloat16' || t.dtype === 'float16' ? t.to('float32') : t);
  return torch.tidy(() => torch.autocast({ device: rec.device.startsWith('cuda') ? 'cuda' : 'cpu', enabled: false }, () => {
    const r = wide(rec);
    const l2 = F.mseLoss(r, img);
    const s = ssimLoss(r, img);
    const focal = focalLoss(F.softmax(wide(seg), 1), mask);
    const loss = l2.add(s).add(focal);
    return { loss, l2: l2.item(), ssim: s.item(), focal: focal.item() };
  }));
}
