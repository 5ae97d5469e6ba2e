// The calibration rule (pipeline/threshold.ts) and its promise: with confidence γ, at most α of
// good parts are rejected. The distributions are checked against scipy; the promise is measured
// by simulation: draw n normal calibration scores, set the threshold, compute the true
// false-reject rate 1 − F(threshold) exactly, and count how often it is ≤ α.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mulberry32, type Rng } from '../../src/data/random.js';
import { binomialCdf, gumbelToleranceFactor, orderStatisticRank } from '../../src/pipeline/stats.js';
import { chooseThreshold, choosePixelThreshold, f1Threshold, justAbove, toleranceThreshold } from '../../src/pipeline/threshold.js';
import { runPython, tempDir } from '../helpers/python.js';

test('the Gumbel tolerance factor agrees with an independent simulation in numpy; the binomial with scipy', () => {
  const grid: Array<[number, number, number]> = [[2, 0.99, 0.9], [3, 0.99, 0.9], [5, 0.95, 0.9], [10, 0.99, 0.9], [20, 0.99, 0.95], [50, 0.999, 0.9]];
  const out = runPython(`
import json
import numpy as np
from scipy import stats
rng = np.random.default_rng(1)
grid = ${JSON.stringify(grid)}
k = []
for n, p, g in grid:
    x = rng.gumbel(size=(200000, n))
    beta = x.std(axis=1, ddof=1) * np.sqrt(6) / np.pi
    mu = x.mean(axis=1) - np.euler_gamma * beta
    k.append(float(np.quantile((-np.log(-np.log(p)) - mu) / beta, g)))
print(json.dumps({'k': k, 'binom': [float(stats.binom.cdf(a, n, p)) for a, n, p in [(0, 10, 0.9), (228, 230, 0.99), (5, 20, 0.3)]]}))
`, tempDir());
  const ref = JSON.parse(out) as { k: number[]; binom: number[] };
  grid.forEach(([n, p, g], i) => {
    const k = gumbelToleranceFactor(n, p, g);
    // Two simulations (20,000 and 200,000 samples): their quantiles agree to ~1 % (n = 2: the pivot's tail is heavy, 4 %).
    assert.ok(Math.abs(k - ref.k[i]!) <= (n === 2 ? 0.04 : 0.015) * ref.k[i]!, `k(${n}, ${p}, ${g}) = ${k}, numpy ${ref.k[i]}`);
  });
  [[0, 10, 0.9], [228, 230, 0.99], [5, 20, 0.3]].forEach(([a, n, p], i) => assert.ok(Math.abs(binomialCdf(a!, n!, p!) - ref.binom[i]!) < 1e-10, `binom ${i}`));
  assert.equal(gumbelToleranceFactor(10, 0.99, 0.9), gumbelToleranceFactor(10, 0.99, 0.9), 'seeded: the same factor every time');
});

test('the distribution-free bound needs ln(1 − γ)/ln(1 − α) images and picks the smallest safe rank', () => {
  assert.equal(orderStatisticRank(229, 0.99, 0.9), null, '229 images cannot bound 1 % at 90 %');
  assert.equal(orderStatisticRank(230, 0.99, 0.9), 230, '230: the maximum does');
  const r = orderStatisticRank(1000, 0.99, 0.9)!;
  assert.ok(binomialCdf(r - 1, 1000, 0.99) >= 0.9 && binomialCdf(r - 2, 1000, 0.99) < 0.9);
  assert.equal(r, 995);
});

/** Φ(x) (Abramowitz & Stegun 7.1.26 erf, |error| < 1.5e-7): exact enough for a survival function. */
function normalCdf(x: number): number {
  const z = Math.abs(x) / Math.SQRT2;
  const t = 1 / (1 + 0.3275911 * z);
  const erf = 1 - ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-z * z);
  return x >= 0 ? 0.5 * (1 + erf) : 0.5 * (1 - erf);
}

/** Draws from a distribution with a known CDF. */
interface Dist { name: string; draw(r: Rng): number; sf(x: number): number }

const lognormal = (mu: number, sigma: number): Dist => ({ name: `log-normal(${mu}, ${sigma})`, draw: (r) => Math.exp(mu + sigma * r.normal()), sf: (x) => (x <= 0 ? 1 : 1 - normalCdf((Math.log(x) - mu) / sigma)) });
const normal = (mu: number, sigma: number): Dist => ({ name: `normal(${mu}, ${sigma})`, draw: (r) => mu + sigma * r.normal(), sf: (x) => 1 - normalCdf((x - mu) / sigma) });
// PatchCore-like image scores (a maximum over patches): Gumbel, location 20, scale 2.
const gumbel = (mu: number, beta: number): Dist => ({ name: `Gumbel(${mu}, ${beta})`, draw: (r) => mu - beta * Math.log(-Math.log(1 - r.next() * (1 - 1e-16))), sf: (x) => 1 - Math.exp(-Math.exp(-(x - mu) / beta)) });
// Heavy tails: Pareto with tail index 3 (log scores are exponential), and Student t with 3 dof (scores of both signs).
const pareto = (a: number): Dist => ({ name: `Pareto(${a})`, draw: (r) => (1 - r.next()) ** (-1 / a), sf: (x) => (x < 1 ? 1 : x ** -a) });
const t3: Dist = {
  name: 'Student t(3)',
  draw: (r) => { const z = r.normal(); const v = r.normal() ** 2 + r.normal() ** 2 + r.normal() ** 2; return z / Math.sqrt(v / 3); },
  // t(3) survival: 1/2 − (1/π)(atan(x/√3) + √3x/(x² + 3)).
  sf: (x) => 0.5 - (Math.atan(x / Math.sqrt(3)) + (Math.sqrt(3) * x) / (x * x + 3)) / Math.PI,
};

function simulate(d: Dist, n: number, alpha: number, gamma: number, trials: number, seed: number): { coverage: number; meanFrr: number } {
  const r = mulberry32(seed);
  let ok = 0, frr = 0;
  for (let t = 0; t < trials; t++) {
    const x = Float32Array.from({ length: n }, () => d.draw(r));
    const thr = toleranceThreshold(x, alpha, gamma).value;
    const f = d.sf(thr);
    frr += f;
    if (f <= alpha) ok++;
  }
  return { coverage: ok / trials, meanFrr: frr / trials };
}

const ALPHA = 0.01, GAMMA = 0.9, TRIALS = 2000;
// Monte-Carlo slack: 3 standard errors of a proportion near 0.9 over TRIALS draws (≈ 0.02).
const SLACK = 3 * Math.sqrt((GAMMA * (1 - GAMMA)) / TRIALS);

test('the promise holds by simulation: normal, log-normal, Gumbel (PatchCore-like maxima) and Student-t(3) scores, 3 to 50 images', () => {
  const rows: string[] = [];
  const fails: string[] = [];
  let seed = 1;
  for (const alpha of [0.01, 0.05]) {
    for (const d of [lognormal(3, 0.1), lognormal(0, 1), normal(-1, 2), gumbel(20, 2), t3]) {
      for (const n of [3, 5, 10, 20, 50]) {
        const s = simulate(d, n, alpha, GAMMA, TRIALS, seed++);
        rows.push(`α=${alpha} ${d.name.padEnd(18)} n=${String(n).padStart(3)}  P(FRR ≤ α) = ${s.coverage.toFixed(3)}  mean FRR ${(s.meanFrr * 100).toFixed(2)} %`);
        if (s.coverage < GAMMA - SLACK) fails.push(`α=${alpha}, ${d.name}, n=${n}: the false-reject rate exceeds α in ${((1 - s.coverage) * 100).toFixed(1)} % of calibrations`);
      }
    }
  }
  console.log(rows.join('\n'));
  assert.deepEqual(fails, []);
});

test('beyond the model: Pareto tails break the parametric promise with few images (mean FRR stays < 2α); 230+ images make it distribution-free', () => {
  const rows: string[] = [];
  let seed = 100;
  for (const n of [5, 10, 20]) {
    const s = simulate(pareto(3), n, ALPHA, GAMMA, TRIALS, seed++);
    rows.push(`Pareto(3)          n=${String(n).padStart(3)}  P(FRR ≤ 1 %) = ${s.coverage.toFixed(3)}  mean FRR ${(s.meanFrr * 100).toFixed(2)} %`);
    assert.ok(s.meanFrr < 2 * ALPHA, `Pareto(3), n=${n}: mean FRR ${s.meanFrr}`);
  }
  for (const d of [pareto(3), t3]) {
    for (const n of [230, 500]) {
      const s = simulate(d, n, ALPHA, GAMMA, 1000, seed++);
      rows.push(`${d.name.padEnd(18)} n=${String(n).padStart(3)}  P(FRR ≤ 1 %) = ${s.coverage.toFixed(3)}  mean FRR ${(s.meanFrr * 100).toFixed(2)} %  (order statistic)`);
      assert.ok(s.coverage >= GAMMA - 3 * Math.sqrt((GAMMA * (1 - GAMMA)) / 1000), `${d.name}, n=${n}: distribution-free coverage ${s.coverage}`);
    }
  }
  console.log(rows.join('\n'));
});

test('ties and constant scores: no calibration image is ever rejected, and equal new scores are OK', () => {
  const same = toleranceThreshold(Float32Array.of(5, 5, 5, 5), 0.01, 0.9);
  assert.ok(same.value > 5 && Math.fround(5) < same.value, 'all equal: the threshold sits just above them');
  assert.ok(!(Math.fround(5) >= same.value), 'a new image scoring 5 is OK');
  assert.ok(Math.fround(5.000001) >= same.value, 'the next float32 above is NG');
  // Discrete scores (many ties): P(new ≥ threshold) by exact enumeration stays ≤ α at ≥ 90 % confidence.
  const r = mulberry32(7);
  const levels = [1, 2, 3, 4, 8];
  const probs = [0.5, 0.3, 0.15, 0.045, 0.005];
  const drawLevel = (): number => { let u = r.next(); for (let i = 0; i < levels.length; i++) { if ((u -= probs[i]!) < 0) return levels[i]!; } return levels[levels.length - 1]!; };
  let ok = 0;
  for (let t = 0; t < 1000; t++) {
    const x = Float32Array.from({ length: 10 }, drawLevel);
    const thr = toleranceThreshold(x, 0.01, 0.9).value;
    const frr = levels.reduce((a, l, i) => a + (l >= thr ? probs[i]! : 0), 0);
    if (frr <= 0.01) ok++;
    assert.ok(thr > Math.max(...x), 'above every calibration score');
  }
  assert.ok(ok / 1000 >= 0.9 - 0.03, `discrete coverage ${ok / 1000}`);
  // One image: just above it, said so.
  const one = toleranceThreshold(Float32Array.of(3), 0.01, 0.9);
  assert.equal(one.model, 'max');
  assert.equal(one.value, justAbove(3));
});

test('few images give a wider threshold, more images a tighter one; the model is named', () => {
  const r = mulberry32(3);
  const draw = (n: number): Float32Array => Float32Array.from({ length: n }, () => Math.exp(3 + 0.1 * r.normal()));
  const t3i = toleranceThreshold(draw(3), 0.01, 0.9), t50 = toleranceThreshold(draw(50), 0.01, 0.9);
  assert.equal(t3i.model, 'log-gumbel');
  assert.ok(t3i.k! > 2 * t50.k!, `k ${t3i.k} vs ${t50.k}`);
  assert.equal(toleranceThreshold(Float32Array.of(-1, 0, 1, 2), 0.01, 0.9).model, 'gumbel', 'scores ≤ 0: the Gumbel model on raw scores');
  const big = toleranceThreshold(draw(300), 0.01, 0.9);
  assert.equal(big.model, 'order-statistic');
  assert.equal(big.rank, 300);
});

test('f1 sits in the middle of the gap; pixel thresholds follow the image rule', () => {
  const v = f1Threshold(Float32Array.of(10, 12, 20, 130, 200), Uint8Array.of(0, 0, 0, 1, 1));
  assert.ok(Math.abs(v - Math.sqrt(20 * 130)) < 1e-9, `geometric middle of 20 and 130, got ${v}`);
  assert.ok(Math.abs(f1Threshold(Float32Array.of(-3, -1, 1, 3), Uint8Array.of(0, 0, 1, 1)) - 0) < 1e-9, 'arithmetic middle for scores of both signs');
  const settings = { rule: 'auto' as const, targetFpr: 0.01, confidence: 0.9, quantile: 0.99, value: null };
  const maxima = Float32Array.of(5, 5.5, 6, 5.2, 5.8);
  const p = choosePixelThreshold(settings, maxima);
  assert.deepEqual([p.rule, p.value], ['tolerance', toleranceThreshold(maxima, 0.01, 0.9).value]);
  assert.equal(chooseThreshold({ ...settings, rule: 'manual', value: 7 }, { normal: maxima }).value, 7);
  assert.equal(chooseThreshold(settings, { normal: new Float32Array(0), train: maxima }).rule, 'quantile-train');
});
