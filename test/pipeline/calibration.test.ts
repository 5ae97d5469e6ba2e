// Calibration, verdicts and the report by construction: `vigil train` with a method whose scores are
// known (fixtures/oracle.ts: score = brightest pixel, map = 2 × image) on a folder of grey images
// whose values the test chose. Which normal images were held out is read from what fit() saw, so
// every expected value below comes from the images and numpy/scipy/scikit-learn, not from Vigil:
// the thresholds of each rule, the normalisation anchors, the verdicts, the metrics, predict's
// masks (= map ≥ pixel threshold, pixel for pixel) and the numbers, galleries and tables of
// report.html.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { encodePng, readImage } from '../../src/data/image/index.js';
import { parseCsv, vigil } from '../cli/helpers.js';
import { runPython } from '../helpers/python.js';

const ORACLE = fileURLToPath(new URL('./fixtures/oracle.js', import.meta.url));
const S = 16;
const SPOT = { y: 5, x: 6, h: 4, w: 5 };
const TRAIN_VALUES = Array.from({ length: 60 }, (_, i) => 40 + i);
const TEST_GOOD_VALUES = [30, 55, 75, 95, 160, 170, 180, 190];
const SPOT_VALUES = [60, 70, 200, 215, 230, 245];
const BACKGROUND = 45;
const PEAK = 3;
const GALLERY = 3;

let dir: string;
let root: string;
/** Grey level of every image file (its brightest pixel). */
const valueOf = new Map<string, number>();
const known = (v: number): number => Math.fround(v / 255);

interface RunInfo {
  dir: string;
  metrics: any;
  manifest: any;
  rows: Array<Record<string, string>>;
  /** Scores of the held-out normal images, read as "train images fit() did not see". */
  heldOut: number[];
  fitted: number[];
}
const runs: Record<string, RunInfo> = {};
let ref: Record<string, any>;

function png(path: string, pixels: Uint8Array): void {
  writeFileSync(path, encodePng(pixels, S, S, 1));
}

function train(name: string, set: string[]): RunInfo {
  const out = join(dir, name);
  const r = vigil(['train', '--method', 'oracle', '--data', `folder:${root}`, '--out', out, '--quiet',
    '--set', 'dataset.folder.normalTestDir=test_good', '--set', 'train.workers=0', '--set', `output.images=${GALLERY}`, ...set], { VIGIL_PLUGINS: ORACLE });
  assert.equal(r.code, 0, r.stderr);
  const log = readFileSync(join(out, 'log.txt'), 'utf8');
  const fitted = /oracle: fitted on ([^\n]*)/.exec(log)![1]!.split(' ').map(Number);
  const trainScores = TRAIN_VALUES.map((v) => known(v + PEAK));
  for (const s of fitted) assert.ok(trainScores.includes(s), `fit() saw a score (${s}) that is no training image's`);
  const heldOut = trainScores.filter((s) => !fitted.includes(s));
  return {
    dir: out, fitted, heldOut,
    metrics: JSON.parse(readFileSync(join(out, 'metrics.json'), 'utf8')),
    manifest: JSON.parse(readFileSync(join(out, 'model', 'manifest.json'), 'utf8')),
    rows: parseCsv(readFileSync(join(out, 'scores.csv'), 'utf8')),
  };
}

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'vigil-calib-'));
  root = join(dir, 'parts');
  for (const d of ['good', 'test_good', 'spot', 'ground_truth/spot']) mkdirSync(join(root, d), { recursive: true });
  // A good training image: grey level v with one pixel at v + 3 (its score), so that a map's
  // maximum, mean and minimum differ.
  TRAIN_VALUES.forEach((v, i) => {
    const img = new Uint8Array(S * S).fill(v);
    img[(i % S) * S + ((i * 7) % S)] = v + PEAK;
    const p = join(root, 'good', `g${String(i).padStart(2, '0')}.png`);
    png(p, img);
    valueOf.set(p, v + PEAK);
  });
  TEST_GOOD_VALUES.forEach((v, i) => { const p = join(root, 'test_good', `t${i}.png`); png(p, new Uint8Array(S * S).fill(v)); valueOf.set(p, v); });
  SPOT_VALUES.forEach((v, i) => {
    const img = new Uint8Array(S * S).fill(BACKGROUND);
    const mask = new Uint8Array(S * S);
    for (let y = SPOT.y; y < SPOT.y + SPOT.h; y++) for (let x = SPOT.x; x < SPOT.x + SPOT.w; x++) { img[y * S + x] = v; mask[y * S + x] = 255; }
    const p = join(root, 'spot', `d${i}.png`);
    png(p, img);
    png(join(root, 'ground_truth', 'spot', `d${i}_mask.png`), mask);
    valueOf.set(p, v);
  });

  runs.tolerance = train('tolerance', []);
  runs.quantile = train('quantile', ['--set', 'threshold.rule=quantile', '--set', 'threshold.quantile=0.9']);
  // 48 held out at a 20 % rate: enough for the distribution-free bound, below the maximum.
  runs.order = train('order', ['--set', 'threshold.holdout=0.8', '--set', 'threshold.targetFpr=0.2']);
  // The threshold equal to a test score (spot 200): score ≥ threshold is NG.
  runs.manual = train('manual', ['--set', 'threshold.rule=manual', '--set', `threshold.value=${known(200)}`]);
  runs.val = train('val', ['--set', 'dataset.valFromTest=0.5']);

  // Every expected number from numpy / scipy / scikit-learn.
  const testFiles = [...valueOf.keys()].filter((p) => !p.includes(`${sep}good${sep}`));
  const spec = {
    heldOut: Object.fromEntries(Object.entries(runs).map(([k, r]) => [k, r.heldOut])),
    coverage: Object.fromEntries(Object.entries(runs).map(([k, r]) => [k, 1 - (r.manifest.threshold.image.targetFpr ?? 0.05)])),
    test: testFiles.map((p) => ({ score: known(valueOf.get(p)!), label: p.includes(`${sep}spot${sep}`) ? 1 : 0, spot: p.includes(`${sep}spot${sep}`) })),
    background: known(BACKGROUND), spot: SPOT, size: S,
  };
  writeFileSync(join(dir, 'spec.json'), JSON.stringify(spec));
  ref = JSON.parse(runPython(`
import json, sys
import numpy as np
from scipy import stats
from sklearn.metrics import average_precision_score, roc_auc_score
spec = json.load(open(sys.argv[1] + '/spec.json'))
out = {}
def gumbel(x):
    # moment estimates of the largest-extreme-value distribution on the log scores
    l = np.log(np.asarray(x, dtype=np.float64))
    beta = np.std(l, ddof=1) * np.sqrt(6) / np.pi
    return {'mu': float(np.mean(l) - np.euler_gamma * beta), 'beta': float(beta)}
for k, h in spec['heldOut'].items():
    h = np.asarray(h, dtype=np.float64)
    n = len(h)
    # smallest rank r with P(Binomial(n, 1 - targetFpr) <= r - 1) >= 0.9, if any
    ranks = [r for r in range(1, n + 1) if stats.binom.cdf(r - 1, n, spec['coverage'][k]) >= 0.9]
    out[k] = {'gumbel': gumbel(h), 'gumbel2': gumbel(2 * h), 'q90': float(np.quantile(h, 0.9)), 'q90px': float(np.quantile(2 * h, 0.9)),
              'rank': ranks[0] if ranks else None, 'sorted': np.sort(h).tolist()}
t = spec['test']
s = np.array([x['score'] for x in t]); y = np.array([x['label'] for x in t])
out['image'] = {'auroc': roc_auc_score(y, s), 'ap': average_precision_score(y, s)}
# pixels: maps are 2 x image; good images are uniform, defects a background with a spot
S = spec['size']; sp = spec['spot']
maps, masks = [], []
for x in t:
    m = np.full((S, S), 2 * (spec['background'] if x['spot'] else x['score']), dtype=np.float64)
    g = np.zeros((S, S), dtype=np.int64)
    if x['spot']:
        m[sp['y']:sp['y'] + sp['h'], sp['x']:sp['x'] + sp['w']] = 2 * x['score']
        g[sp['y']:sp['y'] + sp['h'], sp['x']:sp['x'] + sp['w']] = 1
    maps.append(m.ravel()); masks.append(g.ravel())
out['pixel'] = {'auroc': roc_auc_score(np.concatenate(masks), np.concatenate(maps)), 'ap': average_precision_score(np.concatenate(masks), np.concatenate(maps))}
print(json.dumps(out))
`, dir));
});
after(() => rmSync(dir, { recursive: true, force: true }));

/** A value above v and below the next float32 up: what "score > v" looks like as "score ≥ t". */
function justAboveOk(t: number, v: number, what: string): void {
  const next = new Float32Array([v]);
  new Uint32Array(next.buffer)[0]! += 1;
  assert.ok(t > v && t < next[0]!, `${what}: ${t} is not just above ${v}`);
}

const rel = (a: number, b: number, tol: number, what: string): void => assert.ok(Math.abs(a - b) <= tol * Math.abs(b), `${what}: ${a} vs ${b}`);

test('the split: the held-out normals are the training images fit() did not see, and exactly the saved calibration scores', () => {
  for (const [name, r] of Object.entries(runs)) {
    assert.equal(r.fitted.length + r.heldOut.length, TRAIN_VALUES.length, `${name}: every training image is fitted or held out`);
    assert.equal(r.metrics.counts.held_out_normal, r.heldOut.length, name);
    if (name !== 'val') assert.deepEqual([...r.manifest.calibration.normal].sort((a, b) => a - b), [...r.heldOut].sort((a, b) => a - b), `${name}: calibrated on the held-out scores`);
    assert.equal(r.manifest.calibration.source, 'held-out');
  }
  // 60 normals: max(10 % → 6, holdoutMin 10) = 10 held out; holdout 0.8 → 48.
  assert.equal(runs.tolerance!.heldOut.length, 10);
  assert.equal(runs.order!.heldOut.length, 48);
});

test('tolerance rule, few images: the Gumbel bound on the log scores (numpy moments), never below the largest', () => {
  const r = runs.tolerance!;
  const t = r.manifest.threshold.image;
  assert.deepEqual([t.rule, t.model, t.samples, t.targetFpr, t.confidence], ['tolerance', 'log-gumbel', 10, 0.05, 0.9]);
  const g = ref.tolerance.gumbel;
  const bound = Math.exp(g.mu + t.k * g.beta);
  assert.ok(bound > Math.max(...r.heldOut), 'the bound is above every calibration score here');
  rel(t.value, bound, 1e-12, 'image threshold');
  const p = r.manifest.threshold.pixel;
  assert.deepEqual([p.rule, p.model, p.samples], ['tolerance', 'log-gumbel', 10], 'pixel rule on the per-image map maxima');
  rel(p.value, Math.exp(ref.tolerance.gumbel2.mu + p.k * ref.tolerance.gumbel2.beta), 1e-12, 'pixel threshold');
  assert.equal(r.metrics.threshold.value, t.value);
});

test('tolerance rule, enough images: the distribution-free order statistic (scipy binomial rank)', () => {
  const t = runs.order!.manifest.threshold.image;
  assert.deepEqual([t.model, t.samples, t.targetFpr], ['order-statistic', 48, 0.2]);
  assert.equal(t.rank, ref.order.rank);
  assert.ok(t.rank < 48, `rank ${t.rank}: below the maximum`);
  justAboveOk(t.value, ref.order.sorted[ref.order.rank - 1], 'image threshold');
});

test('quantile rule: numpy.quantile of the held-out scores (image) and of their map maxima (pixel)', () => {
  const m = runs.quantile!.manifest.threshold;
  assert.deepEqual([m.image.rule, m.image.quantile], ['quantile', 0.9]);
  assert.equal(m.image.value, ref.quantile.q90);
  assert.equal(m.pixel.value, ref.quantile.q90px);
});

test('manual rule: the given value judges; a score equal to it is NG', () => {
  const r = runs.manual!;
  const t = known(200);
  assert.deepEqual([r.manifest.threshold.image.rule, r.manifest.threshold.image.value], ['manual', t]);
  const tie = r.rows.find((x) => Number(x.score) === t);
  assert.ok(tie, 'a test image scores exactly the threshold');
  assert.equal(tie.verdict, 'anomalous', 'score >= threshold is NG');
  for (const row of r.rows) assert.equal(row.verdict, Number(row.score) >= t ? 'anomalous' : 'normal', row.id);
  assert.equal(r.metrics.confusion.tp, SPOT_VALUES.filter((v) => v >= 200).length);
});

test('a validation split: its normal images join the calibration pool; its images leave the test set', () => {
  const r = runs.val!;
  const inTest = new Set(r.rows.map((x) => x.id));
  const val = [...valueOf.keys()].filter((p) => !p.includes(`${sep}good${sep}`) && !inTest.has(p));
  assert.equal(val.length, r.metrics.counts.validation);
  const valNormal = val.filter((p) => p.includes(`${sep}test_good${sep}`)).map((p) => known(valueOf.get(p)!));
  assert.ok(valNormal.length > 0);
  assert.deepEqual([...r.manifest.calibration.normal].sort((a, b) => a - b), [...r.heldOut, ...valNormal].sort((a, b) => a - b));
  assert.equal(r.manifest.threshold.image.samples, r.heldOut.length + valNormal.length);
});

test('normalisation: lowest held-out score → 0, threshold → 0.5, as documented; scores.csv follows it', () => {
  const r = runs.tolerance!;
  const t = r.manifest.threshold.image.value;
  const lo = Math.min(...r.heldOut);
  assert.deepEqual(r.manifest.normalisation.image, { threshold: t, min: lo, max: Math.max(...r.heldOut) });
  const px = r.manifest.normalisation.pixel;
  // Pixel: over every pixel of the normal maps (2 × image): the lowest background, the highest peak.
  assert.deepEqual(px, { threshold: r.manifest.threshold.pixel.value, min: 2 * known(Math.round(lo * 255) - PEAK), max: 2 * Math.max(...r.heldOut) });
  // threshold.ts: linear from min (0) to the threshold (0.5), then 1 − ½·d/(d + s − t), d = t − min.
  const d = t - lo;
  for (const row of r.rows) {
    const s = known(valueOf.get(row.id)!);
    assert.equal(Number(row.score), s, `${row.id}: the score is the image's grey level`);
    const want = s >= t ? 1 - (0.5 * d) / (d + s - t) : Math.max(0, 0.5 - (0.5 * (t - s)) / d);
    rel(Number(row.normalised_score), want, 1e-12, `${row.id}: normalised`);
  }
});

test('verdicts and metrics: the confusion, the error lists, image and pixel metrics equal scikit-learn on the known scores and maps', () => {
  const r = runs.tolerance!;
  const t = r.manifest.threshold.image.value;
  const fr = r.rows.filter((x) => x.label === '0' && known(valueOf.get(x.id)!) >= t).map((x) => x.id);
  const miss = r.rows.filter((x) => x.label === '1' && known(valueOf.get(x.id)!) < t).map((x) => x.id);
  assert.ok(fr.length > 0 && miss.length > 0, 'the construction has false rejects and misses');
  const good = r.rows.filter((x) => x.label === '0').length;
  assert.deepEqual(r.metrics.confusion, { tp: SPOT_VALUES.length - miss.length, fn: miss.length, fp: fr.length, tn: good - fr.length });
  assert.deepEqual([...r.metrics.errors.false_rejects].sort(), [...fr].sort());
  assert.deepEqual([...r.metrics.errors.misses].sort(), [...miss].sort());
  for (const x of r.rows) assert.equal(x.verdict, known(valueOf.get(x.id)!) >= t ? 'anomalous' : 'normal');
  rel(r.metrics.image.auroc, ref.image.auroc, 1e-12, 'image AUROC');
  rel(r.metrics.image.ap, ref.image.ap, 1e-12, 'image AP');
  rel(r.metrics.pixel.auroc, ref.pixel.auroc, 1e-12, 'pixel AUROC');
  rel(r.metrics.pixel.ap, ref.pixel.ap, 1e-12, 'pixel AP');
  assert.deepEqual(r.metrics.defects.spot.images, SPOT_VALUES.length);
  assert.equal(r.metrics.defects.spot.ng, SPOT_VALUES.length - miss.length);
  assert.equal(r.metrics.defects.good.ng, fr.length);
});

test('predict: verdicts at the threshold, and every mask pixel is map ≥ pixel threshold', async () => {
  const r = runs.tolerance!;
  const tImg = r.manifest.threshold.image.value;
  const tPx = r.manifest.threshold.pixel.value;
  // Two-level images: the left half below the pixel threshold, the right half on both sides of it.
  const newDir = join(dir, 'new');
  mkdirSync(newDir, { recursive: true });
  const levels: Array<[number, number]> = [[20, Math.ceil((tPx / 2) * 255) + 3], [20, Math.floor((tPx / 2) * 255) - 3], [40, 250]];
  const files = levels.map(([a, b], i) => {
    const img = new Uint8Array(S * S);
    for (let y = 0; y < S; y++) for (let x = 0; x < S; x++) img[y * S + x] = x < S / 2 ? a : b;
    const p = join(newDir, `n${i}.png`);
    png(p, img);
    return p;
  });
  const out = join(dir, 'pred');
  const p = vigil(['predict', r.dir, newDir, '--out', out, '--json', '--quiet'], { VIGIL_PLUGINS: ORACLE });
  assert.equal(p.code, 0, p.stderr);
  const res = JSON.parse(p.stdout) as { predictions: Array<{ path: string; score: number; verdict: string; mask: string }> };
  for (const [i, f] of files.entries()) {
    const pr = res.predictions.find((x) => x.path === f)!;
    const [a, b] = levels[i]!;
    const s = known(Math.max(a, b));
    assert.equal(pr.score, s);
    assert.equal(pr.verdict, s >= tImg ? 'anomalous' : 'normal', basename(f));
    const mask = await readImage(join(out, pr.mask), { mode: 'gray' });
    let flagged = 0;
    for (let y = 0; y < S; y++) for (let x = 0; x < S; x++) {
      const want = 2 * known(x < S / 2 ? a : b) >= tPx ? 1 : 0;
      assert.equal(mask.data[y * S + x], want, `${basename(f)} (${x}, ${y})`);
      flagged += want;
    }
    assert.equal(flagged, i === 1 ? 0 : (S * S) / 2, `${basename(f)}: half the image above the pixel threshold, or none`);
  }
});

/** The text between `<h2 id="id">` and the next `<h2`. */
function section(html: string, id: string): string {
  const i = html.indexOf(`<h2 id="${id}">`);
  assert.ok(i >= 0, `report has no section #${id}`);
  const j = html.indexOf('<h2', i + 4);
  return html.slice(i, j < 0 ? undefined : j);
}
const shortId = (p: string): string => p.split(sep).slice(-3).join('/');
const galleryIds = (s: string): string[] => [...s.matchAll(/<figcaption>.*?<code>([^<]*)<\/code><\/figcaption>/g)].map((m) => m[1]!);

test('report.html: its numbers are metrics.json\'s; the galleries are the top and bottom scores; false rejects and misses are the off-diagonal', () => {
  const r = runs.tolerance!;
  const m = r.metrics;
  const html = readFileSync(join(r.dir, 'report.html'), 'utf8');
  const c = m.confusion;
  const byScore = [...r.rows].sort((a, b) => Number(b.score) - Number(a.score));
  // Verdict cards.
  assert.match(html, new RegExp(`Good parts</div><div class="v">${c.tn + c.fp}</div><div><b class="OK">OK</b> ${c.tn} · <b class="NG">NG</b> ${c.fp}</div><div class="bad">${c.fp} false rejects?`));
  assert.match(html, new RegExp(`Defects</div><div class="v">${c.tp + c.fn}</div><div><b class="NG">NG</b> ${c.tp} · <b class="OK">OK</b> ${c.fn}</div><div class="bad">${c.fn} missed`));
  assert.ok(html.includes(`at least <b>${m.threshold.value.toPrecision(5)}</b>`), 'the threshold sentence');
  // False rejects (most confident first) and misses (most hidden first): exactly the errors.
  const fr = byScore.filter((x) => x.verdict === 'anomalous' && x.label === '0');
  const miss = [...byScore].reverse().filter((x) => x.verdict === 'normal' && x.label === '1');
  const sFr = section(html, 'false-rejects');
  assert.match(sFr, new RegExp(`— ${c.fp}</h2>`));
  assert.deepEqual(galleryIds(sFr), fr.map((x) => shortId(x.id)));
  const sMiss = section(html, 'misses');
  assert.match(sMiss, new RegExp(`— ${c.fn}</h2>`));
  assert.deepEqual(galleryIds(sMiss), miss.map((x) => shortId(x.id)));
  for (const f of [...sFr.matchAll(/<figcaption>(.*?)<\/figcaption>/g)]) assert.match(f[1]!, /<b class="NG">NG<\/b> good · false reject · score /);
  for (const f of [...sMiss.matchAll(/<figcaption>(.*?)<\/figcaption>/g)]) assert.match(f[1]!, /<b class="OK">OK<\/b> defect \(spot\) · missed · score /);
  // Most / least anomalous: the top and bottom GALLERY scores, in order.
  assert.deepEqual(galleryIds(section(html, 'most')), byScore.slice(0, GALLERY).map((x) => shortId(x.id)));
  assert.deepEqual(galleryIds(section(html, 'least')), [...byScore].reverse().slice(0, GALLERY).map((x) => shortId(x.id)));
  // The table of every test image: one row each, its score, verdict and result.
  const rows = [...section(html, 'all-images').matchAll(/<tr class="(wrong)?"><td class="n">\d+<\/td><td><code>([^<]*)<\/code><\/td><td>(\w+)<\/td><td>([^<]*)<\/td><td class="n" data-v="([^"]+)">[^<]*<\/td><td class="n">([^<]*)<\/td><td><b class="(OK|NG)">\w+<\/b><\/td><td>([^<]*)<\/td><\/tr>/g)];
  assert.equal(rows.length, r.rows.length, 'one table row per test image');
  for (const x of rows) {
    const csv = r.rows.find((y) => shortId(y.id) === x[2])!;
    assert.ok(csv, `${x[2]} not in scores.csv`);
    assert.equal(Number(x[5]), Number(csv.score));
    assert.equal(x[7], csv.verdict === 'anomalous' ? 'NG' : 'OK');
    const wrong = (csv.label === '0') === (csv.verdict === 'anomalous');
    assert.equal(x[8], wrong ? (csv.label === '0' ? 'false reject' : 'missed') : 'right');
    assert.equal(x[1] === 'wrong', wrong);
    assert.equal(x[3], csv.label === '0' ? 'good' : 'defect');
    assert.equal(Number(x[6]), Number(Number(csv.normalised_score).toFixed(3)));
  }
  // The metrics table: each printed number is metrics.json's, to the digits shown.
  const printed = (label: string): number => {
    const mm = new RegExp(`<tr><th>${label}[^<]*</th><td>([^<]+)</td></tr>`).exec(section(html, 'metrics'));
    assert.ok(mm, `metrics table has no row '${label}'`);
    return Number(mm[1]);
  };
  for (const [label, v] of [['Image AUROC', m.image.auroc], ['Image average precision', m.image.ap], ['Pixel AUROC', m.pixel.auroc], ['Pixel average precision', m.pixel.ap], ['AUPRO', m.pixel.aupro], ['Threshold \\(raw score\\)', m.threshold.value]] as const) {
    assert.equal(printed(label), Number(v.toPrecision(label.startsWith('Threshold') ? 5 : 4)), label);
  }
  // By defect type: images, NG, OK per type.
  for (const [type, d] of Object.entries(m.defects) as Array<[string, { images: number; ng: number }]>) {
    assert.match(section(html, 'types'), new RegExp(`<tr><td>${type}</td><td class="n">${d.images}</td><td class="n">${d.ng}</td><td class="n">${d.images - d.ng}</td>`));
  }
});
