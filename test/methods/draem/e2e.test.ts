// DRAEM through the CLI with tiny networks (widths 4/2, 64², a few epochs): train writes image and
// pixel metrics and a report with heatmaps, test and predict reproduce the scores from the saved
// model, and a run SIGKILLed mid-training resumes through the shared trainer to exactly the model
// of an uninterrupted run (the synthesised batches are seeded by epoch position, so they repeat).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadSafetensors } from '../../../src/torch/index.js';
import { parseCsv, vigil, vigilAsync } from '../../cli/helpers.js';

let dir: string;
let run: string;
const tiny = (epochs: number): string[] => [
  '--set', 'model.imageSize=64', '--set', 'model.reconstructiveWidth=4', '--set', 'model.discriminativeWidth=2',
  '--set', `model.train.epochs=${epochs}`, '--set', 'model.train.batchSize=4', '--set', 'train.workers=1', '--threads', '1',
];

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'vigil-draem-e2e-'));
  const g = vigil(['datasets', 'synth', join(dir, 'synth'), '--categories', 'striped', '--size', '64', '--train', '12', '--test-good', '3', '--test-defect', '1']);
  assert.equal(g.code, 0, g.stderr);
  run = join(dir, 'run');
  const r = vigil(['train', '--method', 'draem', '--data', `synth:${join(dir, 'synth', 'striped')}`, ...tiny(2), '--out', run, '--quiet']);
  assert.equal(r.code, 0, r.stderr);
});
after(() => rmSync(dir, { recursive: true, force: true }));

test('vigil train --method draem: loss terms in the log, image and pixel metrics, heatmaps in the report', () => {
  const log = readFileSync(join(run, 'log.txt'), 'utf8');
  assert.match(log, /augment: synthesize from synthesis\.js in 1 worker thread/);
  assert.match(log, /draem: anomaly source procedural textures/);
  assert.match(log, /the paper's numbers need DTD as the anomaly source: vigil datasets download dtd/);
  assert.match(log, /train 2\/2 loss=\S+ l2=\S+ ssim=\S+ focal=\S+ lr=/);
  const m = JSON.parse(readFileSync(join(run, 'metrics.json'), 'utf8'));
  assert.equal(m.method, 'draem');
  for (const k of ['auroc', 'ap', 'aupro']) assert.ok(m.pixel[k] >= 0 && m.pixel[k] <= 1, `pixel.${k} ${m.pixel[k]}`);
  const report = readFileSync(join(run, 'report.html'), 'utf8');
  assert.match(report, /Most anomalous test images/);
  assert.ok(readdirSync(join(run, 'images')).some((f) => f.startsWith('most-anomalous-')), 'overlay images written');
  const manifest = JSON.parse(readFileSync(join(run, 'model', 'manifest.json'), 'utf8'));
  assert.deepEqual(manifest.preprocessing.transforms, [{ op: 'resize', size: [64, 64], interpolation: 'bilinear', antialias: false }]);
});

test('vigil test and vigil predict reproduce the scores; predict writes heatmaps', () => {
  const t = vigil(['test', run, '--quiet', '--json', '--threads', '1']);
  assert.equal(t.code, 0, t.stderr);
  const before = JSON.parse(readFileSync(join(run, 'metrics.json'), 'utf8'));
  assert.equal(JSON.parse(t.stdout).metrics.pixel.auroc, before.pixel.auroc);
  const rows = parseCsv(readFileSync(join(run, 'scores.csv'), 'utf8'));
  const one = rows.find((r) => r.label === '1')!;
  const out = join(dir, 'pred');
  const p = vigil(['predict', run, one.id!, '--out', out, '--quiet', '--threads', '1']);
  assert.equal(p.code, 0, p.stderr);
  const pred = parseCsv(readFileSync(join(out, 'predictions.csv'), 'utf8'));
  assert.equal(pred.length, 1);
  assert.ok(Math.abs(Number(pred[0]!.score) - Number(one.score)) <= 1e-5, `${pred[0]!.score} vs ${one.score}`);
  assert.ok(readdirSync(join(out, 'heatmaps')).length >= 1, 'a heatmap per image');
});

test('SIGKILL mid-training, then --resume: the same model as an uninterrupted run', async () => {
  const data = ['--data', `synth:${join(dir, 'synth', 'striped')}`];
  const ref = join(dir, 'ref');
  const a = vigil(['train', '--method', 'draem', ...data, ...tiny(8), '--out', ref, '--quiet']);
  assert.equal(a.code, 0, a.stderr);

  const killed = join(dir, 'killed');
  const child = vigilAsync(['train', '--method', 'draem', ...data, ...tiny(8), '--out', killed, '--quiet']);
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += d; });
  await new Promise<void>((resolve, reject) => {
    const t = setInterval(() => {
      const log = existsSync(join(killed, 'log.txt')) ? readFileSync(join(killed, 'log.txt'), 'utf8') : '';
      if (/checkpoint: stage train, epoch 3/.test(log)) { clearInterval(t); child.kill('SIGKILL'); resolve(); }
    }, 10);
    child.on('exit', () => { clearInterval(t); reject(new Error(`training ended before it was killed: ${stderr}`)); });
  });
  await new Promise((r) => child.once('exit', r));
  assert.ok(!existsSync(join(killed, 'model')), 'the killed run has no model');
  const epoch = JSON.parse(loadSafetensors(join(killed, 'checkpoint', 'state.safetensors')).metadata.meta!).epoch as number;
  assert.ok(epoch >= 3 && epoch < 8, `checkpoint epoch ${epoch}`);

  const r = vigil(['train', '--resume', killed, '--quiet', '--threads', '1']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(readFileSync(join(killed, 'log.txt'), 'utf8'), new RegExp(`train: resuming after epoch ${epoch}/8`));
  const wa = loadSafetensors(join(ref, 'model', 'model.safetensors')).tensors;
  const wb = loadSafetensors(join(killed, 'model', 'model.safetensors')).tensors;
  assert.deepEqual([...wb.keys()], [...wa.keys()]);
  for (const [k, t] of wa) assert.deepEqual(wb.get(k)!.toTypedArray(), t.toTypedArray(), k);
  const ma = JSON.parse(readFileSync(join(ref, 'metrics.json'), 'utf8'));
  const mb = JSON.parse(readFileSync(join(killed, 'metrics.json'), 'utf8'));
  assert.equal(mb.pixel.auroc, ma.pixel.auroc);
});

test('model.train.precision=bfloat16: mixed-precision training saves float32 weights that differ from the float32 run', () => {
  const bf = join(dir, 'bf16');
  const r = vigil(['train', '--method', 'draem', '--data', `synth:${join(dir, 'synth', 'striped')}`, ...tiny(2), '--set', 'model.train.precision=bfloat16', '--out', bf, '--quiet']);
  assert.equal(r.code, 0, r.stderr);
  const m = JSON.parse(readFileSync(join(bf, 'metrics.json'), 'utf8'));
  assert.ok(m.pixel.auroc >= 0 && m.pixel.auroc <= 1);
  const wa = loadSafetensors(join(run, 'model', 'model.safetensors')).tensors;
  const wb = loadSafetensors(join(bf, 'model', 'model.safetensors')).tensors;
  let differ = 0;
  for (const [k, t] of wb) {
    if (k.endsWith('num_batches_tracked')) continue;
    assert.equal(t.dtype, 'float32', k);
    const x = t.toTypedArray() as Float32Array, y = wa.get(k)!.toTypedArray() as Float32Array;
    if (Buffer.compare(Buffer.from(x.buffer, x.byteOffset, x.byteLength), Buffer.from(y.buffer, y.byteOffset, y.byteLength)) !== 0) differ++;
  }
  assert.ok(differ > 0, 'bfloat16 training changed the weights');
  const bad = vigil(['train', '--method', 'draem', '--data', `synth:${join(dir, 'synth', 'striped')}`, ...tiny(1), '--set', 'model.train.precision=half', '--out', join(dir, 'bad')]);
  assert.equal(bad.code, 1, bad.stderr);
  assert.match(bad.stderr, /model\.train\.precision/);
});
