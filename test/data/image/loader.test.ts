import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ImageLoader, type Batch, type LoaderItem } from '../../../src/data/loader/index.js';
import { readImage } from '../../../src/data/image/index.js';
import { generateSynthDataset } from '../../../src/data/synth/index.js';
import { tempDir } from './helpers.js';

let root = '';
let items: LoaderItem[] = [];
const TRANSFORMS = [
  { op: 'resize' as const, size: 72 },
  { op: 'randomCrop' as const, size: 64, padding: 2 },
  { op: 'randomHorizontalFlip' as const },
  { op: 'normalize' as const, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] },
];

before(async () => {
  root = tempDir('loader');
  await generateSynthDataset(root, { categories: ['object'], defects: ['hole', 'stain'], size: 80, trainCount: 0, testGoodCount: 4, testDefectCount: 4, seed: 3 });
  const c = join(root, 'object');
  for (let i = 0; i < 4; i++) items.push({ path: join(c, `test/good/00${i}.png`), label: 0 });
  for (const d of ['hole', 'stain']) for (let i = 0; i < 4; i++) items.push({ path: join(c, `test/${d}/00${i}.png`), label: 1, maskPath: join(c, `ground_truth/${d}/00${i}_mask.png`) });
  items = items.slice(0, 11); // 11 items: the last batch of 4 is partial
});

async function collect(loader: ImageLoader, epoch: number): Promise<Batch[]> {
  const out: Batch[] = [];
  for await (const b of loader.epoch(epoch)) out.push(b);
  return out;
}

test('without shuffle: item order, shapes, labels, masks', async () => {
  const loader = new ImageLoader(items, { batchSize: 4, workers: 0, transforms: [{ op: 'centerCrop', size: 64 }] });
  const batches = await collect(loader, 0);
  assert.equal(loader.length, 3);
  assert.deepEqual(batches.map((b) => b.shape), [[4, 3, 64, 64], [4, 3, 64, 64], [3, 3, 64, 64]]);
  assert.deepEqual(batches.flatMap((b) => b.paths), items.map((i) => i.path));
  assert.deepEqual(Array.from(batches[0]!.labels), [0, 0, 0, 0]);
  assert.deepEqual(Array.from(batches[1]!.labels), [1, 1, 1, 1]);
  // Good images have empty masks, defective ones a non-empty mask.
  const area = (b: Batch, k: number): number => b.masks!.subarray(k * 64 * 64, (k + 1) * 64 * 64).reduce((a, v) => a + v, 0);
  assert.equal(area(batches[0]!, 0), 0);
  assert.ok(area(batches[1]!, 0) > 0);
  // Batch content equals a direct decode + crop.
  const direct = await readImage(items[5]!.path);
  const k = 1;
  const b = batches[1]!;
  for (let y = 0; y < 64; y += 9) for (let x = 0; x < 64; x += 7) assert.equal(b.images[k * 3 * 64 * 64 + y * 64 + x], direct.data[(y + 8) * 80 + x + 8]);
  const dropped = new ImageLoader(items, { batchSize: 4, workers: 0, dropLast: true });
  assert.equal((await collect(dropped, 0)).length, 2);
});

test('shuffle: same seed and epoch → same batches; epochs differ; workers do not change results', async () => {
  const mk = (workers: number, seed = 5): ImageLoader => new ImageLoader(items, { batchSize: 4, workers, shuffle: true, seed, transforms: TRANSFORMS });
  const a = mk(0);
  const b = mk(2);
  try {
    const a1 = await collect(a, 1);
    const b1 = await collect(b, 1);
    assert.deepEqual(a1.map((x) => x.paths), b1.map((x) => x.paths));
    a1.forEach((x, i) => assert.deepEqual(x.images, b1[i]!.images, `batch ${i} differs between main thread and workers`));
    a1.forEach((x, i) => assert.deepEqual(x.masks, b1[i]!.masks));
    const a2 = await collect(a, 2);
    assert.notDeepEqual(a1.flatMap((x) => x.paths), a2.flatMap((x) => x.paths));
    assert.deepEqual([...a1.flatMap((x) => x.indices)].sort((p, q) => p - q), items.map((_, i) => i));
    const other = await collect(mk(0, 6), 1);
    assert.notDeepEqual(a1.flatMap((x) => x.paths), other.flatMap((x) => x.paths));
    assert.deepEqual(a.order(7), mk(0).order(7));
  } finally {
    await b.close();
  }
});

test('cache: a small dataset is decoded once (works after the files are gone)', async () => {
  const dir = tempDir('loader-cache');
  const copies = items.slice(0, 5).map((it, i) => {
    const p = join(dir, `${i}.png`);
    copyFileSync(it.path, p);
    return { path: p, label: it.label };
  });
  for (const workers of [0, 2]) {
    const cached = new ImageLoader(copies, { batchSize: 2, workers, cache: true, shuffle: true, transforms: TRANSFORMS });
    const uncached = new ImageLoader(copies, { batchSize: 2, workers, shuffle: true, transforms: TRANSFORMS });
    try {
      const first = await collect(cached, 0);
      const ref = await collect(uncached, 0);
      first.forEach((x, i) => assert.deepEqual(x.images, ref[i]!.images));
      for (const c of copies) rmSync(c.path);
      // Epoch 1 still applies fresh random crops/flips on cached decodes.
      const second = await collect(cached, 1);
      assert.equal(second.flatMap((x) => x.paths).length, 5);
      assert.notDeepEqual(second.map((x) => x.images), first.map((x) => x.images));
      await assert.rejects(collect(uncached, 1), /is not a readable image|cannot read image file/);
    } finally {
      await cached.close();
      await uncached.close();
    }
    copies.forEach((c, i) => copyFileSync(items[i]!.path, c.path));
  }
});

test('unreadable files: default throws naming the file; skipUnreadable skips, warns once, counts', async () => {
  const dir = tempDir('loader-bad');
  mkdirSync(dir, { recursive: true });
  const bad = join(dir, 'broken.png');
  writeFileSync(bad, Buffer.from('not an image at all'));
  const list = [...items.slice(0, 3), { path: bad, label: 1 }, ...items.slice(3, 5)];
  for (const workers of [0, 1]) {
    const strict = new ImageLoader(list, { batchSize: 3, workers });
    await assert.rejects(collect(strict, 0), (e: unknown) => e instanceof Error && e.message.includes(bad) && e.message.includes('skipUnreadable'));
    await strict.close();
    const warnings: string[] = [];
    const lenient = new ImageLoader(list, { batchSize: 3, workers, skipUnreadable: true, onWarning: (m) => warnings.push(m) });
    const batches = await collect(lenient, 0);
    await collect(lenient, 1);
    await lenient.close();
    assert.deepEqual(batches.map((b) => b.shape[0]), [3, 2]);
    assert.ok(!batches.flatMap((b) => b.paths).includes(bad));
    assert.equal(lenient.skippedCount, 1);
    assert.equal(lenient.skipped[0]!.path, bad);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /broken\.png/);
  }
});

test('bad options and mismatched sample sizes give clear errors', async () => {
  assert.throws(() => new ImageLoader(items, { batchSize: 0 }), /batchSize must be an integer >= 1/);
  assert.throws(() => new ImageLoader([{ path: '' }], { batchSize: 1 }), /items\[0\]\.path/);
  assert.throws(() => new ImageLoader(items, { batchSize: 1, transforms: [{ op: 'sharpen' } as never] }), /op 'sharpen' is unknown/);
  const dir = tempDir('loader-size');
  await generateSynthDataset(dir, { categories: ['grainy'], size: 64, trainCount: 1, testGoodCount: 0, testDefectCount: 0 });
  const mixed = [{ path: items[0]!.path }, { path: join(dir, 'grainy/train/good/000.png') }];
  await assert.rejects(collect(new ImageLoader(mixed, { batchSize: 2, workers: 0 }), 0), /gives a 3x64x64 sample but .* gives 3x80x80; add resize\/centerCrop/);
});
