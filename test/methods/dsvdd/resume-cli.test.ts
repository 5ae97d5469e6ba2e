// `vigil train --method dsvdd` SIGKILLed during DCAE pretraining (after the 'checkpoint: stage
// pretrain, epoch 1' line of log.txt), then `vigil train --resume`: pretraining continues from the
// checkpoint (autoencoder, Adam state, schedule), the encoder transfer, c and the Deep SVDD stage
// follow, and the scores, threshold and weights equal those of the uninterrupted run exactly.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadSafetensors } from '../../../src/torch/index.js';
import { parseCsv, vigil, vigilAsync } from '../../cli/helpers.js';

const PRETRAIN_EPOCHS = 4;
let dir: string;
const args = (out: string): string[] => [
  'train', '--method', 'dsvdd', '--data', 'fmnist:3', '--seed', '2', '--out', out, '--quiet',
  '--set', 'dataset.limitTrain=64', '--set', 'dataset.limitTest=40',
  '--set', `model.pretrain.epochs=${PRETRAIN_EPOCHS}`, '--set', 'model.pretrain.milestones=[2]', '--set', 'model.pretrain.batchSize=16',
  '--set', 'model.train.epochs=2', '--set', 'model.train.batchSize=16',
];

before(() => {
  assert.ok(existsSync('/usr/share/datasets/fashion-mnist'), 'Fashion-MNIST missing: run npm test (its setup installs dataset-fashion-mnist)');
  dir = mkdtempSync(join(tmpdir(), 'vigil-dsvdd-resume-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

test('dsvdd killed mid-pretraining, then --resume: exactly the uninterrupted run', async () => {
  const ref = join(dir, 'ref');
  const a = vigil(args(ref));
  assert.equal(a.code, 0, a.stderr);

  const killed = join(dir, 'killed');
  const child = vigilAsync(args(killed));
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += d; });
  const exited = new Promise((r) => child.once('exit', r));
  await new Promise<void>((resolve, reject) => {
    const t = setInterval(() => {
      const log = existsSync(join(killed, 'log.txt')) ? readFileSync(join(killed, 'log.txt'), 'utf8') : '';
      if (/checkpoint: stage pretrain, epoch 1\n/.test(log)) { clearInterval(t); child.kill('SIGKILL'); resolve(); }
    }, 10);
    child.once('exit', (code) => { clearInterval(t); reject(new Error(`training exited (${code}) before the marker: ${stderr}`)); });
  });
  await exited;
  assert.ok(!existsSync(join(killed, 'model')), 'the killed run has no model');
  const ck = loadSafetensors(join(killed, 'checkpoint', 'state.safetensors'));
  const meta = JSON.parse(ck.metadata.meta!) as { stage: string; epoch: number };
  for (const t of ck.tensors.values()) t.dispose();
  assert.equal(meta.stage, 'pretrain', 'killed during pretraining');
  assert.ok(meta.epoch >= 1 && meta.epoch < PRETRAIN_EPOCHS, `checkpoint after pretraining epoch ${meta.epoch}`);

  const r = vigil(['train', '--resume', killed, '--quiet']);
  assert.equal(r.code, 0, r.stderr);
  const log = readFileSync(join(killed, 'log.txt'), 'utf8');
  assert.match(log, new RegExp(`resuming from checkpoint: stage pretrain, epoch ${meta.epoch}\\n`));
  const at = log.indexOf('resuming from checkpoint');
  const resumed = log.slice(log.indexOf('\n', at) + 1);
  assert.doesNotMatch(resumed, new RegExp(`checkpoint: stage pretrain, epoch ${meta.epoch}\\n`), 'finished epochs are not retrained');
  assert.match(resumed, new RegExp(`checkpoint: stage pretrain, epoch ${PRETRAIN_EPOCHS}\\n[\\s\\S]*pretrain: copied \\d+ encoder tensors[\\s\\S]*checkpoint: stage train, epoch 2\\n`));

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
