// Shared core of the ranking metrics: input checks, and one threshold sweep that consumes the
// distinct score values in descending order with their normal/anomalous counts. Every metric
// (AUROC, AP, F1-max, operating points, AUPRO) is a fold over that sweep, so image-level
// (sorted in JS) and pixel-level (radix/bucket sorted) code share exactly the same arithmetic.

/** Scores accepted by the image-level metrics. */
export type ScoreArray = Float32Array | Float64Array;

/** One operating point of the ROC curve; a sample is flagged anomalous when score >= threshold. */
export interface OperatingPoint {
  /** The requested bound (maximum FPR, or minimum TPR). */
  target: number;
  /** Score threshold of the point; Infinity for the "flag nothing" point. */
  threshold: number;
  tpr: number;
  fpr: number;
  /** 1 - fpr. */
  tnr: number;
}

/** Everything computed by one sweep over the ranked scores. */
export interface BinaryMetrics {
  auroc: number;
  /** Average precision as scikit-learn defines it: sum over thresholds of (R_n - R_{n-1}) * P_n. */
  averagePrecision: number;
  /** Largest F1 over all thresholds, and the largest threshold reaching it. */
  f1Max: number;
  f1Threshold: number;
  /** Number of anomalous (label 1 / mask != 0) samples. */
  positives: number;
  /** Number of normal samples. */
  negatives: number;
  /** One entry per requested maximum FPR: the ROC point with the largest TPR whose FPR <= target (lowest FPR among equal TPRs). */
  tprAtFpr: OperatingPoint[];
  /** One entry per requested minimum TPR: the ROC point with the largest TNR whose TPR >= target. */
  tnrAtTpr: OperatingPoint[];
}

/** Which operating points to report besides the always-computed metrics. */
export interface OperatingPointOptions {
  /** Maximum FPRs in [0, 1] at which to report the best TPR. */
  tprAtFpr?: readonly number[];
  /** Minimum TPRs in [0, 1] at which to report the best TNR. */
  tnrAtTpr?: readonly number[];
}

export function checkRates(values: readonly number[] | undefined, field: string): number[] {
  const out: number[] = [];
  for (const v of values ?? []) {
    if (typeof v !== 'number' || !(v >= 0 && v <= 1)) {
      throw new Error(`${field}: every entry must be a rate in [0, 1]; got ${String(v)}`);
    }
    out.push(v);
  }
  return out;
}

export function checkScoresLabels(scores: ScoreArray, labels: Uint8Array, what: string): void {
  if (!(scores instanceof Float32Array || scores instanceof Float64Array)) {
    throw new Error(`${what}: scores must be a Float32Array or Float64Array`);
  }
  if (!(labels instanceof Uint8Array)) throw new Error(`${what}: labels must be a Uint8Array of 0/1`);
  if (scores.length !== labels.length) {
    throw new Error(`${what}: scores has ${scores.length} entries but labels has ${labels.length}; they must match one to one`);
  }
  for (let i = 0; i < scores.length; i++) {
    if (!Number.isFinite(scores[i])) {
      throw new Error(`${what}: score at index ${i} is ${scores[i]}; scores must be finite numbers (check the model output for NaN/Infinity)`);
    }
    const l = labels[i];
    if (l > 1) throw new Error(`${what}: label at index ${i} is ${l}; labels must be 0 (normal) or 1 (anomalous)`);
  }
}

export function singleClassError(what: string, positives: number, negatives: number, unit = 'samples'): Error {
  if (positives + negatives === 0) return new Error(`${what} needs both normal and anomalous ${unit}; got no ${unit} at all`);
  const only = positives === 0 ? 0 : 1;
  return new Error(
    `${what} needs both normal and anomalous ${unit}; got only label ${only} (${positives + negatives} ${unit}). ` +
      'Add test data of the missing class.',
  );
}

const TWO53 = 2 ** 53;

/** Sum with Neumaier compensation, so long sweeps stay within a few ulps of the exact sum. */
class CompensatedSum {
  private s = 0;
  private c = 0;
  add(x: number): void {
    const t = this.s + x;
    if (Math.abs(this.s) >= Math.abs(x)) this.c += this.s - t + x;
    else this.c += x - t + this.s;
    this.s = t;
  }
  get value(): number {
    return this.s + this.c;
  }
}

interface AuproState {
  regions: number;
  maxFpr: number;
  proCum: CompensatedSum;
  area: CompensatedSum;
  x0: number;
  y0: number;
  done: boolean;
}

/**
 * Folds (threshold, negatives, positives) groups, fed in strictly descending threshold order, into
 * all metrics at once. AUROC is accumulated in integers (exact while 2*P*N < 2^53, BigInt beyond),
 * so the only rounding is the final division.
 */
export class Sweep {
  private tp = 0;
  private fp = 0;
  private aucNum = 0;
  private aucBig = 0n;
  private readonly exactInNumber: boolean;
  private readonly ap = new CompensatedSum();
  private bestTp = 0;
  private bestDen = 1;
  private bestThreshold = Infinity;
  private readonly fprTargets: number[];
  private readonly tprTargets: number[];
  private readonly tprAtFpr: OperatingPoint[];
  private readonly tnrAtTpr: (OperatingPoint | undefined)[];
  private readonly aupro: AuproState | undefined;
  /** Per-group curve points, kept only when asked (image-level curves). */
  readonly curve: { thresholds: number[]; tps: number[]; fps: number[] } | undefined;

  constructor(
    readonly positives: number,
    readonly negatives: number,
    opts: { fprTargets?: number[]; tprTargets?: number[]; recordCurve?: boolean; auproRegions?: number; auproMaxFpr?: number } = {},
  ) {
    this.exactInNumber = 2 * positives * negatives < TWO53;
    this.fprTargets = opts.fprTargets ?? [];
    this.tprTargets = opts.tprTargets ?? [];
    this.tprAtFpr = this.fprTargets.map((t) => ({ target: t, threshold: Infinity, tpr: 0, fpr: 0, tnr: 1 }));
    this.tnrAtTpr = this.tprTargets.map((t) => (t <= 0 ? { target: t, threshold: Infinity, tpr: 0, fpr: 0, tnr: 1 } : undefined));
    this.curve = opts.recordCurve ? { thresholds: [], tps: [], fps: [] } : undefined;
    this.aupro =
      opts.auproRegions !== undefined
        ? { regions: opts.auproRegions, maxFpr: opts.auproMaxFpr ?? 0.3, proCum: new CompensatedSum(), area: new CompensatedSum(), x0: 0, y0: 0, done: false }
        : undefined;
  }

  /** proWeight: sum over this group's anomalous pixels of 1 / (area of the pixel's region). */
  push(threshold: number, neg: number, pos: number, proWeight = 0): void {
    const tp0 = this.tp;
    if (neg !== 0) {
      if (this.exactInNumber) {
        this.aucNum += neg * (2 * tp0 + pos);
      } else {
        this.aucBig += BigInt(neg) * BigInt(2 * tp0 + pos);
      }
    }
    const tp = tp0 + pos;
    const fp = this.fp + neg;
    this.tp = tp;
    this.fp = fp;
    if (pos !== 0) {
      this.ap.add(pos * (tp / (tp + fp)));
      // F1 = 2tp / (tp + fp + P); compare fractions by cross-multiplication so exact ties keep the
      // first (largest) threshold.
      const den = tp + fp + this.positives;
      if (tp * this.bestDen > this.bestTp * den) {
        this.bestTp = tp;
        this.bestDen = den;
        this.bestThreshold = threshold;
      }
    }
    const nFpr = this.fprTargets.length;
    // Only a group with anomalous samples can raise the TPR; skipping the others keeps, among
    // points of equal TPR, the one with the lowest FPR.
    if (nFpr !== 0 && pos !== 0) {
      const fpr = fp / this.negatives;
      for (let k = 0; k < nFpr; k++) {
        if (fpr <= this.fprTargets[k]) {
          const o = this.tprAtFpr[k];
          o.threshold = threshold;
          o.tpr = tp / this.positives;
          o.fpr = fpr;
          o.tnr = 1 - fpr;
        }
      }
    }
    const nTpr = this.tprTargets.length;
    if (nTpr !== 0) {
      const tpr = tp / this.positives;
      for (let k = 0; k < nTpr; k++) {
        if (this.tnrAtTpr[k] === undefined && tpr >= this.tprTargets[k]) {
          const fpr = fp / this.negatives;
          this.tnrAtTpr[k] = { target: this.tprTargets[k], threshold, tpr, fpr, tnr: 1 - fpr };
        }
      }
    }
    if (this.curve !== undefined) {
      this.curve.thresholds.push(threshold);
      this.curve.tps.push(tp);
      this.curve.fps.push(fp);
    }
    const a = this.aupro;
    if (a !== undefined && !a.done) {
      a.proCum.add(proWeight);
      this.auproPoint(a, fp / this.negatives, Math.min(1, a.proCum.value / a.regions));
    }
  }

  // Trapezoid on the PRO curve up to maxFpr, interpolating linearly at maxFpr (MVTec AD rule).
  private auproPoint(a: AuproState, x1: number, y1: number): void {
    if (x1 <= a.maxFpr) {
      a.area.add(0.5 * (a.y0 + y1) * (x1 - a.x0));
      a.x0 = x1;
      a.y0 = y1;
    } else {
      if (a.x0 < a.maxFpr) {
        const yi = a.y0 + ((y1 - a.y0) * (a.maxFpr - a.x0)) / (x1 - a.x0);
        a.area.add(0.5 * (yi + a.y0) * (a.maxFpr - a.x0));
      }
      a.done = true;
    }
  }

  result(): BinaryMetrics {
    const P = this.positives;
    const N = this.negatives;
    const num = this.exactInNumber ? this.aucNum : Number(this.aucBig);
    const tnrAtTpr = this.tnrAtTpr.map((o, k) => o ?? { target: this.tprTargets[k], threshold: -Infinity, tpr: 1, fpr: 1, tnr: 0 });
    return {
      auroc: num / (2 * P * N),
      averagePrecision: this.ap.value / P,
      f1Max: (2 * this.bestTp) / this.bestDen,
      f1Threshold: this.bestThreshold,
      positives: P,
      negatives: N,
      tprAtFpr: this.tprAtFpr.map((o) => ({ ...o })),
      tnrAtTpr,
    };
  }

  /** Area under the PRO curve on [0, maxFpr] divided by maxFpr; the curve ends at (1, 1). */
  auproResult(): number {
    const a = this.aupro;
    if (a === undefined) throw new Error('Sweep: AUPRO was not requested');
    if (!a.done) this.auproPoint(a, 1, 1);
    return a.area.value / a.maxFpr;
  }
}

/**
 * Sorts an image-level score array and feeds its distinct values to the sweep, descending.
 * Index sort on doubles: image-level inputs are small (thousands), so a comparison sort is fine.
 */
export function sweepSmall(scores: ScoreArray, labels: Uint8Array, sweep: Sweep): void {
  const n = scores.length;
  const idx = new Uint32Array(n);
  for (let i = 0; i < n; i++) idx[i] = i;
  idx.sort((a, b) => scores[b] - scores[a]);
  let i = 0;
  while (i < n) {
    const v = scores[idx[i]];
    let pos = 0;
    let neg = 0;
    // -0 === 0, so signed zeros form one group as in numpy.
    while (i < n && scores[idx[i]] === v) {
      if (labels[idx[i]] !== 0) pos++;
      else neg++;
      i++;
    }
    sweep.push(v === 0 ? 0 : v, neg, pos); // report +0 for the signed-zero group
  }
}

export function countPositives(labels: Uint8Array): number {
  let p = 0;
  for (let i = 0; i < labels.length; i++) if (labels[i] !== 0) p++;
  return p;
}
