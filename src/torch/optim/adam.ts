// Adam (coupled L2 weight decay, optional AMSGrad) and AdamW (decoupled weight decay), following
// PyTorch 1.13's _single_tensor_adam / _single_tensor_adamw op by op; with `fused`, dense
// float32 CPU parameters are updated in one pass by the addon (the same formula; PyTorch's
// fused=True), which matters for large networks, where the ~10 passes over every parameter-sized
// tensor are a large part of a step.
import type { Tensor } from '../tensor.js';
import * as ops from '../ops.generated.js';
import { keep, tidy } from '../scope.js';
import { noGrad } from '../autograd.js';
import { native } from '../native.js';
import { Optimizer, checkHyper, type ParamGroup, type ParamsInput, type ParamState } from './optimizer.js';

export interface AdamGroup extends ParamGroup {
  betas: [number, number];
  eps: number;
  weightDecay: number;
  amsgrad: boolean;
  maximize: boolean;
  /** One pass per parameter (CPU, float32, contiguous or channels-last; amsgrad, maximize and other tensors use the op-by-op path). */
  fused: boolean;
}

export type AdamOptions = Partial<Omit<AdamGroup, 'params' | 'initialLr'>>;

function validate(name: string, d: Omit<AdamGroup, 'params'>): void {
  checkHyper(name, 'learning rate', d.lr >= 0, d.lr);
  checkHyper(name, 'epsilon value', d.eps >= 0, d.eps);
  checkHyper(name, 'beta parameter at index 0', d.betas[0] >= 0 && d.betas[0] < 1, d.betas[0]);
  checkHyper(name, 'beta parameter at index 1', d.betas[1] >= 0 && d.betas[1] < 1, d.betas[1]);
  checkHyper(name, 'weight_decay value', d.weightDecay >= 0, d.weightDecay);
}

abstract class AdamBase extends Optimizer<AdamGroup> {
  protected abstract readonly decoupled: boolean;

  step(): void {
    tidy(() => noGrad(() => {
      for (const g of this.paramGroups) {
        const { lr, eps, weightDecay, amsgrad, maximize, fused } = g;
        const [beta1, beta2] = g.betas;
        // One tidy per parameter: the temporaries (sqrt, division) are freed as PyTorch frees them,
        // instead of the whole step's piling up (hundreds of MB for large networks).
        for (const p of g.params) tidy(() => {
          let grad: Tensor | null = p.grad;
          if (grad === null) return;
          if (maximize) grad = grad.neg();
          let st = this.state.get(p);
          if (!st) this.state.set(p, (st = this.#initState(p, amsgrad)));
          const expAvg = st.exp_avg as Tensor;
          const expAvgSq = st.exp_avg_sq as Tensor;
          st.step = (st.step as number) + 1;
          const step = st.step;
          // The addon declines (false) unless the four tensors are float32 on the CPU in one dense layout.
          if (fused && !amsgrad && !maximize && native.fusedAdam(p.native, grad.native, expAvg.native, expAvgSq.native, lr, beta1, beta2, eps, weightDecay, this.decoupled, step)) return;
          if (this.decoupled) p.mul_(1 - lr * weightDecay);
          else if (weightDecay !== 0) grad = grad.add(p, { alpha: weightDecay });
          expAvg.mul_(beta1).add_(grad, { alpha: 1 - beta1 });
          expAvgSq.mul_(beta2).addcmul_(grad, grad, { value: 1 - beta2 });
          const biasCorrection1 = 1 - beta1 ** step;
          const biasCorrection2 = 1 - beta2 ** step;
          const stepSize = lr / biasCorrection1;
          const biasCorrection2Sqrt = Math.sqrt(biasCorrection2);
          let denom: Tensor;
          if (amsgrad) {
            let maxSq = st.max_exp_avg_sq as Tensor | undefined;
            // State loaded from a run without amsgrad has no maximum yet.
            if (maxSq === undefined) st.max_exp_avg_sq = maxSq = keep(ops.zeros_like(p));
            maxSq.copy_(ops.maximum(maxSq, expAvgSq));
            denom = maxSq.sqrt().div(biasCorrection2Sqrt).add_(eps);
          } else {
            denom = expAvgSq.sqrt().div(biasCorrection2Sqrt).add_(eps);
          }
          p.addcdiv_(expAvg, denom, { value: -stepSize });
        });
      }
    }));
  }

  #initState(p: Tensor, amsgrad: boolean): ParamState {
    const st: ParamState = { step: 0, exp_avg: keep(ops.zeros_like(p)), exp_avg_sq: keep(ops.zeros_like(p)) };
    if (amsgrad) st.max_exp_avg_sq = keep(ops.zeros_like(p));
    return st;
  }
}

/** Adam (Kingma & Ba, 2014) with L2 weight decay added to the gradient, as torch.optim.Adam. */
export class Adam extends AdamBase {
  protected readonly decoupled = false;
  constructor(params: ParamsInput<AdamGroup>, options: AdamOptions = {}) {
    const d = { lr: 1e-3, betas: [0.9, 0.999] as [number, number], eps: 1e-8, weightDecay: 0, amsgrad: false, maximize: false, fused: false, ...options };
    validate('Adam', d);
    super(params, d);
  }
}

/** AdamW (Loshchilov & Hutter, 2017): p ← p·(1 − lr·wd) before the Adam update; wd defaults to 1e-2. */
export class AdamW extends AdamBase {
  protected readonly decoupled = true;
  constructor(params: ParamsInput<AdamGroup>, options: AdamOptions = {}) {
    const d = { lr: 1e-3, betas: [0.9, 0.999] as [number, number], eps: 1e-8, weightDecay: 1e-2, amsgrad: false, maximize: false, fused: false, ...options };
    validate('AdamW', d);
    super(params, d);
  }
}
