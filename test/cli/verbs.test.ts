// End-to-end: every verb as a child process on tiny data, asserting on the files it writes.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import YAML from 'yaml';
import { encodePng, readImage } from '../../src/data/image/index.js';
import { checkImageMetrics, parseCsv, vigil } from './helpers.js';

let dir: string;
let run: string;
const SYNTH_SIZE = 96;

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'vigil-cli-'));
  const g = vigil(['datasets', 'synth', join(dir, 'synth'), '--categories', 'woven', '--size', String(SYNTH_SIZE), '--train', '16', '--test-good', '6', '--test-defect', '2']);
  assert.equal(g.code, 0, g.stderr);
  run = join(dir, 'run');
  const r = vigil(['train', '--method', 'pixelstats', '--data', `synth:${join(dir, 'synth', 'woven')}`, '--set', 'preprocess.size=64', '--set', 'threshold.holdout=0.25', '--set', 'output.images=3', '--out', run, '--quiet']);
  assert.equal(r.code, 0, r.stderr);
});
after(() => rmSync(dir, { recursive: true, force: true }));

test('train writes the whole run directory', () => {
  for (const f of ['config.yaml', 'log.txt', 'metrics.json', 'scores.csv', 'report.html', 'model/model.safetensors', 'model/manifest.json']) {
    assert.ok(existsSync(join(run, f)), `${f} missing`);
  }
  assert.ok(!existsSync(join(run, 'checkpoint')), 'checkpoint/ is removed once the model is saved');
  const images = readdirSync(join(run, 'images')).sort();
  const m = JSON.parse(readFileSync(join(run, 'metrics.json'), 'utf8'));
  assert.deepEqual(images, m.images.map((i: { file: string }) => i.file.replace('images/', '')).sort(), 'metrics.json lists every gallery image');
  for (const f of ['least-anomalous-01.png', 'least-anomalous-03.png', 'most-anomalous-01.png', 'most-anomalous-03.png']) assert.ok(images.includes(f), f);
  assert.equal(images.filter((f) => f.startsWith('false-reject-')).length, m.confusion.fp, 'one image per false reject');
  assert.equal(images.filter((f) => f.startsWith('miss-')).length, m.confusion.fn, 'one image per miss');
  const png = readFileSync(join(run, 'images', images[0]!));
  assert.deepEqual([png.readUInt32BE(16), png.readUInt32BE(20)], [2 * 96 + 4, 96], 'image | overlay side by side at the original 96 px');
  const cfg = YAML.parse(readFileSync(join(run, 'config.yaml'), 'utf8'));
  assert.equal(cfg.method, 'pixelstats');
  assert.equal(cfg.preprocess.size, 64);
  assert.equal(cfg.threshold.holdout, 0.25);
  assert.equal(cfg.model.minStd, 0.02, 'method defaults are part of the resolved config');
  assert.equal(cfg.dataset.synth.size, 128, 'the synth preset is applied');
});

test('metrics.json agrees with scores.csv and the manifest', () => {
  const m = JSON.parse(readFileSync(join(run, 'metrics.json'), 'utf8'));
  const manifest = JSON.parse(readFileSync(join(run, 'model', 'manifest.json'), 'utf8'));
  const rows = parseCsv(readFileSync(join(run, 'scores.csv'), 'utf8'));
  assert.equal(m.method, 'pixelstats');
  assert.equal(m.dataset, 'synth:woven');
  assert.equal(m.seed, 0);
  assert.equal(rows.length, 6 + 5 * 2);
  assert.equal(m.counts.test, rows.length);
  assert.equal(m.counts.train + m.counts.held_out_normal, 16);
  assert.equal(m.counts.held_out_normal, 8, 'a quarter would be 4; at least 10 (at most half) are held out');
  const labels = rows.map((r) => Number(r.label));
  checkImageMetrics(m.image, rows);
  // Pixel metrics need the raw maps, which the run directory does not keep: their values are
  // checked by construction in test/pipeline/calibration.test.ts; here, that they were computed.
  for (const k of ['auroc', 'ap', 'aupro', 'f1_max']) assert.equal(typeof m.pixel[k], 'number', `pixel.${k} (synth has masks)`);
  assert.equal(m.threshold.rule, 'tolerance', 'from the held-out normals');
  assert.equal(m.threshold.samples, 8);
  assert.equal(m.threshold.value, manifest.threshold.image.value);
  assert.ok(m.timing.fit_s > 0 && m.timing.test_s > 0 && m.timing.infer_ms_per_image > 0);
  // Verdicts follow the stored threshold. The normalisation is anchored on the saved calibration
  // scores (lowest → 0, threshold → 0.5) and keeps the order of the scores; its values are checked
  // against known scores in test/pipeline/calibration.test.ts.
  const n = manifest.normalisation.image;
  assert.equal(n.threshold, m.threshold.value);
  assert.equal(n.min, Math.min(...manifest.calibration.normal), 'normalisation.min = the lowest calibration score');
  assert.equal(n.max, Math.max(...manifest.calibration.normal), 'normalisation.max = the highest calibration score');
  assert.equal(manifest.calibration.normal.length, m.counts.held_out_normal, 'calibrated on the held-out normals');
  const byScore = [...rows].sort((a, b) => Number(a.score) - Number(b.score));
  for (const [i, r] of byScore.entries()) {
    const s = Number(r.score);
    const v = Number(r.normalised_score);
    assert.equal(r.verdict, s >= m.threshold.value ? 'anomalous' : 'normal');
    assert.equal(v >= 0.5, r.verdict === 'anomalous', `${r.id}: normalised ${v} vs verdict ${r.verdict}`);
    assert.ok(v >= 0 && v < 1);
    if (i > 0) assert.ok(v >= Number(byScore[i - 1]!.normalised_score), 'normalised scores keep the order of the scores');
    assert.equal(Number(r.threshold), m.threshold.value);
  }
  const c = m.confusion;
  assert.equal(c.tp + c.fn, labels.filter((l) => l === 1).length);
  assert.equal(c.fp + c.tn, labels.filter((l) => l === 0).length);
  assert.equal(manifest.method, 'pixelstats');
  assert.deepEqual(manifest.imageShape, [3, 64, 64]);
  assert.equal(manifest.preprocessing.kind, 'files');
  assert.ok(manifest.normalisation.pixel, 'pixel normalisation stored for a method with maps');
});

test('report.html is self-contained', () => {
  const html = readFileSync(join(run, 'report.html'), 'utf8');
  assert.ok(!/(src|href)="https?:/.test(html), 'no network references');
  const m = JSON.parse(readFileSync(join(run, 'metrics.json'), 'utf8'));
  assert.equal((html.match(/<svg [^>]*aria-label="ROC curve|<svg [^>]*aria-label="Precision/g) ?? []).length, 2, 'ROC and PR');
  assert.equal((html.match(/<svg [^>]*aria-label="Scores of good parts/g) ?? []).length, 2, 'histogram, linear and log');
  assert.equal((html.match(/data:image\/png;base64,/g) ?? []).length, m.images.length);
  assert.ok(html.includes(`An image is <b class="NG">NG</b> when its anomaly score is at least <b>${m.threshold.value.toPrecision(5)}</b>`), 'the threshold sentence gives the threshold of metrics.json');
});

test('test re-evaluates the saved model to the same numbers', () => {
  const r = vigil(['test', run, '--json', '--quiet']);
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  const m = JSON.parse(readFileSync(join(run, 'metrics.json'), 'utf8'));
  assert.equal(out.metrics.image.auroc, m.image.auroc);
  assert.equal(out.metrics.pixel.aupro, m.pixel.aupro);
  assert.ok(existsSync(join(out.outDir, 'report.html')) && existsSync(join(out.outDir, 'scores.csv')));
});

test('predict writes predictions.csv, heatmaps and masks at the original size', async () => {
  const out = join(dir, 'pred');
  const r = vigil(['predict', run, join(dir, 'synth', 'woven', 'test', 'hole'), join(dir, 'synth', 'woven', 'test', 'good', '00*.png'), '--out', out, '--json', '--quiet']);
  assert.equal(r.code, 0, r.stderr);
  const res = JSON.parse(r.stdout);
  const rows = parseCsv(readFileSync(join(out, 'predictions.csv'), 'utf8'));
  assert.equal(rows.length, 2 + 6);
  const manifest = JSON.parse(readFileSync(join(run, 'model', 'manifest.json'), 'utf8'));
  // The same image scored by train's test pass and by predict gives the same score.
  const scores = parseCsv(readFileSync(join(run, 'scores.csv'), 'utf8'));
  for (const row of rows) {
    assert.equal(row.verdict, Number(row.score) >= manifest.threshold.image.value ? 'anomalous' : 'normal');
    const same = scores.find((s) => s.id === row.path)!;
    assert.ok(Math.abs(Number(same.score) - Number(row.score)) < 1e-5, row.path);
  }
  const p = res.predictions[0];
  const heat = await readImage(join(out, p.heatmap));
  const mask = await readImage(join(out, p.mask), { mode: 'gray' });
  assert.equal(heat.width, SYNTH_SIZE);
  assert.equal(heat.height, SYNTH_SIZE);
  assert.equal(mask.width, SYNTH_SIZE);
  for (const v of mask.data) assert.ok(v === 0 || v === 1);
});

test('one-class Fashion-MNIST subset with a labelled validation split: tolerance from every unseen normal, or F1 mid-gap', () => {
  assert.ok(existsSync('/usr/share/datasets/fashion-mnist'), 'Fashion-MNIST missing: run npm test (its setup installs dataset-fashion-mnist)');
  const out = join(dir, 'fm');
  const r = vigil(['train', '--method', 'pixelstats', '--data', 'fmnist:1', '--set', 'dataset.limit_train=400', '--set', 'dataset.limit_test=600', '--set', 'dataset.val_from_test=0.3', '--out', out, '--json', '--quiet']);
  assert.equal(r.code, 0, r.stderr);
  const res = JSON.parse(r.stdout);
  assert.equal(res.metrics.threshold.rule, 'tolerance');
  const manifest = JSON.parse(readFileSync(join(out, 'model', 'manifest.json'), 'utf8'));
  const valNormals = Number(/validation at this threshold: \d+ of \d+ anomalous images NG, \d+ of (\d+) normal images NG/.exec(readFileSync(join(out, 'log.txt'), 'utf8'))![1]);
  assert.ok(valNormals > 0);
  assert.equal(res.metrics.threshold.samples, res.metrics.counts.held_out_normal + valNormals, 'held-out normals + the validation normals');
  assert.equal(manifest.calibration.normal.length, res.metrics.threshold.samples);
  assert.equal(res.metrics.dataset, 'fashion-mnist:1');
  assert.equal(res.metrics.counts.test + res.metrics.counts.validation, 600);
  assert.equal(res.metrics.pixel, null, 'no masks → no pixel metrics');
  // Trousers vs the rest: per-pixel statistics separate them well.
  assert.ok(res.metrics.image.auroc > 0.8, `AUROC ${res.metrics.image.auroc}`);
  const rows = parseCsv(readFileSync(join(out, 'scores.csv'), 'utf8'));
  assert.match(rows[0]!.id, /^test#\d+$/);
  const f1 = vigil(['train', '--method', 'pixelstats', '--data', 'fmnist:1', '--set', 'dataset.limitTrain=400', '--set', 'dataset.limitTest=600', '--set', 'dataset.valFromTest=0.3', '--set', 'threshold.rule=f1', '--out', join(dir, 'fm-f1'), '--json', '--quiet']);
  assert.equal(f1.code, 0, f1.stderr);
  assert.equal(JSON.parse(f1.stdout).metrics.threshold.rule, 'f1');
});

test('--help works on every verb', () => {
  for (const v of [['train'], ['test'], ['predict'], ['datasets'], ['datasets', 'synth'], ['datasets', 'info'], ['weights'], ['methods']]) {
    for (const h of ['--help', '-h']) {
      const r = vigil([...v, h]);
      assert.equal(r.code, 0, `${v.join(' ')} ${h}: ${r.stderr}`);
      assert.match(r.stdout, /usage: vigil/);
    }
  }
});

test('datasets info describes a spec', () => {
  const r = vigil(['datasets', 'info', `synth:${join(dir, 'synth', 'woven')}`, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const info = JSON.parse(r.stdout);
  assert.equal(info.test_anomalous, 10);
  assert.equal(info.test_normal, 6);
  assert.equal(info.masks, true);
});

test('a folder of identical images: the run finishes and warns that every test score is equal', () => {
  const good = join(dir, 'same', 'good');
  mkdirSync(good, { recursive: true });
  const png = encodePng(new Uint8Array(16 * 16 * 3).fill(128), 16, 16, 3);
  for (let i = 0; i < 10; i++) writeFileSync(join(good, `${i}.png`), png);
  const out = join(dir, 'same-run');
  const r = vigil(['train', '--method', 'pixelstats', '--data', `folder:${join(dir, 'same')}`, '--set', 'preprocess.size=16', '--out', out, '--quiet']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(readFileSync(join(out, 'log.txt'), 'utf8'), /warning: all \d+ test scores are equal \(/);
});
