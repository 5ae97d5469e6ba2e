import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { readImage, readMask } from '../../../src/data/image/index.js';
import { CATEGORIES, DEFECTS, generateSynthDataset, renderSample } from '../../../src/data/synth/index.js';
import { tempDir } from './helpers.js';

function listFiles(root: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) walk(join(d, e.name));
      else out.push(relative(root, join(d, e.name)));
    }
  };
  walk(root);
  return out.sort();
}

const opts = { size: 96, trainCount: 3, testGoodCount: 2, testDefectCount: 2, seed: 42 };

test('same seed → byte-identical files; another seed → different images', async () => {
  const a = tempDir('synth-a');
  const b = tempDir('synth-b');
  const c = tempDir('synth-c');
  const t0 = Date.now();
  const s = await generateSynthDataset(a, opts);
  console.log(`# generated ${s.files} files at 96 px in ${Date.now() - t0} ms`);
  await generateSynthDataset(b, opts);
  await generateSynthDataset(c, { ...opts, seed: 43 });
  const files = listFiles(a);
  assert.deepEqual(files, listFiles(b));
  for (const f of files) assert.ok(readFileSync(join(a, f)).equals(readFileSync(join(b, f))), `${f} differs between runs`);
  assert.ok(!readFileSync(join(a, 'woven/train/good/000.png')).equals(readFileSync(join(c, 'woven/train/good/000.png'))));
  // MVTec layout.
  for (const cat of CATEGORIES) {
    assert.deepEqual(readdirSync(join(a, cat, 'train/good')).sort(), ['000.png', '001.png', '002.png']);
    assert.deepEqual(readdirSync(join(a, cat, 'test')).sort(), ['good', ...DEFECTS].sort());
    for (const d of DEFECTS) {
      assert.deepEqual(readdirSync(join(a, cat, 'test', d)).sort(), ['000.png', '001.png']);
      assert.deepEqual(readdirSync(join(a, cat, 'ground_truth', d)).sort(), ['000_mask.png', '001_mask.png']);
    }
  }
  assert.equal(s.files, files.length);
});

test('masks are exact: pixels change only inside the mask, and most mask pixels change', () => {
  for (const cat of CATEGORIES) {
    for (const d of DEFECTS) {
      for (let i = 0; i < 3; i++) {
        const s = renderSample(cat, d, 7, 'test', i, 128);
        const n = 128 * 128;
        let area = 0;
        let changed = 0;
        for (let p = 0; p < n; p++) {
          const diff = s.image[p * 3] !== s.clean[p * 3] || s.image[p * 3 + 1] !== s.clean[p * 3 + 1] || s.image[p * 3 + 2] !== s.clean[p * 3 + 2];
          if (s.mask[p]) {
            area++;
            if (diff) changed++;
          } else {
            assert.ok(!diff, `${cat}/${d}/${i}: pixel ${p} changed outside the mask`);
          }
        }
        assert.ok(area >= 5, `${cat}/${d}/${i}: defect area ${area} too small`);
        // Visible, but far from the whole image.
        assert.ok(area < 0.06 * n, `${cat}/${d}/${i}: defect covers ${((100 * area) / n).toFixed(1)}% of the image`);
        assert.ok(changed >= 0.9 * area, `${cat}/${d}/${i}: only ${changed}/${area} mask pixels changed`);
      }
    }
  }
});

test('normal images vary, and categories differ from each other', () => {
  const meanAbs = (x: Uint8Array, y: Uint8Array): number => {
    let s = 0;
    for (let i = 0; i < x.length; i++) s += Math.abs(x[i]! - y[i]!);
    return s / x.length;
  };
  for (const cat of CATEGORIES) {
    const a = renderSample(cat, null, 1, 'train', 0, 96).image;
    const b = renderSample(cat, null, 1, 'train', 1, 96).image;
    assert.ok(meanAbs(a, b) > 3, `${cat}: two normal images are nearly identical (${meanAbs(a, b)})`);
    assert.ok(renderSample(cat, null, 1, 'train', 0, 96).mask.every((v) => v === 0));
  }
});

test('written masks decode to the painted mask; the dataset reads back at its size', async () => {
  const dir = tempDir('synth-read');
  await generateSynthDataset(dir, { ...opts, categories: ['object'], defects: ['missing', 'scratch'] });
  const s = renderSample('object', 'missing', 42, 'test-missing', 1, 96);
  const m = await readMask(join(dir, 'object/ground_truth/missing/001_mask.png'), 96, 96);
  assert.deepEqual(m, s.mask);
  const img = await readImage(join(dir, 'object/test/missing/001.png'));
  const n = 96 * 96;
  for (let p = 0; p < n; p += 7) assert.equal(Math.round(img.data[p]! * 255), s.image[p * 3]);
  assert.deepEqual(readdirSync(join(dir, 'object/test')).sort(), ['good', 'missing', 'scratch']);
});

test('refuses to overwrite a folder it did not create, and validates options', async () => {
  const dir = tempDir('synth-guard');
  mkdirSync(join(dir, 'woven'));
  writeFileSync(join(dir, 'woven', 'precious.txt'), 'x');
  await assert.rejects(generateSynthDataset(dir, { ...opts, categories: ['woven'] }), /woven exists and was not made by the generator/);
  await assert.rejects(generateSynthDataset(dir, { categories: ['plaid' as 'woven'] }), /unknown category 'plaid'/);
  await assert.rejects(generateSynthDataset(dir, { trainCount: -1 }), /trainCount must be a non-negative integer/);
  // Regenerating over its own output is allowed and drops stale files.
  const d2 = tempDir('synth-regen');
  await generateSynthDataset(d2, { ...opts, categories: ['grainy'], trainCount: 4 });
  await generateSynthDataset(d2, { ...opts, categories: ['grainy'], trainCount: 2 });
  assert.deepEqual(readdirSync(join(d2, 'grainy/train/good')).sort(), ['000.png', '001.png']);
});
