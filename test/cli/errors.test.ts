// Bad input: each case must exit 1 with a message naming the problem, and no stack trace.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadSafetensors, saveSafetensors } from '../../src/torch/index.js';
import { SLOWMEAN, vigil, type Run } from './helpers.js';

let dir: string;
let run: string;

function userError(r: Run, ...needles: string[]): void {
  assert.equal(r.code, 1, `exit code 1 expected, got ${r.code}\n${r.stderr}`);
  assert.match(r.stderr, /(^|\n)vigil: error: /);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  for (const n of needles) assert.ok(r.stderr.includes(n), `stderr should mention '${n}':\n${r.stderr}`);
}

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'vigil-err-'));
  assert.equal(vigil(['datasets', 'synth', join(dir, 'synth'), '--categories', 'grainy', '--size', '64', '--train', '8', '--test-good', '2', '--test-defect', '1']).code, 0);
  run = join(dir, 'run');
  const r = vigil(['train', '--method', 'pixelstats', '--data', `synth:${join(dir, 'synth', 'grainy')}`, '--set', 'preprocess.size=32', '--out', run, '--quiet']);
  assert.equal(r.code, 0, r.stderr);
});
after(() => rmSync(dir, { recursive: true, force: true }));

test('missing data folder', () => {
  userError(vigil(['train', '--method', 'pixelstats', '--data', `folder:${join(dir, 'nope')}`, '--out', join(dir, 'r1')]), join(dir, 'nope'), 'does not exist');
  userError(vigil(['train', '--method', 'pixelstats', '--data', `mvtec:${join(dir, 'nope', 'bottle')}`, '--out', join(dir, 'r1b')]), 'does not exist');
});

test('folder dataset without the normal folder names it', () => {
  mkdirSync(join(dir, 'empty'), { recursive: true });
  userError(vigil(['train', '--method', 'pixelstats', '--data', `folder:${join(dir, 'empty')}`, '--out', join(dir, 'r2')]), join(dir, 'empty', 'good'));
});

test('unknown config key names the key and lists the valid ones', () => {
  userError(vigil(['train', '--method', 'pixelstats', '--data', 'fmnist:0', '--set', 'train.batchsize=3', '--out', join(dir, 'r3')]), '✖ train.batchsize: unknown key', 'batchSize, workers, checkpoint');
  userError(vigil(['train', '--method', 'pixelstats', '--data', 'fmnist:0', '--set', 'model.min_sdt=1', '--out', join(dir, 'r3b')]), '✖ model.min_sdt: unknown key', 'minStd, batchSize');
  const cfg = join(dir, 'bad.yaml');
  writeFileSync(cfg, 'threshold:\n  quantile: high\n');
  userError(vigil(['train', '--method', 'pixelstats', '--data', 'fmnist:0', '--config', cfg, '--out', join(dir, 'r3c')]), '✖ threshold.quantile: expected a number in [0, 1]', '"high"');
});

test('wrong value types from --set: every wrong key is reported at once, old spellings included', () => {
  userError(vigil(['train', '--method', 'pixelstats', '--data', 'fmnist:0', '--set', 'train.batch_size=abc', '--set', 'seed=-1', '--set', 'model.minStd=x', '--set', 'threshold.rule=best', '--out', join(dir, 'r4')]),
    '✖ train.batchSize: expected an integer >= 1, got "abc"', '✖ seed: must be >= 0, got -1', '✖ model.minStd: expected a number', '✖ threshold.rule: must be one of "auto", "tolerance", "f1", "quantile", "manual"');
  assert.ok(!existsSync(join(dir, 'r4')), 'nothing is written for an invalid config');
});

test('unknown method and bad data specs', () => {
  userError(vigil(['train', '--method', 'nosuch', '--data', 'fmnist:0']), "unknown method 'nosuch'", 'pixelstats');
  userError(vigil(['train', '--method', 'pixelstats', '--data', 'fmnist:12']), 'fmnist:12', '0..9');
  userError(vigil(['train', '--method', 'pixelstats', '--data', 'imagenet:1']), "unknown dataset kind 'imagenet'");
  userError(vigil(['train', '--method', 'pixelstats']), '--data');
  userError(vigil(['train', '--method', 'pixelstats', '--data', 'fmnist:0', '--bogus']), '--bogus', '--method');
  userError(vigil(['frobnicate']), "unknown command 'frobnicate'");
});

test('corrupt image: predict names the file; --skip-unreadable lists it', () => {
  const bad = join(dir, 'broken.png');
  const good = readFileSync(join(dir, 'synth', 'grainy', 'test', 'good', '000.png'));
  writeFileSync(bad, good.subarray(0, 100));
  userError(vigil(['predict', run, bad, '--out', join(dir, 'p1')]), bad);
  const r = vigil(['predict', run, bad, join(dir, 'synth', 'grainy', 'test', 'good', '000.png'), '--skip-unreadable', '--out', join(dir, 'p2'), '--quiet']);
  assert.equal(r.code, 0, r.stderr);
  const csv = readFileSync(join(dir, 'p2', 'predictions.csv'), 'utf8');
  assert.ok(csv.includes(`${bad},,,unreadable`), csv);
  userError(vigil(['predict', run, join(dir, 'nothing-*.png')]), 'no file matches');
});

test('wrong-method or incomplete run directories', () => {
  const wrong = join(dir, 'wrong');
  cpSync(run, wrong, { recursive: true });
  const mpath = join(wrong, 'model', 'manifest.json');
  const m = JSON.parse(readFileSync(mpath, 'utf8'));
  writeFileSync(mpath, JSON.stringify({ ...m, method: 'nosuch' }));
  userError(vigil(['test', wrong]), "unknown method 'nosuch'", 'manifest.json');
  // A real method whose weights are not in the file: the model file says whose it is.
  writeFileSync(mpath, JSON.stringify({ ...m, method: 'dcae' }));
  const r = vigil(['predict', wrong, join(dir, 'synth', 'grainy', 'test', 'good', '000.png')]);
  userError(r, "holds a 'pixelstats' model but", "manifest.json says 'dcae'");
  // The same for a plugin method (slowmean, through VIGIL_PLUGINS) ...
  writeFileSync(mpath, JSON.stringify({ ...m, method: 'slowmean' }));
  userError(vigil(['test', wrong], { VIGIL_PLUGINS: SLOWMEAN }), "holds a 'pixelstats' model but", "manifest.json says 'slowmean'");
  // ... and with the model file relabelled too: the manifest's config is checked against slowmean's
  // schema before load() runs, so the run directory's fault is named (exit 1), not a crash.
  const mfile = join(wrong, 'model', 'model.safetensors');
  const saved = loadSafetensors(mfile);
  saveSafetensors(mfile, saved.tensors, { ...saved.metadata, method: 'slowmean' });
  for (const t of saved.tensors.values()) t.dispose();
  userError(vigil(['test', wrong], { VIGIL_PLUGINS: SLOWMEAN }), `invalid ${mpath}`, 'config.minStd: unknown key');
  // With a config slowmean accepts, its load() finds none of its tensors in the file: still exit 1 naming it.
  writeFileSync(mpath, JSON.stringify({ ...m, method: 'slowmean', config: {} }));
  userError(vigil(['test', wrong], { VIGIL_PLUGINS: SLOWMEAN }), 'cannot load the slowmean model from', mfile);
  userError(vigil(['test', join(dir, 'synth')]), 'not a finished vigil run directory');
  userError(vigil(['test', join(dir, 'missing-run')]), 'does not exist');
});

test('resume of a finished run is refused', () => {
  userError(vigil(['train', '--resume', run]), 'already finished');
});
