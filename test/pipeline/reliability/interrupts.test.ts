// Ctrl-C stops: the first SIGINT/SIGTERM ends training at the next batch boundary (its checkpoint
// kept, exit 130/143, the resume command printed) even in a method that never checks the signal;
// a second one exits at once; predict stops after the current batch with a consistent output
// folder (exit 130); a SIGKILLed predict leaves the earlier output untouched.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadSafetensors } from '../../../src/torch/index.js';
import { fileHas, parseCsv, SLEEPY_ENV as env, synth, until, vigil, vigilAsync, watch } from './helpers.js';

let dir: string;
let data: string;
const trainArgs = (out: string, ...set: string[]): string[] => [
  'train', '--method', 'sleepy', '--data', `synth:${data}`, '--set', 'preprocess.size=32', '--set', 'train.workers=0',
  ...set.flatMap((s) => ['--set', s]), '--out', out,
];
const checkpointEpoch = (run: string): number => {
  const ck = loadSafetensors(join(run, 'checkpoint', 'state.safetensors'));
  for (const t of ck.tensors.values()) t.dispose();
  return JSON.parse(ck.metadata.meta!).epoch as number;
};

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'vigil-int-'));
  synth(join(dir, 'synth'));
  data = join(dir, 'synth', 'object');
});
after(() => rmSync(dir, { recursive: true, force: true }));

test('SIGINT stops a method that never checks the signal at the next batch: checkpoint kept, exit 130; SIGTERM on the resumed run: 143', async () => {
  const run = join(dir, 'int');
  // 10^6 epochs: only the signal can end this run.
  const child = vigilAsync(trainArgs(run, 'model.epochs=1000000', 'model.fitDelayMs=20'), env);
  const w = watch(child);
  await until(child, fileHas(join(run, 'log.txt'), /checkpoint: stage train, epoch 2\n/), 'epoch 2', w.err);
  child.kill('SIGINT');
  assert.equal(await w.exited, 130, w.err());
  assert.match(w.err(), /interrupted \(SIGINT\): stopping after the current batch/);
  assert.match(w.err(), new RegExp(`vigil: interrupted; resume with: vigil train --resume ${run} \\(continues after train epoch \\d+\\)`));
  const log = readFileSync(join(run, 'log.txt'), 'utf8');
  assert.doesNotMatch(log, /fit: /, 'fit() did not run to its end');
  assert.ok(!existsSync(join(run, 'model')), 'no model');
  assert.ok(!existsSync(join(run, '.vigil-lock')), 'the lock is released');
  const stopped = checkpointEpoch(run);
  assert.ok(stopped >= 2, `checkpoint at epoch ${stopped}`);
  // The batch that was running when the signal came finished, and no other one started after it.
  const lastBatch = [...log.matchAll(/sleepy: epoch (\d+) batch (\d+) starts/g)].pop()!;
  assert.ok(Number(lastBatch[1]) <= stopped + 1, `last batch started in epoch ${lastBatch[1]}, checkpoint ${stopped}`);

  const resumed = vigilAsync(['train', '--resume', run], env);
  const r = watch(resumed);
  await until(resumed, fileHas(join(run, 'log.txt'), new RegExp(`resuming from checkpoint: stage train, epoch ${stopped}\\n[^]*checkpoint: stage train, epoch ${stopped + 1}\\n`)), 'a checkpoint after the resumed epoch', r.err);
  resumed.kill('SIGTERM');
  assert.equal(await r.exited, 143, r.err());
  assert.match(r.err(), /interrupted \(SIGTERM\)/);
  assert.ok(checkpointEpoch(run) > stopped, 'the resumed run went on from its checkpoint');
});

test('a second SIGINT exits at once, without waiting for the batch to end', async () => {
  const run = join(dir, 'twice');
  // A batch takes 10 minutes: a graceful stop would wait for it.
  const child = vigilAsync(trainArgs(run, 'model.epochs=5', 'model.fitDelayMs=600000'), env);
  const w = watch(child);
  await until(child, fileHas(join(run, 'log.txt'), /sleepy: epoch 1 batch 1 starts/), 'the first batch', w.err);
  child.kill('SIGINT');
  await until(child, () => /stopping after the current batch/.test(w.err()), 'the first interrupt message', w.err);
  child.kill('SIGINT');
  assert.equal(await w.exited, 130, w.err());
  assert.doesNotMatch(w.err(), /resume with/, 'the graceful path did not run: the batch never ended');
  assert.ok(!existsSync(join(run, '.vigil-lock')), 'the lock goes with the process');
});

/** A trained sleepy run whose score() takes `ms` per batch (the manifest's model config says so). */
function slowRun(name: string, ms: number): string {
  const run = join(dir, name);
  const r = vigil([...trainArgs(run, 'model.epochs=1'), '--quiet'], env);
  assert.equal(r.code, 0, r.stderr);
  const mf = join(run, 'model', 'manifest.json');
  const m = JSON.parse(readFileSync(mf, 'utf8'));
  m.config.scoreDelayMs = ms;
  writeFileSync(mf, JSON.stringify(m, null, 2));
  return run;
}

/** `n` copies of the synthetic test images under a fresh folder. */
function manyImages(name: string, n: number): string {
  const src = join(data, 'test', 'good', '000.png');
  const out = join(dir, name);
  mkdirSync(out, { recursive: true });
  for (let i = 0; i < n; i++) cpSync(src, join(out, `img-${String(i).padStart(4, '0')}.png`));
  return out;
}

test('SIGINT during predict: stops after the current batch, exit 130, predictions.csv lists exactly the images whose heatmaps it wrote', async () => {
  const run = slowRun('pred-run', 100);
  const imgs = manyImages('many', 200);
  const out = join(dir, 'pred-out');
  // An earlier, complete output in the same folder: none of its files may survive beside the new ones.
  const first = vigil(['predict', run, join(data, 'test', 'good'), '--out', out, '--quiet'], env);
  assert.equal(first.code, 0, first.stderr);
  const child = vigilAsync(['predict', run, imgs, '--out', out, '--batch-size', '1'], env);
  const w = watch(child);
  await until(child, () => /predict: 200 images in 200 batches/.test(w.err()), 'the start of scoring', w.err);
  await until(child, () => readdirSync(dir).some((n) => n.startsWith('.pred-out.partial-') && existsSync(join(dir, n, 'heatmaps', 'img-0000.png'))), 'the first heatmap', w.err);
  child.kill('SIGINT');
  assert.equal(await w.exited, 130, w.err());
  const m = /interrupted after (\d+) of 200 images/.exec(w.err());
  assert.ok(m, w.err());
  const rows = parseCsv(readFileSync(join(out, 'predictions.csv'), 'utf8'));
  assert.equal(rows.length, Number(m![1]));
  assert.ok(rows.length >= 1 && rows.length < 200, `${rows.length} rows`);
  assert.deepEqual(readdirSync(join(out, 'heatmaps')).sort(), rows.map((r) => r.heatmap!.replace('heatmaps/', '')).sort(), 'one heatmap per row, no stale ones');
  assert.deepEqual(readdirSync(join(out, 'masks')).sort(), rows.map((r) => r.mask!.replace('masks/', '')).sort());
  for (const r of rows) assert.ok(r.path!.includes('/many/'), `row of this run only: ${r.path}`);
  assert.deepEqual(readdirSync(dir).filter((n) => n.startsWith('.pred-out.')), [], 'no partial folder left');
});

test('a SIGKILLed predict leaves the earlier output as it was; the next predict removes the partial folder', async () => {
  const run = slowRun('kill-run', 100);
  const imgs = manyImages('many-k', 100);
  const out = join(dir, 'kill-out');
  const first = vigil(['predict', run, join(data, 'test'), '--out', out, '--quiet'], env);
  assert.equal(first.code, 0, first.stderr);
  const before = { csv: readFileSync(join(out, 'predictions.csv'), 'utf8'), heatmaps: readdirSync(join(out, 'heatmaps')).sort() };
  const child = vigilAsync(['predict', run, imgs, '--out', out, '--batch-size', '1'], env);
  const w = watch(child);
  const partial = (): string | undefined => readdirSync(dir).find((n) => n.startsWith('.kill-out.partial-'));
  await until(child, () => { const p = partial(); return p !== undefined && existsSync(join(dir, p, 'heatmaps')) && readdirSync(join(dir, p, 'heatmaps')).length > 0; }, 'a heatmap in the partial folder', w.err);
  child.kill('SIGKILL');
  await w.exited;
  assert.equal(readFileSync(join(out, 'predictions.csv'), 'utf8'), before.csv, 'predictions.csv untouched');
  assert.deepEqual(readdirSync(join(out, 'heatmaps')).sort(), before.heatmaps, 'no new heatmap beside the old CSV');
  assert.ok(partial(), 'the killed process left its partial folder');
  const again = vigil(['predict', run, join(data, 'test', 'good'), '--out', out, '--quiet'], env);
  assert.equal(again.code, 0, again.stderr);
  assert.equal(partial(), undefined, 'the partial folder of the dead process was removed');
  assert.equal(parseCsv(readFileSync(join(out, 'predictions.csv'), 'utf8')).length, 3);
  assert.equal(readdirSync(join(out, 'heatmaps')).length, 3, 'the new output alone');
});
