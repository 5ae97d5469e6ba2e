// The library API, imported from the package's entry point (package.json "main") and run in this
// process: train → predict → Predictor → test give what the run directory says, hooks are called,
// user errors are typed, and an abort during fit() stops training with its reason.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { generateSynthDataset } from '../src/data/synth/index.js';
import { readImage } from '../src/data/image/index.js';
import { parseCsv } from './cli/helpers.js';

type Api = typeof import('../src/index.js');
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
let api: Api;
let dir: string;
let data: string;

before(async () => {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { main: string; types: string };
  assert.ok(existsSync(join(ROOT, pkg.types)), `package.json "types" (${pkg.types}) is built`);
  api = (await import(pathToFileURL(join(ROOT, pkg.main)).href)) as Api;
  dir = mkdtempSync(join(tmpdir(), 'vigil-api-'));
  await generateSynthDataset(join(dir, 'synth'), { categories: ['woven'], size: 48, trainCount: 10, testGoodCount: 3, testDefectCount: 1, seed: 4 });
  data = `synth:${join(dir, 'synth', 'woven')}`;
});
after(() => rmSync(dir, { recursive: true, force: true }));

const json = (p: string): unknown => JSON.parse(readFileSync(p, 'utf8'));

test('the entry point exports the verbs and the built-in methods are listed', async () => {
  for (const k of ['train', 'test', 'predict', 'Predictor', 'listMethods', 'registerMethod', 'readRun', 'UserError', 'isUserError'] as const) assert.ok(k in api, `${k} exported`);
  const names = (await api.listMethods()).map((m) => m.name);
  for (const m of ['dcae', 'dsvdd', 'patchcore', 'pixelstats']) assert.ok(names.includes(m), `${m} in ${names.join(', ')}`);
});

test('train → predict → Predictor → test, in process', async () => {
  const out = join(dir, 'run');
  const logs: string[] = [];
  const stages = new Map<string, { done: number; total: number }>();
  const r = await api.train({
    method: 'pixelstats', data, out, set: ['preprocess.size=32', 'threshold.holdout=0.2', 'train.workers=0'],
    onLog: (m) => logs.push(m), onProgress: (e) => stages.set(e.stage, { done: e.done, total: e.total }),
  });
  assert.equal(r.runDir, out);
  assert.deepEqual(r.metrics, json(join(out, 'metrics.json')), 'the returned metrics are metrics.json');
  assert.deepEqual(r.manifest, json(join(out, 'model', 'manifest.json')), 'the returned manifest is manifest.json');
  assert.deepEqual(logs, readFileSync(join(out, 'log.txt'), 'utf8').trimEnd().split('\n').map((l) => l.replace(/^\S+ /, '')), 'onLog gets every log.txt line');
  for (const s of ['statistics', 'calibrate', 'test']) {
    const p = stages.get(s);
    assert.ok(p && p.done === p.total, `progress of stage '${s}' reached its total: ${JSON.stringify(p)}`);
  }

  // predict on the test images: the same scores as the test pass, verdicts at the manifest's threshold.
  const rows = parseCsv(readFileSync(join(out, 'scores.csv'), 'utf8'));
  const t = r.manifest.threshold.image.value;
  const p = await api.predict(out, [join(dir, 'synth', 'woven', 'test')], { out: join(dir, 'pred'), images: false });
  assert.equal(p.predictions.length, rows.length);
  for (const q of p.predictions) {
    const row = rows.find((x) => x.id === q.path);
    assert.ok(row, `${q.path} not in scores.csv`);
    assert.equal(q.score, Number(row.score), q.path);
    assert.equal(q.verdict, q.score >= t ? 'anomalous' : 'normal');
    assert.equal(q.verdict, row.verdict);
  }
  assert.ok(!existsSync(join(dir, 'pred', 'heatmaps')), 'images: false writes no PNGs');

  // Predictor: one image at a time, threshold under the caller's control.
  const pr = await api.Predictor.open(out);
  const first = p.predictions[0]!;
  const [one] = pr.predictImages([await readImage(first.path, { mode: 'rgb' })]);
  assert.equal(one!.score, first.score);
  assert.equal(one!.map!.length, 32 * 32, 'the map at the model input size');
  pr.threshold = first.score;
  assert.equal(pr.judge(first.score).verdict, 'anomalous', 'score >= threshold is anomalous');
  assert.equal(pr.judge(first.score).normalised, 0.5, 'the threshold normalises to 0.5');
  pr.threshold = first.score + 1e-3;
  assert.equal(pr.judge(first.score).verdict, 'normal');
  pr.dispose();
  assert.throws(() => pr.detector, /after dispose/);

  const tr = await api.test(out, { out: join(dir, 'tested') });
  assert.deepEqual(tr.metrics.image, r.metrics!.image, 'the saved model re-evaluates to the same image metrics');
  assert.deepEqual(tr.metrics.confusion, r.metrics!.confusion);
});

test('user errors are typed; an abort stops training with its reason', async () => {
  await assert.rejects(api.train({ method: 'nosuch', data }), (e: unknown) => {
    assert.ok(e instanceof api.UserError && api.isUserError(e));
    assert.equal(e.code, 'METHOD_UNKNOWN');
    assert.match(e.message, /unknown method 'nosuch' \(available: .*pixelstats/);
    return true;
  });
  await assert.rejects(api.predict(join(dir, 'no-run'), ['x.png']), (e: unknown) => e instanceof api.UserError && e.code === 'RUN_NOT_FOUND');
  const ac = new AbortController();
  const reason = new api.InterruptedError('SIGTERM');
  await assert.rejects(
    api.train({ method: 'pixelstats', data, out: join(dir, 'aborted'), set: ['preprocess.size=32', 'train.workers=0'], signal: ac.signal, onProgress: (e) => { if (e.stage === 'statistics') ac.abort(reason); } }),
    (e: unknown) => e instanceof api.InterruptedError && e.signal === 'SIGTERM' && /resume with: vigil train --resume/.test(e.message),
  );
  assert.ok(!existsSync(join(dir, 'aborted', 'model', 'manifest.json')), 'stopped before the model was saved');
});
