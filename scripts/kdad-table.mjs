// Runs KDAD per class / category through the CLI with the dataset's preset and prints a markdown
// table beside the paper's numbers (numbers.md §3). Finished runs (metrics.json present) are kept.
// Usage:
//   node scripts/kdad-table.mjs cifar10 [--data-root <dir>] [--classes 0-9] [--out runs/kdad-cifar10] [--set k=v ...]
//   node scripts/kdad-table.mjs fmnist|mnist [--data-root <dir>] [--classes 0-9] [--out runs/kdad-fmnist] [--set k=v ...]
//   node scripts/kdad-table.mjs mvtec <mvtec-root> [--categories a,b] [--out runs/kdad-mvtec] [--set k=v ...]
// Needs the teacher's ImageNet weights: `vigil weights fetch vgg16` (or --set model.teacher.weights=<file>).
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const cli = join(root, 'dist', 'src', 'cli', 'main.js');

// Salehi et al. 2021: CIFAR-10 per class (numbers.md §3.1, [V2]); MVTec AD Table 3 detection and
// Table 4 localisation (§3.3, [V2]); MNIST / F-MNIST means only (§3.2, [U]: unverified).
const CIFAR10 = [90.53, 90.35, 79.66, 77.02, 86.71, 91.40, 88.98, 86.78, 91.45, 88.91];
const MVTEC = {
  bottle: [99.39, 96.32], hazelnut: [98.37, 94.62], capsule: [80.46, 95.86], metal_nut: [73.58, 86.38], leather: [95.05, 98.05],
  pill: [82.70, 89.63], wood: [94.29, 84.80], carpet: [79.25, 95.64], tile: [91.57, 82.77], grid: [78.01, 91.78],
  cable: [89.19, 82.40], transistor: [85.55, 76.45], toothbrush: [92.17, 96.12], screw: [83.31, 95.96], zipper: [93.24, 93.90],
};
const MEANS = { cifar10: 87.18, mnist: 99.29, fmnist: 94.5 };

const args = process.argv.slice(2);
const kind = args[0];
if (!['cifar10', 'mnist', 'fmnist', 'mvtec'].includes(kind) || args.includes('--help')) {
  console.log('usage: node scripts/kdad-table.mjs cifar10|mnist|fmnist [--data-root <dir>] [--classes 0-9] | mvtec <mvtec-root> [--categories a,b]  [--out <dir>] [--set k=v ...]');
  process.exit(args.includes('--help') ? 0 : 1);
}
const opt = (name, def) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : def; };
const sets = args.flatMap((a, i) => (a === '--set' ? ['--set', args[i + 1]] : []));
const out = resolve(opt('--out', `runs/kdad-${kind}`));
const range = (s) => s.split(',').flatMap((p) => { const [a, b] = p.split('-').map(Number); return Array.from({ length: (b ?? a) - a + 1 }, (_, k) => a + k); });

const jobs = kind === 'mvtec'
  ? opt('--categories', Object.keys(MVTEC).join(',')).split(',').map((c) => ({ name: c, data: `mvtec:${join(resolve(args[1] ?? '.'), c)}`, paper: MVTEC[c] ?? [NaN, NaN] }))
  : range(opt('--classes', '0-9')).map((c) => ({ name: String(c), data: `${kind}:${c}`, paper: [kind === 'cifar10' ? CIFAR10[c] : NaN, NaN] }));
if (kind === 'mvtec' && (!args[1] || args[1].startsWith('--'))) { console.error('mvtec: give the MVTec AD root folder'); process.exit(1); }
const dataRoot = opt('--data-root', null);

const rows = [];
for (const j of jobs) {
  const runDir = join(out, j.name);
  if (!existsSync(join(runDir, 'metrics.json'))) {
    const a = ['train', '--method', 'kdad', '--data', j.data, '--out', runDir, '--quiet', ...(dataRoot ? ['--data-root', dataRoot] : []), ...sets];
    const r = spawnSync(process.execPath, [cli, ...a], { stdio: ['ignore', 'ignore', 'inherit'] });
    if (r.status !== 0) { console.error(`${j.name}: vigil train failed (exit ${r.status})`); process.exitCode = 1; continue; }
  }
  const m = JSON.parse(readFileSync(join(runDir, 'metrics.json'), 'utf8'));
  rows.push({ ...j, image: m.image.auroc * 100, pixel: (m.pixel?.auroc ?? NaN) * 100, aupro: (m.pixel?.aupro ?? NaN) * 100, fit: m.timing?.fit_s });
  console.error(`${j.name}: image AUROC ${(m.image.auroc * 100).toFixed(2)}`);
}
const f = (x) => (Number.isFinite(x) ? x.toFixed(2) : '—');
const mean = (k) => rows.reduce((s, r) => s + r[k], 0) / rows.length;
const pmean = (i) => rows.reduce((s, r) => s + r.paper[i], 0) / rows.length;
if (kind === 'mvtec') {
  console.log('| category | image AUROC | paper | pixel AUROC | paper (localisation) | AUPRO | fit s |');
  console.log('|---|---|---|---|---|---|---|');
  for (const r of rows) console.log(`| ${r.name} | ${f(r.image)} | ${f(r.paper[0])} | ${f(r.pixel)} | ${f(r.paper[1])} | ${f(r.aupro)} | ${f(r.fit)} |`);
  if (rows.length) console.log(`| **mean** | ${f(mean('image'))} | ${f(pmean(0))} | ${f(mean('pixel'))} | ${f(pmean(1))} | ${f(mean('aupro'))} | |`);
} else {
  console.log('| class | image AUROC | paper | fit s |');
  console.log('|---|---|---|---|');
  for (const r of rows) console.log(`| ${r.name} | ${f(r.image)} | ${f(r.paper[0])} | ${f(r.fit)} |`);
  if (rows.length) console.log(`| **mean** | ${f(mean('image'))} | ${f(MEANS[kind])} (paper mean${kind === 'cifar10' ? '' : ', unverified'}) | |`);
}
