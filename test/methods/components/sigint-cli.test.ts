// Ctrl-C during `vigil train` on an in-memory dataset (F-MNIST) stops training within a batch: the
// shared trainer yields to the event loop between batches, so the SIGINT handler runs although the
// batches never wait on I/O (before, it ran only after fit() had finished every epoch).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadSafetensors } from '../../../src/torch/index.js';
import { vigilAsync } from '../../cli/helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'vigil-sigint-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('SIGINT after the first checkpoint ends a long in-memory DCAE fit at once (exit 130)', async () => {
  const EPOCHS = 100;
  const run = join(dir, 'run');
  const child = vigilAsync([
    'train', '--method', 'dcae', '--data', 'fmnist:0', '--set', 'dataset.limit_train=128', '--set', 'dataset.limit_test=20',
    '--set', `model.train.epochs=${EPOCHS}`, '--set', 'model.train.batchSize=32', '--out', run, '--quiet',
  ]);
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += d; });
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  await new Promise<void>((resolve, reject) => {
    const t = setInterval(() => {
      const log = existsSync(join(run, 'log.txt')) ? readFileSync(join(run, 'log.txt'), 'utf8') : '';
      if (/checkpoint: stage train, epoch 1\n/.test(log)) { clearInterval(t); resolve(); }
    }, 20);
    child.once('exit', (code) => { clearInterval(t); reject(new Error(`training exited (${code}) before its first checkpoint: ${stderr}`)); });
  });
  child.kill('SIGINT');
  const code = await exited;
  assert.equal(code, 130, stderr);
  assert.match(stderr, /interrupted \(SIGINT\): stopping after the current batch/);
  assert.match(stderr, /vigil: interrupted; resume with: vigil train --resume /);
  const log = readFileSync(join(run, 'log.txt'), 'utf8');
  assert.doesNotMatch(log, /fit: /, 'fit() did not run to its end');
  const ck = loadSafetensors(join(run, 'checkpoint', 'state.safetensors'));
  const epoch = JSON.parse(ck.metadata.meta!).epoch as number;
  for (const t of ck.tensors.values()) t.dispose();
  assert.ok(epoch >= 1 && epoch < EPOCHS, `last checkpoint at epoch ${epoch} of ${EPOCHS}`);
});
