// The training pieces of DCAE and Deep SVDD, following the authors' AETrainer / DeepSVDDTrainer
// (lukasruff/Deep-SVDD-PyTorch @ 1901612 src/optim/; Deep-SAD-PyTorch src/optim/ae_trainer.py):
// losses, center, radius; the epoch loop is the shared trainer (../components/trainer.ts).
import * as torch from '../../torch/index.js';
import type { Tensor } from '../../torch/index.js';
import type { nn } from '../../torch/index.js';
import { quantile } from '../../eval/index.js';
import type { TrainData } from '../types.js';
import type { Stage } from '../components/index.js';
import type { AeLoss, DsvddObjective, StageConfig } from './config.js';

/** Per-image sum of squared reconstruction errors, shape [N]. */
export function reconstructionError(rec: Tensor, x: Tensor): Tensor {
  return torch.tidy(() => rec.sub(x).pow(2).flatten(1).sum([1]));
}

/** The batch loss of an autoencoder step (see {@link AeLoss}). */
export function aeLoss(rec: Tensor, x: Tensor, mode: AeLoss): Tensor {
  return torch.tidy(() => (mode === 'sum' ? reconstructionError(rec, x).mean() : rec.sub(x).pow(2).mean()));
}

/** Squared distance of each feature row to c, shape [N]. */
export function distToCenter(out: Tensor, c: Tensor): Tensor {
  return torch.tidy(() => out.sub(c).pow(2).sum([1]));
}

/** One-class: mean(dist); soft-boundary: R² + (1/ν)·mean(max(0, dist − R²)). */
export function svddLoss(dist: Tensor, objective: DsvddObjective, R: number, nu: number): Tensor {
  return torch.tidy(() => {
    if (objective === 'one-class') return dist.mean();
    const r2 = R * R;
    return dist.sub(r2).clamp_min(0).mean().mul(1 / nu).add(r2);
  });
}

/**
 * The authors' eps rule on the center, in place on a copy: components in (−eps, 0) become −eps,
 * components in (0, eps) become +eps, exact zeros stay 0 (a zero unit could be matched trivially).
 */
export function applyCenterEps<A extends Float32Array | Float64Array>(c: A, eps: number): A {
  const out = c.slice() as A;
  const e = out instanceof Float32Array ? Math.fround(eps) : eps;
  for (let i = 0; i < out.length; i++) {
    const v = out[i]!;
    if (Math.abs(v) < eps && v < 0) out[i] = -e;
    else if (Math.abs(v) < eps && v > 0) out[i] = e;
  }
  return out;
}

/** The soft-boundary radius from a batch's squared distances: the (1 − ν)-quantile of sqrt(dist). */
export function radiusFromDistances(dist: Float32Array | Float64Array, nu: number): number {
  // numpy's sqrt keeps the dtype: float32 distances give float32 roots.
  const r = dist instanceof Float32Array ? new Float32Array(dist.length) : new Float64Array(dist.length);
  for (let i = 0; i < dist.length; i++) r[i] = Math.sqrt(dist[i]!);
  return quantile(r, 1 - nu);
}

/**
 * Center c: the mean network output over the training data (eval mode, no grad, float32 sums per
 * batch as the authors), then the eps rule. Returns a kept [repDim] tensor.
 */
export async function initCenter(net: nn.Module & { forward(x: Tensor): Tensor }, data: TrainData, batchSize: number, eps: number): Promise<Tensor> {
  const dtype = net.parameters()[0]!.dtype;
  net.eval();
  let sum: Tensor | null = null;
  let n = 0;
  for await (const b of data.epoch({ epoch: 0, batchSize, shuffle: false })) {
    const s = torch.tidy(() => torch.noGrad(() => net.forward(asDtype(b.images, dtype)).sum([0])));
    n += b.images.shape[0]!;
    if (sum === null) sum = s;
    else { const t = torch.tidy(() => sum!.add(s)); sum.dispose(); s.dispose(); sum = t; }
    // Let a pending Ctrl-C reach its handler between batches.
    await new Promise((r) => setImmediate(r));
  }
  if (sum === null || n === 0) throw new Error('initCenter: the training data is empty');
  const mean = torch.tidy(() => sum!.div(n));
  sum.dispose();
  const c = applyCenterEps(mean.toTypedArray() as Float32Array | Float64Array, eps);
  mean.dispose();
  return torch.keep(torch.fromTypedArray(c, [c.length]));
}

/** The shared trainer's options for a stage: Adam + MultiStepLR(γ), as the authors' trainers build them. */
export function stageOptions(s: StageConfig): Pick<Stage, 'epochs' | 'batchSize' | 'optimizer' | 'schedule'> {
  return {
    epochs: s.epochs,
    batchSize: s.batchSize,
    optimizer: { type: 'adam', lr: s.lr, weightDecay: s.weightDecay, amsgrad: s.amsgrad },
    schedule: { milestones: s.milestones, gamma: s.gamma },
  };
}

/** The batch in the model's dtype (a cast copy inside the caller's tidy, or the batch itself). */
export function asDtype(x: Tensor, dtype: torch.DType): Tensor {
  return x.dtype === dtype ? x : x.to(dtype);
}
