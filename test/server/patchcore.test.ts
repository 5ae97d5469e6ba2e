// PatchCore (random ResNet-18 weights, re-drawn from a seed when the model loads) behind a pool
// of several workers: every worker must give `vigil predict`'s scores, whichever takes the image
// and however requests are batched.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { serve, type RunningServer } from '../../src/server/index.js';
import { multipart, tempDir, vigil } from './helpers.js';

let srv: RunningServer;
let files: string[];
let expected: Map<string, number>;

before(async () => {
  const dir = tempDir('vigil-serve-pc-');
  const g = vigil(['datasets', 'synth', join(dir, 'synth'), '--categories', 'grainy', '--size', '96', '--train', '12', '--test-good', '4', '--test-defect', '1']);
  assert.equal(g.code, 0, g.stderr);
  const run = join(dir, 'run');
  const r = vigil(['train', '--method', 'patchcore', '--data', `synth:${join(dir, 'synth', 'grainy')}`, '--set', 'model.backbone.weights=random',
    '--set', 'model.imageSize=96', '--set', 'model.cropSize=96', '--set', 'threshold.holdout=0.25', '--out', run, '--quiet']);
  assert.equal(r.code, 0, r.stderr);
  const test = join(dir, 'synth', 'grainy', 'test');
  files = readdirSync(test).sort().flatMap((d) => readdirSync(join(test, d)).sort().map((f) => join(test, d, f)));
  const p = vigil(['predict', run, ...files, '--out', join(dir, 'pred'), '--json', '--quiet']);
  assert.equal(p.code, 0, p.stderr);
  expected = new Map((JSON.parse(p.stdout).predictions as Array<{ path: string; score: number }>).map((x) => [x.path, x.score]));
  srv = await serve({ models: [{ name: 'pc', dir: run }], port: 0, history: join(dir, 'history'), workers: 3, threads: 3, maxBatch: 2, onLog: () => undefined });
});
after(async () => { await srv?.close(); });

const close = (a: number, b: number): boolean => Math.abs(a - b) <= 1e-4 * Math.max(1, Math.abs(b));

test('three workers, single-image requests in parallel: every score is the CLI\'s', async () => {
  const rounds = await Promise.all([0, 1, 2].flatMap(() => files.map(async (f) => {
    const res = await fetch(`${srv.url}/v1/models/pc/predict?images=none`, { method: 'POST', body: readFileSync(f), headers: { 'Content-Type': 'image/png' } });
    assert.equal(res.status, 200);
    return [f, (await res.json()).results[0].score as number] as const;
  })));
  for (const [f, score] of rounds) assert.ok(close(score, expected.get(f)!), `${f}: server ${score}, vigil predict ${expected.get(f)}`);
});

test('a multipart request split into batches across workers keeps order and scores', async () => {
  const { body, type } = multipart(files.map((f, k) => ({ name: 'image', filename: `${k}.png`, type: 'image/png', data: readFileSync(f) })));
  const j = await (await fetch(`${srv.url}/v1/models/pc/predict?images=none`, { method: 'POST', body, headers: { 'Content-Type': type } })).json();
  assert.equal(j.count, files.length);
  j.results.forEach((r: any, k: number) => {
    assert.equal(r.name, `${k}.png`);
    assert.ok(r.timing.batch <= 2);
    assert.ok(close(r.score, expected.get(files[k]!)!), `${files[k]}: ${r.score} vs ${expected.get(files[k]!)}`);
  });
});
