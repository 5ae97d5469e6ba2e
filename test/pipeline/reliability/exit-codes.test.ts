// Exit codes keep their promise: errors of the user's input, files or environment (EACCES, ENOSPC,
// ENOTDIR, ELOOP, a path that is a file, masks of the wrong size, knn.k larger than the memory
// bank, a bad --batch-size) exit 1 with one line naming the path and the fix, before any fitting
// where the data decides.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { MAIN } from '../../cli/helpers.js';
import { fileHas, onlyFailureLog, SLEEPY_ENV, synth, until, userError, vigil, vigilAsync, watch, type Run } from './helpers.js';

let dir: string;
let data: string;
let run: string;
const D = (): string[] => ['--data', `synth:${data}`, '--set', 'preprocess.size=32'];

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'vigil-exit-'));
  synth(join(dir, 'synth'));
  data = join(dir, 'synth', 'object');
  run = join(dir, 'run');
  const r = vigil(['train', '--method', 'pixelstats', ...D(), '--out', run, '--quiet']);
  assert.equal(r.code, 0, r.stderr);
});
after(() => { chmodSync(dir, 0o755); rmSync(dir, { recursive: true, force: true }); });

/** One line of error: no second line, no stack trace. */
function oneLine(r: Run, ...needles: string[]): void {
  userError(r, ...needles);
  assert.equal(r.stderr.trim().split('\n').filter((l) => l.startsWith('vigil: error: ')).length, 1);
  assert.equal(r.stderr.trim().split('\n').pop()!.startsWith('vigil: error: '), true, r.stderr);
}

/** The CLI as a user who may not write into `dir` (root: run as nobody; others: the folder read-only). */
function asUnprivileged(args: string[], readOnly: string): Run {
  if (process.getuid?.() === 0) {
    // nobody must read the data, the run and the code, but not write `readOnly`.
    chmodSync(dir, 0o755);
    spawnSync('chmod', ['-R', 'a+rX', dir]);
    const r = spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8', uid: 65534, gid: 65534 });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  }
  chmodSync(readOnly, 0o555);
  try {
    return vigil(args);
  } finally {
    chmodSync(readOnly, 0o755);
  }
}

test('EACCES: a folder the user may not write: exit 1 naming the path and the fix', () => {
  const ro = join(dir, 'read-only');
  mkdirSync(ro);
  oneLine(asUnprivileged(['train', '--method', 'pixelstats', ...D(), '--out', join(ro, 'run'), '--quiet'], ro), `cannot create ${join(ro, 'run')}: permission denied (EACCES)`, 'check the permissions');
  oneLine(asUnprivileged(['predict', run, join(data, 'test', 'good'), '--out', join(ro, 'p'), '--quiet'], ro), `${join(ro, 'p')}: permission denied (EACCES)`);
  assert.deepEqual(readdirSync(ro), []);
});

test('ENOSPC: a full disk under log.txt: exit 1 naming the file', async () => {
  if (!existsSync('/dev/full')) return;
  const r = join(dir, 'full');
  const child = vigilAsync(['train', '--method', 'sleepy', ...D(), '--set', 'model.epochs=1000000', '--set', 'model.fitDelayMs=20', '--out', r], SLEEPY_ENV);
  const w = watch(child);
  await until(child, fileHas(join(r, 'log.txt'), /checkpoint: stage train, epoch 1\n/), 'a checkpoint', w.err);
  child.kill('SIGINT');
  assert.equal(await w.exited, 130);
  // Every write to log.txt now fails as on a full disk (/dev/full answers ENOSPC).
  rmSync(join(r, 'log.txt'));
  symlinkSync('/dev/full', join(r, 'log.txt'));
  oneLine(vigil(['train', '--resume', r], SLEEPY_ENV), `cannot write ${join(r, 'log.txt')}: no space left on the device (ENOSPC)`, 'free some disk space');
  assert.ok(existsSync(join(r, 'checkpoint')), 'the checkpoint is kept');
  assert.ok(!existsSync(join(r, '.vigil-lock')), 'the lock is released');
});

test('ENOTDIR, ELOOP, a file or a dangling link as --out: exit 1 naming the path', () => {
  const file = join(dir, 'plain-file');
  writeFileSync(file, 'x');
  oneLine(vigil(['train', '--method', 'pixelstats', ...D(), '--out', join(file, 'run')]), `${join(file, 'run')}: a part of the path is a file, not a folder (ENOTDIR)`);
  oneLine(vigil(['predict', run, join(data, 'test', 'good'), '--out', file]), `--out ${file} is a file, not a folder`);
  oneLine(vigil(['test', run, '--out', file]), `--out ${file} is a file, not a folder`);
  const loop = join(dir, 'loop');
  symlinkSync(loop, loop);
  oneLine(vigil(['train', '--method', 'pixelstats', ...D(), '--out', loop]), `${loop}: it is a symbolic link that loops back on itself`, 'fix or remove the link');
  oneLine(vigil(['predict', run, join(data, 'test', 'good'), '--out', loop]), `${loop}: it is a symbolic link that loops back on itself`);
  const dangling = join(dir, 'dangling');
  symlinkSync(join(dir, 'nowhere'), dangling);
  oneLine(vigil(['predict', run, join(data, 'test', 'good'), '--out', dangling]), `--out ${dangling} is a symbolic link to a folder that does not exist`);
});

test('a ground-truth mask of the wrong size is found before fitting, with a fix the user can apply', async () => {
  const copy = join(dir, 'masks');
  cpSync(join(dir, 'synth'), copy, { recursive: true });
  const gt = join(copy, 'object', 'ground_truth');
  const defect = readdirSync(gt)[0]!;
  const mask = join(gt, defect, readdirSync(join(gt, defect))[0]!);
  writeFileSync(mask, await sharp({ create: { width: 20, height: 24, channels: 3, background: '#000' } }).greyscale().png().toBuffer());
  const out = join(dir, 'mask-run');
  const r = vigil(['train', '--method', 'pixelstats', '--data', `synth:${join(copy, 'object')}`, '--set', 'preprocess.size=32', '--out', out]);
  oneLine(r, `${mask} is 20×24 but its image`, 'is 32×32', 'Resize each mask to its image');
  assert.doesNotMatch(r.stderr, /fit: |statistics of/, 'nothing was fitted');
  assert.doesNotMatch(r.stderr, /resize: 'nearest'/, 'no library hint');
  onlyFailureLog(out, 'Resize each mask');
  // vigil test checks the masks of the data it evaluates on the same way.
  oneLine(vigil(['test', run, '--data', `synth:${join(copy, 'object')}`]), `${mask} is 20×24`);
});

test('model.knn.k larger than the memory bank: said after the first batch of features, before the coreset', () => {
  const P = ['--data', `synth:${data}`];
  const r = vigil(['train', '--method', 'patchcore', ...P, '--set', 'model.backbone.name=resnet18', '--set', 'model.backbone.weights=random',
    '--set', 'model.imageSize=64', '--set', 'model.cropSize=64', '--set', 'model.knn.k=100000', '--out', join(dir, 'knn')]);
  oneLine(r, 'model.knn.k = 100000 neighbours, but the memory bank will hold', 'lower model.knn.k');
  assert.doesNotMatch(r.stderr, /patch features|memory bank \d+ ×/, 'the coreset never ran');
  // Three times: the error comes while the loader's workers still decode the next batch, where the
  // process once ended with exit 0 and no message (WorkerPool.close terminated busy workers).
  for (let i = 0; i < 3; i++) {
    const r2 = vigil(['train', '--method', 'patchcore', ...P, '--set', 'model.backbone.name=resnet18', '--set', 'model.backbone.weights=random',
      '--set', 'model.imageSize=32', '--set', 'model.cropSize=32', '--set', 'model.coreset.ratio=0.001', '--out', join(dir, `knn2-${i}`)]);
    oneLine(r2, 'the memory bank would be empty', 'raise model.coreset.ratio');
  }
});

test('predict --batch-size 0 or -1: exit 1 (0 no longer silently becomes 16)', () => {
  for (const b of ['0', '-1', '2.5']) oneLine(vigil(['predict', run, join(data, 'test', 'good'), '--batch-size', b]), `--batch-size must be a positive integer, got ${b}`);
});

test('a run file the user may not read: exit 1 naming the file', () => {
  const copy = join(dir, 'unreadable-run');
  cpSync(run, copy, { recursive: true });
  const manifest = join(copy, 'model', 'manifest.json');
  let r: Run;
  if (process.getuid?.() === 0) {
    spawnSync('chmod', ['-R', 'a+rX', dir]);
    chmodSync(manifest, 0o600);
    const c = spawnSync(process.execPath, [MAIN, 'predict', copy, join(data, 'test', 'good'), '--out', join(dir, 'unreadable-pred')], { encoding: 'utf8', uid: 65534, gid: 65534 });
    r = { code: c.status, stdout: c.stdout, stderr: c.stderr };
  } else {
    chmodSync(manifest, 0o000);
    r = vigil(['predict', copy, join(data, 'test', 'good'), '--out', join(dir, 'unreadable-pred')]);
  }
  oneLine(r, `cannot open ${manifest}: permission denied (EACCES)`);
});
