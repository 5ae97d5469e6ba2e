// Scoring a batch: the per-image score (loss.ts kdScore over outputs 6, 9, 12, the cloner in eval
// mode, as the authors' detection_test) and, unless model.localization is 'none', the gradient maps
// of localize.ts, returned at the size of the images the pipeline passed in.
import * as torch from '../../torch/index.js';
import type { Tensor } from '../../torch/index.js';
import type { ScoreResult } from '../types.js';
import type { KdadNets } from './fit.js';
import { kdScore } from './loss.js';
import { gradientMaps, type MapOptions } from './localize.js';
import { forwardTaps, SCORE_OUTPUTS, studentTaps, teacherTaps } from './network.js';

/** Per-image scores of network inputs x (N×3×S×S), no grad: [N]. */
export function detectionScores(n: KdadNets, x: Tensor): Tensor {
  n.student.eval();
  return torch.noGrad(() => torch.tidy(() => {
    const s = forwardTaps(n.student, x, studentTaps(SCORE_OUTPUTS), false);
    const t = forwardTaps(n.teacher, x, teacherTaps(SCORE_OUTPUTS), false);
    return kdScore(s, t, n.config);
  }));
}

function toF32(t: Tensor): Float32Array {
  const a = torch.tidy(() => t.to({ dtype: 'float32', device: 'cpu' }).contiguous().toTypedArray());
  return a as Float32Array;
}

/** Scores and (optionally) maps of a pipeline batch; `noise` is SmoothGrad's draw hook (tests). */
export function scoreImages(n: KdadNets, images: Tensor, noise?: MapOptions['noise']): ScoreResult {
  return torch.tidy(() => {
    const c = n.config;
    const x = n.adapter.prepare(images, c.dtype);
    const scores = toF32(detectionScores(n, x));
    if (c.localization === 'none') return { scores };
    const maps = gradientMaps({ teacher: n.teacher, student: n.student, lamda: c.lamda, directionOnly: c.directionOnly }, x, {
      method: c.localization, smoothing: c.smoothing, smoothGrad: c.smoothGrad, ...(noise ? { noise } : {}),
    });
    return { scores, maps: toF32(n.adapter.mapsToImages(maps)) };
  });
}
