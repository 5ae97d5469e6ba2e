// PatchCore through the whole pipeline: train on the synthetic set (random ResNet-18 weights keep
// the test offline), then test and predict from the run directory.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseCsv, vigil } from './helpers.js';

let dir: string;
let run: string;

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'vigil-pc-'));
  const g = vigil(['datasets', 'synth', join(dir, 'synth'), '--categories', 'grainy', '--size', '96', '--train', '12', '--test-good', '4', '--test-defect', '2']);
  assert.equal(g.code, 0, g.stderr);
  run = join(dir, 'run');
  const r = vigil(['train', '--method', 'patchcore', '--data', `synth:${join(dir, 'synth', 'grainy')}`, '--set', 'model.backbone.weights=random',
    '--set', 'model.imageSize=96', '--set', 'model.cropSize=96', '--set', 'threshold.holdout=0.25', '--out', run, '--quiet', '--json']);
  assert.equal(r.code, 0, r.stderr);
  // --quiet: not even the random-weights notice (Node's "(node:PID) PatchCoreWarning" dump before).
  assert.equal(r.stderr, '');
});

test('without --quiet the random-weights notice is one warning line, like the other log lines', () => {
  const r = vigil(['train', '--method', 'patchcore', '--data', `synth:${join(dir, 'synth', 'grainy')}`, '--set', 'model.backbone.weights=random',
    '--set', 'model.imageSize=64', '--set', 'model.cropSize=null', '--set', 'model.coreset.ratio=0.02', '--out', join(dir, 'loud')]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /^warning: patchcore: backbone resnet18 uses random weights/m);
  assert.ok(!/\(node:\d+\)|PatchCoreWarning/.test(r.stderr), r.stderr);
});
after(() => rmSync(dir, { recursive: true, force: true }));

test('patchcore trains from the CLI and writes image and pixel metrics', () => {
  const m = JSON.parse(readFileSync(join(run, 'metrics.json'), 'utf8'));
  assert.equal(m.method, 'patchcore');
  assert.equal(m.counts.test, 4 + 5 * 2);
  for (const k of ['auroc', 'ap', 'aupro']) assert.ok(m.pixel[k] > 0 && m.pixel[k] <= 1, `pixel.${k}`);
  // Defects on the grainy texture are easy: even random features separate them.
  assert.ok(m.image.auroc > 0.7, `image AUROC ${m.image.auroc}`);
  const manifest = JSON.parse(readFileSync(join(run, 'model', 'manifest.json'), 'utf8'));
  assert.equal(manifest.method, 'patchcore');
  assert.ok(existsSync(join(run, 'model', 'model.safetensors')));
});

test('test and predict reproduce the training scores from the saved memory bank', () => {
  const t = vigil(['test', run, '--quiet', '--json']);
  assert.equal(t.code, 0, t.stderr);
  const before = JSON.parse(readFileSync(join(run, 'metrics.json'), 'utf8'));
  const again = JSON.parse(t.stdout);
  assert.equal(again.metrics.image.auroc, before.image.auroc);
  assert.equal(again.metrics.pixel.aupro, before.pixel.aupro);
  const rows = parseCsv(readFileSync(join(run, 'scores.csv'), 'utf8'));
  const one = rows.find((r) => r.label === '1')!;
  const out = join(dir, 'pred');
  const p = vigil(['predict', run, one.id!, '--out', out, '--quiet']);
  assert.equal(p.code, 0, p.stderr);
  const pred = parseCsv(readFileSync(join(out, 'predictions.csv'), 'utf8'));
  assert.equal(pred.length, 1);
  assert.ok(Math.abs(Number(pred[0]!.score) - Number(one.score)) <= 1e-4 * Math.abs(Number(one.score)), `${pred[0]!.score} vs ${one.score}`);
});
