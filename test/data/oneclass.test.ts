import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadOneClass, makeOneClassSplit, FASHION_MNIST_DEFAULT_ROOT } from '../../src/data/oneclass.js';
import type { LabeledImages } from '../../src/data/formats/types.js';
import { DatasetError } from '../../src/data/dataset-error.js';
import { encodeIdx } from '../../src/data/formats/idx.js';

/** 10 classes × `perClass` images of 1×2×2, pixel = image index mod 256 so rows are traceable. */
function synthetic(perClass: number): LabeledImages {
  const n = perClass * 10;
  const labels = Uint8Array.from({ length: n }, (_, i) => (i * 3) % 10);
  const images = Uint8Array.from({ length: n * 4 }, (_, k) => Math.floor(k / 4) % 256);
  return { images, labels, shape: [n, 1, 2, 2] };
}

test('Fashion-MNIST class 0: 6000 train, whole 10000 test with 1000 normal', async (t) => {
  // scripts/setup.sh installs dataset-fashion-mnist, so a missing dataset is a setup failure, not a skip.
  await stat(FASHION_MNIST_DEFAULT_ROOT).catch(() => assert.fail(`${FASHION_MNIST_DEFAULT_ROOT} missing: run npm test (its setup installs dataset-fashion-mnist)`));
  const ds = await loadOneClass('fashion-mnist', { normalClass: 0 });
  assert.deepEqual(ds.train.shape, [6000, 1, 28, 28]);
  assert.ok(ds.train.labels.every((l) => l === 0) && ds.train.classes.every((c) => c === 0));
  assert.deepEqual(ds.test.shape, [10000, 1, 28, 28]);
  assert.equal(ds.test.labels.filter((l) => l === 0).length, 1000);
  assert.ok(ds.test.labels.every((l, i) => l === (ds.test.classes[i] === 0 ? 0 : 1)));
  assert.equal(ds.validation.shape[0], 0);

  const polluted = await loadOneClass('fashion-mnist', { normalClass: 7, pollution: 0.1, validationFraction: 0.1, seed: 3 });
  assert.equal(polluted.validation.shape[0], 600);
  assert.equal(polluted.train.labels.filter((l) => l === 0).length, 5400);
  assert.equal(polluted.train.labels.filter((l) => l === 1).length, 600); // 0.1·5400/0.9
});

test('pollution and validation splits: counts, disjointness, seed determinism', () => {
  const train = synthetic(50);
  const testSet = synthetic(5);
  const opts = { normalClass: 4, pollution: 0.2, validationFraction: 0.3, seed: 11 };
  const a = makeOneClassSplit('mnist', train, testSet, opts);
  const b = makeOneClassSplit('mnist', train, testSet, opts);
  const c = makeOneClassSplit('mnist', train, testSet, { ...opts, seed: 12 });

  assert.equal(a.validation.shape[0], 15);
  assert.ok(a.validation.classes.every((k) => k === 4));
  const normalsInTrain = a.train.labels.filter((l) => l === 0).length;
  assert.equal(normalsInTrain, 35);
  assert.equal(a.train.labels.filter((l) => l === 1).length, Math.round((0.2 * 35) / 0.8));
  assert.ok(a.train.labels.every((l, i) => l === (a.train.classes[i] === 4 ? 0 : 1)));
  // No validation image in train.
  const trainSrc = new Set(a.train.sourceIndex);
  assert.ok(Array.from(a.validation.sourceIndex).every((i) => !trainSrc.has(i)));
  // Images follow their source index.
  for (let i = 0; i < a.train.shape[0]; i++) assert.equal(a.train.images[i * 4], a.train.sourceIndex[i]! % 256);

  assert.deepEqual(a.train.sourceIndex, b.train.sourceIndex);
  assert.deepEqual(a.validation.sourceIndex, b.validation.sourceIndex);
  assert.notDeepEqual(a.train.sourceIndex, c.train.sourceIndex);
  // Test is the whole test set.
  assert.deepEqual(a.test.shape, [50, 1, 2, 2]);
  assert.equal(a.test.labels.filter((l) => l === 0).length, 5);

  // Changing pollution leaves the validation draw alone (separate streams).
  const d = makeOneClassSplit('mnist', train, testSet, { ...opts, pollution: 0 });
  assert.deepEqual(d.validation.sourceIndex, a.validation.sourceIndex);
  assert.ok(d.train.labels.every((l) => l === 0));
});

test('one-class option and folder errors', async () => {
  const s = synthetic(2);
  assert.throws(() => makeOneClassSplit('mnist', s, s, { normalClass: 10 }), /normalClass must be an integer in 0\.\.9/);
  assert.throws(() => makeOneClassSplit('mnist', s, s, { normalClass: 1, pollution: 1 }), /pollution must be in \[0, 1\)/);
  assert.throws(() => makeOneClassSplit('mnist', s, s, { normalClass: 1, validationFraction: -0.1 }), /validationFraction/);
  assert.throws(() => makeOneClassSplit('mnist', s, s, { normalClass: 1, pollution: 0.95 }), /only 18 are available/);
  await assert.rejects(loadOneClass('mnist', { normalClass: 0 }), /`root` is required/);
  const dir = await mkdtemp(join(tmpdir(), 'vigil-oc-'));
  try {
    await assert.rejects(loadOneClass('mnist', { root: join(dir, 'none'), normalClass: 0 }), (e: unknown) => e instanceof DatasetError && e.code === 'not-found');
    await assert.rejects(loadOneClass('mnist', { root: dir, normalClass: 0 }), /train-images-idx3-ubyte\[\.gz\] not found/);
    // Raw (not gzipped) files in torchvision's MNIST/raw folder are found; label/image count mismatch is reported.
    const raw = join(dir, 'MNIST', 'raw');
    await import('node:fs/promises').then((fs) => fs.mkdir(raw, { recursive: true }));
    await writeFile(join(raw, 'train-images-idx3-ubyte'), encodeIdx({ dtype: 'uint8', shape: [3, 2, 2], data: new Uint8Array(12) }));
    await writeFile(join(raw, 'train-labels-idx1-ubyte'), encodeIdx({ dtype: 'uint8', shape: [2], data: new Uint8Array(2) }));
    await assert.rejects(loadOneClass('mnist', { root: dir, normalClass: 0 }), /has 2 labels but .* has 3 images/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
