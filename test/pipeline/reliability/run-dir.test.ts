// Run directories protect the user's files: an exclusive lock (a stale one, whose process is gone,
// is taken over), no writing into a non-empty folder that is not Vigil's, --resume refuses changed
// data and settings it would ignore, a run that fails validation leaves nothing behind, and
// predict/test outputs never keep stale files of an earlier run.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileHas, onlyFailureLog, SLEEPY_ENV as env, synth, until, userError, vigil, vigilAsync, watch } from './helpers.js';

let dir: string;
let data: string;
const D = (): string[] => ['--data', `synth:${data}`, '--set', 'preprocess.size=32', '--set', 'train.workers=0'];

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'vigil-rundir-'));
  synth(join(dir, 'synth'));
  data = join(dir, 'synth', 'object');
});
after(() => rmSync(dir, { recursive: true, force: true }));

/** A pid that no process has any more. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  return Number(r.stdout);
}

/** An interrupted sleepy run (a checkpoint, no model) in `run`. */
async function interrupted(run: string, ...set: string[]): Promise<void> {
  const child = vigilAsync(['train', '--method', 'sleepy', ...D(), '--set', 'model.epochs=1000000', '--set', 'model.fitDelayMs=20', ...set.flatMap((s) => ['--set', s]), '--out', run], env);
  const w = watch(child);
  await until(child, fileHas(join(run, 'log.txt'), /checkpoint: stage train, epoch 1\n/), 'the first checkpoint', w.err);
  child.kill('SIGINT');
  assert.equal(await w.exited, 130, w.err());
}

test('the lock: a second process on the same run directory is refused while the first one runs; the first one is not disturbed', async () => {
  const run = join(dir, 'locked');
  await interrupted(run);
  const first = vigilAsync(['train', '--resume', run], env);
  const w = watch(first);
  await until(first, fileHas(join(run, 'log.txt'), /resuming from checkpoint/), 'the resume to start', w.err);
  const lock = JSON.parse(readFileSync(join(run, '.vigil-lock'), 'utf8'));
  assert.equal(lock.pid, first.pid);
  const logBefore = readFileSync(join(run, 'log.txt'), 'utf8').split('\n').filter((l) => / vigil \S+ (train|resume):/.test(l)).length;
  const second = vigil(['train', '--resume', run], env);
  userError(second, `${run} is in use by vigil process ${first.pid}`, 'wait for it to finish');
  const third = vigil(['train', '--method', 'sleepy', ...D(), '--out', run], env);
  userError(third, 'already holds a run');
  // The first one goes on: another checkpoint after the refusals, then it stops when told to.
  const last = Number([...readFileSync(join(run, 'log.txt'), 'utf8').matchAll(/checkpoint: stage train, epoch (\d+)\n/g)].pop()![1]);
  await until(first, fileHas(join(run, 'log.txt'), new RegExp(`checkpoint: stage train, epoch ${last + 1}\n`)), 'a later checkpoint', w.err);
  first.kill('SIGINT');
  assert.equal(await w.exited, 130, w.err());
  const log = readFileSync(join(run, 'log.txt'), 'utf8');
  assert.equal(log.split('\n').filter((l) => / vigil \S+ (train|resume):/.test(l)).length, logBefore, 'the refused processes wrote nothing to log.txt');
  assert.match(log, / interrupted; resume with: .*\n$/, 'the first process wrote the last line');
  assert.ok(!existsSync(join(run, '.vigil-lock')), 'released at the end');
});

test('a stale lock (its process is gone) is taken over and said so; a lock of another host is refused', async () => {
  const run = join(dir, 'stale');
  await interrupted(run, 'model.epochs=3');
  const pid = deadPid();
  writeFileSync(join(run, '.vigil-lock'), JSON.stringify({ pid, host: hostname(), command: 'vigil train', started: '2026-01-01T00:00:00Z' }));
  const r = vigil(['train', '--resume', run, '--quiet'], env);
  assert.equal(r.code, 0, r.stderr);
  assert.match(readFileSync(join(run, 'log.txt'), 'utf8'), new RegExp(`removed the stale lock of vigil process ${pid} \\(vigil train, since 2026-01-01T00:00:00Z\\), which no longer runs`));

  const other = join(dir, 'other-host');
  await interrupted(other, 'model.epochs=3');
  writeFileSync(join(other, '.vigil-lock'), JSON.stringify({ pid: 1, host: 'elsewhere.example', command: 'vigil train', started: '2026-01-01T00:00:00Z' }));
  userError(vigil(['train', '--resume', other], env), 'in use by vigil process 1 on host elsewhere.example', `delete ${join(other, '.vigil-lock')}`);
});

test('--out: a non-empty folder that is not a run, or a file, is refused and left as it was', () => {
  const mine = join(dir, 'mine');
  mkdirSync(mine);
  writeFileSync(join(mine, 'scores.csv'), 'my own data\n');
  userError(vigil(['train', '--method', 'pixelstats', ...D(), '--out', mine]), `--out ${mine} is not empty and is not a vigil run directory`);
  assert.deepEqual(readdirSync(mine), ['scores.csv']);
  assert.equal(readFileSync(join(mine, 'scores.csv'), 'utf8'), 'my own data\n');
  const file = join(dir, 'a-file');
  writeFileSync(file, 'x');
  userError(vigil(['train', '--method', 'pixelstats', ...D(), '--out', file]), `--out ${file} is a file, not a folder`);
  // An empty folder is fine.
  const empty = join(dir, 'empty');
  mkdirSync(empty);
  assert.equal(vigil(['train', '--method', 'pixelstats', ...D(), '--out', empty, '--quiet']).code, 0);
  // predict and test refuse the user's folder too, and the run directory itself.
  userError(vigil(['predict', empty, join(data, 'test', 'good'), '--out', mine]), `--out ${mine} is not empty and is not the output of vigil predict`);
  userError(vigil(['test', empty, '--out', mine]), `--out ${mine} is not empty and is not the output of an earlier vigil test`);
  userError(vigil(['test', empty, '--out', empty]), `--out ${empty} is not empty`);
  userError(vigil(['predict', empty, join(data, 'test', 'good'), '--out', empty]), `--out ${empty} is not empty`);
  assert.equal(readFileSync(join(mine, 'scores.csv'), 'utf8'), 'my own data\n');
});

test('--resume refuses changed data (a fingerprint of the file list and sizes) and settings it would ignore', async () => {
  const copy = join(dir, 'synth-copy');
  cpSync(join(dir, 'synth'), copy, { recursive: true });
  const run = join(dir, 'fp');
  const child = vigilAsync(['train', '--method', 'sleepy', '--data', `synth:${join(copy, 'object')}`, '--set', 'preprocess.size=32', '--set', 'model.epochs=1000000', '--set', 'model.fitDelayMs=20', '--out', run], env);
  const w = watch(child);
  await until(child, fileHas(join(run, 'log.txt'), /checkpoint: stage train, epoch 1\n/), 'the first checkpoint', w.err);
  child.kill('SIGINT');
  assert.equal(await w.exited, 130);
  const fp = JSON.parse(readFileSync(join(run, 'dataset.json'), 'utf8'));
  assert.equal(fp.counts.train + fp.counts.held_out, 12);
  assert.equal(fp.counts.test, 13);

  userError(vigil(['train', '--resume', run, '--set', 'model.lr=0.1'], env), '--resume continues', 'does not take --set model.lr=0.1', 'start a new run');
  userError(vigil(['train', '--resume', run, '--data', 'synth:/elsewhere/object', '--seed', '3'], env), 'does not take --data, --seed');

  for (const f of ['000.png', '001.png', '002.png']) rmSync(join(copy, 'object', 'train', 'good', f));
  const changed = vigil(['train', '--resume', run], env);
  userError(changed, 'the data changed since the run started (', 'restore the data, or start a new run');
  assert.match(changed.stderr, new RegExp(`\\(train ${fp.counts.train} → \\d+, held_out ${fp.counts.held_out} → \\d+ images\\)`));
  // Same count, one file replaced by another of a different size.
  cpSync(join(copy, 'object', 'test', 'hole', '000.png'), join(copy, 'object', 'train', 'good', '000.png'));
  cpSync(join(copy, 'object', 'test', 'hole', '001.png'), join(copy, 'object', 'train', 'good', '001.png'));
  cpSync(join(data, 'train', 'good', '002.png'), join(copy, 'object', 'train', 'good', '002.png'));
  userError(vigil(['train', '--resume', run], env), 'files were renamed, replaced or changed size');
  assert.ok(existsSync(join(run, 'checkpoint')), 'the refused resumes kept the checkpoint');
  // The data restored: the resume is accepted (and interrupted again).
  for (const f of ['000.png', '001.png']) cpSync(join(data, 'train', 'good', f), join(copy, 'object', 'train', 'good', f));
  const again = vigilAsync(['train', '--resume', run], env);
  const a = watch(again);
  await until(again, fileHas(join(run, 'log.txt'), /resuming from checkpoint[^]*sleepy: epoch \d+ batch 1 starts/), 'the resumed fit', a.err);
  again.kill('SIGINT');
  assert.equal(await a.exited, 130, a.err());
});

test('a run that fails on its input before fitting keeps only its log.txt: --resume says so, the same --out works once the input is fixed', () => {
  const small = join(dir, 'small');
  mkdirSync(join(small, 'object', 'train', 'good'), { recursive: true });
  mkdirSync(join(small, 'object', 'test', 'good'), { recursive: true });
  cpSync(join(data, 'train', 'good', '000.png'), join(small, 'object', 'train', 'good', '000.png'));
  cpSync(join(data, 'test', 'good', '000.png'), join(small, 'object', 'test', 'good', '000.png'));
  const out = join(dir, 'fails');
  userError(vigil(['train', '--method', 'pixelstats', '--data', `synth:${join(small, 'object')}`, '--set', 'preprocess.size=32', '--out', out]), 'pixelstats needs at least 2 training images');
  onlyFailureLog(out, 'pixelstats needs at least 2 training images');
  assert.ok(existsSync(out));
  userError(vigil(['train', '--resume', out]), 'that run failed before it began', join(out, 'log.txt'));
  // Again into the same folder: the earlier log is superseded.
  userError(vigil(['train', '--method', 'pixelstats', '--data', `synth:${join(small, 'object')}`, '--set', 'preprocess.size=32', '--out', out]), 'needs at least 2');
  onlyFailureLog(out, 'needs at least 2');
  assert.equal(readFileSync(join(out, 'log.txt'), 'utf8').match(/ vigil \S+ train:/g)!.length, 1);
  cpSync(join(data, 'train', 'good', '001.png'), join(small, 'object', 'train', 'good', '001.png'));
  const ok = vigil(['train', '--method', 'pixelstats', '--data', `synth:${join(small, 'object')}`, '--set', 'preprocess.size=32', '--set', 'threshold.holdout=0', '--out', out, '--quiet']);
  assert.equal(ok.code, 0, ok.stderr);
});

test('predict and test into an earlier output folder replace it whole: no stale file stays', () => {
  const run = join(dir, 'replace');
  assert.equal(vigil(['train', '--method', 'pixelstats', ...D(), '--out', run, '--quiet']).code, 0);
  const out = join(dir, 'replace-pred');
  assert.equal(vigil(['predict', run, join(data, 'test'), '--out', out, '--quiet']).code, 0);
  assert.equal(readdirSync(join(out, 'heatmaps')).length, 13);
  assert.equal(vigil(['predict', run, join(data, 'test', 'good', '000.png'), '--out', out, '--quiet']).code, 0);
  assert.deepEqual(readdirSync(join(out, 'heatmaps')), ['000.png'], 'only the new heatmap');
  assert.equal(readFileSync(join(out, 'predictions.csv'), 'utf8').trim().split('\n').length, 2);

  assert.equal(vigil(['test', run, '--quiet']).code, 0);
  const t = join(run, 'test-object');
  const many = readdirSync(join(t, 'images')).sort();
  assert.equal(vigil(['test', run, '--set', 'output.images=1', '--quiet']).code, 0);
  assert.equal(vigil(['test', run, '--set', 'output.images=1', '--out', join(dir, 'fresh-test'), '--quiet']).code, 0);
  const one = readdirSync(join(dir, 'fresh-test', 'images')).sort();
  assert.ok(one.length < many.length, `${one.length} < ${many.length}`);
  assert.deepEqual(readdirSync(join(t, 'images')).sort(), one, 'no gallery image of the earlier test');
});
