// The distributions behind the calibration rule (threshold.ts): the binomial (distribution-free
// order-statistic bound) and the Gumbel (largest extreme value) tolerance factor. Pure functions.
import { mulberry32 } from '../data/random.js';

/** log Γ(x), x > 0 (Lanczos, g = 7; ~1e-15 relative). */
export function logGamma(x: number): number {
  const c = [0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7];
  if (x < 0.5) return Math.log(Math.PI / Math.abs(Math.sin(Math.PI * x))) - logGamma(1 - x);
  const z = x - 1;
  let a = c[0]!;
  const t = z + 7.5;
  for (let i = 1; i < 9; i++) a += c[i]! / (z + i);
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(a);
}

/** P(X ≤ k) for X ~ Binomial(n, p). */
export function binomialCdf(k: number, n: number, p: number): number {
  if (k < 0) return 0;
  if (k >= n) return 1;
  let s = 0;
  const lp = Math.log(p), lq = Math.log1p(-p);
  const lnf = logGamma(n + 1);
  for (let i = 0; i <= k; i++) s += Math.exp(lnf - logGamma(i + 1) - logGamma(n - i + 1) + i * lp + (n - i) * lq);
  return Math.min(1, s);
}

/**
 * The distribution-free bound: the smallest rank r (1-based) such that the r-th smallest of n
 * draws exceeds the `coverage` quantile with probability ≥ `confidence`, i.e.
 * P(Binomial(n, coverage) ≤ r − 1) ≥ confidence; null when even the maximum is not enough
 * (n < ln(1 − confidence)/ln(coverage)).
 */
export function orderStatisticRank(n: number, coverage: number, confidence: number): number | null {
  if (1 - coverage ** n < confidence) return null;
  const key = `rank:${n}:${coverage}:${confidence}`;
  const cached = factors.get(key);
  if (cached !== undefined) return cached;
  // Accumulate P(Binomial(n, coverage) = i) for i = 0, 1, … until the CDF reaches the confidence.
  const lp = Math.log(coverage), lq = Math.log1p(-coverage), lnf = logGamma(n + 1);
  let cdf = 0;
  let r = n;
  for (let i = 0; i < n; i++) {
    cdf += Math.exp(lnf - logGamma(i + 1) - logGamma(n - i + 1) + i * lp + (n - i) * lq);
    if (cdf >= confidence) { r = i + 1; break; }
  }
  factors.set(key, r);
  return r;
}

/** −log(−log p): the p-quantile of the standard Gumbel (largest extreme value) distribution. */
export const gumbelQuantile = (p: number): number => -Math.log(-Math.log(p));

const EULER_GAMMA = 0.5772156649015329;

/** Moment estimates of the Gumbel location μ and scale β: β = s·√6/π, μ = mean − γ_E·β. */
export function gumbelFit(x: ArrayLike<number>): { mu: number; beta: number } {
  const n = x.length;
  let m = 0;
  for (let i = 0; i < n; i++) m += x[i]!;
  m /= n;
  let v = 0;
  for (let i = 0; i < n; i++) v += (x[i]! - m) ** 2;
  const beta = (Math.sqrt(v / (n - 1)) * Math.sqrt(6)) / Math.PI;
  return { mu: m - EULER_GAMMA * beta, beta };
}

/**
 * Gumbel tolerance factor k: μ̂ + k·β̂ (moment estimates from n draws) exceeds the `coverage`
 * quantile with probability `confidence`. (q − μ̂)/β̂ is pivotal for a location-scale family, so
 * k is its `confidence` quantile under the standard Gumbel, found by a seeded simulation of
 * 20,000 samples of n (Monte-Carlo error ≈ 0.5 % of k).
 */
export function gumbelToleranceFactor(n: number, coverage: number, confidence: number): number {
  if (!Number.isInteger(n) || n < 2) throw new Error(`gumbelToleranceFactor: needs n >= 2 samples, got ${n}`);
  const key = `${n}:${coverage}:${confidence}`;
  const cached = factors.get(key);
  if (cached !== undefined) return cached;
  const q = gumbelQuantile(coverage);
  const reps = 20000;
  const pivots = new Float64Array(reps);
  const x = new Float64Array(n);
  const rng = mulberry32(0x9e3779b9 ^ n);
  // In (0, 1): both logs stay finite.
  const uniform = (): number => rng.next() * (1 - 2 ** -31) + 2 ** -32;
  for (let r = 0; r < reps; r++) {
    for (let i = 0; i < n; i++) x[i] = -Math.log(-Math.log(uniform()));
    const f = gumbelFit(x);
    pivots[r] = (q - f.mu) / f.beta;
  }
  pivots.sort();
  const k = pivots[Math.min(reps - 1, Math.ceil(confidence * reps) - 1)]!;
  factors.set(key, k);
  return k;
}

const factors = new Map<string, number>();
