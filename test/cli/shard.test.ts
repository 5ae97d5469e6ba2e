// vigil predict --shard i/n: array-job tasks that together score every input once, in order.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseShard, shardRange } from '../../src/pipeline/inputs.js';
import { parseCsv, vigil } from './helpers.js';

let dir: string;
let run: string;
let images: string;

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'vigil-shard-'));
  const g = vigil(['datasets', 'synth', join(dir, 'synth'), '--categories', 'woven', '--size', '64', '--train', '12', '--test-good', '5', '--test-defect', '2']);
  assert.equal(g.code, 0, g.stderr);
  run = join(dir, 'run');
  const r = vigil(['train', '--method', 'pixelstats', '--data', `synth:${join(dir, 'synth', 'woven')}`, '--set', 'preprocess.size=32', '--out', run, '--quiet']);
  assert.equal(r.code, 0, r.stderr);
  images = join(dir, 'synth', 'woven', 'test');
});
after(() => rmSync(dir, { recursive: true, force: true }));

test('shardRange: contiguous blocks that differ by at most one and cover every file once', () => {
  const files = Array.from({ length: 11 }, (_, i) => i);
  for (const count of [1, 2, 3, 4, 11, 15]) {
    const blocks = Array.from({ length: count }, (_, index) => files.slice(...shardRange(files.length, { index, count })));
    assert.deepEqual(blocks.flat(), files, `count ${count}`);
    const sizes = blocks.map((b) => b.length);
    assert.ok(Math.max(...sizes) - Math.min(...sizes) <= 1, `count ${count}: sizes ${sizes}`);
  }
});

test('parseShard refuses what is not i/n with 0 ≤ i < n', () => {
  assert.deepEqual(parseShard('2/5'), { index: 2, count: 5 });
  for (const bad of ['5/5', '1/0', '-1/3', 'a/b', '3', '1/2/3']) assert.throws(() => parseShard(bad), /--shard must be i\/n/, bad);
});

test('three shards through the CLI list the same rows as one unsharded predict, in order', () => {
  const whole = vigil(['predict', run, images, '--out', join(dir, 'whole'), '--quiet']);
  assert.equal(whole.code, 0, whole.stderr);
  const all = parseCsv(readFileSync(join(dir, 'whole', 'predictions.csv'), 'utf8'));
  assert.ok(all.length >= 6, `${all.length} test images`);
  const parts: Array<Record<string, string>> = [];
  for (let i = 0; i < 3; i++) {
    const r = vigil(['predict', run, images, '--shard', `${i}/3`]);
    assert.equal(r.code, 0, r.stderr);
    const out = join(run, `predictions-shard-${i}-of-3`);
    assert.ok(existsSync(join(out, 'predictions.csv')), `default output folder of shard ${i}`);
    parts.push(...parseCsv(readFileSync(join(out, 'predictions.csv'), 'utf8')));
  }
  assert.deepEqual(parts.map((p) => [p.path, p.score, p.verdict]), all.map((p) => [p.path, p.score, p.verdict]));
});

test('a shard with no image writes an empty predictions.csv; a bad --shard exits 1', () => {
  const few = join(images, 'good');
  const n = parseCsv(readFileSync(join(dir, 'whole', 'predictions.csv'), 'utf8')).filter((p) => p.path.includes('/good/')).length;
  const r = vigil(['predict', run, few, '--shard', `0/${n + 3}`, '--out', join(dir, 'empty'), '--quiet']);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(parseCsv(readFileSync(join(dir, 'empty', 'predictions.csv'), 'utf8')), []);
  const bad = vigil(['predict', run, images, '--shard', '3/3']);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /--shard must be i\/n/);
});
