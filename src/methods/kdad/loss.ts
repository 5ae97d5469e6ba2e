// KDAD's loss and score (authors' loss_functions.py and test_functions.py detection_test), over
// the student outputs S_l and teacher outputs T_l of the chosen layers, each B×C×H×W:
//
//   training:  L = Σ_l mean_b(1 − cos(S_l[b].flat, T_l[b].flat)) + λ · Σ_l mean_{b,c,h,w} (S_l − T_l)²
//   test:      s[b] = Σ_l (1 − cos(S_l[b].flat, T_l[b].flat)) + λ · Σ_l mean_{c,h,w} (S_l[b] − T_l[b])²
//
// cos is torch.nn.CosineSimilarity(dim=1, eps=1e-8); with directionOnly the λ terms are dropped
// (DirectionOnlyLoss). The training MSE is nn.MSELoss (a mean over the whole batch tensor), the
// score's a per-image mean; the two agree for a batch of one image, which is what the authors'
// gradient maps differentiate.
import * as torch from '../../torch/index.js';
import type { Tensor } from '../../torch/index.js';

export interface LossOptions {
  lamda: number;
  directionOnly: boolean;
}

/** 1 − cos of the flattened maps, per image: [B]. */
export function directionTerm(s: Tensor, t: Tensor): Tensor {
  return torch.tidy(() => torch.cosine_similarity(s.flatten(1), t.flatten(1), 1, 1e-8).neg().add(1));
}

function checkPairs(s: readonly Tensor[], t: readonly Tensor[], what: string): void {
  if (s.length === 0 || s.length !== t.length) throw new RangeError(`kdad ${what}: ${s.length} student and ${t.length} teacher outputs`);
  s.forEach((x, i) => {
    if (x.shape.join('×') !== t[i]!.shape.join('×')) throw new RangeError(`kdad ${what}: output ${i} is [${x.shape.join(', ')}] in the student, [${t[i]!.shape.join(', ')}] in the teacher`);
  });
}

/** The training loss and its two parts (the λ-weighted MSE sum is `mse` before weighting). */
export function kdLoss(s: readonly Tensor[], t: readonly Tensor[], o: LossOptions): { loss: Tensor; direction: Tensor; mse: Tensor } {
  checkPairs(s, t, 'loss');
  return torch.tidy(() => {
    let direction = directionTerm(s[0]!, t[0]!).mean();
    let mse = torch.mse_loss(s[0]!, t[0]!);
    for (let l = 1; l < s.length; l++) {
      direction = direction.add(directionTerm(s[l]!, t[l]!).mean());
      mse = mse.add(torch.mse_loss(s[l]!, t[l]!));
    }
    const loss = o.directionOnly ? torch.alias(direction) : direction.add(mse.mul(o.lamda));
    return { loss, direction, mse };
  });
}

/** The per-image anomaly score: [B]. */
export function kdScore(s: readonly Tensor[], t: readonly Tensor[], o: LossOptions): Tensor {
  checkPairs(s, t, 'score');
  return torch.tidy(() => {
    let direction = directionTerm(s[0]!, t[0]!);
    let mse = s[0]!.sub(t[0]!).square().mean([1, 2, 3]);
    for (let l = 1; l < s.length; l++) {
      direction = direction.add(directionTerm(s[l]!, t[l]!));
      mse = mse.add(s[l]!.sub(t[l]!).square().mean([1, 2, 3]));
    }
    return o.directionOnly ? direction : direction.add(mse.mul(o.lamda));
  });
}
