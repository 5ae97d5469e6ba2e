// `vigil train` on a plugin method built on the shared trainer (tiny-ae.ts), SIGKILLed in the middle
// of its third epoch, then `vigil train --resume`: the scores, threshold, metrics and weights equal
// those of an uninterrupted run exactly, although training draws noise and dropout from libtorch's
// RNG every batch (the trainer re-seeds per epoch) and checkpoints BN buffers, Adam and the schedule.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadSafetensors } from '../../../src/torch/index.js';
import { parseCsv, vigil, vigilAsync } from '../../cli/helpers.js';

const PLUGIN = fileURLToPath(new URL('./tiny-ae.js', import.meta.url));
const env = { VIGIL_PLUGINS: PLUGIN };
let dir: string;
const args = (out: string): string[] => [
  'train', '--method', 'tinyae', '--data', `synth:${join(dir, 'synth', 'striped')}`, '--seed', '5',
  '--set', 'preprocess.size=32', '--set', 'model.epochs=5', '--set', 'model.milestones=[1,3]', '--set', 'train.workers=1', '--out', out, '--quiet',
];

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'vigil-trainer-resume-'));
  const r = vigil(['datasets', 'synth', join(dir, 'synth'), '--categories', 'striped', '--size', '32', '--train', '24', '--test-good', '3', '--test-defect', '3']);
  assert.equal(r.code, 0, r.stderr);
});
after(() => rmSync(dir, { recursive: true, force: true }));

/** Resolves once `log.txt` under `run` matches every pattern; rejects if the process ends first. */
function waitForLog(run: string, patterns: RegExp[], child: ReturnType<typeof vigilAsync>, stderr: () => string): Promise<void> {
  return new Promise((resolve, reject) => {
    const t = setInterval(() => {
      const log = existsSync(join(run, 'log.txt')) ? readFileSync(join(run, 'log.txt'), 'utf8') : '';
      if (patterns.every((p) => p.test(log))) { clearInterval(t); resolve(); }
    }, 20);
    child.once('exit', (code) => { clearInterval(t); reject(new Error(`training exited (${code}) before the markers appeared: ${stderr()}`)); });
  });
}

test('SIGKILL mid-epoch, then vigil train --resume, gives exactly the uninterrupted run', async () => {
  const ref = join(dir, 'ref');
  const a = vigil(args(ref), env);
  assert.equal(a.code, 0, a.stderr);

  const killed = join(dir, 'killed');
  const child = vigilAsync(args(killed), { ...env, TINYAE_HOLD_AT: '2:3' });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += d; });
  const exited = new Promise((r) => child.once('exit', r));
  // The epoch-2 checkpoint is written, and the fourth batch of the third epoch has started.
  await waitForLog(killed, [/checkpoint: stage train, epoch 2\n/, /tinyae: holding at epoch 2, batch 3/], child, () => stderr);
  child.kill('SIGKILL');
  await exited;
  const ckPath = join(killed, 'checkpoint', 'state.safetensors');
  assert.ok(existsSync(ckPath), 'a checkpoint was written');
  assert.ok(!existsSync(join(killed, 'model')), 'the killed run has no model');
  const ck = loadSafetensors(ckPath);
  assert.equal(JSON.parse(ck.metadata.meta!).epoch, 2);
  assert.ok(ck.tensors.has('ae.body.1.running_mean') && ck.tensors.has('optim.0.exp_avg'), [...ck.tensors.keys()].join(', '));
  for (const t of ck.tensors.values()) t.dispose();

  const r = vigil(['train', '--resume', killed, '--quiet'], env);
  assert.equal(r.code, 0, r.stderr);
  const log = readFileSync(join(killed, 'log.txt'), 'utf8');
  // Inputs were speckled by the augmentation in loader worker threads, in both runs.
  assert.match(readFileSync(join(ref, 'log.txt'), 'utf8'), /augment: speckle from tiny-ae-augment\.js in [1-9] worker thread/);
  assert.equal(log.match(/augment: speckle from tiny-ae-augment\.js in [1-9] worker thread/g)?.length, 2, 'killed and resumed process');
  assert.match(log, /resuming from checkpoint: stage train, epoch 2\n/);
  assert.match(log, /train: resuming after epoch 2\/5/);
  assert.doesNotMatch(log.slice(log.indexOf('train: resuming after')), /checkpoint: stage train, epoch [12]\n/, 'epochs 1–2 are not retrained');

  const scores = (run: string) => parseCsv(readFileSync(join(run, 'scores.csv'), 'utf8'));
  assert.deepEqual(scores(killed), scores(ref));
  const ma = JSON.parse(readFileSync(join(ref, 'metrics.json'), 'utf8'));
  const mb = JSON.parse(readFileSync(join(killed, 'metrics.json'), 'utf8'));
  assert.equal(mb.threshold.value, ma.threshold.value);
  assert.equal(mb.image.auroc, ma.image.auroc);
  const wa = loadSafetensors(join(ref, 'model', 'model.safetensors')).tensors;
  const wb = loadSafetensors(join(killed, 'model', 'model.safetensors')).tensors;
  assert.deepEqual([...wb.keys()].sort(), [...wa.keys()].sort());
  for (const [k, v] of wa) assert.deepEqual(wb.get(k)!.toTypedArray(), v.toTypedArray(), k);
});
