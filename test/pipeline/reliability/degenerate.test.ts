// Degenerate input: too few images is refused before fitting (naming the method's minimum and the
// held-out share); identical images train with a warning and a threshold just above their score,
// so the training images themselves are normal. No threshold has zero width.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { onlyFailureLog, parseCsv, synth, userError, vigil } from './helpers.js';

let dir: string;
let src: string;

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'vigil-degen-'));
  synth(join(dir, 'synth'));
  src = join(dir, 'synth', 'object', 'train', 'good', '000.png');
});
after(() => rmSync(dir, { recursive: true, force: true }));

/** A synth-style set whose `n` training images are all one image (and two test copies of it). */
function identical(name: string, n: number): string {
  const root = join(dir, name, 'object');
  mkdirSync(join(root, 'train', 'good'), { recursive: true });
  mkdirSync(join(root, 'test', 'good'), { recursive: true });
  for (let i = 0; i < n; i++) cpSync(src, join(root, 'train', 'good', `${String(i).padStart(3, '0')}.png`));
  for (let i = 0; i < 2; i++) cpSync(src, join(root, 'test', 'good', `${i}.png`));
  return root;
}

test('fewer training images than the method needs: refused before fitting, naming the minimum and what was held out', () => {
  const one = identical('one', 1);
  const out = join(dir, 'r1');
  userError(vigil(['train', '--method', 'pixelstats', '--data', `synth:${one}`, '--set', 'preprocess.size=32', '--out', out]), 'pixelstats needs at least 2 training images', 'gives 1');
  onlyFailureLog(out, 'needs at least 2');
  const two = identical('two', 2);
  userError(vigil(['train', '--method', 'pixelstats', '--data', `synth:${two}`, '--set', 'preprocess.size=32', '--out', join(dir, 'r2')]),
    'gives 1', '1 more is held out to set the threshold (threshold.holdout=0.1; --set threshold.holdout=0 fits on all of them)');
  // DCAE: BatchNorm needs two images too; the check runs before the network is built or fitted.
  userError(vigil(['train', '--method', 'dcae', '--data', `synth:${one}`, '--set', 'preprocess.size=32', '--set', 'model.network=cifar10', '--out', join(dir, 'r3')]), 'dcae needs at least 2 training images');
});

test('identical images: a warning; with the quantile rule, the threshold moves just above their score; a training image is predicted normal', () => {
  const same = identical('same', 8);
  for (const rule of ['tolerance', 'quantile']) {
    const run = join(dir, `same-${rule}`);
    const r = vigil(['train', '--method', 'pixelstats', '--data', `synth:${same}`, '--set', 'preprocess.size=32', '--set', 'threshold.holdout=0.5', '--set', `threshold.rule=${rule}`, '--out', run]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, rule === 'quantile'
      ? /warning: all 4 calibration image scores equal 0: the threshold is set just above, to 0\.000001, so that these images are normal; .*identical or blank images/
      : /warning: all 4 calibration image scores equal 0: the model gives these normal images one score \(identical or blank images\?\)/);
    const m = JSON.parse(readFileSync(join(run, 'model', 'manifest.json'), 'utf8'));
    assert.ok(m.threshold.image.value > 0, `${rule}: threshold ${m.threshold.image.value}`);
    assert.equal(m.normalisation.image.threshold, m.threshold.image.value);
    const out = join(dir, `same-pred-${rule}`);
    const p = vigil(['predict', run, join(same, 'train', 'good', '000.png'), '--out', out, '--quiet']);
    assert.equal(p.code, 0, p.stderr);
    const [row] = parseCsv(readFileSync(join(out, 'predictions.csv'), 'utf8'));
    assert.equal(row!.verdict, 'normal', `${rule}: the training image is normal`);
    assert.ok(Number(row!.normalised_score) < 0.5);
  }
});
