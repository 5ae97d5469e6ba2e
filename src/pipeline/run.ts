// train / test / predict: the pipeline behind the CLI verbs and the library API.
import { appendFileSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { basename, extname, join, resolve, sep } from 'node:path';
import { performance } from 'node:perf_hooks';
import YAML from 'yaml';
import * as torch from '../torch/index.js';
import { binaryMetrics, PixelMetricAccumulator } from '../eval/index.js';
import { encodePng } from '../data/image/index.js';
import { DEFAULT_IMAGE_EXTENSIONS } from '../data/datasets.js';
import type { Detector, FitContext, TrainData, TrainingState } from '../methods/types.js';
import { configSchema, configToYaml, readYamlFile, resolveConfig, validate, deepMerge, parseSet, type VigilConfig } from './config.js';
import { FileSplit, loaderTransforms, parseDataSpec, prepareData, type DataSplit, type Preprocessing } from './data.js';
import { UserError } from './errors.js';
import { csv, writeAtomic, writeJson } from './fsutil.js';
import { getMethod, type MethodEntry } from './registry.js';
import { renderReport, type ReportImage } from './report.js';
import { chooseThreshold, choosePixelThreshold, minMaxOf, normalise, normaliseArray, type Normalisation, type ThresholdInfo } from './threshold.js';
import { mapToOriginal, maskBytes, overlay, upscale } from './visual.js';

export const VIGIL_VERSION: string = (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
export const MODEL_FORMAT = 'vigil-model/1';

export interface ProgressEvent {
  stage: string;
  done: number;
  total: number;
  values?: Record<string, number>;
}

export interface RunHooks {
  onProgress?: (e: ProgressEvent) => void;
  onLog?: (message: string) => void;
  signal?: AbortSignal;
}

export interface ModelManifest {
  format: string;
  method: string;
  vigil_version: string;
  created: string;
  dataset: string;
  seed: number;
  /** The `model` section of the config the detector was built with. */
  config: Record<string, unknown>;
  preprocessing: Preprocessing;
  imageShape: [number, number, number];
  threshold: { image: ThresholdInfo; pixel: ThresholdInfo | null };
  normalisation: { image: Normalisation; pixel: Normalisation | null };
  /** The detector's state().meta. */
  state_meta: Record<string, unknown>;
}

export interface RunMetrics {
  method: string;
  dataset: string;
  image: { auroc: number; ap: number; f1_max: number; f1_threshold: number } | null;
  pixel: { auroc: number; ap: number; aupro: number; f1_max: number } | null;
  threshold: { value: number; rule: string; quantile?: number; normalised: 0.5; pixel: { value: number; rule: string } | null };
  /** Test images at the threshold: tp = anomalous flagged, fp = normal flagged… */
  confusion: { tp: number; fp: number; tn: number; fn: number } | null;
  counts: { test: number; test_normal: number; test_anomalous: number; train?: number; held_out_normal?: number; validation?: number; skipped_unreadable: number };
  timing: { fit_s: number | null; test_s: number; infer_ms_per_image: number };
  seed: number;
  images: Array<{ file: string; id: string; score: number; normalised: number; label: number }>;
  vigil_version: string;
}

class RunLog {
  constructor(readonly path: string | null, readonly hook?: (m: string) => void) {}
  log = (message: string): void => {
    if (this.path) appendFileSync(this.path, `${new Date().toISOString()} ${message}\n`);
    this.hook?.(message);
  };
}

// ---- scoring --------------------------------------------------------------------------------
interface Scored {
  scores: Float32Array;
  labels: Int32Array;
  ids: string[];
  indices: number[];
  /** Every map (when keepMaps) at input resolution. */
  maps: Float32Array[];
  masks: Uint8Array[];
  inferMs: number;
}

interface ScoreOptions {
  batchSize: number;
  stage: string;
  keepMaps: boolean;
  hooks: RunHooks;
  /** Called per image with its map (test pass: pixel metrics, galleries). */
  perImage?: (i: number, score: number, label: number, map: Float32Array | undefined, mask: Uint8Array | undefined) => void;
}

async function scoreSplit(det: Detector, split: DataSplit, o: ScoreOptions): Promise<Scored> {
  const scores: number[] = [];
  const labels: number[] = [];
  const ids: string[] = [];
  const indices: number[] = [];
  const maps: Float32Array[] = [];
  const masks: Uint8Array[] = [];
  let inferMs = 0;
  const total = Math.ceil(split.size / o.batchSize);
  let done = 0;
  for await (const b of split.batches({ batchSize: o.batchSize })) {
    o.hooks.signal?.throwIfAborted();
    const [n, , h, w] = b.shape;
    const t0 = performance.now();
    const r = torch.tidy(() => torch.noGrad(() => {
      const x = torch.fromTypedArray(b.images, b.shape);
      return det.score(x);
    }));
    inferMs += performance.now() - t0;
    if (r.scores.length !== n) throw new Error(`${det.method}.score returned ${r.scores.length} scores for ${n} images`);
    if (r.maps && r.maps.length !== n * h * w) throw new Error(`${det.method}.score returned maps of ${r.maps.length} values, expected ${n}×${h}×${w}`);
    for (let k = 0; k < n; k++) {
      const map = r.maps ? r.maps.slice(k * h * w, (k + 1) * h * w) : undefined;
      const mask = b.masks ? b.masks.slice(k * h * w, (k + 1) * h * w) : undefined;
      if (!Number.isFinite(r.scores[k]!)) throw new Error(`${det.method}.score returned a non-finite score (${r.scores[k]}) for ${b.ids[k]}`);
      o.perImage?.(scores.length, r.scores[k]!, b.labels[k]!, map, mask);
      scores.push(r.scores[k]!);
      labels.push(b.labels[k]!);
      ids.push(b.ids[k]!);
      indices.push(b.indices[k]!);
      if (o.keepMaps && map) maps.push(map);
      if (o.keepMaps && mask) masks.push(mask);
    }
    o.hooks.onProgress?.({ stage: o.stage, done: ++done, total });
  }
  return { scores: Float32Array.from(scores), labels: Int32Array.from(labels), ids, indices, maps, masks, inferMs };
}

function trainData(split: DataSplit, imageShape: [number, number, number]): TrainData {
  return {
    size: split.size,
    imageShape,
    async *epoch(o) {
      for await (const b of split.batches({ batchSize: o.batchSize, epoch: o.epoch, shuffle: o.shuffle })) {
        const images = torch.keep(torch.fromTypedArray(b.images, b.shape));
        try {
          yield { images, labels: b.labels, indices: b.indices };
        } finally {
          images.dispose();
        }
      }
    },
  };
}

// ---- run directory --------------------------------------------------------------------------
const slug = (s: string): string => s.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^-+|-+$/g, '') || 'data';

function timestamp(): string {
  return new Date().toISOString().replace(/[-:]/g, '').replace(/\..*$/, '').replace('T', '-');
}

function checkpointPath(runDir: string): string {
  return join(runDir, 'checkpoint', 'state.safetensors');
}

export function readManifest(runDir: string): ModelManifest {
  const dir = resolve(runDir);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new UserError(`run directory ${dir} does not exist`);
  const path = join(dir, 'model', 'manifest.json');
  if (!existsSync(path)) {
    const hint = existsSync(checkpointPath(dir)) ? ` (training was interrupted: finish it with vigil train --resume ${runDir})` : existsSync(join(dir, 'config.yaml')) ? ' (its training did not finish)' : '';
    throw new UserError(`${dir} is not a finished vigil run directory: ${join('model', 'manifest.json')} is missing${hint}`);
  }
  let m: ModelManifest;
  try {
    m = JSON.parse(readFileSync(path, 'utf8')) as ModelManifest;
  } catch (e) {
    throw new UserError(`${path} is not valid JSON: ${(e as Error).message}`);
  }
  if (m.format !== MODEL_FORMAT) throw new UserError(`${path}: unsupported model format '${String(m.format)}' (this vigil reads ${MODEL_FORMAT})`);
  for (const k of ['method', 'preprocessing', 'imageShape', 'threshold', 'normalisation', 'config'] as const) {
    if (m[k] === undefined) throw new UserError(`${path}: field '${k}' is missing`);
  }
  return m;
}

async function loadDetector(runDir: string, m: ModelManifest): Promise<{ det: Detector; entry: MethodEntry }> {
  const entry = await getMethod(m.method).catch((e: unknown) => {
    throw new UserError(`${join(runDir, 'model', 'manifest.json')}: ${(e as Error).message}`);
  });
  const file = join(resolve(runDir), 'model', 'model.safetensors');
  if (!existsSync(file)) throw new UserError(`${file} is missing; the run directory is incomplete`);
  const { tensors, metadata } = torch.loadSafetensors(file);
  if (metadata.method && metadata.method !== m.method) {
    torch.dispose(tensors);
    throw new UserError(`${file} holds a '${metadata.method}' model but manifest.json says '${m.method}'; the run directory was mixed up`);
  }
  try {
    const config = deepMerge(entry.definition.defaults, m.config);
    return { det: entry.definition.load(config, m.imageShape, { tensors, meta: m.state_meta ?? {} }), entry };
  } catch (e) {
    throw new UserError(`cannot load the ${m.method} model from ${file}: ${(e as Error).message}`);
  } finally {
    for (const t of tensors.values()) if (!t.isDisposed && !t.kept) t.dispose();
  }
}

// ---- evaluation -----------------------------------------------------------------------------
interface EvalContext {
  det: Detector;
  manifest: ModelManifest;
  config: VigilConfig;
  split: DataSplit;
  outDir: string;
  dataset: string;
  fitS: number | null;
  counts: Partial<RunMetrics['counts']>;
  log: (m: string) => void;
  hooks: RunHooks;
}

interface Candidate { i: number; score: number; label: number; map?: Float32Array }

function pushBounded(list: Candidate[], c: Candidate, k: number, higherFirst: boolean): void {
  if (k === 0) return;
  list.push(c);
  list.sort((a, b) => (higherFirst ? b.score - a.score : a.score - b.score));
  if (list.length > k) list.length = k;
}

/** A model that gives every image the same score ranks nothing; say so rather than report AUROC 0.5. */
function warnIfConstant(scores: Float32Array, what: string, log: (m: string) => void): void {
  if (scores.length < 2) return;
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of scores) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  if (hi - lo <= 1e-6 * Math.max(Math.abs(lo), Math.abs(hi), 1e-30)) {
    log(`warning: all ${scores.length} ${what} scores are equal (${lo.toPrecision(6)}): the model does not tell images apart; check the data (blank or identical images?) and the method's settings`);
  }
}

async function evaluate(e: EvalContext): Promise<RunMetrics> {
  const { det, manifest, split } = e;
  const k = e.config.output.images;
  const most: Candidate[] = [];
  const least: Candidate[] = [];
  const [, h, w] = manifest.imageShape;
  const pixelAcc = split.hasMasks ? new PixelMetricAccumulator({ width: w, height: h, aupro: true }) : null;
  const t0 = performance.now();
  const r = await scoreSplit(det, split, {
    batchSize: e.config.train.batch_size,
    stage: 'test',
    keepMaps: false,
    hooks: e.hooks,
    perImage: (i, score, label, map, mask) => {
      if (pixelAcc && map && mask) pixelAcc.add(map, mask);
      pushBounded(most, { i, score, label, ...(map ? { map } : {}) }, k, true);
      pushBounded(least, { i, score, label, ...(map ? { map } : {}) }, k, false);
    },
  });
  const testS = (performance.now() - t0) / 1000;
  warnIfConstant(r.scores, 'test', e.log);
  const norm = manifest.normalisation.image;
  const thr = manifest.threshold.image.value;
  const both = r.labels.includes(0) && r.labels.includes(1);
  const bin = Uint8Array.from(r.labels, (l) => (l === 1 ? 1 : 0));
  let image: RunMetrics['image'] = null;
  if (both) {
    const m = binaryMetrics(r.scores, bin);
    image = { auroc: m.auroc, ap: m.averagePrecision, f1_max: m.f1Max, f1_threshold: m.f1Threshold };
  } else {
    e.log('test split has only one class: image AUROC/AP/F1 are not defined');
  }
  let pixel: RunMetrics['pixel'] = null;
  if (pixelAcc) {
    if (pixelAcc.images === 0) {
      e.log(`test split has masks, but ${det.method} gives no anomaly maps: pixel metrics are not computed`);
    } else if (pixelAcc.positivePixels === 0 || pixelAcc.negativePixels === 0) {
      e.log(`the test masks have ${pixelAcc.positivePixels === 0 ? 'no anomalous' : 'no normal'} pixels: pixel AUROC/AP/AUPRO are not defined`);
    } else {
      const p = pixelAcc.compute();
      pixel = { auroc: p.auroc, ap: p.averagePrecision, aupro: p.aupro!, f1_max: p.f1Max };
    }
  }
  let confusion: RunMetrics['confusion'] = null;
  if (!r.labels.includes(-1)) {
    confusion = { tp: 0, fp: 0, tn: 0, fn: 0 };
    r.scores.forEach((s, i) => {
      const flag = s >= thr;
      if (r.labels[i] === 1) flag ? confusion!.tp++ : confusion!.fn++;
      else flag ? confusion!.fp++ : confusion!.tn++;
    });
  }
  // scores.csv
  const rows = Array.from(r.scores, (s, i) => [r.ids[i]!, r.labels[i]!, split.defects[r.indices[i]!] ?? '', s, normalise(s, norm), s >= thr ? 'anomalous' : 'normal']);
  writeAtomic(join(e.outDir, 'scores.csv'), csv(['id', 'label', 'defect', 'score', 'normalised_score', 'verdict'], rows));
  // Galleries.
  const images: RunMetrics['images'] = [];
  const pngs: { most: ReportImage[]; least: ReportImage[] } = { most: [], least: [] };
  mkdirSync(join(e.outDir, 'images'), { recursive: true });
  for (const [kind, list] of [['most', most], ['least', least]] as const) {
    for (const [rank, c] of list.entries()) {
      const id = r.ids[c.i]!;
      const png = await renderPanel(split, r.indices[c.i]!, c.map, manifest, h, w);
      const file = `images/${kind}-anomalous-${String(rank + 1).padStart(2, '0')}.png`;
      writeAtomic(join(e.outDir, file), png);
      const ns = normalise(c.score, norm);
      images.push({ file, id, score: c.score, normalised: ns, label: c.label });
      const label = c.label === 1 ? 'anomalous' : c.label === 0 ? 'normal' : 'unlabelled';
      pngs[kind].push({ png, caption: `${shortId(id)} — ${label}, score ${c.score.toPrecision(4)} (normalised ${ns.toFixed(3)})` });
    }
  }
  const metrics: RunMetrics = {
    method: manifest.method,
    dataset: e.dataset,
    image,
    pixel,
    threshold: {
      value: thr,
      rule: manifest.threshold.image.rule,
      ...(manifest.threshold.image.quantile !== undefined ? { quantile: manifest.threshold.image.quantile } : {}),
      normalised: 0.5,
      pixel: manifest.threshold.pixel ? { value: manifest.threshold.pixel.value, rule: manifest.threshold.pixel.rule } : null,
    },
    confusion,
    counts: {
      ...e.counts,
      test: r.scores.length,
      test_normal: r.labels.filter((l) => l === 0).length,
      test_anomalous: r.labels.filter((l) => l === 1).length,
      skipped_unreadable: split instanceof FileSplit ? split.skipped.length : 0,
    },
    timing: { fit_s: e.fitS, test_s: testS, infer_ms_per_image: r.scores.length ? r.inferMs / r.scores.length : 0 },
    seed: manifest.seed,
    images,
    vigil_version: VIGIL_VERSION,
  };
  writeJson(join(e.outDir, 'metrics.json'), metrics);
  const { images: _omit, ...shown } = metrics;
  writeAtomic(join(e.outDir, 'report.html'), renderReport({
    title: `${manifest.method} on ${e.dataset}`,
    metrics: shown as unknown as Record<string, unknown>,
    scores: r.scores,
    labels: r.labels,
    threshold: thr,
    most: pngs.most,
    least: pngs.least,
    configYaml: configToYaml(e.config),
  }));
  e.log(`test: ${r.scores.length} images${image ? `, image AUROC ${image.auroc.toFixed(4)}, AP ${image.ap.toFixed(4)}, F1-max ${image.f1_max.toFixed(4)}` : ''}${pixel ? `, pixel AUROC ${pixel.auroc.toFixed(4)}, AUPRO ${pixel.aupro.toFixed(4)}` : ''}`);
  return metrics;
}

function shortId(id: string): string {
  return id.includes(sep) ? id.split(sep).slice(-3).join('/') : id;
}

/**
 * Original image | heatmap overlay, side by side, at the original size (small images upscaled);
 * the image alone for methods without anomaly maps.
 */
async function renderPanel(split: DataSplit, index: number, map: Float32Array | undefined, m: ModelManifest, h: number, w: number): Promise<Uint8Array> {
  const img = await split.original(index);
  const spec = split instanceof FileSplit ? loaderTransforms(m.preprocessing) : [];
  const norm = m.normalisation.pixel;
  const base = overlay(img, new Float32Array(img.height * img.width), 0);
  const f = Math.max(1, Math.floor(160 / img.height));
  if (!map || !norm) return encodePng(upscale(base, img.height, img.width, 3, f), img.width * f, img.height * f, 3);
  const full = spec.length > 0 ? mapToOriginal(normaliseArray(map, norm), h, w, spec, img.height, img.width, 0) : normaliseArray(map, norm);
  const over = overlay(img, full);
  const W = img.width * 2 + 4;
  const panel = new Uint8Array(img.height * W * 3).fill(255);
  for (let y = 0; y < img.height; y++) {
    panel.set(base.subarray(y * img.width * 3, (y + 1) * img.width * 3), y * W * 3);
    panel.set(over.subarray(y * img.width * 3, (y + 1) * img.width * 3), (y * W + img.width + 4) * 3);
  }
  return encodePng(upscale(panel, img.height, W, 3, f), W * f, img.height * f, 3);
}

// ---- train ----------------------------------------------------------------------------------
export interface TrainOptions extends RunHooks {
  /** Method name; optional when resuming or when the config file names one. */
  method?: string;
  /** Data spec, e.g. 'synth:./synth', 'fmnist:0'. */
  data?: string;
  /** A YAML config file layered over the preset. */
  config?: string;
  /** Overrides 'a.b=value' (value parsed as YAML). */
  set?: readonly string[];
  /** Run directory (default runs/<method>-<dataset>-<time>). */
  out?: string;
  dataRoot?: string;
  seed?: number;
  /** Continue the interrupted run in this directory from its last checkpoint. */
  resume?: string;
}

export interface TrainResult {
  runDir: string;
  metrics: RunMetrics | null;
  manifest: ModelManifest;
}

export async function train(o: TrainOptions): Promise<TrainResult> {
  let config: VigilConfig;
  let runDir: string;
  let entry: MethodEntry;
  let resumeState: TrainingState | undefined;
  if (o.resume) {
    runDir = resolve(o.resume);
    const cfgPath = join(runDir, 'config.yaml');
    if (!existsSync(cfgPath)) throw new UserError(`--resume ${o.resume}: ${cfgPath} not found; is this a vigil run directory?`);
    if (existsSync(join(runDir, 'model', 'manifest.json'))) throw new UserError(`--resume ${o.resume}: this run already finished (model/manifest.json exists); start a new run instead`);
    const raw = readYamlFile(cfgPath, 'run config') as unknown as VigilConfig;
    if (typeof raw.method !== 'string') throw new UserError(`${cfgPath}: 'method' is missing`);
    entry = await getMethod(raw.method);
    validate(raw, configSchema(entry.definition.defaults));
    config = raw;
    if (o.method && o.method !== config.method) throw new UserError(`--resume: the run was trained with method '${config.method}', not '${o.method}'`);
  } else {
    const fileLayer = o.config ? readYamlFile(o.config, 'config file') : undefined;
    const setMethod = (o.set ?? []).map(parseSet).map((s) => s.method).filter((m) => m !== undefined).pop();
    const method = o.method ?? (setMethod as string | undefined) ?? (fileLayer?.method as string | undefined);
    if (!method) throw new UserError('no method: pass --method <name> (see vigil methods)');
    entry = await getMethod(method);
    const flags: Record<string, unknown> = {};
    if (o.seed !== undefined) flags.seed = o.seed;
    if (o.dataRoot !== undefined) flags.dataset = { root: resolve(o.dataRoot) };
    if (o.out !== undefined) flags.output = { dir: o.out };
    ({ config } = resolveConfig({ method, modelDefaults: entry.definition.defaults, ...(o.data ? { data: o.data } : {}), ...(o.config ? { configFile: o.config } : {}), ...(fileLayer ? { fileLayer } : {}), ...(o.set ? { set: o.set } : {}), flags }));
    parseDataSpec(config.dataset.spec, config.dataset.category); // fail before creating the run directory
    runDir = resolve(config.output.dir ?? join('runs', `${method}-${slug(config.dataset.spec.replace(/^.*[\\/]/, '') || config.dataset.spec)}-${timestamp()}`));
    if (existsSync(join(runDir, 'model', 'manifest.json')) || existsSync(join(runDir, 'config.yaml'))) {
      throw new UserError(`run directory ${runDir} already holds a run; choose another --out (or --resume it if it was interrupted)`);
    }
    config.output.dir = runDir;
    mkdirSync(runDir, { recursive: true });
    writeAtomic(join(runDir, 'config.yaml'), configToYaml(config));
  }
  const { log } = new RunLog(join(runDir, 'log.txt'), o.onLog);
  log(`vigil ${VIGIL_VERSION} ${o.resume ? 'resume' : 'train'}: method ${config.method}, data ${config.dataset.spec}, seed ${config.seed}, run ${runDir}`);
  if (o.resume && existsSync(checkpointPath(runDir))) {
    const { tensors, metadata } = torch.loadSafetensors(checkpointPath(runDir));
    for (const t of tensors.values()) torch.keep(t);
    const meta = JSON.parse(metadata.meta ?? '{}') as TrainingState['meta'];
    resumeState = { tensors, meta };
    log(`resuming from checkpoint: stage ${meta.stage}, epoch ${meta.epoch}`);
  } else if (o.resume) {
    log('no checkpoint was written before the interruption: training starts over');
  }
  torch.manualSeed(config.seed);
  const data = await prepareData(config, entry, { onLog: log });
  let det: Detector;
  try {
    det = entry.definition.create(config.model, data.imageShape);
  } catch (e) {
    await data.close();
    throw new UserError(`cannot build ${config.method} for ${data.imageShape.join('×')} inputs: ${(e as Error).message}`);
  }
  try {
    // fit
    const progressLogged = new Map<string, number>();
    const ctx: FitContext = {
      seed: config.seed,
      log,
      progress: (stage, done, total, values) => {
        o.onProgress?.({ stage, done, total, ...(values ? { values } : {}) });
        const last = progressLogged.get(stage) ?? 0;
        if (done === total || Date.now() - last > 10_000) {
          progressLogged.set(stage, Date.now());
          log(`${stage} ${done}/${total}${values ? ' ' + Object.entries(values).map(([k, v]) => `${k}=${Number(v).toPrecision(5)}`).join(' ') : ''}`);
        }
      },
      ...(config.train.checkpoint ? {
        checkpoint: (state: TrainingState) => {
          mkdirSync(join(runDir, 'checkpoint'), { recursive: true });
          torch.saveSafetensors(checkpointPath(runDir), state.tensors, { meta: JSON.stringify(state.meta), method: config.method });
          log(`checkpoint: stage ${state.meta.stage}, epoch ${state.meta.epoch}`);
        },
      } : {}),
      ...(resumeState ? { resume: resumeState } : {}),
      ...(o.signal ? { signal: o.signal } : {}),
    };
    const t0 = performance.now();
    await det.fit(trainData(data.train, data.imageShape), ctx);
    const fitS = (performance.now() - t0) / 1000;
    if (resumeState) torch.dispose(resumeState.tensors);
    log(`fit: ${fitS.toFixed(2)} s`);

    // threshold + normalisation
    const bs = config.train.batch_size;
    const calib = data.calib ? await scoreSplit(det, data.calib, { batchSize: bs, stage: 'calibrate', keepMaps: true, hooks: o }) : null;
    const val = data.val ? await scoreSplit(det, data.val, { batchSize: bs, stage: 'validate', keepMaps: true, hooks: o }) : null;
    const trainScores = !calib && !val ? await scoreSplit(det, data.train, { batchSize: bs, stage: 'calibrate', keepMaps: true, hooks: o }) : null;
    if (trainScores) log('warning: no held-out normal images (threshold.holdout = 0) and no validation split: the threshold comes from training scores and will be optimistic');
    const t = config.threshold;
    const thr = chooseThreshold(t.rule, t.quantile, t.value, {
      normal: calib?.scores ?? new Float32Array(0),
      ...(val ? { val: { scores: val.scores, labels: Uint8Array.from(val.labels, (l) => (l === 1 ? 1 : 0)) } } : {}),
      ...(trainScores ? { train: trainScores.scores } : {}),
    });
    const pool = [calib, val, trainScores].filter((x): x is Scored => x !== null);
    const imgRange = minMaxOf([...pool.map((p) => p.scores), Float32Array.of(thr.value)]);
    const imageNorm: Normalisation = { threshold: thr.value, ...imgRange };
    let pixelThr: ThresholdInfo | null = null;
    let pixelNorm: Normalisation | null = null;
    const normalMaps = [...(calib?.maps ?? []), ...(trainScores?.maps ?? [])];
    if (pool.some((p) => p.maps.length > 0)) {
      pixelThr = choosePixelThreshold(t.quantile, normalMaps, val && val.masks.length === val.maps.length && val.masks.length > 0 ? { maps: val.maps, masks: val.masks } : undefined);
      const pr = minMaxOf([...pool.flatMap((p) => p.maps), Float32Array.of(pixelThr.value)]);
      pixelNorm = { threshold: pixelThr.value, ...pr };
    }
    log(`threshold: ${thr.value.toPrecision(6)} (${thr.rule}${thr.quantile !== undefined ? ` q=${thr.quantile}` : ''}, ${thr.samples} images)${pixelThr ? `; pixel threshold ${pixelThr.value.toPrecision(6)} (${pixelThr.rule})` : ''}`);

    // model/
    const state = det.state();
    const manifest: ModelManifest = {
      format: MODEL_FORMAT,
      method: config.method,
      vigil_version: VIGIL_VERSION,
      created: new Date().toISOString(),
      dataset: data.name,
      seed: config.seed,
      config: config.model,
      preprocessing: data.preprocessing,
      imageShape: data.imageShape,
      threshold: { image: thr, pixel: pixelThr },
      normalisation: { image: imageNorm, pixel: pixelNorm },
      state_meta: state.meta,
    };
    mkdirSync(join(runDir, 'model'), { recursive: true });
    torch.saveSafetensors(join(runDir, 'model', 'model.safetensors'), state.tensors, { method: config.method, format: MODEL_FORMAT });
    writeJson(join(runDir, 'model', 'manifest.json'), manifest);
    rmSync(join(runDir, 'checkpoint'), { recursive: true, force: true });

    let metrics: RunMetrics | null = null;
    if (data.test && data.test.size > 0) {
      metrics = await evaluate({
        det, manifest, config, split: data.test, outDir: runDir, dataset: data.name, fitS, log, hooks: o,
        counts: { train: data.train.size, held_out_normal: data.calib?.size ?? 0, validation: data.val?.size ?? 0 },
      });
    } else {
      log('no test split: metrics.json and report.html are not written');
    }
    log('done');
    return { runDir, metrics, manifest };
  } finally {
    det.dispose();
    await data.close();
  }
}

// ---- test -----------------------------------------------------------------------------------
export interface TestOptions extends RunHooks {
  /** Another dataset to evaluate on (default: the training dataset's test split). */
  data?: string;
  dataRoot?: string;
  set?: readonly string[];
  /** Output folder (default <run>/test-<dataset>). */
  out?: string;
}

export interface TestResult {
  outDir: string;
  metrics: RunMetrics;
}

export async function test(runDir: string, o: TestOptions = {}): Promise<TestResult> {
  const manifest = readManifest(runDir);
  const cfgPath = join(resolve(runDir), 'config.yaml');
  const base = readYamlFile(cfgPath, 'run config');
  const { det, entry } = await loadDetector(runDir, manifest);
  try {
    const flags: Record<string, unknown> = {};
    if (o.dataRoot !== undefined) flags.dataset = { root: resolve(o.dataRoot) };
    const { config } = resolveConfig({
      method: manifest.method,
      modelDefaults: entry.definition.defaults,
      fileLayer: { ...base, output: { ...(base.output as object), dir: null } },
      ...(o.data ? { data: o.data } : {}),
      ...(o.set ? { set: o.set } : {}),
      flags,
    });
    const outDir = resolve(o.out ?? join(runDir, `test-${slug(config.dataset.spec.replace(/^.*[\\/]/, '') || config.dataset.spec)}`));
    mkdirSync(outDir, { recursive: true });
    const { log } = new RunLog(join(outDir, 'log.txt'), o.onLog);
    log(`vigil ${VIGIL_VERSION} test: model ${resolve(runDir)} (${manifest.method}), data ${config.dataset.spec}`);
    const data = await prepareData(config, entry, { preprocessing: manifest.preprocessing, testOnly: true, onLog: log });
    try {
      if (data.imageShape.join('×') !== manifest.imageShape.join('×')) {
        throw new UserError(`dataset ${config.dataset.spec} gives ${data.imageShape.join('×')} inputs but the model expects ${manifest.imageShape.join('×')}`);
      }
      if (!data.test || data.test.size === 0) throw new UserError(`dataset ${config.dataset.spec} has no test images`);
      writeAtomic(join(outDir, 'config.yaml'), configToYaml(config));
      const metrics = await evaluate({ det, manifest, config, split: data.test, outDir, dataset: data.name, fitS: null, log, hooks: o, counts: {} });
      return { outDir, metrics };
    } finally {
      await data.close();
    }
  } finally {
    det.dispose();
  }
}

// ---- predict --------------------------------------------------------------------------------
export interface PredictOptions extends RunHooks {
  /** Output folder (default <run>/predictions). */
  out?: string;
  batchSize?: number;
  /** Skip unreadable files (listed with verdict 'unreadable') instead of failing. */
  skipUnreadable?: boolean;
  /** Write heatmap and mask PNGs (default true). */
  images?: boolean;
}

export interface Prediction {
  path: string;
  score: number;
  normalised: number;
  verdict: 'anomalous' | 'normal';
  /** Relative to the output folder; absent when the method gives no maps or images are off. */
  heatmap?: string;
  mask?: string;
}

export interface PredictResult {
  outDir: string;
  predictions: Prediction[];
  skipped: Array<{ path: string; reason: string }>;
}

function globToRegExp(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*') {
      if (glob[i + 1] === '*') { re += '.*'; i++; if (glob[i + 1] === '/') i++; } else re += '[^/]*';
    } else if (c === '?') re += '[^/]';
    else re += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

function walk(dir: string, out: string[]): void {
  for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    const p = join(dir, e.name);
    if (e.isDirectory()) walk(p, out);
    else if (e.isFile()) out.push(p);
  }
}

/** Files named by paths, folders (searched recursively) and globs (`*`, `?`, `**`). */
export function expandInputs(inputs: readonly string[]): string[] {
  const exts = new Set(DEFAULT_IMAGE_EXTENSIONS);
  const out: string[] = [];
  for (const inp of inputs) {
    const abs = resolve(inp);
    if (/[*?]/.test(inp)) {
      const parts = abs.split(sep);
      const first = parts.findIndex((p) => /[*?]/.test(p));
      const root = parts.slice(0, first).join(sep) || sep;
      if (!existsSync(root)) throw new UserError(`${inp}: folder ${root} does not exist`);
      const re = globToRegExp(abs.split(sep).join('/'));
      const all: string[] = [];
      walk(root, all);
      const hits = all.filter((f) => re.test(f.split(sep).join('/')));
      if (hits.length === 0) throw new UserError(`${inp}: no file matches`);
      out.push(...hits);
    } else if (!existsSync(abs)) {
      throw new UserError(`${inp}: no such file or folder`);
    } else if (statSync(abs).isDirectory()) {
      const all: string[] = [];
      walk(abs, all);
      const imgs = all.filter((f) => exts.has(extname(f).toLowerCase()));
      if (imgs.length === 0) throw new UserError(`${inp}: folder has no images (${[...exts].join(', ')})`);
      out.push(...imgs);
    } else {
      out.push(abs);
    }
  }
  return [...new Set(out)];
}

export async function predict(runDir: string, inputs: readonly string[], o: PredictOptions = {}): Promise<PredictResult> {
  const manifest = readManifest(runDir);
  if (inputs.length === 0) throw new UserError('predict: give at least one image, folder or glob');
  const files = expandInputs(inputs);
  const outDir = resolve(o.out ?? join(runDir, 'predictions'));
  const { det } = await loadDetector(runDir, manifest);
  const split = new FileSplit(files.map((path) => ({ path })), manifest.preprocessing, { seed: 0, workers: 2, skipUnreadable: o.skipUnreadable ?? false, cache: false });
  const [, h, w] = manifest.imageShape;
  const norm = manifest.normalisation;
  const writeImages = o.images ?? true;
  const names = new Map<string, number>();
  const uniqueName = (p: string): string => {
    const stem = basename(p, extname(p));
    const n = names.get(stem) ?? 0;
    names.set(stem, n + 1);
    return n === 0 ? stem : `${stem}-${n}`;
  };
  const predictions: Prediction[] = [];
  const pending: Array<{ path: string; score: number; map?: Float32Array }> = [];
  try {
    await scoreSplit(det, split, {
      batchSize: o.batchSize ?? 16,
      stage: 'predict',
      keepMaps: false,
      hooks: o,
      perImage: (i, score, _l, map) => { pending.push({ path: '', score, ...(map ? { map } : {}) }); },
    }).then((r) => r.ids.forEach((id, k) => { pending[k]!.path = id; }));
    if (writeImages) { mkdirSync(join(outDir, 'heatmaps'), { recursive: true }); }
    for (const p of pending) {
      const ns = normalise(p.score, norm.image);
      const pred: Prediction = { path: p.path, score: p.score, normalised: ns, verdict: p.score >= manifest.threshold.image.value ? 'anomalous' : 'normal' };
      if (writeImages && p.map && norm.pixel) {
        const { readImage } = await import('../data/image/index.js');
        const img = await readImage(p.path, { mode: 'rgb' });
        const full = mapToOriginal(normaliseArray(p.map, norm.pixel), h, w, loaderTransforms(manifest.preprocessing), img.height, img.width, 0);
        const name = uniqueName(p.path);
        pred.heatmap = `heatmaps/${name}.png`;
        pred.mask = `masks/${name}.png`;
        writeAtomic(join(outDir, pred.heatmap), encodePng(overlay(img, full), img.width, img.height, 3));
        writeAtomic(join(outDir, pred.mask), encodePng(maskBytes(full), img.width, img.height, 1));
      }
      predictions.push(pred);
    }
    const skipped = split.skipped;
    const rows: Array<Array<string | number>> = predictions.map((p) => [p.path, p.score, p.normalised, p.verdict, p.heatmap ?? '', p.mask ?? '']);
    for (const s of skipped) rows.push([s.path, '', '', 'unreadable', '', '']);
    writeAtomic(join(outDir, 'predictions.csv'), csv(['path', 'score', 'normalised_score', 'verdict', 'heatmap', 'mask'], rows));
    return { outDir, predictions, skipped };
  } finally {
    det.dispose();
    await split.close();
  }
}

/** Reads a run's resolved config (config.yaml). */
export function readRunConfig(runDir: string): VigilConfig {
  return YAML.parse(readFileSync(join(resolve(runDir), 'config.yaml'), 'utf8')) as VigilConfig;
}

