// Verdicts from the CLI: re-thresholding without retraining (--threshold, --target-fpr on test and
// predict), keys a verb would ignore, folder layout detection, size warnings, the small defects
// (-h, pluralisation, the error in log.txt), on pixelstats runs that take seconds.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import YAML from 'yaml';
import { readImage, writePngSync } from '../../src/data/image/index.js';
import { resize } from '../../src/data/transforms/index.js';
import { parseCsv, vigil } from './helpers.js';

let dir: string;
let run: string;
let synth: string;

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'vigil-verdicts-'));
  const g = vigil(['datasets', 'synth', join(dir, 'synth'), '--categories', 'object', '--size', '64', '--train', '24', '--test-good', '8', '--test-defect', '2']);
  assert.equal(g.code, 0, g.stderr);
  synth = join(dir, 'synth', 'object');
  run = join(dir, 'run');
  const r = vigil(['train', '--method', 'pixelstats', '--data', `synth:${synth}`, '--out', run, '--quiet']);
  assert.equal(r.code, 0, r.stderr);
});
after(() => rmSync(dir, { recursive: true, force: true }));

test('test --threshold judges with the given score, saved in metrics.json, scores.csv and config.yaml', () => {
  const manifest = JSON.parse(readFileSync(join(run, 'model', 'manifest.json'), 'utf8'));
  const rows = parseCsv(readFileSync(join(run, 'scores.csv'), 'utf8'));
  const thr = [...rows.map((r) => Number(r.score))].sort((a, b) => a - b)[Math.floor(rows.length / 2)]!;
  const out = join(dir, 't-thr');
  const t = vigil(['test', run, '--threshold', String(thr), '--out', out, '--json', '--quiet']);
  assert.equal(t.code, 0, t.stderr);
  const m = JSON.parse(readFileSync(join(out, 'metrics.json'), 'utf8'));
  assert.deepEqual([m.threshold.value, m.threshold.rule], [thr, 'manual']);
  const again = parseCsv(readFileSync(join(out, 'scores.csv'), 'utf8'));
  for (const r of again) {
    assert.equal(r.verdict, Number(r.score) >= thr ? 'anomalous' : 'normal');
    assert.equal(Number(r.threshold), thr);
  }
  assert.equal(m.confusion.fp + m.confusion.tp, again.filter((r) => Number(r.score) >= thr).length);
  const cfg = YAML.parse(readFileSync(join(out, 'config.yaml'), 'utf8'));
  assert.deepEqual([cfg.threshold.rule, cfg.threshold.value], ['manual', thr]);
  assert.notEqual(thr, manifest.threshold.image.value);
  assert.equal(JSON.parse(readFileSync(join(run, 'model', 'manifest.json'), 'utf8')).threshold.image.value, manifest.threshold.image.value, 'the model is unchanged');
});

test('--target-fpr re-thresholds from the saved calibration scores, the same on test and predict', () => {
  const out = join(dir, 't-fpr');
  const t = vigil(['test', run, '--target-fpr', '0.3', '--out', out, '--quiet']);
  assert.equal(t.code, 0, t.stderr);
  const m = JSON.parse(readFileSync(join(out, 'metrics.json'), 'utf8'));
  const base = JSON.parse(readFileSync(join(run, 'metrics.json'), 'utf8'));
  assert.equal(m.threshold.rule, 'tolerance');
  assert.equal(m.threshold.targetFpr, 0.3);
  assert.ok(m.threshold.value < base.threshold.value, `a looser rate, a lower threshold: ${m.threshold.value} vs ${base.threshold.value}`);
  assert.equal(YAML.parse(readFileSync(join(out, 'config.yaml'), 'utf8')).threshold.targetFpr, 0.3);
  assert.match(readFileSync(join(out, 'log.txt'), 'utf8'), /threshold: [\d.]+ \(overrides the model's [\d.]+\): at most 30 % of good parts/);
  const p = vigil(['predict', run, join(synth, 'test', 'good'), '--target-fpr', '0.3', '--out', join(dir, 'p-fpr'), '--json', '--quiet', '--no-images']);
  assert.equal(p.code, 0, p.stderr);
  const res = JSON.parse(p.stdout);
  assert.equal(res.threshold.value, m.threshold.value);
  for (const r of parseCsv(readFileSync(join(dir, 'p-fpr', 'predictions.csv'), 'utf8'))) {
    assert.equal(Number(r.threshold), m.threshold.value);
    assert.equal(r.verdict, Number(r.score) >= m.threshold.value ? 'anomalous' : 'normal');
  }
  const h = vigil(['predict', run, join(synth, 'test', 'good', '000.png'), '--threshold', '1e9', '--out', join(dir, 'p-thr')]);
  assert.equal(h.code, 0, h.stderr);
  assert.match(h.stdout, /1 image: 0 NG \(anomalous\), 1 OK at threshold 1\.0000e\+9/);
});

test('bad threshold flags are user errors', () => {
  for (const args of [['--threshold', '1', '--target-fpr', '0.1'], ['--target-fpr', '0'], ['--target-fpr', '1.5'], ['--threshold', 'abc']]) {
    const t = vigil(['test', run, ...args, '--out', join(dir, 'bad')]);
    assert.equal(t.code, 1, `${args.join(' ')}: ${t.stderr}`);
    assert.match(t.stderr, /--threshold|--target-fpr/);
  }
});

test('keys a verb would ignore are rejected, naming what to use instead', () => {
  const t = vigil(['test', run, '--set', 'threshold.value=30', '--out', join(dir, 'ign')]);
  assert.equal(t.code, 1, t.stderr);
  assert.match(t.stderr, /--set threshold\.value: test ignores it \(.*--threshold <score> or --target-fpr <rate>\)/);
  const m = vigil(['test', run, '--set', 'model.minStd=1', '--set', 'preprocess.size=32', '--out', join(dir, 'ign')]);
  assert.equal(m.code, 1);
  assert.match(m.stderr, /model\.minStd: test ignores it/);
  assert.match(m.stderr, /preprocess\.size: test ignores it/);
  assert.ok(!existsSync(join(dir, 'ign')), 'nothing written');
  const ok = vigil(['test', run, '--set', 'dataset.limitTest=6', '--set', 'output.images=2', '--out', join(dir, 'ok'), '--quiet']);
  assert.equal(ok.code, 0, ok.stderr);
  // train: keys the data or the method would not use.
  const pc = vigil(['train', '--method', 'patchcore', '--data', `synth:${synth}`, '--set', 'preprocess.size=128', '--out', join(dir, 'pc')]);
  assert.equal(pc.code, 1);
  assert.match(pc.stderr, /preprocess\.size is not used: patchcore brings its own transforms/);
  const fo = vigil(['train', '--method', 'pixelstats', '--data', `synth:${synth}`, '--set', 'dataset.folder.maskDir=masks', '--set', 'threshold.quantile=0.9', '--out', join(dir, 'fo')]);
  assert.equal(fo.code, 1);
  assert.match(fo.stderr, /dataset\.folder\.maskDir is not used: it is for folder: datasets/);
  assert.match(fo.stderr, /threshold\.quantile is not used: threshold\.rule is auto, not quantile/);
  assert.ok(!existsSync(join(dir, 'pc')) && !existsSync(join(dir, 'fo')));
});

/** A folder: dataset made of the synthetic images: good/, two defect folders, ground_truth/ for one. */
function makeFolder(root: string): void {
  mkdirSync(join(root, 'good'), { recursive: true });
  const copy = (from: string, to: string): void => writeFileSync(to, readFileSync(from));
  for (const f of readdirSync(join(synth, 'train', 'good'))) copy(join(synth, 'train', 'good', f), join(root, 'good', f));
  for (const f of readdirSync(join(synth, 'test', 'good'))) copy(join(synth, 'test', 'good', f), join(root, 'good', `t${f}`));
  for (const type of ['hole', 'scratch']) {
    mkdirSync(join(root, type));
    for (const f of readdirSync(join(synth, 'test', type))) copy(join(synth, 'test', type, f), join(root, type, f));
  }
  mkdirSync(join(root, 'ground_truth', 'hole'), { recursive: true });
  for (const f of readdirSync(join(synth, 'ground_truth', 'hole'))) copy(join(synth, 'ground_truth', 'hole', f), join(root, 'ground_truth', 'hole', f));
}

test('folder: defect types from the sibling folders of good/, masks from ground_truth/<type>/; datasets info counts as train does', () => {
  const root = join(dir, 'parts');
  makeFolder(root);
  const out = join(dir, 'folder-run');
  const r = vigil(['train', '--method', 'pixelstats', '--data', `folder:${root}`, '--set', 'preprocess.size=32', '--out', out, '--json', '--quiet']);
  assert.equal(r.code, 0, r.stderr);
  const m = JSON.parse(r.stdout).metrics;
  assert.deepEqual(Object.keys(m.defects).sort(), ['good', 'hole', 'scratch']);
  assert.equal(m.counts.test_anomalous, 4);
  assert.equal(m.pixel, null, 'scratch/ has no masks: no pixel metrics');
  const log = readFileSync(join(out, 'log.txt'), 'utf8');
  assert.match(log, /defect types hole \(2\), scratch \(2\) \(sibling folders of good\/\); masks in .*ground_truth, none for 2 defect images/);
  const cfg = YAML.parse(readFileSync(join(out, 'config.yaml'), 'utf8'));
  assert.equal(cfg.dataset.synth, undefined, 'no synth: section in a folder run');
  assert.equal(cfg.dataset.category, undefined);
  assert.equal(cfg.preprocess.gcn, undefined, 'no one-class preprocessing');
  assert.equal(cfg.preprocess.size, 32);
  assert.equal(cfg.threshold.quantile, undefined, 'rule auto: no quantile');
  // datasets info: the same split sizes as the train log.
  const i = vigil(['datasets', 'info', `folder:${root}`, '--json']);
  assert.equal(i.code, 0, i.stderr);
  const info = JSON.parse(i.stdout);
  assert.deepEqual([info.train, info.held_out_normal, info.test_normal, info.test_anomalous], [m.counts.train, m.counts.held_out_normal, m.counts.test_normal, m.counts.test_anomalous]);
  assert.deepEqual(info.defects, { good: m.counts.test_normal, hole: 2, scratch: 2 });
  // Masks for every type: pixel metrics.
  mkdirSync(join(root, 'ground_truth', 'scratch'));
  for (const f of readdirSync(join(synth, 'ground_truth', 'scratch'))) writeFileSync(join(root, 'ground_truth', 'scratch', f), readFileSync(join(synth, 'ground_truth', 'scratch', f)));
  const r2 = vigil(['train', '--method', 'pixelstats', '--data', `folder:${root}`, '--set', 'preprocess.size=32', '--out', join(dir, 'folder-run2'), '--json', '--quiet']);
  assert.equal(r2.code, 0, r2.stderr);
  assert.ok(JSON.parse(r2.stdout).metrics.pixel !== null);
});

test('predict warns when an image differs in size or aspect ratio from the training images', async () => {
  const img = await readImage(join(synth, 'test', 'good', '000.png'));
  const wide = join(dir, 'wide.png'), big = join(dir, 'big.png');
  writePngSync(wide, resize(img, [64, 96]));
  writePngSync(big, resize(img, [128, 128]));
  const p = vigil(['predict', run, wide, big, join(synth, 'test', 'good', '001.png'), '--out', join(dir, 'p-size')]);
  assert.equal(p.code, 0, p.stderr);
  assert.match(p.stderr, /warning: wide\.png is 96×64, the model was trained on 64×64 images — another aspect ratio \(1\.50 vs 1\.00\)/);
  assert.match(p.stderr, /warning: big\.png is 128×128, the model was trained on 64×64 images — larger \(2\.00× per side\)/);
  assert.ok(!/001\.png is/.test(p.stderr), 'no warning for an image like the training ones');
  const t = vigil(['test', run, '--out', join(dir, 't-size')]);
  assert.ok(!/warning: .* the model was trained on/.test(t.stderr), 'test images like the training ones: no warning');
});

test('a failed run says why in its log.txt; pluralised counts', () => {
  const root = join(dir, 'empty-parts');
  mkdirSync(join(root, 'good'), { recursive: true });
  writeFileSync(join(root, 'good', 'notes.txt'), 'no images here');
  const out = join(dir, 'failed');
  const r = vigil(['train', '--method', 'pixelstats', '--data', `folder:${root}`, '--out', out]);
  assert.equal(r.code, 1);
  assert.match(readFileSync(join(out, 'log.txt'), 'utf8'), /error: Folder dataset: normalDir .* has no images/);
  const one = vigil(['predict', run, join(synth, 'test', 'good', '000.png'), '--out', join(dir, 'p-one')]);
  assert.match(one.stdout, /^1 image: /m);
  assert.ok(!/\b1 images\b/.test(one.stdout + one.stderr));
});
