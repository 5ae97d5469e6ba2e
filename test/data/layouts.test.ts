import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import sharp from 'sharp';
import { loadMvtec, listMvtecCategories, MVTEC_CATEGORIES } from '../../src/data/mvtec.js';
import { loadFolder } from '../../src/data/folder.js';
import { DatasetError } from '../../src/data/dataset-error.js';

let png: Buffer | undefined;
async function tinyPng(): Promise<Buffer> {
  png ??= await sharp({ create: { width: 4, height: 4, channels: 3, background: { r: 10, g: 20, b: 30 } } }).png().toBuffer();
  return png;
}

async function put(root: string, rel: string): Promise<string> {
  const p = join(root, rel);
  await mkdir(dirname(p), { recursive: true });
  await writeFile(p, await tinyPng());
  return p;
}

async function withTmp(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'vigil-layout-'));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function mvtecTree(root: string): Promise<void> {
  for (const f of ['train/good/001.png', 'train/good/000.png', 'test/good/000.png', 'test/crack/000.png', 'test/crack/001.png', 'test/broken/000.png']) {
    await put(join(root, 'bottle'), f);
  }
  for (const f of ['ground_truth/crack/000_mask.png', 'ground_truth/crack/001_mask.png', 'ground_truth/broken/000_mask.png']) {
    await put(join(root, 'bottle'), f);
  }
  await writeFile(join(root, 'bottle', 'train', 'good', 'notes.txt'), 'ignored');
  await put(root, 'screw/train/good/000.png');
}

test('MVTec AD layout: samples, labels, masks, order', async () => {
  assert.equal(MVTEC_CATEGORIES.length, 15);
  await withTmp(async (root) => {
    await mvtecTree(root);
    const ds = await loadMvtec(root, 'bottle');
    assert.deepEqual(ds.train.map((s) => s.path), [join(root, 'bottle/train/good/000.png'), join(root, 'bottle/train/good/001.png')]);
    assert.ok(ds.train.every((s) => s.label === 0 && s.defect === 'good' && s.maskPath === undefined));
    assert.deepEqual(
      ds.test.map((s) => [s.defect, s.label, s.path.slice(root.length), s.maskPath?.slice(root.length)]),
      [
        ['broken', 1, '/bottle/test/broken/000.png', '/bottle/ground_truth/broken/000_mask.png'],
        ['crack', 1, '/bottle/test/crack/000.png', '/bottle/ground_truth/crack/000_mask.png'],
        ['crack', 1, '/bottle/test/crack/001.png', '/bottle/ground_truth/crack/001_mask.png'],
        ['good', 0, '/bottle/test/good/000.png', undefined],
      ],
    );
    assert.deepEqual(ds.defects, ['broken', 'crack']);
    assert.deepEqual(await listMvtecCategories(root), ['bottle', 'screw']);
  });
});

test('MVTec AD errors: missing category lists the existing ones; missing mask names the image', async () => {
  await withTmp(async (root) => {
    await mvtecTree(root);
    await assert.rejects(loadMvtec(root, 'zipper'), (e: unknown) =>
      e instanceof DatasetError && e.code === 'not-found' && e.message.includes("'zipper'") && e.message.includes('Categories under') && e.message.includes('bottle, screw'));
    await rm(join(root, 'bottle', 'ground_truth', 'crack', '001_mask.png'));
    const img = join(root, 'bottle', 'test', 'crack', '001.png');
    await assert.rejects(loadMvtec(root, 'bottle'), (e: unknown) =>
      e instanceof DatasetError && e.code === 'missing-mask' && e.path === img && e.message.includes('001_mask.png'));
    await assert.rejects(loadMvtec(root, 'screw'), /test does not exist/);
    await assert.rejects(loadMvtec(join(root, 'nowhere'), 'bottle'), /root .* does not exist/);
    await rm(join(root, 'bottle', 'train', 'good', '000.png'));
    await rm(join(root, 'bottle', 'train', 'good', '001.png'));
    await assert.rejects(loadMvtec(root, 'bottle'), (e: unknown) => e instanceof DatasetError && e.code === 'empty');
  });
});

test('Folder: normal/abnormal/mask dirs, extension filter, seeded normal split', async () => {
  await withTmp(async (root) => {
    for (let i = 0; i < 10; i++) await put(root, `good/img${i}.png`);
    await put(root, 'good/sub/deep.PNG');
    await writeFile(join(root, 'good', 'readme.md'), 'x');
    await put(root, 'bad/a.png');
    await put(root, 'bad/b.jpg'.replace('.jpg', '.png'));
    await put(root, 'masks/a_mask.png');
    await put(root, 'masks/b.png');

    const a = await loadFolder({ root, normalDir: 'good', abnormalDir: 'bad', maskDir: 'masks', seed: 1 });
    const b = await loadFolder({ root, normalDir: 'good', abnormalDir: 'bad', maskDir: 'masks', seed: 1 });
    const c = await loadFolder({ root, normalDir: 'good', abnormalDir: 'bad', maskDir: 'masks', seed: 2 });
    assert.equal(a.train.length, 9); // 11 normals, round(0.2·11) = 2 moved to test
    assert.equal(a.test.filter((s) => s.label === 0).length, 2);
    assert.deepEqual(a, b);
    assert.notDeepEqual(a.test.map((s) => s.path), c.test.map((s) => s.path));
    const ab = a.test.filter((s) => s.label === 1);
    assert.deepEqual(ab.map((s) => [s.path, s.maskPath]), [
      [join(root, 'bad/a.png'), join(root, 'masks/a_mask.png')],
      [join(root, 'bad/b.png'), join(root, 'masks/b.png')],
    ]);
    // Every normal is in exactly one split.
    const all = [...a.train, ...a.test.filter((s) => s.label === 0)].map((s) => s.path).sort();
    assert.equal(new Set(all).size, 11);

    const flat = await loadFolder({ root, normalDir: join(root, 'good'), recursive: false, normalSplitRatio: 0 });
    assert.equal(flat.train.length, 10);
    assert.equal(flat.test.length, 0);
    const onlyPng = await loadFolder({ root, normalDir: 'good', extensions: ['md'], normalSplitRatio: 0 });
    assert.deepEqual(onlyPng.train.map((s) => s.path), [join(root, 'good/readme.md')]);

    await put(root, 'goodtest/t.png');
    const withTestDir = await loadFolder({ root, normalDir: 'good', normalTestDir: 'goodtest' });
    assert.equal(withTestDir.train.length, 11);
    assert.deepEqual(withTestDir.test.map((s) => s.path), [join(root, 'goodtest/t.png')]);
  });
});

test('Folder errors: missing folder, empty folder, missing mask, conflicting options', async () => {
  await withTmp(async (root) => {
    await put(root, 'good/x.png');
    await put(root, 'bad/y.png');
    await mkdir(join(root, 'empty'));
    await mkdir(join(root, 'masks'));
    await put(root, 'masks/other.png');
    await assert.rejects(loadFolder({ root, normalDir: 'missing' }), (e: unknown) =>
      e instanceof DatasetError && e.code === 'not-found' && e.message.includes(join(root, 'missing')) && e.message.includes('normalDir'));
    await assert.rejects(loadFolder({ root, normalDir: 'empty' }), (e: unknown) =>
      e instanceof DatasetError && e.code === 'empty' && e.message.includes(join(root, 'empty')) && e.message.includes('.png'));
    await assert.rejects(loadFolder({ root, normalDir: 'good', abnormalDir: 'bad', maskDir: 'masks', normalSplitRatio: 0 }), (e: unknown) =>
      e instanceof DatasetError && e.code === 'missing-mask' && e.path === join(root, 'bad/y.png'));
    await assert.rejects(loadFolder({ root, normalDir: 'good', normalTestDir: 'bad', normalSplitRatio: 0.3 }), /only applies without normalTestDir/);
    await assert.rejects(loadFolder({ root, normalDir: 'good', normalSplitRatio: 1.5 }), /normalSplitRatio must be in \[0, 1\)/);
    await assert.rejects(loadFolder({ root, normalDir: 'good', maskDir: 'masks' }), /maskDir is set but abnormalDir is not/);
  });
});
