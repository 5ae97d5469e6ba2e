// KDAD through the CLI (random teacher weights keep it offline, tiny settings keep it to seconds):
// train on the synthetic set (image and pixel metrics, heatmaps in report.html), `vigil test` and
// `vigil predict` from the run directory (same scores, heatmaps written), and a folder dataset;
// then an interrupted fit resumed from its checkpoint (the cache is rebuilt) equals an
// uninterrupted one.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as torch from '../../../src/torch/index.js';
import { arrayTrainData } from '../../../src/methods/array-data.js';
import type { FitContext, TrainingState } from '../../../src/methods/types.js';
import { kdad, kdadSchema, type KdadDetector } from '../../../src/methods/kdad/index.js';
import { parseCsv, vigil } from '../../cli/helpers.js';

let dir: string;
let run: string;
const tiny = ['--set', 'model.teacher.weights=random', '--set', 'model.imageSize=64', '--set', 'model.train.epochs=3', '--set', 'model.train.batchSize=4', '--set', 'train.batchSize=8'];

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'vigil-kdad-e2e-'));
  const g = vigil(['datasets', 'synth', join(dir, 'synth'), '--categories', 'grainy', '--size', '64', '--train', '10', '--test-good', '3', '--test-defect', '1']);
  assert.equal(g.code, 0, g.stderr);
  run = join(dir, 'run');
  const r = vigil(['train', '--method', 'kdad', '--data', `synth:${join(dir, 'synth', 'grainy')}`, ...tiny, '--set', 'threshold.holdout=0.2', '--out', run, '--quiet', '--json']);
  assert.equal(r.code, 0, r.stderr);
});
after(() => rmSync(dir, { recursive: true, force: true }));

test('vigil train --method kdad: metrics with pixel scores, heatmaps in report.html, the cloner saved', () => {
  const m = JSON.parse(readFileSync(join(run, 'metrics.json'), 'utf8'));
  assert.equal(m.method, 'kdad');
  assert.equal(m.counts.test, 3 + 5);
  for (const k of ['auroc', 'ap', 'aupro']) assert.ok(m.pixel[k] > 0 && m.pixel[k] <= 1, `pixel.${k} = ${m.pixel[k]}`);
  const log = readFileSync(join(run, 'log.txt'), 'utf8');
  assert.match(log, /kdad: teacher outputs cached in memory/);
  assert.match(log, /train 3\/3 loss=/);
  const report = readFileSync(join(run, 'report.html'), 'utf8');
  assert.ok((report.match(/<img [^>]*src="data:image\/png;base64,/g) ?? []).length >= 2, 'heatmap galleries in report.html');
  assert.ok(readdirSync(join(run, 'images')).some((f) => f.startsWith('most-anomalous-')));
  const manifest = JSON.parse(readFileSync(join(run, 'model', 'manifest.json'), 'utf8'));
  assert.equal(manifest.method, 'kdad');
  assert.equal(manifest.config.localization, 'gbp');
  assert.ok(existsSync(join(run, 'model', 'model.safetensors')));
});

test('vigil test and vigil predict reproduce the training run\'s scores; predict writes heatmaps', () => {
  const before = JSON.parse(readFileSync(join(run, 'metrics.json'), 'utf8'));
  const t = vigil(['test', run, '--quiet', '--json']);
  assert.equal(t.code, 0, t.stderr);
  const again = JSON.parse(t.stdout);
  assert.equal(again.metrics.image.auroc, before.image.auroc);
  assert.equal(again.metrics.pixel.auroc, before.pixel.auroc);
  const rows = parseCsv(readFileSync(join(run, 'scores.csv'), 'utf8'));
  const one = rows.find((r) => r.label === '1')!;
  const out = join(dir, 'pred');
  const p = vigil(['predict', run, one.id!, '--out', out, '--quiet']);
  assert.equal(p.code, 0, p.stderr);
  const pred = parseCsv(readFileSync(join(out, 'predictions.csv'), 'utf8'));
  assert.equal(pred.length, 1);
  assert.ok(Math.abs(Number(pred[0]!.score) - Number(one.score)) <= 1e-5 * Math.abs(Number(one.score)), `${pred[0]!.score} vs ${one.score}`);
  assert.ok(pred[0]!.heatmap && existsSync(join(out, pred[0]!.heatmap)), 'heatmap png');
});

test('a folder dataset (good/ + defect/) trains and predicts with heatmaps', () => {
  const f = join(dir, 'folder');
  for (const sub of ['good', 'scratch']) mkdirSync(join(f, sub), { recursive: true });
  const src = join(dir, 'synth', 'grainy');
  for (const name of readdirSync(join(src, 'train', 'good'))) copyFileSync(join(src, 'train', 'good', name), join(f, 'good', name));
  const defects = readdirSync(join(src, 'test')).filter((d) => d !== 'good');
  for (const d of defects) for (const name of readdirSync(join(src, 'test', d))) copyFileSync(join(src, 'test', d, name), join(f, 'scratch', `${d}-${name}`));
  const out = join(dir, 'folder-run');
  // The folder preset is the MVTec setting (601 epochs); the tiny overrides keep it short.
  const r = vigil(['train', '--method', 'kdad', '--data', `folder:${f}`, ...tiny, '--set', 'dataset.folder.abnormalDir=scratch', '--set', 'model.featureCache=disk', '--out', out, '--quiet', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const cfg = readFileSync(join(out, 'config.yaml'), 'utf8');
  assert.match(cfg, /lamda: 0\.5/);
  assert.match(readFileSync(join(out, 'log.txt'), 'utf8'), /cached on disk/);
  const m = JSON.parse(readFileSync(join(out, 'metrics.json'), 'utf8'));
  assert.equal(m.counts.test, 2 + defects.length);
  assert.ok(m.image.auroc >= 0 && m.image.auroc <= 1);
  const pred = join(dir, 'folder-pred');
  const p = vigil(['predict', out, join(f, 'scratch'), '--out', pred, '--quiet']);
  assert.equal(p.code, 0, p.stderr);
  const rows = parseCsv(readFileSync(join(pred, 'predictions.csv'), 'utf8'));
  assert.equal(rows.length, defects.length);
  assert.ok(rows.every((row) => row.heatmap && existsSync(join(pred, row.heatmap))));
});

test('a fit resumed from its epoch-1 checkpoint ends with the uninterrupted fit\'s cloner (the teacher cache is rebuilt)', async () => {
  process.removeAllListeners('warning');
  const px = Float32Array.from({ length: 12 * 3 * 32 * 32 }, (_, i) => ((i * 7919) % 1000) / 1000);
  const cfg = kdadSchema.parse({ teacher: { weights: 'random' }, imageSize: 32, localization: 'none', featureCache: 'memory', train: { epochs: 3, batchSize: 4 } });
  const fit = async (resume?: TrainingState, stopAfter?: number): Promise<{ weights: Map<string, number[]>; checkpoints: TrainingState[] }> => {
    torch.manualSeed(4);
    const d = kdad.create(cfg, [3, 32, 32]) as KdadDetector;
    const data = arrayTrainData(px, [12, 3, 32, 32], { seed: 1 });
    const checkpoints: TrainingState[] = [];
    const abort = new AbortController();
    const ctx: FitContext = {
      seed: 1, log: () => {}, progress: () => {}, signal: abort.signal, ...(resume ? { resume } : {}),
      checkpoint: (st) => {
        checkpoints.push({ tensors: new Map([...st.tensors].map(([k, v]) => [k, torch.keep(v.clone())])), meta: structuredClone(st.meta) });
        if (st.meta.epoch === stopAfter) abort.abort(new Error('stop'));
      },
    };
    try {
      await d.fit(data, ctx);
    } catch (e) {
      if ((e as Error).message !== 'stop') throw e;
    }
    const weights = new Map([...d.student.stateDict()].map(([k, v]) => [k, v.to('float64').toArray()]));
    d.dispose();
    data.dispose();
    return { weights, checkpoints };
  };
  const whole = await fit();
  const first = await fit(undefined, 1);
  assert.equal(first.checkpoints.length, 1);
  const resumed = await fit(first.checkpoints[0]);
  assert.deepEqual(resumed.checkpoints.map((c) => c.meta.epoch), [2, 3]);
  assert.deepEqual(resumed.weights, whole.weights);
  for (const c of [...whole.checkpoints, ...first.checkpoints, ...resumed.checkpoints]) torch.dispose([...c.tensors.values()]);
});

test('scripts/kdad-table.mjs runs the F-MNIST preset (arrays resized in the method) and prints the table', () => {
  const script = fileURLToPath(new URL('../../../../scripts/kdad-table.mjs', import.meta.url));
  const out = join(dir, 'table');
  const r = spawnSync(process.execPath, [script, 'fmnist', '--classes', '0', '--out', out, '--set', 'model.teacher.weights=random', '--set', 'model.train.epochs=1',
    '--set', 'dataset.limitTrain=64', '--set', 'dataset.limitTest=100', '--set', 'train.batchSize=100'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /\| class \| image AUROC \| paper \| fit s \|/);
  assert.match(r.stdout, /\| 0 \| \d+\.\d\d \| — \| [\d.]+ \|/);
  assert.match(r.stdout, /\| \*\*mean\*\* \| \d+\.\d\d \| 94\.50 \(paper mean, unverified\)/);
  const cfg = readFileSync(join(out, '0', 'config.yaml'), 'utf8');
  assert.match(cfg, /imageSize: 32/);
  assert.match(readFileSync(join(out, '0', 'log.txt'), 'utf8'), /fashion-mnist normal class 0: train 64/);
});
