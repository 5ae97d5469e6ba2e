// KDAD's anomaly maps: the gradient of the per-image score w.r.t. the input image, through both
// networks (authors' test_functions.py, with utils.convert_to_grayscale and scipy's gaussian_filter):
//
//   gradients:   map = G_σ(gray(∂s/∂x))                                    (gradients_localization)
//   gbp:         map = G_σ(minmax(gray(∂s/∂x with every cloner ReLU guided)))  (gbp_localization)
//   smoothgrad:  map = G_σ(minmax(mean_n gray(∂s/∂x at x + ε_n)))            (smooth_grad_localization)
//
// gray(g) = clip((Σ_c |g| − min) / (p99 − min), 0, 1) per image (p99: numpy's linear percentile);
// minmax(m) = (m − min) / (max − min); G_σ = scipy.ndimage.gaussian_filter (σ = 4, reflect,
// truncate 4). Guided backprop (Springenberg et al.) passes, at each ReLU of the cloner, only
// positive gradients where the forward output was positive: g_in = [a > 0] · max(g_out, 0); the
// teacher's ReLUs stay plain, as the authors hook the cloner's modules only. SmoothGrad's noise
// ε_n ~ N(0, std²) with std = (σ_mult / (max x − min x))², the authors' `normal_(0, sigma ** 2)`.
// Gradients are taken one image (and one noisy copy) at a time, as the authors do. A batch's summed
// score would give every image its own gradient too (eval-mode BatchNorm), but batched and single
// convolutions differ in the last bit, which flips near-ties in the max pools and so where their
// gradient goes: a real image's flat regions make such ties common, and per-image backprop keeps
// the maps equal to the authors'.
import * as torch from '../../torch/index.js';
import type { Tensor } from '../../torch/index.js';
import { nn } from '../../torch/index.js';
import type { VGG } from '../../models/backbones/index.js';
import { gaussianFilter2d } from '../components/gaussian.js';
import { kdScore, type LossOptions } from './loss.js';
import { forwardTaps, SCORE_OUTPUTS, studentTaps, teacherTaps } from './network.js';

export interface MapNets extends LossOptions {
  teacher: VGG;
  /** In eval mode. */
  student: VGG;
}

export type Localization = 'gradients' | 'smoothgrad' | 'gbp';

export interface MapOptions {
  method: Localization;
  /** σ of the final Gaussian filter (0 = none). */
  smoothing: number;
  smoothGrad: { samples: number; sigma: number };
  /**
   * SmoothGrad's standard normal draws for image i, samples×C×H×W (default torch.randn from the
   * global generator); the noise added is std_i times these.
   */
  noise?: (i: number, shape: number[]) => Tensor;
}

/** ∂s_b/∂x_b for every image of x (N×C×H×W), plain backprop through both networks, in one batch. */
export function inputGradients(nets: MapNets, x: Tensor): Tensor {
  return torch.enableGrad(() => torch.tidy(() => {
    const leaf = x.detach().requiresGrad_(true);
    const s = forwardTaps(nets.student, leaf, studentTaps(SCORE_OUTPUTS), true);
    const t = forwardTaps(nets.teacher, leaf, teacherTaps(SCORE_OUTPUTS), true);
    return torch.autograd.grad(kdScore(s, t, nets).sum(), leaf)[0]!;
  }));
}

interface Segment {
  /** A leaf: the image, or the output of the ReLU before this segment. */
  input: Tensor;
  /** The pre-activation of the ReLU that ends the segment (null for the last segment). */
  pre: Tensor | null;
  /** Score outputs computed inside the segment: [position in SCORE_OUTPUTS, tensor]. */
  taps: [number, Tensor][];
}

/**
 * ∂s/∂x with the cloner's ReLU backward replaced by guided backprop (guided = true) or kept plain
 * (false: equal to inputGradients, a check of the bookkeeping). The cloner is run module by module,
 * cut at every ReLU; the backward pass goes segment by segment with autograd.grad and applies the
 * ReLU rule between segments.
 */
export function guidedGradients(nets: MapNets, x: Tensor, guided = true): Tensor {
  return torch.enableGrad(() => torch.tidy(() => {
    const xt = x.detach().requiresGrad_(true);
    const t = forwardTaps(nets.teacher, xt, teacherTaps(SCORE_OUTPUTS), true);
    const tapIndex = studentTaps(SCORE_OUTPUTS).map(Number);
    const mods = [...nets.student.features];
    const segments: Segment[] = [];
    let seg: Segment = { input: x.detach().requiresGrad_(true), pre: null, taps: [] };
    let h = seg.input;
    for (let i = 0; i <= Math.max(...tapIndex); i++) {
      const m = mods[i]!;
      if (m instanceof nn.ReLU) {
        seg.pre = h;
        segments.push(seg);
        const a = torch.noGrad(() => torch.relu(h)).requiresGrad_(true);
        seg = { input: a, pre: null, taps: [] };
        h = a;
      } else {
        h = nn.callForward(m, h);
      }
      const k = tapIndex.indexOf(i);
      if (k >= 0) seg.taps.push([k, h]);
    }
    segments.push(seg);
    const s = SCORE_OUTPUTS.map((_, k) => segments.flatMap((g) => g.taps).find(([j]) => j === k)![1]);
    const [gTeacher, ...gTaps] = torch.autograd.grad(kdScore(s, t, nets).sum(), [xt, ...s], { retainGraph: true });
    let gNext: Tensor | null = null; // ∂s/∂(input of the segment after the current one)
    for (let j = segments.length - 1; j >= 0; j--) {
      const g = segments[j]!;
      const outs: Tensor[] = [];
      const grads: Tensor[] = [];
      if (g.pre && gNext) {
        const a = segments[j + 1]!.input;
        outs.push(g.pre);
        grads.push(a.gt(0).to(a.dtype).mul(guided ? gNext.clamp_min(0) : gNext));
      }
      let gIn = torch.zeros_like(g.input);
      for (const [k, tap] of g.taps) {
        if (tap === g.input) gIn = gIn.add(gTaps[k]!); // a tap at the ReLU output itself
        else { outs.push(tap); grads.push(gTaps[k]!); }
      }
      if (outs.length > 0) {
        const [d] = torch.autograd.grad(outs, [g.input], { gradOutputs: grads, retainGraph: true, allowUnused: true });
        if (d) gIn = gIn.add(d);
      }
      gNext = gIn;
    }
    return gTeacher!.add(gNext!);
  }));
}

/** convert_to_grayscale per image: N×C×H×W gradients → N×H×W in [0, 1]. */
export function toGrayscale(grad: Tensor): Tensor {
  return torch.tidy(() => {
    const [n, , h, w] = grad.shape as [number, number, number, number];
    const g = grad.abs().sum(1).reshape([n, h * w]);
    const lo = g.amin(1, true);
    const p99 = torch.quantile(g, 0.99, 1, true);
    const range = p99.sub(lo);
    // A map whose top percentile equals its minimum (the authors divide by 0): the limit, 1 above min.
    const scaled = g.sub(lo).div(range.clamp_min(1e-30)).clamp(0, 1);
    return torch.where(range.gt(0), scaled, g.gt(lo).to(g.dtype)).reshape([n, h, w]);
  });
}

/** (m − min) / (max − min) per image (0 where the map is constant). */
export function minMax(maps: Tensor): Tensor {
  return torch.tidy(() => {
    const [n, h, w] = maps.shape as [number, number, number];
    const m = maps.reshape([n, h * w]);
    const lo = m.amin(1, true);
    const range = m.amax(1, true).sub(lo);
    return m.sub(lo).div(range.clamp_min(1e-30)).mul(range.gt(0).to(m.dtype)).reshape([n, h, w]);
  });
}

/** SmoothGrad's mean grayscale map of one image x (1×C×H×W), before minmax and smoothing: H×W. */
export function smoothGradGray(nets: MapNets, x: Tensor, o: MapOptions, index = 0): Tensor {
  const { samples, sigma } = o.smoothGrad;
  return torch.tidy(() => {
    const range = x.amax().sub(x.amin()).item();
    const std = (sigma / (range > 0 ? range : 1)) ** 2;
    const shape = [samples, ...x.shape.slice(1)];
    const z = o.noise ? o.noise(index, shape) : torch.randn(shape, { dtype: x.dtype, device: x.device });
    let acc = torch.zeros([x.shape[2]!, x.shape[3]!], { dtype: x.dtype, device: x.device });
    for (let n = 0; n < samples; n++) acc = acc.add(toGrayscale(inputGradients(nets, z.narrow(0, n, 1).mul(std).add(x))).squeeze(0));
    return acc.div(samples);
  });
}

/** N×H×W anomaly maps at the networks' input size, one image at a time. */
export function gradientMaps(nets: MapNets, x: Tensor, o: MapOptions): Tensor {
  return torch.tidy(() => {
    const rows: Tensor[] = [];
    for (let i = 0; i < x.shape[0]!; i++) {
      const xi = x.narrow(0, i, 1);
      if (o.method === 'gradients') rows.push(toGrayscale(inputGradients(nets, xi)));
      else if (o.method === 'gbp') rows.push(minMax(toGrayscale(guidedGradients(nets, xi))));
      else rows.push(minMax(smoothGradGray(nets, xi, o, i).unsqueeze(0)));
    }
    const m = torch.cat(rows, 0);
    // The filter builds its index tensors on the CPU.
    return o.smoothing > 0 ? gaussianFilter2d(m.cpu(), o.smoothing).to(x.dtype) : m;
  });
}
