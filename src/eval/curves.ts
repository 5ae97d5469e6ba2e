// Image-level ranking metrics and curves, with scikit-learn's definitions and tie handling.
import {
  type BinaryMetrics,
  type OperatingPoint,
  type OperatingPointOptions,
  type ScoreArray,
  Sweep,
  checkRates,
  checkScoresLabels,
  countPositives,
  singleClassError,
  sweepSmall,
} from './ranking.js';

function run(what: string, scores: ScoreArray, labels: Uint8Array, opts: OperatingPointOptions = {}, recordCurve = false): Sweep {
  checkScoresLabels(scores, labels, what);
  const fprTargets = checkRates(opts.tprAtFpr, `${what}: tprAtFpr`);
  const tprTargets = checkRates(opts.tnrAtTpr, `${what}: tnrAtTpr`);
  const P = countPositives(labels);
  const N = labels.length - P;
  if (P === 0 || N === 0) throw singleClassError(what, P, N);
  const sweep = new Sweep(P, N, { fprTargets, tprTargets, recordCurve });
  sweepSmall(scores, labels, sweep);
  return sweep;
}

/** All image-level metrics from one sort. labels: 0 normal, 1 anomalous. */
export function binaryMetrics(scores: ScoreArray, labels: Uint8Array, opts: OperatingPointOptions = {}): BinaryMetrics {
  return run('image metrics', scores, labels, opts).result();
}

/** Area under the ROC curve; equals sklearn.metrics.roc_auc_score, ties counted as half. */
export function auroc(scores: ScoreArray, labels: Uint8Array): number {
  return run('AUROC', scores, labels).result().auroc;
}

/** Average precision; equals sklearn.metrics.average_precision_score (step-wise, no interpolation). */
export function averagePrecision(scores: ScoreArray, labels: Uint8Array): number {
  return run('average precision', scores, labels).result().averagePrecision;
}

/** Maximum F1 over all distinct thresholds, with the largest threshold that reaches it (flag score >= threshold). */
export function f1Max(scores: ScoreArray, labels: Uint8Array): { f1: number; threshold: number } {
  const r = run('F1-max', scores, labels).result();
  return { f1: r.f1Max, threshold: r.f1Threshold };
}

/**
 * Best TPR among the ROC points (one per distinct threshold, plus "flag nothing") whose FPR <= maxFpr.
 * No interpolation between points: the answer is always a threshold you can actually deploy.
 */
export function tprAtFpr(scores: ScoreArray, labels: Uint8Array, maxFpr: number): OperatingPoint {
  return run('TPR at FPR', scores, labels, { tprAtFpr: [maxFpr] }).result().tprAtFpr[0];
}

/** Best TNR (largest threshold) among the ROC points whose TPR >= minTpr; no interpolation. */
export function tnrAtTpr(scores: ScoreArray, labels: Uint8Array, minTpr: number): OperatingPoint {
  return run('TNR at TPR', scores, labels, { tnrAtTpr: [minTpr] }).result().tnrAtTpr[0];
}

export interface RocCurve {
  fpr: Float64Array;
  tpr: Float64Array;
  /** Descending; thresholds[0] is Infinity (the "flag nothing" point at (0, 0)). */
  thresholds: Float64Array;
}

/**
 * ROC curve as sklearn.metrics.roc_curve(drop_intermediate=False): a point per distinct score.
 * Unlike scikit-learn 1.2 (which uses max score + 1) the first threshold is Infinity, as in sklearn >= 1.3.
 */
export function rocCurve(scores: ScoreArray, labels: Uint8Array): RocCurve {
  const s = run('ROC curve', scores, labels, {}, true);
  const c = s.curve!;
  const k = c.thresholds.length;
  const fpr = new Float64Array(k + 1);
  const tpr = new Float64Array(k + 1);
  const thresholds = new Float64Array(k + 1);
  thresholds[0] = Infinity;
  for (let i = 0; i < k; i++) {
    fpr[i + 1] = c.fps[i] / s.negatives;
    tpr[i + 1] = c.tps[i] / s.positives;
    thresholds[i + 1] = c.thresholds[i];
  }
  return { fpr, tpr, thresholds };
}

export interface PrCurve {
  /** Length thresholds.length + 1; the last entry is 1 (sklearn's convention). */
  precision: Float64Array;
  /** Length thresholds.length + 1, decreasing; the last entry is 0. */
  recall: Float64Array;
  /** Every distinct score, ascending (older scikit-learn cut the curve at full recall; 1.2 does not). */
  thresholds: Float64Array;
}

/** Precision-recall curve laid out exactly as sklearn.metrics.precision_recall_curve (scikit-learn 1.2). */
export function precisionRecallCurve(scores: ScoreArray, labels: Uint8Array): PrCurve {
  const s = run('precision-recall curve', scores, labels, {}, true);
  const c = s.curve!;
  const k = c.thresholds.length;
  const precision = new Float64Array(k + 1);
  const recall = new Float64Array(k + 1);
  const thresholds = new Float64Array(k);
  for (let j = 0; j < k; j++) {
    const i = k - 1 - j;
    precision[j] = c.tps[i] / (c.tps[i] + c.fps[i]);
    recall[j] = c.tps[i] / s.positives;
    thresholds[j] = c.thresholds[i];
  }
  precision[k] = 1;
  recall[k] = 0;
  return { precision, recall, thresholds };
}
