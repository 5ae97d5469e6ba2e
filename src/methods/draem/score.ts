// DRAEM's inference, as the authors' test_DRAEM.py: rec = G(x), seg = D(cat(rec, x)), the anomaly
// map is softmax(seg)[:, 1] and the image score is the maximum of that map average-pooled over
// 21×21 windows (stride 1, padding 10, count_include_pad=True, PyTorch's default they keep).
import * as torch from '../../torch/index.js';
import type { Tensor } from '../../torch/index.js';
import { nn } from '../../torch/index.js';
import type { DraemNetworks } from './networks.js';

const F = nn.F;

/** The pooling window of the image score. */
export const SCORE_POOL = 21;

export interface DraemScores {
  /** Image scores (N). */
  scores: Float32Array;
  /** Anomaly maps (N, H, W), row-major: the anomaly channel of the softmax. */
  maps: Float32Array;
  /** [H, W] of each map. */
  mapSize: [number, number];
}

/** Image score of anomaly maps (N, 1, H, W): max over each map of avg_pool2d(·, k, stride 1, padding ⌊k/2⌋), k = 21 by default. */
export function imageScores(maps: Tensor, window = SCORE_POOL): Tensor {
  return torch.tidy(() => F.avgPool2d(maps, window, { stride: 1, padding: Math.floor(window / 2) }).amax([1, 2, 3]));
}

/**
 * The anomaly channel of softmax(D(cat(G(x), x))) (N, 1, H, W) for images x (N, 3, H, W) in the
 * networks' convention (BGR, [0, 1]). Networks should be in eval mode; no gradients are recorded.
 */
export function anomalyMaps(nets: DraemNetworks, x: Tensor): Tensor {
  return torch.tidy(() => torch.noGrad(() => {
    const rec = nets.reconstructive.forward(x);
    const seg = nets.discriminative.forward(torch.cat([rec, x], 1));
    return F.softmax(seg, 1).narrow(1, 1, 1);
  }));
}

/** Scores a batch: anomaly maps and image scores (pooling window `window`, default 21), as plain arrays. */
export function score(nets: DraemNetworks, x: Tensor, window = SCORE_POOL): DraemScores {
  return torch.tidy(() => {
    const m = anomalyMaps(nets, x);
    const [, , h, w] = m.shape as [number, number, number, number];
    const s = imageScores(m, window);
    return {
      scores: Float32Array.from(s.to('float32').toTypedArray() as Float32Array),
      maps: Float32Array.from(m.contiguous().to('float32').toTypedArray() as Float32Array),
      mapSize: [h, w] as [number, number],
    };
  });
}
