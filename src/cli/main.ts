#!/usr/bin/env node
// The `vigil` command. Exit codes: 0 success, 1 user error (input, files, environment: one message
// naming the path and the fix), 2 internal error (a bug), 130/143 interrupted (SIGINT/SIGTERM).
import { existsSync, realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { resolve } from 'node:path';
import { parseArgs, helpText, type OptionSpec } from './args.js';
import { ProgressBars } from './progress.js';
import { InterruptedError, UserError, isUserError } from '../pipeline/errors.js';
import { environmentMessage } from '../pipeline/fsutil.js';
// version.js loads no torch: `--help` must not pay for loading libtorch.
import { VIGIL_VERSION } from '../pipeline/version.js';

type Spec = Record<string, OptionSpec>;
const COMPUTE: Spec = {
  threads: { type: 'number', arg: '<n>', help: 'libtorch threads (default VIGIL_THREADS, else every core)' },
  device: { type: 'string', arg: '<dev>', help: 'cpu (default), cuda or cuda:<n> (needs a CUDA libtorch)' },
};
const THRESHOLD: Spec = {
  threshold: { type: 'number', arg: '<score>', help: "judge with this raw score threshold instead of the model's (score >= it → NG)" },
  'target-fpr': { type: 'number', arg: '<rate>', help: "re-threshold for this false-reject rate, e.g. 0.05 (from the model's saved calibration scores)" },
};
const COMMON: Spec = {
  quiet: { type: 'boolean', help: 'no progress bars or log lines on stderr' },
  json: { type: 'boolean', help: 'print the result as JSON on stdout' },
  help: { type: 'boolean', help: 'show this help' },
};

const TRAIN: Spec = {
  method: { type: 'string', arg: '<name>', help: 'method: patchcore, draem, kdad, dsvdd, dcae, pixelstats (vigil methods lists them)' },
  data: { type: 'string', arg: '<spec>', help: 'fmnist:<c>, mnist:<c>, cifar10:<c>, mvtec:<root>/<category>, folder:<dir>, synth:<dir>[/<category>]' },
  config: { type: 'string', arg: '<file.yaml>', help: 'config file layered over the preset configs/<method>/<dataset>.yaml' },
  set: { type: 'list', arg: '<key=value>', help: 'override one config key, e.g. --set train.batchSize=64 (value parsed as YAML; keys are camelCase)' },
  out: { type: 'string', arg: '<dir>', help: 'run directory (default runs/<method>-<dataset>-<time>)' },
  'data-root': { type: 'string', arg: '<dir>', help: 'folder of the MNIST / Fashion-MNIST / CIFAR-10 files' },
  seed: { type: 'number', arg: '<n>', help: 'seed of weights init, shuffling and splits (default 0)' },
  resume: { type: 'string', arg: '<run-dir>', help: 'continue an interrupted run from its last checkpoint' },
  ...COMPUTE,
  ...COMMON,
};
const TEST: Spec = {
  data: { type: 'string', arg: '<spec>', help: 'dataset to evaluate on (default: the training dataset)' },
  'data-root': { type: 'string', arg: '<dir>', help: 'folder of the one-class dataset files' },
  set: { type: 'list', arg: '<key=value>', help: 'override how the test data is read (dataset.*, seed, train.batchSize, train.workers, output.images)' },
  out: { type: 'string', arg: '<dir>', help: 'output folder (default <run-dir>/test-<dataset>)' },
  ...THRESHOLD,
  ...COMPUTE,
  ...COMMON,
};
const PREDICT: Spec = {
  out: { type: 'string', arg: '<dir>', help: 'output folder (default <run-dir>/predictions)' },
  'batch-size': { type: 'number', arg: '<n>', help: 'images per batch (default 16)' },
  'skip-unreadable': { type: 'boolean', help: "list unreadable files as 'unreadable' instead of failing" },
  'no-images': { type: 'boolean', help: 'write predictions.csv only (no heatmaps or masks)' },
  shard: { type: 'string', arg: '<i/n>', help: 'score only block i of n (i from 0) of the sorted inputs, for array jobs (default --out <run-dir>/predictions-shard-i-of-n)' },
  ...THRESHOLD,
  ...COMPUTE,
  ...COMMON,
};
const SERVE: Spec = {
  host: { type: 'string', arg: '<addr>', help: 'address to bind (default 127.0.0.1; any other needs a token)' },
  port: { type: 'number', arg: '<n>', help: 'port (default 8080; 0 = any free port)' },
  token: { type: 'string', arg: '<t>', help: 'bearer token for the API (default VIGIL_TOKEN); required off loopback' },
  history: { type: 'string', arg: '<dir>', help: 'inspection history folder: SQLite + stored images (default ./vigil-history)' },
  'history-sync': { type: 'string', arg: '<mode>', help: 'normal (default: survives a crash) or full (fsync per write: survives power loss)' },
  'retention-days': { type: 'number', arg: '<n>', help: 'delete inspections older than n days (default: keep)' },
  'retention-rows': { type: 'number', arg: '<n>', help: 'keep at most n inspections (default: all)' },
  workers: { type: 'number', arg: '<n>', help: 'inference worker threads, each loads every model (default: one per core, at most 8)' },
  'queue-limit': { type: 'number', arg: '<n>', help: 'images waiting for a worker before requests get 503 (default 64)' },
  'max-batch': { type: 'number', arg: '<n>', help: 'images a worker scores at once, across requests (default 8)' },
  'max-images': { type: 'number', arg: '<n>', help: 'images per request (default 32)' },
  timeout: { type: 'number', arg: '<s>', help: 'per-request deadline in seconds (default 30)' },
  'max-body-mb': { type: 'number', arg: '<n>', help: 'request size limit in MiB (default 64)' },
  'max-pixels': { type: 'number', arg: '<n>', help: 'pixels per image, a decompression-bomb guard (default 40000000)' },
  cors: { type: 'list', arg: '<origin>', help: "browser origin allowed to call the API, e.g. https://line.example ('*' = any; default none)" },
  ...COMPUTE,
  quiet: COMMON.quiet!,
  help: COMMON.help!,
};
const SYNTH: Spec = {
  categories: { type: 'string', arg: '<a,b>', help: 'woven, grainy, striped, object (default all)' },
  size: { type: 'number', arg: '<px>', help: 'image side (default 256)' },
  train: { type: 'number', arg: '<n>', help: 'train/good images per category (default 40)' },
  'test-good': { type: 'number', arg: '<n>', help: 'test/good images per category (default 10)' },
  'test-defect': { type: 'number', arg: '<n>', help: 'test images per defect type (default 5)' },
  seed: { type: 'number', arg: '<n>', help: 'generator seed (default 0)' },
  ...COMMON,
};
const INFO: Spec = { 'data-root': TRAIN['data-root']!, set: TRAIN.set!, ...COMMON };
const PLAIN: Spec = { ...COMMON };
const MIRROR: Spec = { mirror: { type: 'string', arg: '<url>', help: 'fetch <url>/<file name> instead of the official location (checksums still verified)' } };
const DOWNLOAD: Spec = { ...MIRROR, ...COMMON };

const USAGE = `usage: vigil <command> [options]

commands:
  train     --method <m> --data <spec> [--config f.yaml] [--set k=v …] [--out DIR]   fit, calibrate, evaluate; writes a run directory
  train     --resume <run-dir>                                                     continue an interrupted training
  test      <run-dir> [--data <spec>]                                              re-evaluate a trained model
  predict   <run-dir> <image|dir|glob …> [--out DIR]                               score images: predictions.csv, heatmaps, masks
  serve     <run-dir|name=run-dir …> [--host H] [--port P] [--token T]              HTTP API + web UI + inspection history
  datasets  synth <dir> | info <spec> | download <id> <dest> | list                datasets
  weights   list | fetch <name>                                                    torchvision backbone weights
  methods   [<name>]                                                               list the methods; a method's config keys

Run 'vigil <command> --help' for the options of a command. Exit codes: 0 ok, 1 user error, 2 internal error, 130/143 interrupted (SIGINT/SIGTERM).`;

interface Ctx { quiet: boolean; json: boolean; bars: ProgressBars }

function context(o: Record<string, unknown>): Ctx {
  const quiet = o.quiet === true;
  const c: Ctx = { quiet, json: o.json === true, bars: new ProgressBars(!quiet && process.stderr.isTTY === true) };
  // Library warnings (PatchCore's random-weights notice) are log lines like any other: one
  // "warning: …" line, none with --quiet, instead of Node's "(node:PID) Warning" dump.
  process.removeAllListeners('warning');
  process.on('warning', (w) => logger(c)(`warning: ${w.message}`));
  return c;
}

function logger(c: Ctx): (m: string) => void {
  return (m) => {
    if (c.quiet) return;
    c.bars.clear();
    process.stderr.write(`${m}\n`);
  };
}

function print(c: Ctx, json: unknown, human: string): void {
  process.stdout.write(c.json ? JSON.stringify(json, null, 2) + '\n' : human + '\n');
}

const fmt = (v: number | undefined | null): string => (typeof v === 'number' ? v.toFixed(4) : 'n/a');

/** --threshold / --target-fpr as the library's override. */
function thresholdOverride(o: Record<string, unknown>): { threshold?: { threshold?: number; targetFpr?: number } } {
  if (o.threshold === undefined && o['target-fpr'] === undefined) return {};
  return { threshold: { ...(o.threshold !== undefined ? { threshold: o.threshold as number } : {}), ...(o['target-fpr'] !== undefined ? { targetFpr: o['target-fpr'] as number } : {}) } };
}

/** The verdict line: NG counts per class at the threshold. */
function verdictLine(value: number, c: { tp: number; fp: number; tn: number; fn: number } | null | undefined): string {
  const v = value.toPrecision(5);
  if (!c) return `threshold ${v} (score >= it → NG)`;
  return `verdicts at threshold ${v}: ${c.tp} of ${c.tp + c.fn} defects NG (${c.fn} missed), ${c.fp} of ${c.fp + c.tn} good parts NG (false reject${c.fp === 1 ? '' : 's'})`;
}

/** --threads / --device as library options. */
function compute(o: Record<string, unknown>): { threads?: number; device?: string } {
  return { ...(o.threads !== undefined ? { threads: o.threads as number } : {}), ...(o.device !== undefined ? { device: o.device as string } : {}) };
}

async function cmdTrain(argv: string[], signal: AbortSignal): Promise<void> {
  const { options: o, positionals } = parseArgs(argv, TRAIN, 'train');
  if (o.help) { process.stdout.write(helpText('vigil train --method <name> --data <spec> [options]', 'Fits a method on the normal training images, sets the threshold, evaluates on the test split\nand writes a run directory (config.yaml, log.txt, metrics.json, scores.csv, model/, report.html, images/).', TRAIN)); return; }
  if (positionals.length > 0) throw new UserError(`train: unexpected argument '${positionals[0]}' (options start with --)`);
  const c = context(o);
  const { train } = await import('../pipeline/train.js');
  const r = await train({
    ...(o.method ? { method: o.method as string } : {}),
    ...(o.data ? { data: o.data as string } : {}),
    ...(o.config ? { config: o.config as string } : {}),
    ...(o.set ? { set: o.set as string[] } : {}),
    ...(o.out ? { out: o.out as string } : {}),
    ...(o['data-root'] ? { dataRoot: o['data-root'] as string } : {}),
    ...(o.seed !== undefined ? { seed: o.seed as number } : {}),
    ...(o.resume ? { resume: o.resume as string } : {}),
    ...compute(o),
    onProgress: (e) => c.bars.update(e),
    onLog: logger(c),
    signal,
  });
  const m = r.metrics;
  print(c, { runDir: r.runDir, metrics: m, threshold: r.manifest.threshold }, [
    `run directory: ${r.runDir}`,
    m?.image ? `image AUROC ${fmt(m.image.auroc)}  AP ${fmt(m.image.ap)}  F1-max ${fmt(m.image.f1_max)}` : 'image metrics: n/a (test split lacks one of the classes)',
    ...(m?.pixel ? [`pixel AUROC ${fmt(m.pixel.auroc)}  AP ${fmt(m.pixel.ap)}  AUPRO ${fmt(m.pixel.aupro)}`] : []),
    verdictLine(r.manifest.threshold.image.value, m?.confusion),
    ...(m ? [`report: ${resolve(r.runDir, 'report.html')}`] : []),
  ].join('\n'));
}

async function cmdTest(argv: string[], signal: AbortSignal): Promise<void> {
  const { options: o, positionals } = parseArgs(argv, TEST, 'test');
  if (o.help) { process.stdout.write(helpText('vigil test <run-dir> [--data <spec>] [options]', 'Re-evaluates a trained model on a dataset (default: the one it was trained on); writes\nmetrics.json, scores.csv, report.html and images/ to <run-dir>/test-<dataset> or --out.', TEST)); return; }
  if (positionals.length !== 1) throw new UserError('test: give exactly one run directory: vigil test <run-dir> [--data <spec>]');
  const c = context(o);
  const { test } = await import('../pipeline/test.js');
  const r = await test(positionals[0]!, {
    ...(o.data ? { data: o.data as string } : {}),
    ...(o['data-root'] ? { dataRoot: o['data-root'] as string } : {}),
    ...(o.set ? { set: o.set as string[] } : {}),
    ...(o.out ? { out: o.out as string } : {}),
    ...thresholdOverride(o),
    ...compute(o),
    onProgress: (e) => c.bars.update(e),
    onLog: logger(c),
    signal,
  });
  const m = r.metrics;
  print(c, r, [
    `results: ${r.outDir}`,
    m.image ? `image AUROC ${fmt(m.image.auroc)}  AP ${fmt(m.image.ap)}  F1-max ${fmt(m.image.f1_max)}` : 'image metrics: n/a',
    ...(m.pixel ? [`pixel AUROC ${fmt(m.pixel.auroc)}  AP ${fmt(m.pixel.ap)}  AUPRO ${fmt(m.pixel.aupro)}`] : []),
    verdictLine(m.threshold.value, m.confusion),
    `report: ${resolve(r.outDir, 'report.html')}`,
  ].join('\n'));
}

async function cmdPredict(argv: string[], signal: AbortSignal): Promise<void> {
  const { options: o, positionals } = parseArgs(argv, PREDICT, 'predict');
  if (o.help) { process.stdout.write(helpText('vigil predict <run-dir> <image|dir|glob …> [options]', 'Scores images with a trained model. Writes predictions.csv (path, score, normalised score,\nverdict) and, for methods with anomaly maps, heatmaps/ and masks/ PNGs at each image\'s original size.', PREDICT)); return; }
  if (positionals.length < 2) throw new UserError('predict: give a run directory and at least one image, folder or glob: vigil predict <run-dir> <image|dir|glob …>');
  const c = context(o);
  const { predict } = await import('../pipeline/predict.js');
  const { parseShard } = await import('../pipeline/inputs.js');
  const r = await predict(positionals[0]!, positionals.slice(1), {
    ...(o.out ? { out: o.out as string } : {}),
    ...(o['batch-size'] !== undefined ? { batchSize: o['batch-size'] as number } : {}),
    skipUnreadable: o['skip-unreadable'] === true,
    images: o['no-images'] !== true,
    ...(o.shard !== undefined ? { shard: parseShard(o.shard as string) } : {}),
    ...thresholdOverride(o),
    ...compute(o),
    onProgress: (e) => c.bars.update(e),
    onLog: logger(c),
    signal,
  });
  const flagged = r.predictions.filter((p) => p.verdict === 'anomalous').length;
  const w = Math.min(60, Math.max(4, ...r.predictions.map((p) => p.path.length)));
  const rows = r.predictions.slice(0, 20).map((p) => `${p.path.length > w ? '…' + p.path.slice(-w + 1) : p.path.padEnd(w)}  ${p.score.toPrecision(5).padStart(11)}  ${p.normalised.toFixed(3)}  ${p.verdict === 'anomalous' ? 'NG' : 'OK'}`);
  print(c, r, [
    ...rows,
    ...(r.predictions.length > 20 ? [`… ${r.predictions.length - 20} more in predictions.csv`] : []),
    `${r.predictions.length} image${r.predictions.length === 1 ? '' : 's'}: ${flagged} NG (anomalous), ${r.predictions.length - flagged} OK at threshold ${r.threshold.value.toPrecision(5)}${r.skipped.length ? `; ${r.skipped.length} unreadable (skipped)` : ''}; results in ${r.outDir}`,
  ].join('\n'));
}

async function cmdServe(argv: string[], signal: AbortSignal): Promise<void> {
  const { options: o, positionals } = parseArgs(argv, SERVE, 'serve');
  if (o.help) { process.stdout.write(helpText('vigil serve <run-dir|name=run-dir …> [options]', 'Serves trained models over HTTP: the /v1 JSON API (docs/api.md), a web UI at /, Prometheus\nmetrics at /metrics, and an SQLite inspection history. Stops gracefully on SIGTERM / Ctrl-C.', SERVE)); return; }
  if (positionals.length === 0) throw new UserError('serve: give at least one run directory: vigil serve <run-dir>… (name one with name=<run-dir>)');
  const sync = o['history-sync'] as string | undefined;
  if (sync !== undefined && sync !== 'normal' && sync !== 'full') throw new UserError(`serve: --history-sync must be normal or full, got '${sync}'`);
  const seconds = (k: string): number | undefined => (o[k] === undefined ? undefined : Math.round((o[k] as number) * 1000));
  const c = context(o);
  const { serve } = await import('../server/index.js');
  const token = (o.token as string | undefined) ?? (process.env.VIGIL_TOKEN || undefined);
  const server = await serve({
    models: positionals.map((p) => {
      const eq = p.indexOf('=');
      return eq > 0 && !existsSync(p) ? { name: p.slice(0, eq), dir: p.slice(eq + 1) } : { dir: p };
    }),
    ...(o.host ? { host: o.host as string } : {}),
    ...(o.port !== undefined ? { port: o.port as number } : {}),
    ...(token ? { token } : {}),
    ...(o.history ? { history: o.history as string } : {}),
    ...(sync ? { historySync: sync } : {}),
    ...(o['retention-days'] !== undefined ? { retentionDays: o['retention-days'] as number } : {}),
    ...(o['retention-rows'] !== undefined ? { retentionRows: o['retention-rows'] as number } : {}),
    ...(o.workers !== undefined ? { workers: o.workers as number } : {}),
    ...(o['queue-limit'] !== undefined ? { queueLimit: o['queue-limit'] as number } : {}),
    ...(o['max-batch'] !== undefined ? { maxBatch: o['max-batch'] as number } : {}),
    ...(o['max-images'] !== undefined ? { maxImages: o['max-images'] as number } : {}),
    ...(o.timeout !== undefined ? { timeoutMs: seconds('timeout')! } : {}),
    ...(o['max-body-mb'] !== undefined ? { maxBodyBytes: Math.round((o['max-body-mb'] as number) * 1024 * 1024) } : {}),
    ...(o['max-pixels'] !== undefined ? { maxPixels: o['max-pixels'] as number } : {}),
    ...(o.cors ? { corsOrigins: o.cors as string[] } : {}),
    ...compute(o),
    // The listening line is printed even with --quiet: it says where the server is.
    onLog: (m) => { if (!c.quiet || m.startsWith('serve: listening') || m.startsWith('serve: stopped')) process.stderr.write(`${m}\n`); },
  });
  await new Promise<void>((r) => { if (signal.aborted) r(); else signal.addEventListener('abort', () => r(), { once: true }); });
  await server.close();
}

async function cmdDatasets(argv: string[]): Promise<void> {
  const sub = argv[0];
  const rest = argv.slice(1);
  if (!sub || sub === '--help' || sub === '-h' || sub === 'help') {
    process.stdout.write('usage: vigil datasets <synth|info|download|list> …\n\n  synth <dir> [--categories a,b --size px --train n --test-good n --test-defect n --seed n]\n                  generate the synthetic MVTec-style set (woven, grainy, striped, object)\n  info <spec>     counts, image size and masks of a data spec\n  download <id> <dest>   fetch a dataset (checksums verified, resumable)\n  list            the downloadable datasets\n');
    return;
  }
  if (sub === 'synth') {
    const { options: o, positionals } = parseArgs(rest, SYNTH, 'datasets synth');
    if (o.help) { process.stdout.write(helpText('vigil datasets synth <dir> [options]', 'Generates the seeded synthetic MVTec-AD-style dataset (same seed → same bytes).', SYNTH)); return; }
    if (positionals.length !== 1) throw new UserError('datasets synth: give the output folder: vigil datasets synth <dir>');
    const c = context(o);
    const { generateSynthDataset } = await import('../data/synth/index.js');
    const cats = o.categories ? (o.categories as string).split(',').map((s) => s.trim()) : undefined;
    const t0 = Date.now();
    const r = await generateSynthDataset(resolve(positionals[0]!), {
      ...(cats ? { categories: cats as never } : {}),
      ...(o.size !== undefined ? { size: o.size as number } : {}),
      ...(o.train !== undefined ? { trainCount: o.train as number } : {}),
      ...(o['test-good'] !== undefined ? { testGoodCount: o['test-good'] as number } : {}),
      ...(o['test-defect'] !== undefined ? { testDefectCount: o['test-defect'] as number } : {}),
      ...(o.seed !== undefined ? { seed: o.seed as number } : {}),
    }).catch((e: Error) => { throw new UserError(e.message); });
    print(c, r, `wrote ${r.files} files for ${r.categories.join(', ')} under ${r.root} in ${((Date.now() - t0) / 1000).toFixed(1)} s\ntrain with: vigil train --method pixelstats --data synth:${r.root}/${r.categories[0]}`);
    return;
  }
  if (sub === 'info') {
    const { options: o, positionals } = parseArgs(rest, INFO, 'datasets info');
    if (o.help) { process.stdout.write(helpText('vigil datasets info <spec>', 'Shows what a data spec resolves to: split sizes, classes, input size, masks.', INFO)); return; }
    if (positionals.length !== 1) throw new UserError('datasets info: give one data spec, e.g. vigil datasets info mvtec:/data/mvtec/bottle');
    const c = context(o);
    const { datasetInfo } = await import('../pipeline/info.js');
    const info = await datasetInfo(positionals[0]!, { ...(o['data-root'] ? { dataRoot: o['data-root'] as string } : {}), ...(o.set ? { set: o.set as string[] } : {}) });
    print(c, info, Object.entries(info).map(([k, v]) => `${k.padEnd(18)} ${typeof v === 'object' ? JSON.stringify(v) : String(v)}`).join('\n'));
    return;
  }
  if (sub === 'list') {
    const { options: o } = parseArgs(rest, PLAIN, 'datasets list');
    const c = context(o);
    const { DATASET_SOURCES } = await import('../data/datasets.js');
    print(c, DATASET_SOURCES, Object.entries(DATASET_SOURCES).map(([id, s]) => `${id.padEnd(16)} ${s.title} — ${s.license}\n${' '.repeat(17)}${s.layout}`).join('\n'));
    return;
  }
  if (sub === 'download') {
    const { options: o, positionals } = parseArgs(rest, DOWNLOAD, 'datasets download');
    if (o.help) { process.stdout.write(helpText('vigil datasets download <id> <dest>', 'Downloads (resumable, checksum-verified) and unpacks a dataset; ids: vigil datasets list.', DOWNLOAD)); return; }
    if (positionals.length !== 2) throw new UserError('datasets download: give a dataset id and a destination folder: vigil datasets download fashion-mnist ./data/fmnist');
    const c = context(o);
    const { fetchDataset, DATASET_SOURCES } = await import('../data/datasets.js');
    const mirror = o.mirror as string | undefined;
    const sources = mirror === undefined ? undefined : Object.fromEntries(Object.entries(DATASET_SOURCES).map(([id, s]) => [id, {
      ...s, files: s.files.map((f) => ({ ...f, urls: [`${mirror.replace(/\/+$/, '')}/${f.filename}`] })),
    }]));
    const dest = await fetchDataset(positionals[0]!, resolve(positionals[1]!), {
      ...(sources ? { sources } : {}),
      onProgress: (file, p) => c.bars.update({ stage: file.slice(0, 24), done: Math.round(p.received / 1e6), total: Math.round((p.total ?? p.received) / 1e6) }),
    });
    print(c, { id: positionals[0], root: dest }, `downloaded ${positionals[0]} into ${dest}`);
    return;
  }
  throw new UserError(`datasets: unknown subcommand '${sub}' (synth, info, download, list)`);
}

async function cmdWeights(argv: string[]): Promise<void> {
  const sub = argv[0];
  const { options: o, positionals } = parseArgs(argv.slice(1), { dir: { type: 'string', arg: '<dir>', help: 'weights folder (default the torch hub cache)' }, ...MIRROR, ...COMMON }, 'weights');
  if (!sub || sub === '--help' || sub === '-h' || o.help) {
    process.stdout.write('usage: vigil weights list | fetch <name> [--dir DIR] [--mirror URL]\n\n  list          known torchvision ImageNet weights and whether each is in the cache\n  fetch <name>  download one (SHA-256 prefix verified) into the torch hub cache\n');
    return;
  }
  const c = context(o);
  const w = await import('../models/backbones/weights.js');
  const dir = (o.dir as string | undefined) ?? w.torchHubCheckpointsDir();
  if (sub === 'list') {
    const rows = w.KNOWN_WEIGHTS.map((n) => { const info = w.weightsInfo(n); const path = resolve(dir, info.file); return { name: n, file: info.file, present: existsSync(path), path }; });
    print(c, { dir, weights: rows }, [`cache: ${dir}`, ...rows.map((r) => `${r.name.padEnd(18)} ${r.file.padEnd(30)} ${r.present ? 'present' : 'missing (vigil weights fetch ' + r.name + ')'}`)].join('\n'));
    return;
  }
  if (sub === 'fetch') {
    if (positionals.length !== 1) throw new UserError(`weights fetch: give one name (${w.KNOWN_WEIGHTS.join(', ')})`);
    if (!w.KNOWN_WEIGHTS.includes(positionals[0]!)) throw new UserError(`weights fetch: unknown weights '${positionals[0]}' (known: ${w.KNOWN_WEIGHTS.join(', ')})`);
    const r = await w.fetchWeights(positionals[0]!, {
      dir,
      ...(o.mirror !== undefined ? { baseUrl: o.mirror as string } : {}),
      onProgress: (p) => c.bars.update({ stage: positionals[0]!, done: Math.round(p.received / 1e6), total: Math.round((p.total ?? p.received) / 1e6) }),
    });
    print(c, r, r.skipped ? `already present: ${r.path}` : `saved ${r.path}`);
    return;
  }
  throw new UserError(`weights: unknown subcommand '${sub}' (list, fetch)`);
}

async function cmdMethods(argv: string[]): Promise<void> {
  const { options: o, positionals } = parseArgs(argv, PLAIN, 'methods');
  if (o.help) { process.stdout.write('usage: vigil methods [<name>]\n\nLists the registered methods; with a name, its config keys (what each accepts, its default) and presets.\n'); return; }
  const c = context(o);
  if (positionals.length > 1) throw new UserError('methods: give at most one method name: vigil methods [<name>]');
  if (positionals.length === 1) {
    const { methodInfo } = await import('../pipeline/info.js');
    const m = await methodInfo(positionals[0]!);
    const w = Math.max(...m.keys.map((k) => k.key.length));
    const a = Math.max(...m.keys.map((k) => k.accepts.length));
    print(c, m, [
      `${m.name}: ${m.description}`,
      '',
      `config keys (--set <key>=<value>, or under model: in a --config file):`,
      ...m.keys.map((k) => `  ${k.key.padEnd(w)}  ${k.accepts.padEnd(a)}  default ${JSON.stringify(k.default) ?? '(none)'}`),
      '',
      `presets (configs/${m.name}/, picked by the --data kind): ${m.presets.join(', ') || 'none'}`,
      'the other sections (dataset, preprocess, train, threshold, output): docs/config.md',
    ].join('\n'));
    return;
  }
  const { listMethods } = await import('../pipeline/registry.js');
  const ms = await listMethods();
  print(c, ms, ms.map((m) => `${m.name.padEnd(12)} ${m.description}`).join('\n'));
}

export async function main(argv: string[]): Promise<number> {
  const ac = new AbortController();
  const onSig = (sig: 'SIGINT' | 'SIGTERM'): void => {
    const code = sig === 'SIGINT' ? 130 : 143;
    if (ac.signal.aborted) process.exit(code);
    process.stderr.write(`\ninterrupted (${sig}): stopping after the current batch (${sig === 'SIGINT' ? 'Ctrl-C' : 'the signal'} again to quit now)\n`);
    ac.abort(new InterruptedError(sig));
  };
  const onInt = (): void => onSig('SIGINT');
  const onTerm = (): void => onSig('SIGTERM');
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onTerm);
  const [cmd, ...rest] = argv;
  try {
    switch (cmd) {
      case undefined: case '--help': case '-h': case 'help':
        process.stdout.write(USAGE + '\n');
        return cmd === undefined ? 1 : 0;
      case '--version': case '-V':
        process.stdout.write(`vigil ${VIGIL_VERSION}\n`);
        return 0;
      case 'train': await cmdTrain(rest, ac.signal); break;
      case 'test': await cmdTest(rest, ac.signal); break;
      case 'predict': await cmdPredict(rest, ac.signal); break;
      case 'serve': await cmdServe(rest, ac.signal); break;
      case 'datasets': await cmdDatasets(rest); break;
      case 'weights': await cmdWeights(rest); break;
      case 'methods': await cmdMethods(rest); break;
      default:
        throw new UserError(`unknown command '${cmd}' (train, test, predict, serve, datasets, weights, methods); see vigil --help`);
    }
    return 0;
  } catch (e) {
    if (e instanceof InterruptedError) {
      process.stderr.write(`vigil: ${e.message}\n`);
      return e.signal === 'SIGINT' ? 130 : 143;
    }
    if (isUserError(e)) {
      process.stderr.write(`vigil: error: ${(e as Error).message}\n`);
      return 1;
    }
    // Permissions, a full disk, a path through a file, a link loop: the user's environment.
    const env = environmentMessage(e);
    if (env) {
      process.stderr.write(`vigil: error: ${env}\n`);
      return 1;
    }
    // Whatever fails once the user asked to stop is the stop, not a bug to report.
    if (ac.signal.aborted && ac.signal.reason instanceof InterruptedError) {
      process.stderr.write(`vigil: interrupted (${e instanceof Error ? e.message : String(e)})\n`);
      return ac.signal.reason.signal === 'SIGINT' ? 130 : 143;
    }
    process.stderr.write(`vigil: internal error (please report it): ${e instanceof Error ? e.stack ?? e.message : String(e)}\n`);
    return 2;
  } finally {
    process.off('SIGINT', onInt);
    process.off('SIGTERM', onTerm);
  }
}

// Run when executed (node dist/src/cli/main.js, or the npm bin link), not when imported.
const entry = process.argv[1] && existsSync(process.argv[1]) ? realpathSync(process.argv[1]) : '';
if (entry === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
    // Loader worker threads or libtorch pools must not keep a finished command alive.
    setImmediate(() => process.exit(code));
  });
}
