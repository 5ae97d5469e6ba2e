// Decision threshold and score normalisation. The threshold is F1-optimal on a labelled
// validation split when there is one, otherwise a quantile of held-out normal scores (so a user
// with no defect images still gets a verdict). Normalisation is min-max centred on the threshold,
// (s − t)/(max − min) + 0.5 clamped to [0, 1]: the threshold maps to 0.5 for every image, and one
// fixed scale for every heatmap, so maps of different images are comparable.
import { f1Max, PixelMetricAccumulator, quantile } from '../eval/index.js';

export { quantile };
import { UserError } from './errors.js';

export type ThresholdRule = 'f1' | 'quantile' | 'manual' | 'quantile-train';

export interface Normalisation {
  threshold: number;
  min: number;
  max: number;
}

export interface ThresholdInfo {
  /** Raw image-score threshold: score >= value → anomalous. */
  value: number;
  rule: ThresholdRule;
  /** For quantile rules. */
  quantile?: number;
  /** Number of scores it was derived from. */
  samples: number;
}

export function normalise(s: number, n: Normalisation): number {
  const range = n.max - n.min > 0 ? n.max - n.min : 1;
  const v = (s - n.threshold) / range + 0.5;
  return v < 0 ? 0 : v > 1 ? 1 : v;
}

export function normaliseArray(a: Float32Array, n: Normalisation): Float32Array {
  const out = new Float32Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = normalise(a[i]!, n);
  return out;
}

export interface CalibrationScores {
  /** Held-out normal images (never fitted on). */
  normal: Float32Array;
  /** Labelled validation split. */
  val?: { scores: Float32Array; labels: Uint8Array };
  /** Training scores: the last resort when nothing was held out. */
  train?: Float32Array;
}

export function chooseThreshold(rule: 'auto' | 'f1' | 'quantile' | 'manual', q: number, manual: number | null, c: CalibrationScores): ThresholdInfo {
  const valUsable = c.val !== undefined && c.val.labels.includes(0) && c.val.labels.includes(1);
  if (rule === 'manual') return { value: manual!, rule: 'manual', samples: 0 };
  if (rule === 'f1' || (rule === 'auto' && valUsable)) {
    if (!valUsable) throw new UserError("threshold.rule 'f1' needs a labelled validation split with normal and anomalous images; set dataset.valFromTest (e.g. 0.2) or use threshold.rule=quantile");
    return { value: f1Max(c.val!.scores, c.val!.labels).threshold, rule: 'f1', samples: c.val!.scores.length };
  }
  if (c.normal.length > 0) return { value: quantile(c.normal, q), rule: 'quantile', quantile: q, samples: c.normal.length };
  if (c.train && c.train.length > 0) return { value: quantile(c.train, q), rule: 'quantile-train', quantile: q, samples: c.train.length };
  throw new UserError('no images to set the threshold from: set threshold.holdout > 0 (held-out normal images) or dataset.valFromTest > 0');
}

export function minMaxOf(arrays: readonly Float32Array[]): { min: number; max: number } {
  let min = Infinity;
  let max = -Infinity;
  for (const a of arrays) for (let i = 0; i < a.length; i++) { const v = a[i]!; if (v < min) min = v; if (v > max) max = v; }
  return Number.isFinite(min) ? { min, max } : { min: 0, max: 1 };
}

/**
 * Pixel threshold: F1-optimal over the validation pixels when they have masks, else the q-quantile
 * of the per-image maximum of held-out normal maps (a normal image then has no flagged pixel with
 * probability ≈ q).
 */
export function choosePixelThreshold(q: number, normalMaps: readonly Float32Array[], val?: { maps: Float32Array[]; masks: Uint8Array[] }): ThresholdInfo {
  if (val && val.masks.some((m) => m.includes(1)) && val.masks.some((m) => m.includes(0))) {
    const acc = new PixelMetricAccumulator();
    val.maps.forEach((m, i) => acc.add(m, val.masks[i]!));
    return { value: acc.compute().f1Threshold, rule: 'f1', samples: val.maps.length };
  }
  if (normalMaps.length === 0) throw new UserError('no held-out normal maps to set the pixel threshold from; set threshold.holdout > 0');
  const maxima = normalMaps.map((m) => m.reduce((a, b) => (b > a ? b : a), -Infinity));
  return { value: quantile(maxima, q), rule: 'quantile', quantile: q, samples: maxima.length };
}
