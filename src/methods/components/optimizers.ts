// Optimisers and learning-rate schedules built from config values, for the shared trainer.
// Field names follow Vigil's torch.optim (camelCase PyTorch names); defaults are PyTorch's.
import type { Tensor } from '../../torch/index.js';
import { optim } from '../../torch/index.js';

/** torch.optim.Adam (L2 weight decay added to the gradient) or AdamW (decoupled weight decay). */
export interface AdamConfig {
  type: 'adam' | 'adamw';
  lr: number;
  /** Default 0 for Adam, 1e-2 for AdamW (PyTorch's). */
  weightDecay?: number;
  betas?: [number, number];
  eps?: number;
  amsgrad?: boolean;
  /** One pass per parameter on the CPU (torch.optim.Adam(fused=True)); default false. */
  fused?: boolean;
}

/** torch.optim.SGD with momentum, dampening, L2 weight decay and Nesterov momentum. */
export interface SgdConfig {
  type: 'sgd';
  lr: number;
  momentum?: number;
  dampening?: number;
  weightDecay?: number;
  nesterov?: boolean;
}

export type OptimizerConfig = AdamConfig | SgdConfig;

/**
 * torch.optim.lr_scheduler.MultiStepLR, stepped once at the END of each epoch: epoch e trains with
 * lr · γ^(number of milestones ≤ e). Milestones are 0-based epoch indices, repeats multiply again.
 */
export interface MultiStepConfig {
  milestones: number[];
  gamma: number;
}

/** Names a module's parameters for one parameter group (one group per module, as DRAEM's Adam). */
export interface ParamGroupInput {
  params: Tensor[];
}

/** The optimiser for `groups` (one parameter group each; hyperparameters shared). */
export function buildOptimizer(groups: ParamGroupInput[], c: OptimizerConfig): optim.Optimizer {
  const gs = groups.filter((g) => g.params.length > 0).map((g) => ({ params: g.params }));
  if (gs.length === 0) throw new Error('buildOptimizer: the stage has no parameters to train');
  const def = <T extends object>(o: T): Partial<T> => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
  switch (c.type) {
    case 'adam':
    case 'adamw': {
      const o = def({ lr: c.lr, weightDecay: c.weightDecay, betas: c.betas, eps: c.eps, amsgrad: c.amsgrad, fused: c.fused });
      return c.type === 'adam' ? new optim.Adam(gs, o) : new optim.AdamW(gs, o);
    }
    case 'sgd':
      return new optim.SGD(gs, def({ lr: c.lr, momentum: c.momentum, dampening: c.dampening, weightDecay: c.weightDecay, nesterov: c.nesterov }));
    default:
      throw new Error(`buildOptimizer: unknown optimizer type ${JSON.stringify((c as { type: unknown }).type)} (expected 'adam', 'adamw' or 'sgd')`);
  }
}

/** MultiStepLR on `opt`; throws naming the bad field. */
export function buildSchedule(opt: optim.Optimizer, c: MultiStepConfig): optim.MultiStepLR {
  if (!Array.isArray(c.milestones) || !c.milestones.every((m) => Number.isInteger(m) && m >= 0)) {
    throw new Error(`buildSchedule: milestones must be a list of epoch indices ≥ 0, got ${JSON.stringify(c.milestones)}`);
  }
  if (typeof c.gamma !== 'number' || !(c.gamma > 0)) throw new Error(`buildSchedule: gamma must be a positive number, got ${JSON.stringify(c.gamma)}`);
  return new optim.MultiStepLR(opt, { milestones: c.milestones, gamma: c.gamma });
}
