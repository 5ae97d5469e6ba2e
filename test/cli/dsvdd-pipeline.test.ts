// Deep SVDD / DCAE through the CLI on user-supplied files: tiny MNIST (IDX, gzipped) and CIFAR-10
// (binary batches) sets written here in the official formats, the shipped presets with 1 + 1
// epochs, and OpenOOD's two-run flow (dcae run → dsvdd run initialised from it → vigil test).
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import YAML from 'yaml';
import { DSVDD_MIN_MAX } from '../../src/data/dsvdd-preprocess.js';
import { mulberry32 } from '../../src/data/random.js';
import { tempDir } from '../helpers/python.js';
import { checkImageMetrics, parseCsv, vigil, type Run } from './helpers.js';

let dir: string;
const rnd = mulberry32(21);
const byte = (): number => Math.floor(rnd.next() * 256);

/** An IDX file: magic (0, 0, type 0x08 = ubyte, ndim), big-endian uint32 dims, then the bytes. */
function idx(dims: number[], data: Uint8Array): Uint8Array {
  const head = new DataView(new ArrayBuffer(4 + 4 * dims.length));
  head.setUint8(2, 0x08);
  head.setUint8(3, dims.length);
  dims.forEach((d, i) => head.setUint32(4 + 4 * i, d));
  const out = new Uint8Array(head.byteLength + data.length);
  out.set(new Uint8Array(head.buffer));
  out.set(data, head.byteLength);
  return out;
}

const MNIST_TRAIN = Array.from({ length: 30 }, (_, i) => (i < 12 ? 0 : 1 + (i % 9)));
const MNIST_TEST = Array.from({ length: 20 }, (_, i) => (i < 8 ? 0 : 1 + (i % 9)));
const CIFAR_BATCH = [3, 3, 3, 0, 5, 9];
const CIFAR_TEST = [3, 3, 3, 3, 0, 1, 2, 4, 5, 6];

function writeMnist(root: string): void {
  mkdirSync(root, { recursive: true });
  for (const [prefix, labels] of [['train', MNIST_TRAIN], ['t10k', MNIST_TEST]] as const) {
    const images = Uint8Array.from({ length: labels.length * 784 }, byte);
    writeFileSync(join(root, `${prefix}-images-idx3-ubyte.gz`), gzipSync(idx([labels.length, 28, 28], images)));
    writeFileSync(join(root, `${prefix}-labels-idx1-ubyte.gz`), gzipSync(idx([labels.length], Uint8Array.from(labels))));
  }
}

/** CIFAR-10 binary version: records of one label byte + 3072 pixel bytes (R, G, B planes). */
function cifarBatch(labels: readonly number[]): Uint8Array {
  const out = new Uint8Array(labels.length * 3073);
  labels.forEach((l, i) => {
    out[i * 3073] = l;
    for (let k = 1; k < 3073; k++) out[i * 3073 + k] = byte();
  });
  return out;
}

function writeCifar(root: string): void {
  const d = join(root, 'cifar-10-batches-bin');
  mkdirSync(d, { recursive: true });
  for (let b = 1; b <= 5; b++) writeFileSync(join(d, `data_batch_${b}.bin`), cifarBatch(CIFAR_BATCH));
  writeFileSync(join(d, 'test_batch.bin'), cifarBatch(CIFAR_TEST));
}

const ok = (r: Run, what: string): void => assert.equal(r.code, 0, `${what}: ${r.stderr}`);
const json = (path: string): Record<string, any> => JSON.parse(readFileSync(path, 'utf8')) as Record<string, any>;
const count = (labels: number[], c: number): number => labels.filter((l) => l === c).length;
const EPOCHS = ['--set', 'model.pretrain.epochs=1', '--set', 'model.train.epochs=1', '--quiet'];

before(() => {
  dir = tempDir('vigil-dsvdd-cli-');
  writeMnist(join(dir, 'mnist'));
  writeCifar(join(dir, 'cifar'));
});

/** The run directory of a preset run on the synthetic files: counts, preprocessing, preset values. */
function checkRun(run: string, o: { normalTrain: number; testLabels: number[]; normalClass: number; network: string; minMax: { min: number; max: number } }): void {
  for (const f of ['config.yaml', 'log.txt', 'metrics.json', 'scores.csv', 'report.html', 'model/model.safetensors', 'model/manifest.json']) {
    assert.ok(existsSync(join(run, f)), `${run}: ${f} missing`);
  }
  const m = json(join(run, 'metrics.json'));
  assert.equal(m.counts.train, o.normalTrain, 'every normal training image is trained on (holdout 0)');
  assert.equal(m.counts.held_out_normal, 0);
  assert.equal(m.counts.test, o.testLabels.length);
  assert.equal(m.counts.test_normal, count(o.testLabels, o.normalClass));
  assert.equal(m.counts.test_anomalous, o.testLabels.length - count(o.testLabels, o.normalClass));
  checkImageMetrics(m.image, parseCsv(readFileSync(join(run, 'scores.csv'), 'utf8')), `${run}: `);
  const manifest = json(join(run, 'model', 'manifest.json'));
  assert.equal(manifest.preprocessing.gcn, 'l1');
  assert.deepEqual(manifest.preprocessing.minMax, o.minMax, 'the published per-class constants');
  assert.equal(manifest.config.network, o.network);
  const log = readFileSync(join(run, 'log.txt'), 'utf8');
  assert.match(log, /warning: no held-out normal images \(threshold\.holdout = 0\)/);
}

test('cifar10:3 and mnist:0 presets train on user-supplied files in the official formats', () => {
  const c = join(dir, 'runs', 'dsvdd-cifar3');
  ok(vigil(['train', '--method', 'dsvdd', '--data', 'cifar10:3', '--data-root', join(dir, 'cifar'), ...EPOCHS, '--out', c]), 'cifar10:3');
  checkRun(c, { normalTrain: 5 * count(CIFAR_BATCH, 3), testLabels: CIFAR_TEST, normalClass: 3, network: 'cifar10', minMax: DSVDD_MIN_MAX.cifar10[3]! });
  const cc = YAML.parse(readFileSync(join(c, 'config.yaml'), 'utf8'));
  assert.deepEqual(cc.model.pretrain, { epochs: 1, lr: 0.0001, milestones: [250], gamma: 0.1, weightDecay: 5e-7, batchSize: 200, amsgrad: false, loss: 'sum' }, 'the CIFAR-10 preset, epochs from --set');
  assert.match(readFileSync(join(c, 'log.txt'), 'utf8'), /pretrain 1\/1[\s\S]*train 1\/1/);

  const m = join(dir, 'runs', 'dsvdd-mnist0');
  ok(vigil(['train', '--method', 'dsvdd', '--data', 'mnist:0', '--data-root', join(dir, 'mnist'), ...EPOCHS, '--out', m]), 'mnist:0');
  checkRun(m, { normalTrain: count(MNIST_TRAIN, 0), testLabels: MNIST_TEST, normalClass: 0, network: 'mnist', minMax: DSVDD_MIN_MAX.mnist[0]! });
});

test('pretrain and train as two runs: dcae run → dsvdd --set model.initFrom=<run> → vigil test', () => {
  const root = join(dir, 'mnist');
  const a = join(dir, 'runs', 'dcae-mnist0');
  ok(vigil(['train', '--method', 'dcae', '--data', 'mnist:0', '--data-root', root, '--set', 'model.train.epochs=1', '--quiet', '--out', a]), 'dcae');
  checkRun(a, { normalTrain: count(MNIST_TRAIN, 0), testLabels: MNIST_TEST, normalClass: 0, network: 'mnist', minMax: DSVDD_MIN_MAX.mnist[0]! });

  // A path relative to the working directory, as typed on a command line.
  const b = join(dir, 'runs', 'dsvdd-from-dcae');
  ok(vigil(['train', '--method', 'dsvdd', '--data', 'mnist:0', '--data-root', root, '--set', 'model.initFrom=runs/dcae-mnist0', '--set', 'model.train.epochs=1', '--quiet', '--out', b], {}, dir), 'dsvdd from dcae');
  const log = readFileSync(join(b, 'log.txt'), 'utf8');
  assert.match(log, /initFrom: copied \d+ encoder tensors \(conv1\.weight, .*\) from the DCAE run .*dcae-mnist0 \(data mnist:0, seed 0\) into MnistLeNet; DCAE pretraining skipped/);
  assert.doesNotMatch(log, /stage pretrain|pretrain 1\//, 'no pretraining stage');
  assert.equal(json(join(b, 'model', 'manifest.json')).state_meta.initFrom, a);
  const trained = json(join(b, 'metrics.json'));
  // No anomaly maps: each report image is the test image alone (28 px upscaled 5×), not a pair.
  const png = readFileSync(join(b, trained.images[0].file));
  assert.deepEqual([png.readUInt32BE(16), png.readUInt32BE(20)], [140, 140]);

  const t = join(dir, 'runs', 'dsvdd-from-dcae-test');
  ok(vigil(['test', b, '--out', t, '--quiet']), 'vigil test');
  const tested = json(join(t, 'metrics.json'));
  assert.equal(tested.method, 'dsvdd');
  assert.equal(tested.counts.test, MNIST_TEST.length);
  assert.equal(tested.image.auroc, trained.image.auroc, 'the saved model scores the test set as at the end of training');

  // Not a DCAE run, and not there at all: exit 1 with the path and the problem.
  const wrong = vigil(['train', '--method', 'dsvdd', '--data', 'mnist:0', '--data-root', root, '--set', `model.initFrom=${b}`, '--quiet', '--out', join(dir, 'runs', 'x')]);
  assert.equal(wrong.code, 1, wrong.stderr);
  assert.match(wrong.stderr, /vigil: error: .*model\.initFrom: .*dsvdd-from-dcae: is a 'dsvdd' run; Deep SVDD is initialised from a 'dcae' run/);
  const missing = vigil(['train', '--method', 'dsvdd', '--data', 'mnist:0', '--data-root', root, '--set', `model.initFrom=${join(dir, 'nope')}`, '--quiet', '--out', join(dir, 'runs', 'y')]);
  assert.equal(missing.code, 1, missing.stderr);
  assert.match(missing.stderr, /model\.initFrom: .*nope: does not exist/);
});

test('on a folder-style set with masks (synth:), Deep SVDD at 32 px gives image metrics and says why pixel metrics are absent', () => {
  const run = join(dir, 'runs', 'dsvdd-synth');
  ok(vigil([
    'train', '--method', 'dsvdd', '--data', `synth:${join(dir, 'synth')}`, '--set', 'model.network=cifar10', '--set', 'preprocess.size=32',
    '--set', 'dataset.synth.train_count=12', '--set', 'dataset.synth.test_good_count=3', '--set', 'dataset.synth.test_defect_count=2', ...EPOCHS, '--out', run,
  ]), 'dsvdd on synth');
  const m = json(join(run, 'metrics.json'));
  assert.equal(m.pixel, null);
  checkImageMetrics(m.image, parseCsv(readFileSync(join(run, 'scores.csv'), 'utf8')));
  assert.match(readFileSync(join(run, 'log.txt'), 'utf8'), /test split has masks, but dsvdd gives no anomaly maps: pixel metrics are not computed/);
});
