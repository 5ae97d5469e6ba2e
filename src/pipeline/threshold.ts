// Decision thresholds and score normalisation. An image is NG (anomalous) when its score is ≥ the
// threshold. The default rule, `tolerance`, sets the threshold from normal images the model never
// saw (held-out training images, plus the normal images of a labelled validation split) so that
// a new good part is rejected with probability at most `targetFpr`, with confidence
// `confidence` over the draw of those images:
//   - distribution-free, when there are enough of them: the r-th smallest score, r the smallest
//     rank with P(Binomial(n, 1 − α) ≤ r − 1) ≥ γ (≥ 230 images for α = 1 %, γ = 90 %);
//   - otherwise a one-sided tolerance bound under a largest-extreme-value (Gumbel) model of the
//     log scores (raw scores when some are ≤ 0): μ̂ + k·β̂ with moment estimates and k the exact
//     pivotal factor for n, 1 − α, γ (stats.ts). Image scores are maxima (the worst patch) or sums
//     of positive terms — right-skewed; this model fits maxima, is conservative for normal and
//     log-normal scores, and its promise holds by simulation for those and for Student-t(3)
//     tails (test/pipeline/threshold.test.ts). Never below the largest calibration score, so no
//     calibration image is rejected.
// Other rules: `f1` (F1-optimal on the labelled validation split, placed in the middle of the gap
// between the classes), `quantile` (numpy quantile of the normal scores), `manual` (a given value).
//
// Normalisation maps a score to [0, 1) with the threshold at 0.5: linear from the lowest normal
// calibration score (0) up to the threshold, then 1 − ½·d/(d + s − t) above it (d = t − min), so
// strong and weak defects stay apart instead of all saturating at 1.
import { f1Max, PixelMetricAccumulator, quantile } from '../eval/index.js';

export { quantile };
import { UserError } from './errors.js';
import { gumbelFit, gumbelToleranceFactor, orderStatisticRank } from './stats.js';

export type ThresholdRule = 'tolerance' | 'f1' | 'quantile' | 'manual' | 'quantile-train';

export interface Normalisation {
  threshold: number;
  /** Lowest normal calibration score (maps to 0). */
  min: number;
  /** Highest calibration score (kept for reference; not used by normalise()). */
  max: number;
}

export interface ThresholdInfo {
  /** Raw score threshold: score >= value → anomalous (NG). */
  value: number;
  rule: ThresholdRule;
  /** Number of scores it was derived from. */
  samples: number;
  /** For quantile rules. */
  quantile?: number;
  /** tolerance rule: the false-reject rate aimed at and the confidence of the bound. */
  targetFpr?: number;
  confidence?: number;
  /** tolerance rule: how the bound was computed; k = the tolerance factor of the parametric bound. */
  model?: 'order-statistic' | 'log-gumbel' | 'gumbel' | 'max';
  /** The tolerance factor of the parametric bound: threshold = μ̂ + k·β̂ (on log scores for log-gumbel). */
  k?: number;
  /** The rank used by the order-statistic bound (1-based, of `samples`). */
  rank?: number;
}

/** A value above v and below the next float32 above it: `score >= justAbove(v)` ⇔ score > v for float32 scores. */
export function justAbove(v: number): number {
  return v + Math.max(Math.abs(v) * 2 ** -25, 1e-45);
}

export function normalise(s: number, n: Normalisation): number {
  let d = n.threshold - n.min;
  if (!(d > 0)) d = n.max - n.min > 0 ? n.max - n.min : 1;
  if (s >= n.threshold) return 1 - (0.5 * d) / (d + s - n.threshold);
  const v = 0.5 - (0.5 * (n.threshold - s)) / d;
  return v < 0 ? 0 : v;
}

export function normaliseArray(a: Float32Array, n: Normalisation): Float32Array {
  const out = new Float32Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = normalise(a[i]!, n);
  return out;
}

/**
 * The tolerance rule on normal scores (see the file comment): a threshold that a new normal
 * score reaches with probability ≤ targetFpr, with the given confidence.
 */
export function toleranceThreshold(normal: ArrayLike<number>, targetFpr: number, confidence: number): ThresholdInfo {
  const n = normal.length;
  if (n === 0) throw new Error('toleranceThreshold: no normal scores');
  if (!(targetFpr > 0 && targetFpr < 1)) throw new Error(`toleranceThreshold: targetFpr must be in (0, 1), got ${targetFpr}`);
  if (!(confidence > 0 && confidence < 1)) throw new Error(`toleranceThreshold: confidence must be in (0, 1), got ${confidence}`);
  const s = Float64Array.from(normal).sort();
  const max = s[n - 1]!;
  const base = { rule: 'tolerance' as const, samples: n, targetFpr, confidence };
  const rank = orderStatisticRank(n, 1 - targetFpr, confidence);
  if (rank !== null) return { ...base, value: justAbove(s[rank - 1]!), model: 'order-statistic', rank };
  if (n < 2) return { ...base, value: justAbove(max), model: 'max' };
  // Image scores are mostly maxima (PatchCore: the worst patch) or sums of positive terms: right-
  // skewed. The largest-extreme-value (Gumbel) model fits maxima and is conservative for normal
  // and log-normal scores; on log scores when all are positive (so heavier tails are covered too).
  const log = s[0]! > 0;
  const x = log ? Array.from(s, Math.log) : Array.from(s);
  const g = gumbelFit(x);
  const k = gumbelToleranceFactor(n, 1 - targetFpr, confidence);
  const bound = log ? Math.exp(g.mu + k * g.beta) : g.mu + k * g.beta;
  return { ...base, value: Math.max(bound, justAbove(max)), model: log ? 'log-gumbel' : 'gumbel', k };
}

/**
 * F1-optimal threshold on labelled scores, moved from the lowest flagged score to the middle of
 * the gap below it (geometric middle for positive scores, whose gaps span orders of magnitude).
 */
export function f1Threshold(scores: Float32Array, labels: Uint8Array): number {
  const t = f1Max(scores, labels).threshold;
  let below = -Infinity;
  for (const s of scores) if (s < t && s > below) below = s;
  if (below === -Infinity) return t;
  return below > 0 ? Math.sqrt(below * t) : (below + t) / 2;
}

export interface CalibrationScores {
  /** Normal images fit() never saw: held-out training images and validation normals. */
  normal: Float32Array;
  /** Labelled validation split. */
  val?: { scores: Float32Array; labels: Uint8Array };
  /** Training scores: the last resort when nothing was held out. */
  train?: Float32Array;
}

export interface ThresholdSettings {
  rule: 'auto' | 'tolerance' | 'f1' | 'quantile' | 'manual';
  targetFpr: number;
  confidence: number;
  quantile: number;
  value: number | null;
}

export function chooseThreshold(t: ThresholdSettings, c: CalibrationScores): ThresholdInfo {
  if (t.rule === 'manual') return { value: t.value!, rule: 'manual', samples: 0 };
  if (t.rule === 'f1') {
    const usable = c.val !== undefined && c.val.labels.includes(0) && c.val.labels.includes(1);
    if (!usable) throw new UserError("threshold.rule 'f1' needs a labelled validation split with normal and anomalous images; set dataset.valFromTest (e.g. 0.2) or use threshold.rule=tolerance");
    return { value: f1Threshold(c.val!.scores, c.val!.labels), rule: 'f1', samples: c.val!.scores.length };
  }
  const pool = c.normal.length > 0 ? c.normal : c.train;
  if (!pool || pool.length === 0) throw new UserError('no normal images to set the threshold from: set threshold.holdout > 0 (held-out normal images) or dataset.valFromTest > 0');
  const fromTrain = c.normal.length === 0;
  if (t.rule === 'quantile') return { value: quantile(pool, t.quantile), rule: fromTrain ? 'quantile-train' : 'quantile', quantile: t.quantile, samples: pool.length };
  const r = toleranceThreshold(pool, t.targetFpr, t.confidence);
  return fromTrain ? { ...r, rule: 'quantile-train' } : r;
}

export function minMaxOf(arrays: readonly Float32Array[]): { min: number; max: number } {
  let min = Infinity;
  let max = -Infinity;
  for (const a of arrays) for (let i = 0; i < a.length; i++) { const v = a[i]!; if (v < min) min = v; if (v > max) max = v; }
  return Number.isFinite(min) ? { min, max } : { min: 0, max: 1 };
}

export function mapMaximum(m: Float32Array): number {
  let v = -Infinity;
  for (let i = 0; i < m.length; i++) if (m[i]! > v) v = m[i]!;
  return v;
}

/**
 * Pixel threshold: with rule f1 and validation masks, F1-optimal over the validation pixels;
 * otherwise the image rule applied to the per-image maximum of the normal maps, so that a good
 * part has any pixel flagged with probability ≤ targetFpr (tolerance) or ≈ 1 − q (quantile).
 */
export function choosePixelThreshold(t: ThresholdSettings, normalMaxima: Float32Array, val?: { maps: Float32Array[]; masks: Uint8Array[] }): ThresholdInfo {
  if (t.rule === 'f1' && val && val.masks.some((m) => m.includes(1)) && val.masks.some((m) => m.includes(0))) {
    const acc = new PixelMetricAccumulator();
    val.maps.forEach((m, i) => acc.add(m, val.masks[i]!));
    return { value: acc.compute().f1Threshold, rule: 'f1', samples: val.maps.length };
  }
  if (normalMaxima.length === 0) throw new UserError('no held-out normal maps to set the pixel threshold from; set threshold.holdout > 0');
  if (t.rule === 'quantile') return { value: quantile(normalMaxima, t.quantile), rule: 'quantile', quantile: t.quantile, samples: normalMaxima.length };
  return toleranceThreshold(normalMaxima, t.targetFpr, t.confidence);
}

/** Why the threshold is where it is, in words, for the log and the report ("at most 1 % of …"). */
export function describeThreshold(t: ThresholdInfo, what = 'good parts are rejected'): string {
  const pct = (x: number): string => `${Number((x * 100).toPrecision(3))} %`;
  switch (t.rule) {
    case 'manual': return 'set by hand';
    case 'f1': return `the F1-optimal cut on ${t.samples} labelled validation images, in the middle of the gap between the classes`;
    case 'quantile': return `the ${t.quantile} quantile of ${t.samples} held-out normal scores (about ${pct(1 - (t.quantile ?? 0))} of ${what}; no confidence bound)`;
    case 'quantile-train': return `from ${t.samples} training scores, as nothing was held out: optimistic: expect more false rejects than it suggests`;
    case 'tolerance': {
      const how = t.model === 'order-statistic' ? `distribution-free: the ${t.rank === t.samples ? 'largest' : `${ordinal(t.rank!)} smallest`} of their scores`
        : t.model === 'max' ? 'just above its score: one image cannot bound a rate'
        : `extreme-value (Gumbel) tolerance bound${t.model === 'log-gumbel' ? ' on log scores' : ''}, k = ${t.k!.toFixed(2)}`;
      return `at most ${pct(t.targetFpr!)} of ${what}, with ${pct(t.confidence!)} confidence; set from ${t.samples} good image${t.samples === 1 ? '' : 's'} the model never saw (${how})`;
    }
  }
}

const ordinal = (n: number): string => `${n}${n % 100 >= 11 && n % 100 <= 13 ? 'th' : ['th', 'st', 'nd', 'rd'][n % 10] ?? 'th'}`;
