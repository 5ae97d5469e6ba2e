// DRAEM's training, as the authors' train_DRAEM.py on the shared trainer (../components/trainer.ts):
// Adam over [G's parameters, D's parameters] (two groups, lr 1e-4, default betas, no weight decay),
// MultiStepLR(milestones [0.8·E, 0.9·E], γ 0.2) stepped once per epoch, batches of 8 drawn with
// replacement (their loader ignores idx and draws torch.randint), and per batch
//   rec = G(I_a);  seg = D(cat(rec, I_a));  L = MSE(rec, I) + (1 − SSIM(rec, I)) + Focal(softmax(seg), M)
// where I_a, I and M come from the anomaly synthesis that runs in the loader workers
// (synthesis.ts `synthesize`, arriving in batch.extra). rec is not detached: D's loss trains G too.
import * as torch from '../../torch/index.js';
import { MethodInputError, type FitContext, type ImageBatch, type TrainData } from '../types.js';
import { trainStage } from '../components/index.js';
import { milestoneEpochs, type DraemConfig } from './config.js';
import { draemLoss } from './loss.js';
import type { DraemNetworks } from './networks.js';

/** The synthesis outputs one training step needs (synthesis.ts `synthesize`). */
function synthesized(b: ImageBatch): { image: torch.Tensor; augmented: torch.Tensor; mask: torch.Tensor } {
  const e = b.extra;
  if (!e?.image || !e.augmented || !e.mask) {
    throw new Error("draem: training batches carry no synthesised anomalies (batch.extra.image/augmented/mask); the data side must run the method's trainAugment");
  }
  return { image: e.image, augmented: e.augmented, mask: e.mask };
}

/** One training step's loss terms (the trainer does zeroGrad, backward and the Adam step). */
export function draemStep(nets: DraemNetworks, b: ImageBatch): { loss: torch.Tensor; parts: Record<string, number> } {
  const { image, augmented, mask } = synthesized(b);
  const rec = nets.reconstructive.forward(augmented);
  const seg = nets.discriminative.forward(torch.cat([rec, augmented], 1));
  const l = draemLoss(rec, image, seg, mask);
  return { loss: l.loss, parts: { l2: l.l2, ssim: l.ssim, focal: l.focal } };
}

/** Trains both sub-networks for config.train.epochs (resumable per epoch through ctx). */
export async function fitDraem(nets: DraemNetworks, data: TrainData, config: DraemConfig, ctx: FitContext): Promise<void> {
  const t = config.train;
  if (data.size < 1) throw new MethodInputError('draem: no training images');
  const { milestones, unreachable } = milestoneEpochs(t.epochs, t.milestones);
  if (unreachable.length > 0) {
    ctx.log(`warning: lr milestone${unreachable.length > 1 ? 's' : ''} ${unreachable.join(', ')} (model.train.milestones × ${t.epochs} epochs) ${unreachable.length > 1 ? 'are' : 'is'} not a whole epoch and never reached, as with the authors' float milestones in PyTorch`);
  }
  await trainStage({
    name: 'train',
    epochs: t.epochs,
    batchSize: t.batchSize,
    modules: { reconstructive: nets.reconstructive, discriminative: nets.discriminative },
    // fused: one pass over each of the 97M parameters instead of ~10 (the same update formula).
    optimizer: { type: 'adam', lr: t.lr, fused: true },
    schedule: { milestones, gamma: t.gamma },
    sampling: 'replacement',
    augment: true,
    autocast: t.precision === 'bfloat16' ? 'bfloat16' : null,
    step: (b) => draemStep(nets, b),
  }, data, ctx);
}
