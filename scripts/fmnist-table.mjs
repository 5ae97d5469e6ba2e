#!/usr/bin/env node
// The Fashion-MNIST results table: for each normal class and seed, a DCAE run and a Deep SVDD run
// initialised from it (the CLI's two-run flow, paper presets configs/{dcae,dsvdd}/fmnist.yaml), one
// JSON file per (class, seed) under results/fmnist/. Pairs already there are skipped, so the table
// can be completed over several sessions. --report prints the markdown table beside the published
// numbers and can rewrite the marked block of README.md.
//
//   node scripts/fmnist-table.mjs --classes 0-9 --seeds 0,1,2 --jobs 2     # run what is missing
//   node scripts/fmnist-table.mjs --report [--write-readme]                # table (and README block)
//   node scripts/fmnist-table.mjs --classes 0 --seeds 0 --epochs-override 1 # smoke test → results/smoke/
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, hostname } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const CLI = join(ROOT, 'dist', 'src', 'cli', 'main.js');
const TIME = '/usr/bin/time';
const START = '<!-- fmnist-table:start -->';
const END = '<!-- fmnist-table:end -->';

const CLASSES = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'];
// Deep-SVDD column of the GOAD paper's Fashion-MNIST table (Bergman & Hoshen, ICLR 2020), as quoted in
// docs numbers.md §0.1; marked UNVERIFIED there (from memory of the paper, mean 92.8).
const GOAD_DSVDD = [98.2, 90.3, 90.7, 94.2, 89.4, 91.8, 83.4, 98.8, 91.9, 99.0];
// Deep SAD (Ruff et al., ICLR 2020) Table 1, γ_l = 0 (= Deep SVDD), F-MNIST mean over classes (numbers.md §0.2).
const DEEP_SAD_MEAN = '89.2 ± 6.2';

const USAGE = `usage: node scripts/fmnist-table.mjs [options]
  --classes 0-9          normal classes (ranges and lists: 0-4,7)
  --seeds 0,1,2          seeds (ranges and lists)
  --jobs 2               pairs run in parallel (each with OMP_NUM_THREADS=1)
  --results DIR          result JSON folder (default results/fmnist, results/smoke with --epochs-override)
  --runs DIR             run directories (default runs/fmnist-table, runs/fmnist-smoke with --epochs-override)
  --epochs-override N    smoke test: N epochs for DCAE and Deep SVDD (results go to results/smoke)
  --report               print the markdown table of the results folder instead of running
  --write-readme         with --report: replace the block between ${START} and ${END} in --readme
  --readme FILE          the file --write-readme edits (default README.md)
  --dry-run              list the pairs that would run
  --details              add per-anomalous-class AUROCs to older results from their run directories
  --variant no-transfer  Deep SVDD from random initialisation only (Deep-SAD-PyTorch's code as it runs on
                         F-MNIST); results/fmnist-no-transfer, shown as an extra column by --report`;

function fail(message) {
  process.stderr.write(`fmnist-table: ${message}\n`);
  process.exit(1);
}

function parseList(text, what) {
  const out = new Set();
  for (const part of String(text).split(',')) {
    const m = /^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$/.exec(part);
    if (!m) fail(`--${what} ${text}: expected numbers and ranges such as 0-9 or 0,1,2`);
    const a = Number(m[1]);
    const b = m[2] === undefined ? a : Number(m[2]);
    if (b < a) fail(`--${what} ${text}: range ${a}-${b} is reversed`);
    for (let i = a; i <= b; i++) out.add(i);
  }
  return [...out].sort((x, y) => x - y);
}

function writeAtomic(path, text) {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, text);
  renameSync(tmp, path);
}

function gitCommit() {
  const head = spawnSync('git', ['-C', ROOT, 'rev-parse', 'HEAD'], { encoding: 'utf8' });
  if (head.status !== 0) return { commit: null, dirty: null };
  // Only the code that runs counts: other people's uncommitted docs do not change a result.
  const st = spawnSync('git', ['-C', ROOT, 'status', '--porcelain', '--', 'src', 'native', 'configs'], { encoding: 'utf8' });
  return { commit: head.stdout.trim(), dirty: st.status === 0 ? st.stdout.trim() !== '' : null };
}

/** Runs the CLI as a child; wall time, and peak RSS through GNU time when it is installed. */
function runCli(args, logFile) {
  const env = { ...process.env, OMP_NUM_THREADS: '1', MKL_NUM_THREADS: '1', OPENBLAS_NUM_THREADS: '1' };
  const useTime = existsSync(TIME);
  const timeFile = `${logFile}.time`;
  const [cmd, argv] = useTime ? [TIME, ['-f', '%e %M %U %S', '-o', timeFile, process.execPath, CLI, ...args]] : [process.execPath, [CLI, ...args]];
  return new Promise((resolvePromise) => {
    const t0 = performance.now();
    const child = spawn(cmd, argv, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { out += d; });
    child.on('close', (code) => {
      const wall = (performance.now() - t0) / 1000;
      writeFileSync(logFile, out);
      let peakMb = null;
      let cpu = null;
      if (useTime && existsSync(timeFile)) {
        const last = (readFileSync(timeFile, 'utf8').trim().split('\n').pop() ?? '').split(' ').map(Number);
        if (Number.isFinite(last[1])) peakMb = Math.round(last[1] / 1024);
        // CPU seconds (user + system): unlike wall time, not inflated when the job is paused or shares a core.
        if (Number.isFinite(last[2]) && Number.isFinite(last[3])) cpu = last[2] + last[3];
        rmSync(timeFile, { force: true });
      }
      resolvePromise({ code, wall, peakMb, cpu, out });
    });
  });
}

function readJson(path) {
  return JSON.parse(readFileSync(path, 'utf8'));
}

/**
 * AUROC of the normal class against each anomalous class alone, from a run's scores.csv (columns
 * id,label,defect,score,…; defect = 'class-<k>'): which classes the model confuses with the normal one.
 */
async function aurocVsClass(scoresCsv) {
  const { auroc } = await import(pathToFileURL(join(ROOT, 'dist', 'src', 'eval', 'index.js')).href);
  const rows = readFileSync(scoresCsv, 'utf8').trim().split('\n').slice(1).map((l) => l.split(','));
  const normal = rows.filter((r) => r[1] === '0').map((r) => Number(r[3]));
  const byClass = new Map();
  for (const r of rows) {
    if (r[1] !== '1') continue;
    const k = r[2].replace(/^class-/, '');
    if (!byClass.has(k)) byClass.set(k, []);
    byClass.get(k).push(Number(r[3]));
  }
  const out = {};
  for (const [k, pos] of [...byClass].sort((a, b) => Number(a[0]) - Number(b[0]))) {
    const scores = Float64Array.from([...normal, ...pos]);
    const labels = Uint8Array.from([...normal.map(() => 0), ...pos.map(() => 1)]);
    out[k] = Number(auroc(scores, labels).toFixed(4));
  }
  return out;
}

/**
 * The 'no-transfer' variant: Deep SVDD alone from its default (random) initialisation, c from that
 * network — what Deep-SAD-PyTorch's code does for Fashion-MNIST, where the encoder transfer matches
 * no key (src/methods/dsvdd/README.md). One run per (class, seed).
 */
async function runNoTransfer(c, seed, o) {
  const dir = join(o.runs, `${c}-seed${seed}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const runDir = join(dir, 'dsvdd');
  const epochs = o.epochs === null ? [] : ['--set', `model.train.epochs=${o.epochs}`];
  const b = await runCli(['train', '--method', 'dsvdd', '--data', `fmnist:${c}`, '--seed', String(seed), '--quiet', '--set', 'model.pretrain.epochs=0', ...epochs, '--out', runDir], join(dir, 'dsvdd.out'));
  if (b.code !== 0) throw new Error(`dsvdd run failed (exit ${b.code}):\n${b.out.trim().split('\n').slice(-8).join('\n')}`);
  const m = readJson(join(runDir, 'metrics.json'));
  const result = {
    class: c, class_name: CLASSES[c], seed, variant: 'no-transfer',
    dsvdd_auroc: m.image.auroc,
    dsvdd_auroc_vs_class: await aurocVsClass(join(runDir, 'scores.csv')),
    dsvdd_s: Number(b.wall.toFixed(2)),
    dsvdd_cpu_s: b.cpu === null ? null : Number(b.cpu.toFixed(2)),
    peak_rss_mb: b.peakMb,
    epochs: { dsvdd: readJson(join(runDir, 'model', 'manifest.json')).config.train.epochs },
    threads: 1, vigil_commit: o.git.commit, vigil_dirty: o.git.dirty, vigil_version: m.vigil_version,
    host: { name: hostname(), cpu: cpus()[0]?.model ?? null, cores: cpus().length, jobs: o.jobs },
    node: process.version, finished: new Date().toISOString(),
  };
  writeAtomic(join(o.results, `${c}-seed${seed}.json`), `${JSON.stringify(result, null, 2)}\n`);
  return result;
}

async function runPair(c, seed, o) {
  if (o.variant === 'no-transfer') return runNoTransfer(c, seed, o);
  const pairDir = join(o.runs, `${c}-seed${seed}`);
  // A pair without a result was interrupted: start it over, so its times are whole runs.
  rmSync(pairDir, { recursive: true, force: true });
  mkdirSync(pairDir, { recursive: true });
  const dcaeDir = join(pairDir, 'dcae');
  const dsvddDir = join(pairDir, 'dsvdd');
  const common = ['--data', `fmnist:${c}`, '--seed', String(seed), '--quiet'];
  const epochs = o.epochs === null ? [] : ['--set', `model.train.epochs=${o.epochs}`];
  const a = await runCli(['train', '--method', 'dcae', ...common, ...epochs, '--out', dcaeDir], join(pairDir, 'dcae.out'));
  if (a.code !== 0) throw new Error(`dcae run failed (exit ${a.code}):\n${a.out.trim().split('\n').slice(-8).join('\n')}`);
  const b = await runCli(['train', '--method', 'dsvdd', ...common, ...epochs, '--set', `model.initFrom=${dcaeDir}`, '--out', dsvddDir], join(pairDir, 'dsvdd.out'));
  if (b.code !== 0) throw new Error(`dsvdd run failed (exit ${b.code}):\n${b.out.trim().split('\n').slice(-8).join('\n')}`);
  const ma = readJson(join(dcaeDir, 'metrics.json'));
  const mb = readJson(join(dsvddDir, 'metrics.json'));
  const ca = readJson(join(dcaeDir, 'model', 'manifest.json')).config;
  const cb = readJson(join(dsvddDir, 'model', 'manifest.json')).config;
  const result = {
    class: c,
    class_name: CLASSES[c],
    seed,
    dcae_auroc: ma.image.auroc,
    dsvdd_auroc: mb.image.auroc,
    dcae_s: Number(a.wall.toFixed(2)),
    dsvdd_s: Number(b.wall.toFixed(2)),
    dcae_cpu_s: a.cpu === null ? null : Number(a.cpu.toFixed(2)),
    dsvdd_cpu_s: b.cpu === null ? null : Number(b.cpu.toFixed(2)),
    dcae_auroc_vs_class: await aurocVsClass(join(dcaeDir, 'scores.csv')),
    dsvdd_auroc_vs_class: await aurocVsClass(join(dsvddDir, 'scores.csv')),
    dcae_fit_s: Number(ma.timing.fit_s.toFixed(2)),
    dsvdd_fit_s: Number(mb.timing.fit_s.toFixed(2)),
    peak_rss_mb: a.peakMb === null || b.peakMb === null ? null : Math.max(a.peakMb, b.peakMb),
    dcae_peak_rss_mb: a.peakMb,
    dsvdd_peak_rss_mb: b.peakMb,
    epochs: { dcae: ca.train.epochs, dsvdd: cb.train.epochs },
    counts: { train: mb.counts.train, test: mb.counts.test },
    threads: 1,
    vigil_commit: o.git.commit,
    vigil_dirty: o.git.dirty,
    vigil_version: mb.vigil_version,
    host: { name: hostname(), cpu: cpus()[0]?.model ?? null, cores: cpus().length, jobs: o.jobs },
    node: process.version,
    finished: new Date().toISOString(),
  };
  writeAtomic(join(o.results, `${c}-seed${seed}.json`), `${JSON.stringify(result, null, 2)}\n`);
  return result;
}

async function runAll(o) {
  if (!existsSync(CLI)) fail(`${CLI} is missing; build first: npx tsc -p .`);
  const pending = [];
  for (const c of o.classes) for (const s of o.seeds) if (!existsSync(join(o.results, `${c}-seed${s}.json`))) pending.push([c, s]);
  const done = o.classes.length * o.seeds.length - pending.length;
  process.stdout.write(`fmnist-table: ${pending.length} pair(s) to run, ${done} already in ${o.results}; ${o.jobs} job(s), OMP_NUM_THREADS=1 each${o.epochs === null ? '' : `, ${o.epochs} epoch(s) (smoke)`}\n`);
  if (o.dryRun) {
    for (const [c, s] of pending) process.stdout.write(`  class ${c} seed ${s}\n`);
    return 0;
  }
  let next = 0;
  let failed = 0;
  let finished = 0;
  const worker = async () => {
    while (next < pending.length) {
      const [c, s] = pending[next++];
      const t0 = Date.now();
      try {
        const r = await runPair(c, s, o);
        finished++;
        const dcaePart = r.dcae_auroc === undefined ? '' : `DCAE ${(100 * r.dcae_auroc).toFixed(2)} (${r.dcae_s.toFixed(0)} s), `;
        process.stdout.write(`[${finished + failed}/${pending.length}] class ${c} seed ${s}: ${dcaePart}Deep SVDD ${(100 * r.dsvdd_auroc).toFixed(2)} (${r.dsvdd_s.toFixed(0)} s), peak ${r.peak_rss_mb ?? '?'} MB\n`);
      } catch (e) {
        failed++;
        process.stdout.write(`[${finished + failed}/${pending.length}] class ${c} seed ${s}: FAILED after ${((Date.now() - t0) / 1000).toFixed(0)} s: ${e.message}\n`);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(o.jobs, pending.length) }, worker));
  process.stdout.write(`fmnist-table: ${finished} done, ${failed} failed; results in ${o.results}\n`);
  return failed > 0 ? 1 : 0;
}

// ---- report ---------------------------------------------------------------------------------
const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
/** Sample standard deviation (n − 1); 0 for one value. */
const std = (xs) => (xs.length < 2 ? 0 : Math.sqrt(xs.reduce((a, x) => a + (x - mean(xs)) ** 2, 0) / (xs.length - 1)));
const pm = (xs, digits = 1) => (xs.length === 0 ? '—' : xs.length === 1 ? (100 * xs[0]).toFixed(digits) : `${(100 * mean(xs)).toFixed(digits)} ± ${(100 * std(xs)).toFixed(digits)}`);

function loadResults(dir, keys = ['class', 'seed', 'dcae_auroc', 'dsvdd_auroc', 'dcae_s', 'dsvdd_s']) {
  if (!existsSync(dir)) fail(`no results folder ${dir}; run the table first (node scripts/fmnist-table.mjs --classes 0-9 --seeds 0,1,2)`);
  const out = [];
  for (const f of readdirSync(dir).filter((n) => /^\d+-seed\d+\.json$/.test(n)).sort()) {
    const r = readJson(join(dir, f));
    for (const k of keys) {
      if (typeof r[k] !== 'number') fail(`${join(dir, f)}: field '${k}' is missing or not a number`);
    }
    out.push(r);
  }
  return out;
}

/** The anomalous class the normal class is least separated from (mean per-class AUROC over the seeds that recorded it). */
function hardestCell(rs) {
  const withDetails = rs.filter((r) => r.dsvdd_auroc_vs_class);
  if (withDetails.length === 0) return '—';
  const keys = Object.keys(withDetails[0].dsvdd_auroc_vs_class);
  const m = keys.map((k) => [k, mean(withDetails.map((r) => r.dsvdd_auroc_vs_class[k]))]).sort((a, b) => a[1] - b[1]);
  return `${m[0][0]} ${CLASSES[Number(m[0][0])]} (${(100 * m[0][1]).toFixed(1)})`;
}

// Results from before CPU time was recorded have wall time only.
const hasCpu = (r) => typeof r.dcae_cpu_s === 'number' && typeof r.dsvdd_cpu_s === 'number';

function timeCell(rs) {
  const m = (k) => mean(rs.map((r) => r[k]));
  const cpu = rs.every(hasCpu);
  return `${m('dcae_s').toFixed(0)}${cpu ? ` (${m('dcae_cpu_s').toFixed(0)})` : ''} / ${m('dsvdd_s').toFixed(0)}${cpu ? ` (${m('dsvdd_cpu_s').toFixed(0)})` : ''}`;
}

export function renderReport(results, noTransfer = []) {
  const nt = new Map();
  for (const r of noTransfer) {
    if (!nt.has(r.class)) nt.set(r.class, []);
    nt.get(r.class).push(r);
  }
  const withNt = nt.size > 0;
  const ntCell = (c) => {
    const rs = (nt.get(c) ?? []).sort((a, b) => a.seed - b.seed);
    return rs.length === 0 ? '—' : `${pm(rs.map((r) => r.dsvdd_auroc))} (seed${rs.length > 1 ? 's' : ''} ${rs.map((r) => r.seed).join(',')})`;
  };
  const byClass = new Map();
  for (const r of results) {
    if (!byClass.has(r.class)) byClass.set(r.class, []);
    byClass.get(r.class).push(r);
  }
  const epochs = [...new Set(results.map((r) => `${r.epochs?.dcae ?? '?'} + ${r.epochs?.dsvdd ?? '?'}`))];
  const lines = [
    `| Class | Seeds | DCAE (Vigil) | Deep SVDD (Vigil) |${withNt ? ' Deep SVDD, random init ‡ |' : ''} Deep SVDD, GOAD table [U] | Δ vs GOAD table | Deep SVDD's hardest anomaly class | Wall (CPU) s, DCAE / Deep SVDD | Peak RSS (MB) |`,
    `|---|---|---|---|${withNt ? '---|' : ''}---|---|---|---|---|`,
  ];
  const classMeans = { dcae: [], dsvdd: [] };
  const flagged = [];
  for (let c = 0; c < 10; c++) {
    const rs = (byClass.get(c) ?? []).sort((a, b) => a.seed - b.seed);
    if (rs.length === 0) {
      lines.push(`| ${c} ${CLASSES[c]} | — | — | — |${withNt ? ` ${ntCell(c)} |` : ''} ${GOAD_DSVDD[c].toFixed(1)} | — | — | — | — |`);
      continue;
    }
    const dcae = rs.map((r) => r.dcae_auroc);
    const dsvdd = rs.map((r) => r.dsvdd_auroc);
    classMeans.dcae.push(mean(dcae));
    classMeans.dsvdd.push(mean(dsvdd));
    const delta = 100 * mean(dsvdd) - GOAD_DSVDD[c];
    if (delta < -3) flagged.push(c);
    const rss = rs.map((r) => r.peak_rss_mb).filter((x) => typeof x === 'number');
    lines.push(`| ${c} ${CLASSES[c]} | ${rs.map((r) => r.seed).join(',')} | ${pm(dcae)} | ${pm(dsvdd)} |${withNt ? ` ${ntCell(c)} |` : ''} ${GOAD_DSVDD[c].toFixed(1)} | ${delta >= 0 ? '+' : ''}${delta.toFixed(1)}${delta < -3 ? ' †' : ''} | ${hardestCell(rs)} | ${timeCell(rs)} | ${rss.length ? Math.max(...rss) : '—'} |`);
  }
  const n = classMeans.dsvdd.length;
  const present = [...byClass.keys()];
  const allTimes = results.map((r) => r.dcae_s + r.dsvdd_s);
  const allCpu = results.filter(hasCpu).map((r) => r.dcae_cpu_s + r.dsvdd_cpu_s);
  lines.push(`| **mean${n < 10 ? ` (${n} of 10 classes)` : ''}** | | **${pm(classMeans.dcae)}** | **${pm(classMeans.dsvdd)}** |${withNt ? ` **${pm([...nt.values()].map((rs) => mean(rs.map((r) => r.dsvdd_auroc))))}**${nt.size < 10 ? ` (${nt.size} classes)` : ''} |` : ''} **${mean(present.map((c) => GOAD_DSVDD[c])).toFixed(1)}**${n < 10 ? ' (same classes)' : ''}; Deep SAD paper: **${DEEP_SAD_MEAN}** | | | ${allTimes.length ? `${mean(allTimes).toFixed(0)}${allCpu.length === allTimes.length ? ` (${mean(allCpu).toFixed(0)})` : ''} per class and seed` : '—'} | |`);
  const commits = [...new Set(results.map((r) => (r.vigil_commit ? r.vigil_commit.slice(0, 7) + (r.vigil_dirty ? '+dirty' : '') : '?')))];
  const hosts = [...new Set(results.map((r) => `${r.host?.cpu ?? '?'} (${r.host?.cores ?? '?'} cores, ${r.host?.jobs ?? '?'} jobs)`))];
  const notes = [
    '',
    `Image AUROC (%) on the full test set (1,000 normal, 9,000 anomalous), trained on the 6,000 images of the normal class; per class: mean ± sample std over the seeds listed; mean row: mean ± std over the class means. Hardest anomaly class: the class whose test images Deep SVDD separates worst from the normal class (AUROC of the normal test images against that class alone). Epochs (DCAE + Deep SVDD): ${epochs.join(', ')}. Preset: configs/dcae/fmnist.yaml → configs/dsvdd/fmnist.yaml with model.initFrom (Deep SAD protocol). Times: wall clock of each \`vigil train\` (data loading, training, scoring the test set) and, in brackets, its CPU time (user + system), one thread per run (OMP_NUM_THREADS=1); peak RSS: the larger of the two processes (GNU time). Vigil ${commits.join(', ')}; ${hosts.join('; ')}.`,
    '',
    ...(withNt ? ['‡ Deep SVDD trained from its default (random) initialisation, c from that network: what Deep-SAD-PyTorch\'s code does on Fashion-MNIST, where the encoder transfer matches no key (`node scripts/fmnist-table.mjs --variant no-transfer`; results/fmnist-no-transfer/).', ''] : []),
    'Published: "Deep SVDD, GOAD table" is the Deep-SVDD column of the GOAD paper\'s Fashion-MNIST table [U: unverified, see numbers.md §0.1; the same ten values appear as GEOM\'s RAW-OC-SVM column]; 89.2 ± 6.2 is the Deep SAD paper\'s γ_l = 0 mean with the protocol used here (pixels / 255, FashionMNIST_LeNet).'
      + (flagged.length ? ` † more than 3 points below the GOAD-table value: class${flagged.length > 1 ? 'es' : ''} ${flagged.join(', ')}.` : ''),
    '',
    `Reproduce: \`npm run build && node scripts/fmnist-table.mjs --classes 0-9 --seeds 0,1,2 --jobs 2${withNt ? ' && node scripts/fmnist-table.mjs --variant no-transfer --classes 0-9 --seeds 0,1,2 --jobs 2' : ''} && node scripts/fmnist-table.mjs --report --write-readme\``,
  ];
  return [...lines, ...notes].join('\n');
}

export function replaceBlock(text, block, file) {
  const a = text.indexOf(START);
  const b = text.indexOf(END);
  if (a < 0 || b < 0 || b < a) fail(`${file}: markers ${START} … ${END} not found (add them on their own lines where the table goes)`);
  return `${text.slice(0, a + START.length)}\n${block}\n${text.slice(b)}`;
}

async function main() {
  let v;
  try {
    ({ values: v } = parseArgs({
      options: {
        classes: { type: 'string', default: '0-9' },
        seeds: { type: 'string', default: '0,1,2' },
        jobs: { type: 'string', default: '2' },
        results: { type: 'string' },
        runs: { type: 'string' },
        'epochs-override': { type: 'string' },
        report: { type: 'boolean', default: false },
        'write-readme': { type: 'boolean', default: false },
        readme: { type: 'string', default: 'README.md' },
        'dry-run': { type: 'boolean', default: false },
        details: { type: 'boolean', default: false },
        variant: { type: 'string', default: 'paper' },
        help: { type: 'boolean', default: false },
      },
      allowPositionals: false,
    }));
  } catch (e) {
    fail(`${e.message}\n${USAGE}`);
  }
  if (v.help) { process.stdout.write(`${USAGE}\n`); return 0; }
  const epochs = v['epochs-override'] === undefined ? null : Number(v['epochs-override']);
  if (epochs !== null && !(Number.isInteger(epochs) && epochs >= 1)) fail(`--epochs-override ${v['epochs-override']}: expected an integer ≥ 1`);
  const smoke = epochs !== null;
  if (v.variant !== 'paper' && v.variant !== 'no-transfer') fail(`--variant ${v.variant}: expected paper or no-transfer`);
  const suffix = v.variant === 'paper' ? '' : `-${v.variant}`;
  const results = resolve(ROOT, v.results ?? (smoke ? `results/smoke${suffix}` : `results/fmnist${suffix}`));
  const runs = resolve(ROOT, v.runs ?? (smoke ? `runs/fmnist-smoke${suffix}` : `runs/fmnist-table${suffix}`));
  if (smoke && results === resolve(ROOT, 'results/fmnist')) fail('--epochs-override results must not go to results/fmnist (the table); pick another --results');
  if (v.details) {
    // Adds the per-anomalous-class AUROCs to results written before they were recorded, from the
    // run directories when they are still there.
    let added = 0;
    for (const f of existsSync(results) ? readdirSync(results).filter((n) => /^\d+-seed\d+\.json$/.test(n)) : []) {
      const r = readJson(join(results, f));
      if (r.dsvdd_auroc_vs_class) continue;
      const pair = join(runs, f.replace(/\.json$/, ''));
      if (!existsSync(join(pair, 'dsvdd', 'scores.csv')) || !existsSync(join(pair, 'dcae', 'scores.csv'))) continue;
      const check = readJson(join(pair, 'dsvdd', 'metrics.json')).image.auroc;
      if (check !== r.dsvdd_auroc) fail(`${pair}: its metrics (${check}) are not those of ${f} (${r.dsvdd_auroc})`);
      r.dcae_auroc_vs_class = await aurocVsClass(join(pair, 'dcae', 'scores.csv'));
      r.dsvdd_auroc_vs_class = await aurocVsClass(join(pair, 'dsvdd', 'scores.csv'));
      writeAtomic(join(results, f), `${JSON.stringify(r, null, 2)}\n`);
      added++;
    }
    process.stdout.write(`fmnist-table: per-class AUROCs added to ${added} result(s)\n`);
    return 0;
  }
  if (v.report) {
    const rs = loadResults(results);
    if (rs.length === 0) fail(`no results in ${results}`);
    const ntDir = `${results}-no-transfer`;
    const nt = suffix === '' && existsSync(ntDir) ? loadResults(ntDir, ['class', 'seed', 'dsvdd_auroc']) : [];
    const table = renderReport(rs, nt);
    process.stdout.write(`${table}\n`);
    if (v['write-readme']) {
      const file = resolve(ROOT, v.readme);
      writeAtomic(file, replaceBlock(readFileSync(file, 'utf8'), table, file));
      process.stdout.write(`fmnist-table: wrote the table into ${file}\n`);
    }
    return 0;
  }
  const jobs = Number(v.jobs);
  if (!(Number.isInteger(jobs) && jobs >= 1)) fail(`--jobs ${v.jobs}: expected an integer ≥ 1`);
  const classes = parseList(v.classes, 'classes');
  if (classes.some((c) => c > 9)) fail(`--classes ${v.classes}: Fashion-MNIST classes are 0..9`);
  return runAll({ classes, seeds: parseList(v.seeds, 'seeds'), jobs, results, runs, epochs, variant: v.variant, dryRun: v['dry-run'], git: gitCommit() });
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().then((code) => { process.exitCode = code; });
}
