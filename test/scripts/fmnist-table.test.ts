// The Fashion-MNIST table's report (scripts/fmnist-table.mjs): rows, flags, means and the README
// block, on fabricated results (the real runs take hours; they are not run here).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath, pathToFileURL } from 'node:url';

type Result = Record<string, unknown>;
interface TableScript {
  renderReport(results: Result[], noTransfer?: Result[]): string;
  replaceBlock(text: string, block: string, file: string): string;
}
const script = fileURLToPath(new URL('../../../scripts/fmnist-table.mjs', import.meta.url));
const { renderReport, replaceBlock } = (await import(pathToFileURL(script).href)) as TableScript;

const vs = (worst: string): Record<string, number> => Object.fromEntries(['1', '2', '3', '4', '5', '6', '7', '8', '9'].map((k) => [k, k === worst ? 0.61 : 0.9]));
function result(c: number, seed: number, dsvdd: number): Result {
  return {
    class: c, seed, dcae_auroc: 0.9, dsvdd_auroc: dsvdd, dcae_s: 600, dsvdd_s: 250, dcae_cpu_s: 480, dsvdd_cpu_s: 210,
    peak_rss_mb: 670, epochs: { dcae: 150, dsvdd: 150 }, dsvdd_auroc_vs_class: vs('6'), vigil_commit: 'abcdef1234', vigil_dirty: false,
    host: { cpu: 'cpu', cores: 2, jobs: 2 },
  };
}
const cells = (row: string): number => row.split('|').length - 2;

test('report: one row per class, the mean row, flags below the GOAD column, like-for-like partial means', () => {
  // GOAD-table values: class 0 98.2, class 1 90.3, class 3 94.2.
  const rs = [result(0, 0, 0.78), result(0, 1, 0.80), result(1, 0, 0.95), result(3, 0, 0.93)];
  const nt = [{ class: 0, seed: 0, dsvdd_auroc: 0.846 }];
  const lines = renderReport(rs, nt).split('\n');
  const table = lines.filter((l) => l.startsWith('|'));
  assert.equal(table.length, 2 + 10 + 1, 'header, rule, ten classes, mean');
  for (const row of table) assert.equal(cells(row), cells(table[0]!), row);
  const row0 = table.find((l) => l.startsWith('| 0 T-shirt'))!;
  assert.match(row0, /\| 0,1 \| 90\.0 ± 0\.0 \| 79\.0 ± 1\.4 \| 84\.6 \(seed 0\) \| 98\.2 \| -19\.2 † \| 6 Shirt \(61\.0\) \| 600 \(480\) \/ 250 \(210\) \| 670 \|/);
  assert.match(table.find((l) => l.startsWith('| 1 Trouser'))!, /\| \+4\.7 \|/);
  assert.match(table.find((l) => l.startsWith('| 3 Dress'))!, /\| -1\.2 \|/, 'within 3 points: no flag');
  assert.match(table.find((l) => l.startsWith('| 2 Pullover'))!, /\| — \| — \| — \|/);
  const mean = table.at(-1)!;
  assert.match(mean, /mean \(3 of 10 classes\)/);
  assert.match(mean, /\*\*94\.2\*\* \(same classes\)/, 'GOAD mean over classes 0, 1, 3');
  assert.ok(lines.some((l) => l.includes('† more than 3 points below the GOAD-table value: class 0.')));
  assert.ok(lines.some((l) => l.startsWith('‡ Deep SVDD trained from its default (random) initialisation')));
  assert.match(lines.find((l) => l.startsWith('Reproduce:'))!, /--variant no-transfer --classes 0-9 --seeds 0,1,2/, 'the ‡ column\'s runs are part of the command');
});

test('report without no-transfer results has no ‡ column; the README block is replaced between its markers only', () => {
  const text = renderReport([result(5, 0, 0.9)]);
  assert.doesNotMatch(text, /‡|no-transfer/);
  const readme = 'intro\n<!-- fmnist-table:start -->\nold table\n<!-- fmnist-table:end -->\nafter\n';
  assert.equal(replaceBlock(readme, 'NEW', 'README.md'), 'intro\n<!-- fmnist-table:start -->\nNEW\n<!-- fmnist-table:end -->\nafter\n');
});
