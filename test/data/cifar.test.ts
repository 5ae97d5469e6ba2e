import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseCifarBinary, readCifar10Binary, cifar10BinaryFiles } from '../../src/data/formats/cifar.js';
import { DatasetError } from '../../src/data/dataset-error.js';

/** Writes a batch in the official layout: per record, a label byte then R, G, B planes of 32×32. */
function makeBatch(n: number, labelOf: (i: number) => number, pixel: (i: number, c: number, y: number, x: number) => number): Uint8Array {
  const out = new Uint8Array(n * 3073);
  for (let i = 0; i < n; i++) {
    out[i * 3073] = labelOf(i);
    for (let c = 0; c < 3; c++)
      for (let y = 0; y < 32; y++)
        for (let x = 0; x < 32; x++) out[i * 3073 + 1 + c * 1024 + y * 32 + x] = pixel(i, c, y, x);
  }
  return out;
}

const pix = (batch: number) => (i: number, c: number, y: number, x: number) => (batch * 31 + i * 7 + c * 50 + y * 3 + x) % 256;

test('CIFAR-10 binary: batches in the official layout read back as N×3×32×32', async () => {
  const root = await mkdtemp(join(tmpdir(), 'vigil-cifar-'));
  try {
    const dir = join(root, 'cifar-10-batches-bin');
    await mkdir(dir);
    const files = cifar10BinaryFiles('train');
    for (const [b, f] of files.entries()) await writeFile(join(dir, f), makeBatch(4, (i) => (b + i) % 10, pix(b)));
    await writeFile(join(dir, 'test_batch.bin'), makeBatch(3, (i) => 9 - i, pix(9)));

    const train = await readCifar10Binary(root, 'train');
    assert.deepEqual(train.shape, [20, 3, 32, 32]);
    // Image 6 = batch 1, record 2: label (1+2)%10, pixel (c=2, y=5, x=7).
    assert.equal(train.labels[6], 3);
    assert.equal(train.images[6 * 3072 + 2 * 1024 + 5 * 32 + 7], pix(1)(2, 2, 5, 7));
    const test = await readCifar10Binary(dir, 'test'); // the batches folder itself also works
    assert.deepEqual(Array.from(test.labels), [9, 8, 7]);
    assert.equal(test.images[2 * 3072 + 31 * 32 + 31], pix(9)(2, 0, 31, 31));
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('CIFAR-10 binary: clear errors', async () => {
  assert.throws(() => parseCifarBinary(new Uint8Array(3072), 'b.bin'), /b\.bin: size 3072 is not a multiple of the 3073-byte/);
  const bad = makeBatch(1, () => 12, () => 0);
  assert.throws(() => parseCifarBinary(bad, 'c.bin'), /c\.bin: record 0 has label 12/);
  const root = await mkdtemp(join(tmpdir(), 'vigil-cifar-'));
  try {
    await assert.rejects(readCifar10Binary(root, 'test'), (e: unknown) => e instanceof DatasetError && e.code === 'not-found' && e.message.includes(root));
    await writeFile(join(root, 'test_batch.bin'), makeBatch(1, () => 0, () => 0));
    // train batches missing: the error names the first missing file
    await assert.rejects(readCifar10Binary(root, 'train'), (e: unknown) => e instanceof DatasetError && e.message.includes(join(root, 'data_batch_1.bin')));
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

// Python writes the same random batches in both official formats (one process for this file).
const PY_WRITER = String.raw`
import sys, os, pickle, numpy as np
root = sys.argv[1]
rs = np.random.RandomState(0)
b = os.path.join(root, 'cifar-10-batches-bin'); p = os.path.join(root, 'cifar-10-batches-py')
os.makedirs(b); os.makedirs(p)
names = ['data_batch_%d' % i for i in range(1, 6)] + ['test_batch']
for k, name in enumerate(names):
    n = 3 + k
    data = rs.randint(0, 256, size=(n, 3072)).astype(np.uint8)
    labels = [int(v) for v in rs.randint(0, 10, size=n)]
    rec = np.concatenate([np.array(labels, dtype=np.uint8)[:, None], data], axis=1)
    rec.tofile(os.path.join(b, name + '.bin'))
    if k % 3 == 0:
        d, proto = {'batch_label': 'x', 'labels': labels, 'data': data}, 2      # str keys
    elif k % 3 == 1:
        d, proto = {b'batch_label': b'x', b'labels': labels, b'data': data}, 2  # bytes keys
    else:
        d, proto = {b'labels': labels, b'data': data, b'filenames': [b'a.png']}, 4
    with open(os.path.join(p, name), 'wb') as f:
        pickle.dump(d, f, protocol=proto)
`;

test('CIFAR-10 python version (pickles written by Python) equals the binary version of the same data', async () => {
  const { readCifar10Python, readCifar10, parseCifarPython } = await import('../../src/data/formats/cifar-python.js');
  const { spawnSync } = await import('node:child_process');
  const { rename } = await import('node:fs/promises');
  const root = await mkdtemp(join(tmpdir(), 'vigil-cifarpy-'));
  try {
    const r = spawnSync('/usr/bin/python3', ['-c', PY_WRITER, root], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    for (const split of ['train', 'test'] as const) {
      const bin = await readCifar10Binary(root, split);
      const py = await readCifar10Python(root, split);
      assert.deepEqual(py.shape, bin.shape);
      assert.deepEqual(py.labels, bin.labels);
      assert.ok(Buffer.from(py.images).equals(Buffer.from(bin.images)));
      assert.deepEqual((await readCifar10(root, split)).labels, bin.labels);
    }
    assert.equal((await readCifar10Python(root, 'train')).shape[0], 3 + 4 + 5 + 6 + 7);
    // Without the binary folder, readCifar10 falls back to the pickles.
    await rename(join(root, 'cifar-10-batches-bin'), join(root, 'moved'));
    assert.equal((await readCifar10(root, 'test')).shape[0], 8);
    const { loadOneClass } = await import('../../src/data/oneclass.js');
    const trainSet = await readCifar10(root, 'train');
    const oc = await loadOneClass('cifar10', { root, normalClass: trainSet.labels[0]! });
    assert.equal(oc.train.shape[0], trainSet.labels.filter((l) => l === trainSet.labels[0]).length);
    assert.deepEqual(oc.test.shape, [8, 3, 32, 32]);
    assert.throws(() => parseCifarPython(Uint8Array.from([0x80, 2, 0x4b, 1, 0x2e]), 'one.pkl'), /one\.pkl: expected a pickled dict/);
    assert.throws(() => parseCifarPython(Uint8Array.from([1, 2, 3]), 'junk.pkl'), (e: unknown) => e instanceof DatasetError && e.message.startsWith('junk.pkl: not a readable CIFAR-10 python batch'));
    await assert.rejects(readCifar10(join(root, 'moved', 'nothing'), 'test'), /no CIFAR-10 under/);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
