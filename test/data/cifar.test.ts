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
