// Runs PatchCore on every MVTec AD category through the CLI and prints a markdown table beside the
// published PatchCore-10% numbers (numbers.md §5.2).
// Usage: node scripts/mvtec-table.mjs <mvtec-root> [--out runs/mvtec] [--categories a,b] [--set k=v ...]
// Needs the backbone weights: `vigil weights fetch wide_resnet50_2`.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const cli = join(root, 'dist', 'src', 'cli', 'main.js');

// Paper Table (Roth et al. 2022, supplementary per-class results), PatchCore-10%: image AUROC, pixel AUROC.
const PUBLISHED = {
  carpet: [98.7, 99.1], grid: [97.9, 98.7], leather: [100, 99.3], tile: [98.9, 95.9], wood: [99.0, 95.1],
  bottle: [100, 98.6], cable: [99.4, 98.5], capsule: [97.8, 98.9], hazelnut: [100, 98.7], metal_nut: [100, 98.4],
  pill: [96.0, 97.6], screw: [97.0, 99.4], toothbrush: [99.7, 98.7], transistor: [100, 98.7], zipper: [99.5, 98.9],
};

const args = process.argv.slice(2);
const mvtecRoot = args.find((a) => !a.startsWith('--') && !args[args.indexOf(a) - 1]?.startsWith('--'));
if (!mvtecRoot || args.includes('--help')) {
  console.log('usage: node scripts/mvtec-table.mjs <mvtec-root> [--out runs/mvtec] [--categories a,b] [--set k=v ...]');
  process.exit(mvtecRoot ? 0 : 1);
}
const opt = (name, def) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : def; };
const out = opt('--out', 'runs/mvtec');
const categories = (opt('--categories', Object.keys(PUBLISHED).join(','))).split(',');
const sets = args.flatMap((a, i) => (a === '--set' ? ['--set', args[i + 1]] : []));

const rows = [];
for (const cat of categories) {
  const runDir = join(out, cat);
  if (!existsSync(join(runDir, 'metrics.json'))) {
    const r = spawnSync(process.execPath, [cli, 'train', '--method', 'patchcore', '--data', `mvtec:${join(mvtecRoot, cat)}`, '--out', runDir, '--quiet', ...sets], { stdio: ['ignore', 'ignore', 'inherit'] });
    if (r.status !== 0) { console.error(`${cat}: vigil train failed (exit ${r.status})`); process.exitCode = 1; continue; }
  }
  const m = JSON.parse(readFileSync(join(runDir, 'metrics.json'), 'utf8'));
  rows.push({ cat, image: m.image.auroc * 100, pixel: m.pixel?.auroc * 100, aupro: m.pixel?.aupro * 100, ms: m.timing.infer_ms_per_image });
  console.error(`${cat}: image AUROC ${(m.image.auroc * 100).toFixed(1)}, pixel AUROC ${(m.pixel?.auroc * 100).toFixed(1)}`);
}
const f = (x) => (Number.isFinite(x) ? x.toFixed(1) : '—');
console.log('| category | image AUROC | published | pixel AUROC | published | AUPRO | ms / image |');
console.log('|---|---|---|---|---|---|---|');
for (const r of rows) {
  const p = PUBLISHED[r.cat] ?? [NaN, NaN];
  console.log(`| ${r.cat} | ${f(r.image)} | ${f(p[0])} | ${f(r.pixel)} | ${f(p[1])} | ${f(r.aupro)} | ${f(r.ms)} |`);
}
const mean = (k) => rows.reduce((s, r) => s + r[k], 0) / rows.length;
if (rows.length) console.log(`| **mean** | ${f(mean('image'))} | 99.0 | ${f(mean('pixel'))} | 98.1 | ${f(mean('aupro'))} | ${f(mean('ms'))} |`);
