import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile, stat } from 'node:fs/promises';
import { gzipSync } from 'node:zlib';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeIdx, parseIdx, readIdx, readIdxImages, readIdxLabels, type IdxArray } from '../../src/data/formats/idx.js';
import { DatasetError } from '../../src/data/dataset-error.js';

const FMNIST = '/usr/share/datasets/fashion-mnist';

async function withTmp(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'vigil-idx-'));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test('IDX round trip, raw and gzipped, every dtype', async () => {
  const cases: IdxArray[] = [
    { dtype: 'uint8', shape: [3, 4, 5], data: Uint8Array.from({ length: 60 }, (_, i) => (i * 37) % 256) },
    { dtype: 'int8', shape: [6], data: Int8Array.from([-128, -1, 0, 1, 5, 127]) },
    { dtype: 'int16', shape: [2, 2], data: Int16Array.from([-32768, -2, 300, 32767]) },
    { dtype: 'int32', shape: [3], data: Int32Array.from([-2147483648, 7, 2147483647]) },
    { dtype: 'float32', shape: [2], data: Float32Array.from([1.5, -0.1]) },
    { dtype: 'float64', shape: [1, 2], data: Float64Array.from([Math.PI, -1e300]) },
  ];
  await withTmp(async (dir) => {
    for (const [k, arr] of cases.entries()) {
      const raw = encodeIdx(arr);
      const rawPath = join(dir, `a${k}`);
      const gzPath = join(dir, `a${k}.gz`);
      await writeFile(rawPath, raw);
      await writeFile(gzPath, gzipSync(raw));
      for (const path of [rawPath, gzPath]) {
        const back = await readIdx(path);
        assert.equal(back.dtype, arr.dtype, path);
        assert.deepEqual(back.shape, arr.shape);
        assert.deepEqual(Array.from(back.data), Array.from(arr.data));
      }
    }
  });
});

test('IDX header is big-endian and matches the published layout', () => {
  const bytes = encodeIdx({ dtype: 'uint8', shape: [2, 1, 258], data: new Uint8Array(516) });
  assert.deepEqual(Array.from(bytes.subarray(0, 16)), [0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 1, 2]);
});

test('IDX errors name the file', async () => {
  await withTmp(async (dir) => {
    const bad = join(dir, 'bad-magic');
    await writeFile(bad, Uint8Array.from([1, 2, 3, 4, 5]));
    await assert.rejects(readIdx(bad), (e: unknown) => e instanceof DatasetError && e.code === 'bad-format' && e.message.includes(bad));

    const truncated = join(dir, 'trunc.gz');
    const full = encodeIdx({ dtype: 'uint8', shape: [10, 2, 2], data: new Uint8Array(40) });
    await writeFile(truncated, gzipSync(full.subarray(0, 30)));
    await assert.rejects(readIdx(truncated), (e: unknown) => e instanceof DatasetError && /trunc\.gz.*\[10, 2, 2\]/.test(e.message));

    const missing = join(dir, 'nope-idx3-ubyte');
    await assert.rejects(readIdx(missing), (e: unknown) => e instanceof DatasetError && e.code === 'not-found' && e.message.includes(missing));

    const labels = join(dir, 'labels');
    await writeFile(labels, encodeIdx({ dtype: 'uint8', shape: [2, 2], data: new Uint8Array(4) }));
    await assert.rejects(readIdxLabels(labels), /rank 1/);
    await assert.rejects(readIdxImages(labels), /rank 3/);
  });
  assert.throws(() => parseIdx(Uint8Array.from([0, 0, 0x42, 1, 0, 0, 0, 0]), 'x.idx'), /x\.idx: unknown IDX dtype code 0x42/);
});

test("Debian's Fashion-MNIST files read as 60000/10000 28×28 images", async (t) => {
  // scripts/setup.sh installs dataset-fashion-mnist, so a missing dataset is a setup failure, not a skip.
  await stat(FMNIST).catch(() => assert.fail(`${FMNIST} missing: run npm test (its setup installs dataset-fashion-mnist)`));
  const train = await readIdxImages(join(FMNIST, 'train-images-idx3-ubyte.gz'));
  const trainLabels = await readIdxLabels(join(FMNIST, 'train-labels-idx1-ubyte.gz'));
  const test = await readIdxImages(join(FMNIST, 't10k-images-idx3-ubyte.gz'));
  const testLabels = await readIdxLabels(join(FMNIST, 't10k-labels-idx1-ubyte.gz'));
  assert.deepEqual([train.count, train.height, train.width], [60000, 28, 28]);
  assert.deepEqual([test.count, test.height, test.width], [10000, 28, 28]);
  assert.equal(trainLabels.length, 60000);
  assert.equal(testLabels.length, 10000);
  const perClass = new Array<number>(10).fill(0);
  for (const l of trainLabels) perClass[l]! += 1;
  assert.deepEqual(perClass, new Array<number>(10).fill(6000));
  assert.ok(train.data.some((v) => v === 255) && train.data.some((v) => v === 0));
});
