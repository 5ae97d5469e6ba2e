// The MVTec table (scripts/mvtec-table.mjs): the published columns per method and the rendered rows
// and means, on fabricated metrics (the real runs need MVTec AD and, for DRAEM, a GPU).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';

interface Published { columns: string[]; mean: Record<string, number>; rows: Record<string, number[]> }
interface TableScript {
  PUBLISHED: Record<string, Published>;
  rowOf(category: string, metrics: unknown): Record<string, number | string>;
  renderTable(method: string, rows: Record<string, number | string>[]): string;
}
const script = fileURLToPath(new URL('../../../scripts/mvtec-table.mjs', import.meta.url));
const { PUBLISHED, rowOf, renderTable } = (await import(pathToFileURL(script).href)) as TableScript;

const metrics = (image: number, pixel: number, ap: number) => ({
  image: { auroc: image }, pixel: { auroc: pixel, ap, aupro: 0.9 }, timing: { fit_s: 600, infer_ms_per_image: 40 },
});
const cells = (row: string): string[] => row.split('|').slice(1, -1).map((c) => c.trim());

test('published tables: 15 categories each; DRAEM\'s per-class values average to the paper\'s means (98.0 / 97.3 / 68.4)', () => {
  for (const [method, p] of Object.entries(PUBLISHED)) assert.equal(Object.keys(p.rows).length, 15, method);
  const d = PUBLISHED.draem!;
  assert.deepEqual(d.mean, { image: 98.0, pixel: 97.3, pixelAp: 68.4 });
  d.columns.forEach((c, i) => {
    const m = Object.values(d.rows).reduce((s, r) => s + r[i]!, 0) / 15;
    // The paper rounds its per-class values and its means separately.
    assert.ok(Math.abs(m - d.mean[c]!) < 0.05, `draem ${c}: per-class mean ${m.toFixed(2)} vs printed ${d.mean[c]}`);
  });
  assert.deepEqual(d.rows.transistor, [93.1, 90.9, 50.7]);
});

test('draem table: measured beside published (image, pixel AUROC, pixel AP), AUPRO, fit minutes; partial mean over the same categories', () => {
  const rows = [rowOf('bottle', metrics(0.99, 0.98, 0.8)), rowOf('cable', metrics(0.9, 0.95, 0.5))];
  const lines = renderTable('draem', rows).split('\n');
  assert.equal(lines.length, 2 + 2 + 1);
  assert.deepEqual(cells(lines[0]!), ['category', 'image AUROC', 'published', 'pixel AUROC', 'published', 'pixel AP', 'published', 'AUPRO', 'fit min', 'ms / image']);
  for (const l of lines) assert.equal(cells(l).length, 10, l);
  assert.deepEqual(cells(lines[2]!), ['bottle', '99.0', '99.2', '98.0', '99.1', '80.0', '86.5', '90.0', '10.0', '40.0']);
  const mean = cells(lines[4]!);
  assert.equal(mean[0], '**mean** (2 of 15)');
  assert.deepEqual(mean.slice(1, 7), ['94.5', '95.5', '96.5', '96.9', '65.0', '69.5']);
});

test('patchcore stays the default table (image and pixel AUROC beside PatchCore-10 %)', () => {
  const lines = renderTable('patchcore', [rowOf('screw', metrics(0.95, 0.99, 0.3))]).split('\n');
  assert.deepEqual(cells(lines[0]!), ['category', 'image AUROC', 'published', 'pixel AUROC', 'published', 'AUPRO', 'fit min', 'ms / image']);
  assert.deepEqual(cells(lines[2]!).slice(0, 5), ['screw', '95.0', '97.0', '99.0', '99.4']);
  assert.throws(() => renderTable('kdad', []), /no published MVTec table for method 'kdad'/);
});

test('an unknown --method is refused before anything is trained', () => {
  const r = spawnSync(process.execPath, [script, '/nonexistent', '--method', 'nope'], { encoding: 'utf8' });
  assert.equal(r.status, 1);
  assert.match(r.stderr, /--method nope: no published MVTec table for it \(use patchcore or draem\)/);
});
