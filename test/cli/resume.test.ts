// A training process SIGKILLed mid-run resumes from its last checkpoint and ends with exactly the
// model an uninterrupted run produces (the fixture method's SGD is deterministic given the seed).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadSafetensors } from '../../src/torch/index.js';
import { SLOWMEAN, vigil, vigilAsync } from './helpers.js';

let dir: string;
const env = { VIGIL_PLUGINS: SLOWMEAN };
const args = (out: string, delay: number): string[] => [
  'train', '--method', 'slowmean', '--data', `synth:${join(dir, 'synth', 'striped')}`, '--set', 'preprocess.size=32',
  '--set', 'model.epochs=8', '--set', `model.delay_ms=${delay}`, '--set', 'train.workers=0', '--out', out, '--quiet',
];

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'vigil-resume-'));
  assert.equal(vigil(['datasets', 'synth', join(dir, 'synth'), '--categories', 'striped', '--size', '32', '--train', '20', '--test-good', '2', '--test-defect', '1']).code, 0);
});
after(() => rmSync(dir, { recursive: true, force: true }));

test('SIGKILL mid-epoch, then --resume, finishes with the uninterrupted model', async () => {
  const ref = join(dir, 'ref');
  const a = vigil(args(ref, 0), env);
  assert.equal(a.code, 0, a.stderr);

  const killed = join(dir, 'killed');
  const child = vigilAsync(args(killed, 60), env);
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += d; });
  // Wait for the third epoch's checkpoint, then kill during the following epoch.
  await new Promise<void>((resolve, reject) => {
    const t = setInterval(() => {
      const log = existsSync(join(killed, 'log.txt')) ? readFileSync(join(killed, 'log.txt'), 'utf8') : '';
      if (/checkpoint: stage train, epoch 3/.test(log)) { clearInterval(t); setTimeout(() => { child.kill('SIGKILL'); resolve(); }, 150); }
    }, 20);
    child.on('exit', () => { clearInterval(t); reject(new Error(`training ended before it was killed: ${stderr}`)); });
  });
  await new Promise((r) => child.once('exit', r));
  assert.ok(existsSync(join(killed, 'checkpoint', 'state.safetensors')), 'a checkpoint was written');
  assert.ok(!existsSync(join(killed, 'model')), 'the killed run has no model');
  const ck = loadSafetensors(join(killed, 'checkpoint', 'state.safetensors'));
  const epoch = JSON.parse(ck.metadata.meta!).epoch as number;
  assert.ok(epoch >= 3 && epoch < 8, `checkpoint epoch ${epoch}`);

  const r = vigil(['train', '--resume', killed, '--quiet'], env);
  assert.equal(r.code, 0, r.stderr);
  const log = readFileSync(join(killed, 'log.txt'), 'utf8');
  assert.match(log, new RegExp(`resuming from checkpoint: stage train, epoch ${epoch}`));
  assert.match(log, new RegExp(`slowmean: resumed at epoch ${epoch}`));
  assert.ok(!existsSync(join(killed, 'checkpoint')), 'checkpoint removed after the model is saved');
  const wa = loadSafetensors(join(ref, 'model', 'model.safetensors')).tensors.get('w')!.toTypedArray();
  const wb = loadSafetensors(join(killed, 'model', 'model.safetensors')).tensors.get('w')!.toTypedArray();
  assert.deepEqual(wb, wa);
  const ma = JSON.parse(readFileSync(join(ref, 'metrics.json'), 'utf8'));
  const mb = JSON.parse(readFileSync(join(killed, 'metrics.json'), 'utf8'));
  assert.equal(mb.image.auroc, ma.image.auroc);
  assert.equal(mb.threshold.value, ma.threshold.value);
});
