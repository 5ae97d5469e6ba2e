// SGD with momentum, dampening, L2 weight decay and Nesterov momentum, following PyTorch 1.13's
// _single_tensor_sgd op by op.
import type { Tensor } from '../tensor.js';
import { keep, tidy } from '../scope.js';
import { noGrad } from '../autograd.js';
import { Optimizer, checkHyper, type ParamGroup, type ParamsInput } from './optimizer.js';

export interface SGDGroup extends ParamGroup {
  momentum: number;
  dampening: number;
  weightDecay: number;
  nesterov: boolean;
  maximize: boolean;
}

export type SGDOptions = Partial<Omit<SGDGroup, 'params' | 'initialLr'>>;

/**
 * g ← ∇ + wd·p; b ← g (first step) or μ·b + (1−τ)·g; g ← g + μ·b (Nesterov) or b; p ← p − lr·g.
 * lr is required, here or in every group.
 */
export class SGD extends Optimizer<SGDGroup> {
  constructor(params: ParamsInput<SGDGroup>, options: SGDOptions = {}) {
    const d = { momentum: 0, dampening: 0, weightDecay: 0, nesterov: false, maximize: false, ...options };
    if (d.lr !== undefined) checkHyper('SGD', 'learning rate', d.lr >= 0, d.lr);
    checkHyper('SGD', 'momentum value', d.momentum >= 0, d.momentum);
    checkHyper('SGD', 'weight_decay value', d.weightDecay >= 0, d.weightDecay);
    if (d.nesterov && (d.momentum <= 0 || d.dampening !== 0)) throw new RangeError('SGD: Nesterov momentum requires a momentum and zero dampening');
    super(params, d);
  }

  step(): void {
    tidy(() => noGrad(() => {
      for (const g of this.paramGroups) {
        const { lr, momentum, dampening, weightDecay, nesterov, maximize } = g;
        for (const p of g.params) {
          let dp: Tensor | null = p.grad;
          if (dp === null) continue;
          if (maximize) dp = dp.neg();
          if (weightDecay !== 0) dp = dp.add(p, { alpha: weightDecay });
          if (momentum !== 0) {
            let st = this.state.get(p);
            if (!st) this.state.set(p, (st = {}));
            let buf = st.momentum_buffer as Tensor | undefined;
            if (buf === undefined) {
              buf = keep(dp.clone().detach());
              st.momentum_buffer = buf;
            } else {
              buf.mul_(momentum).add_(dp, { alpha: 1 - dampening });
            }
            dp = nesterov ? dp.add(buf, { alpha: momentum }) : buf;
          }
          p.add_(dp, { alpha: -lr });
        }
      }
    }));
  }
}
