// Data specs (`fmnist:3`, `mvtec:<root>/<cat>`, `folder:<dir>`, `synth:<dir>`) → train / held-out
// normal / labelled validation / test splits, batched as preprocessed float arrays. Two kinds:
// one-class benchmarks (in-memory uint8 arrays, Deep SVDD preprocessing) and image files
// (ImageLoader with the method's transforms, decoded in worker threads, cached).
import { existsSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import {
  DatasetError, DSVDD_MIN_MAX, computeGcnMinMax, globalContrastNormalization, loadFolder, loadMvtec, loadOneClass,
  type AnomalySample, type MinMax, type OneClassDatasetName, type OneClassSubset,
} from '../data/datasets.js';
import { readImage, readMask, type Image } from '../data/image/index.js';
import { ImageLoader } from '../data/loader/index.js';
import { deriveSeed, mulberry32, permutation } from '../data/random.js';
import { generateSynthDataset, readSynthMarker, CATEGORIES, type Category } from '../data/synth/index.js';
import { applyPipeline, parsePipeline, isRandomOp, type TransformSpec } from '../data/transforms/index.js';
import type { VigilConfig } from './config.js';
import { UserError } from './errors.js';
import { explainErrnoText } from './fsutil.js';
import type { MethodInputs } from '../methods/types.js';
import { trainingSize, type SourceSize } from './sizes.js';
import { inspectedArea } from './visual.js';

/** How raw images become model inputs; stored in the model manifest so predict does the same. */
export type Preprocessing =
  | { kind: 'files'; mode: 'rgb' | 'gray'; transforms: TransformSpec[] }
  | { kind: 'arrays'; mode: 'rgb' | 'gray'; size: [number, number]; gcn: 'none' | 'l1' | 'l2'; minMax: MinMax | null };

export interface EvalBatch {
  /** N×C×H×W, preprocessed. */
  images: Float32Array;
  shape: [number, number, number, number];
  /** 0 normal, 1 anomalous, -1 unknown. */
  labels: Int32Array;
  /** N×H×W 0/1 ground truth, when the split has masks. */
  masks?: Uint8Array;
  /** File path, or `<split>#<index>` for in-memory datasets. */
  ids: string[];
  /** Position in the split. */
  indices: number[];
}

export interface BatchOptions {
  batchSize: number;
  epoch?: number;
  shuffle?: boolean;
  /** Explicit item order for this pass (indices may repeat); overrides shuffle. */
  order?: readonly number[];
}

export interface DataSplit {
  readonly size: number;
  readonly labels: Int32Array;
  readonly ids: readonly string[];
  /** Defect type per item ('good' for normals) when known. */
  readonly defects: readonly string[];
  /** Every anomalous item has a ground-truth mask. */
  readonly hasMasks: boolean;
  batches(o: BatchOptions): AsyncIterable<EvalBatch>;
  /** The image as the user sees it (original size, values in [0, 1]), for overlays. */
  original(index: number): Promise<Image>;
  /** Its ground-truth mask at that size (0/1), when it has one. */
  originalMask?(index: number, height: number, width: number): Promise<Uint8Array | null>;
  close(): Promise<void>;
}

export interface PreparedData {
  /** e.g. fashion-mnist:3, mvtec:bottle, synth:woven, folder:<dir>. */
  name: string;
  imageShape: [number, number, number];
  preprocessing: Preprocessing;
  train: DataSplit;
  /** Normal training images held out of fit() to calibrate the threshold. */
  calib: DataSplit | null;
  /** Labelled validation split (both classes), from dataset.valFromTest. */
  val: DataSplit | null;
  test: DataSplit | null;
  /** The training images' (most common) size as read, for size warnings at test/predict time. */
  sourceSize?: SourceSize;
  close(): Promise<void>;
}

// ---- preprocessing --------------------------------------------------------------------------
export function loaderTransforms(p: Preprocessing): TransformSpec[] {
  return p.kind === 'files' ? p.transforms : [{ op: 'resize', size: p.size }];
}

/** Images above this many pixels may be decoded at a reduced size (see decodeLimit). */
export const LARGE_IMAGE_PIXELS = 4096 * 4096;

/**
 * How far image files may be reduced while decoding: when the preprocessing starts with a resize,
 * an image far larger than the model's input (more than LARGE_IMAGE_PIXELS and four times the
 * target side) is decoded at a reduced size, never below four times the target side, instead of
 * at full size (a 16000² PNG would take gigabytes). Other pipelines decode at full size.
 */
export function decodeLimit(p: Preprocessing): { maxPixels: number; minSide: number } | Record<string, never> {
  const t = p.kind === 'files' ? p.transforms[0] : undefined;
  if (!t || t.op !== 'resize') return {};
  const side = 4 * (typeof t.size === 'number' ? t.size : Math.max(...t.size));
  return { maxPixels: Math.max(LARGE_IMAGE_PIXELS, side * side), minSide: side };
}

/** The array-kind steps that follow decoding (GCN, min-max), in place. */
export function postprocess(p: Preprocessing, x: Float32Array, n: number): Float32Array {
  if (p.kind !== 'arrays' || (p.gcn === 'none' && !p.minMax)) return x;
  const per = x.length / n;
  for (let i = 0; i < n; i++) {
    const v = x.subarray(i * per, (i + 1) * per);
    if (p.gcn !== 'none') globalContrastNormalization(v, p.gcn, v);
    if (p.minMax) {
      const lo = Math.fround(p.minMax.min);
      const w = Math.fround(p.minMax.max - p.minMax.min);
      for (let k = 0; k < v.length; k++) v[k] = Math.fround(v[k]! - lo) / w;
    }
  }
  return x;
}

// ---- splits ---------------------------------------------------------------------------------
class ArraySplit implements DataSplit {
  readonly size: number;
  readonly labels: Int32Array;
  readonly ids: string[];
  readonly defects: string[];
  readonly hasMasks = false;
  readonly #x: Float32Array;
  readonly #raw: Uint8Array;
  readonly #chw: [number, number, number];

  constructor(raw: Uint8Array, chw: [number, number, number], labels: Int32Array, ids: string[], defects: string[], p: Preprocessing, readonly seed = 0) {
    this.size = labels.length;
    this.labels = labels;
    this.ids = ids;
    this.defects = defects;
    this.#raw = raw;
    this.#chw = chw;
    const x = new Float32Array(raw.length);
    for (let i = 0; i < raw.length; i++) x[i] = raw[i]! / 255;
    this.#x = postprocess(p, x, this.size);
  }

  async *batches(o: BatchOptions): AsyncGenerator<EvalBatch> {
    const order = o.order ?? (o.shuffle ? permutation(this.size, mulberry32(deriveSeed(this.seed, 'shuffle', o.epoch ?? 0))) : null);
    const per = this.#chw[0] * this.#chw[1] * this.#chw[2];
    const n = order ? order.length : this.size;
    for (let s = 0; s < n; s += o.batchSize) {
      const idx = Array.from({ length: Math.min(o.batchSize, n - s) }, (_, k) => (order ? order[s + k]! : s + k));
      const images = new Float32Array(idx.length * per);
      idx.forEach((i, k) => images.set(this.#x.subarray(i * per, (i + 1) * per), k * per));
      yield { images, shape: [idx.length, ...this.#chw], labels: Int32Array.from(idx, (i) => this.labels[i]!), ids: idx.map((i) => this.ids[i]!), indices: idx };
    }
  }

  async original(index: number): Promise<Image> {
    const per = this.#chw[0] * this.#chw[1] * this.#chw[2];
    const data = new Float32Array(per);
    for (let k = 0; k < per; k++) data[k] = this.#raw[index * per + k]! / 255;
    return { data, channels: this.#chw[0] as 1 | 3, height: this.#chw[1], width: this.#chw[2] };
  }

  async close(): Promise<void> {}
}

export class FileSplit implements DataSplit {
  readonly size: number;
  readonly labels: Int32Array;
  readonly ids: string[];
  readonly defects: string[];
  readonly hasMasks: boolean;
  readonly #items: readonly AnomalySample[] | readonly { path: string; label?: number }[];
  readonly #loaders = new Map<string, ImageLoader>();

  constructor(
    items: ReadonlyArray<{ path: string; label?: number; defect?: string; maskPath?: string }>,
    readonly p: Preprocessing,
    readonly opts: { seed: number; workers: number; skipUnreadable: boolean; cache: boolean; onWarning?: (m: string) => void },
  ) {
    this.#items = items as AnomalySample[];
    this.size = items.length;
    this.labels = Int32Array.from(items, (it) => it.label ?? -1);
    this.ids = items.map((it) => it.path);
    this.defects = items.map((it) => it.defect ?? (it.label === 0 ? 'good' : it.label === 1 ? 'anomalous' : ''));
    const anomalous = items.filter((it) => it.label === 1);
    this.hasMasks = anomalous.length > 0 && anomalous.every((it) => it.maskPath !== undefined);
  }

  #loader(batchSize: number, shuffle: boolean): ImageLoader {
    const key = `${batchSize}:${shuffle}`;
    let l = this.#loaders.get(key);
    if (!l) {
      const items = (this.#items as AnomalySample[]).map((it) => ({ path: it.path, label: it.label ?? -1, ...(this.hasMasks && it.maskPath ? { maskPath: it.maskPath } : {}) }));
      l = new ImageLoader(items, {
        batchSize,
        transforms: loaderTransforms(this.p),
        mode: this.p.mode,
        shuffle,
        seed: this.opts.seed,
        workers: this.opts.workers,
        cache: this.opts.cache,
        skipUnreadable: this.opts.skipUnreadable,
        masks: this.hasMasks,
        onWarning: (m) => this.opts.onWarning?.(m),
        ...decodeLimit(this.p),
      });
      this.#loaders.set(key, l);
    }
    return l;
  }

  /** The items that have a ground-truth mask, with it. */
  get maskPairs(): Array<{ path: string; maskPath: string }> {
    return (this.#items as AnomalySample[]).flatMap((it) => (it.maskPath ? [{ path: it.path, maskPath: it.maskPath }] : []));
  }

  /** Files skipped as unreadable (dataset.skipUnreadable), over every pass so far. */
  get skipped(): Array<{ path: string; reason: string }> {
    const out = new Map<string, string>();
    for (const l of this.#loaders.values()) for (const s of l.skipped) out.set(s.path, s.reason);
    return [...out].map(([path, reason]) => ({ path, reason }));
  }

  async *batches(o: BatchOptions): AsyncGenerator<EvalBatch> {
    const it = this.#loader(o.batchSize, o.shuffle ?? false).epoch(o.epoch ?? 0, o.order ? { order: o.order } : {})[Symbol.asyncIterator]();
    for (;;) {
      let r: IteratorResult<import('../data/loader/index.js').Batch>;
      try {
        r = await it.next();
      } catch (e) {
        // An unreadable or missing file is the user's to fix, not a crash.
        const m = explainErrnoText((e as Error).message).replace(/^ImageLoader: /, '').replace(/ \(item [^)]*\)(?=; pass skipUnreadable)/, '');
        if (/^mask .* is \d+x\d+ but the image is/.test(m)) {
          throw new UserError(`${m.replace(/; fix the mask or pass .*$/, '')}; resize the mask to its image's size (nearest-neighbour, so it stays black and white)`, { code: 'DATA_INVALID' });
        }
        if (/not a readable image|cannot read image file|cannot read mask/.test(m)) {
          throw new UserError(`${m.replace(/; pass skipUnreadable: true to skip such files$/, '')}; remove it, or skip such files (vigil predict --skip-unreadable, or --set dataset.skipUnreadable=true)`);
        }
        throw e;
      }
      if (r.done) break;
      const b = r.value;
      yield {
        images: postprocess(this.p, b.images, b.shape[0]),
        shape: b.shape,
        labels: b.labels,
        ...(b.masks ? { masks: b.masks } : {}),
        ids: b.paths,
        indices: b.indices,
      };
    }
  }

  async original(index: number): Promise<Image> {
    return readImage(this.ids[index]!, { mode: this.p.mode, ...decodeLimit(this.p) });
  }

  async originalMask(index: number, height: number, width: number): Promise<Uint8Array | null> {
    const path = (this.#items[index] as { maskPath?: string }).maskPath;
    return path ? readMask(path, width, height, { resize: 'nearest' }) : null;
  }

  async close(): Promise<void> {
    for (const l of this.#loaders.values()) await l.close();
    this.#loaders.clear();
  }
}

// ---- spec parsing ---------------------------------------------------------------------------
export type ParsedSpec =
  | { kind: 'oneclass'; dataset: OneClassDatasetName; normalClass: number }
  | { kind: 'mvtec'; root: string; category: string }
  | { kind: 'folder'; dir: string }
  | { kind: 'synth'; root: string; category: Category };

const ONE_CLASS: Record<string, OneClassDatasetName> = { fmnist: 'fashion-mnist', 'fashion-mnist': 'fashion-mnist', mnist: 'mnist', cifar10: 'cifar10' };

export function parseDataSpec(spec: string, defaultCategory = 'woven'): ParsedSpec {
  const i = spec.indexOf(':');
  const kind = i < 0 ? spec : spec.slice(0, i);
  const arg = i < 0 ? '' : spec.slice(i + 1);
  const help = 'use fmnist:<class>, mnist:<class>, cifar10:<class>, mvtec:<root>/<category>, folder:<dir> or synth:<dir>[/<category>]';
  if (kind in ONE_CLASS) {
    const c = Number(arg);
    if (arg === '' || !Number.isInteger(c) || c < 0 || c > 9) throw new UserError(`--data ${spec}: the normal class must be an integer 0..9, e.g. ${kind}:3`);
    return { kind: 'oneclass', dataset: ONE_CLASS[kind]!, normalClass: c };
  }
  if (!arg) throw new UserError(`--data ${spec}: ${help}`);
  const path = resolve(arg);
  if (kind === 'mvtec') {
    if (!existsSync(path)) throw new UserError(`--data ${spec}: folder ${path} does not exist (expected <mvtec root>/<category>, e.g. mvtec:/data/mvtec/bottle)`);
    return { kind: 'mvtec', root: dirname(path), category: basename(path) };
  }
  if (kind === 'folder') {
    if (!existsSync(path)) throw new UserError(`--data ${spec}: folder ${path} does not exist`);
    return { kind: 'folder', dir: path };
  }
  if (kind === 'synth') {
    const b = basename(path);
    if ((CATEGORIES as readonly string[]).includes(b)) return { kind: 'synth', root: dirname(path), category: b as Category };
    if (!(CATEGORIES as readonly string[]).includes(defaultCategory)) throw new UserError(`dataset.category '${defaultCategory}' is not a synthetic category (use ${CATEGORIES.join(', ')})`);
    return { kind: 'synth', root: path, category: defaultCategory as Category };
  }
  throw new UserError(`--data ${spec}: unknown dataset kind '${kind}'; ${help}`);
}

// ---- subsets --------------------------------------------------------------------------------
function seededSubset(n: number, k: number, seed: number, tag: string): number[] {
  return permutation(n, mulberry32(deriveSeed(seed, tag))).slice(0, k).sort((a, b) => a - b);
}

/** Seeded, stratified by label: returns [picked, rest] index lists, both ascending. */
function stratified(labels: ArrayLike<number>, fraction: number, seed: number, tag: string): [number[], number[]] {
  const groups = new Map<number, number[]>();
  for (let i = 0; i < labels.length; i++) {
    const l = labels[i]!;
    if (!groups.has(l)) groups.set(l, []);
    groups.get(l)!.push(i);
  }
  const picked: number[] = [];
  for (const [l, g] of groups) {
    const k = Math.round(fraction * g.length);
    for (const j of permutation(g.length, mulberry32(deriveSeed(seed, tag, l))).slice(0, k)) picked.push(g[j]!);
  }
  const set = new Set(picked);
  return [picked.sort((a, b) => a - b), Array.from({ length: labels.length }, (_, i) => i).filter((i) => !set.has(i))];
}

/**
 * Normal items held out of training: round(fraction·normals), raised to `min` (but never more
 * than half the normals) because a threshold resting on 3 images is a guess; none when
 * fraction is 0 or there are fewer than 2 normals.
 */
export function holdoutCount(normals: number, fraction: number, min: number): number {
  if (fraction <= 0 || normals < 2) return 0;
  return Math.min(normals - 1, Math.max(1, Math.round(fraction * normals), Math.min(min, Math.floor(normals / 2))));
}

function holdout(labels: ArrayLike<number>, t: { holdout: number; holdoutMin: number }, seed: number): [number[], number[]] {
  const normals: number[] = [];
  for (let i = 0; i < labels.length; i++) if (labels[i] !== 1) normals.push(i);
  const k = holdoutCount(normals.length, t.holdout, t.holdoutMin);
  if (k === 0) return [[], Array.from({ length: labels.length }, (_, i) => i)];
  const picked = permutation(normals.length, mulberry32(deriveSeed(seed, 'holdout'))).slice(0, k).map((j) => normals[j]!);
  const set = new Set(picked);
  return [picked.sort((a, b) => a - b), Array.from({ length: labels.length }, (_, i) => i).filter((i) => !set.has(i))];
}

// ---- preparation ----------------------------------------------------------------------------
export interface PrepareOptions {
  /** Reuse a trained model's preprocessing (vigil test) instead of deriving it from the config. */
  preprocessing?: Preprocessing;
  /** Only the test split is needed. */
  testOnly?: boolean;
  /** libtorch threads of the run: sizes the decoding workers when train.workers is null. */
  threads?: number;
  onLog?: (m: string) => void;
}

export async function prepareData(config: VigilConfig, inputs: MethodInputs, o: PrepareOptions = {}): Promise<PreparedData> {
  const spec = parseDataSpec(config.dataset.spec, config.dataset.category);
  if (spec.kind === 'oneclass') return prepareOneClass(config, spec, o);
  return prepareFiles(config, inputs, spec, o);
}

function pick(sub: OneClassSubset, idx: number[], tag: string): { raw: Uint8Array; labels: Int32Array; ids: string[]; defects: string[] } {
  const [, c, h, w] = sub.shape;
  const per = c * h * w;
  const raw = new Uint8Array(idx.length * per);
  idx.forEach((i, k) => raw.set(sub.images.subarray(i * per, (i + 1) * per), k * per));
  return {
    raw,
    labels: Int32Array.from(idx, (i) => sub.labels[i]!),
    ids: idx.map((i) => `${tag}#${sub.sourceIndex[i]}`),
    defects: idx.map((i) => (sub.labels[i] === 0 ? 'good' : `class-${sub.classes[i]}`)),
  };
}

async function prepareOneClass(config: VigilConfig, spec: Extract<ParsedSpec, { kind: 'oneclass' }>, o: PrepareOptions): Promise<PreparedData> {
  const d = config.dataset;
  const download = `vigil datasets download ${spec.dataset === 'cifar10' ? 'cifar10-binary' : spec.dataset} <dir>`;
  if (!d.root && spec.dataset !== 'fashion-mnist') {
    throw new UserError(`--data ${config.dataset.spec}: pass --data-root <dir>, the folder holding the ${spec.dataset} files (or set dataset.root); to get them: ${download}`, { code: 'DATA_NOT_FOUND' });
  }
  const ds = await loadOneClass(spec.dataset, { ...(d.root ? { root: d.root } : {}), normalClass: spec.normalClass, pollution: d.pollution, seed: config.seed }).catch((e: unknown) => {
    // The data layer's hints speak its API (`root`, fetchDataset, DATASET_SOURCES): say it in CLI terms.
    if (!(e instanceof DatasetError)) throw e;
    const m = e.message
      .replace(/fetch one with fetchDataset\('([^']+)', root\)/, 'download it with: vigil datasets download $1 <dir>')
      .replace(/\(?(see )?DATASET_SOURCES\['([^']+)'\]\)?/, '(vigil datasets download $2 <dir>)')
      .replace(/download cifar-10-binary\.tar\.gz \(vigil datasets download ([^ ]+) <dir>\)/, 'download it with: vigil datasets download $1 <dir>')
      .replace(/as `root`/, 'with --data-root').replace(/`root`/g, '--data-root');
    throw new UserError(m, { code: 'DATA_NOT_FOUND', cause: e });
  });
  const [n, c, h, w] = ds.train.shape;
  const chw: [number, number, number] = [c, h, w];
  let trainIdx = Array.from({ length: n }, (_, i) => i);
  if (d.limitTrain > 0 && d.limitTrain < n) trainIdx = seededSubset(n, d.limitTrain, config.seed, 'limit-train');
  const trainLabels = Int32Array.from(trainIdx, (i) => ds.train.labels[i]!);
  const [calibPos, fitPos] = o.testOnly ? [[], trainIdx.map((_, k) => k)] : holdout(trainLabels, config.threshold, config.seed);

  let p: Preprocessing;
  if (o.preprocessing) {
    p = o.preprocessing;
    if (p.kind !== 'arrays' || p.size[0] !== h || p.size[1] !== w || (p.mode === 'gray' ? 1 : 3) !== c) {
      throw new UserError(`dataset ${config.dataset.spec} has ${c}×${h}×${w} images, but the model was trained on ${p.kind === 'arrays' ? `${p.mode === 'gray' ? 1 : 3}×${p.size.join('×')} arrays` : 'image files'}; test it on data of the same kind`);
    }
  } else {
    const pp = config.preprocess;
    let minMax: MinMax | null = null;
    if (pp.minMax === 'dsvdd') {
      if (pp.gcn !== 'l1') throw new UserError(`preprocess.minMax 'dsvdd' uses constants computed after GCN-L1; set preprocess.gcn=l1 or min_max=computed`);
      minMax = DSVDD_MIN_MAX[spec.dataset][spec.normalClass]!;
    } else if (pp.minMax === 'computed') {
      const fit = pick(ds.train, fitPos.map((k) => trainIdx[k]!), 'train');
      minMax = computeGcnMinMax(fit.raw, fitPos.length, pp.gcn === 'none' ? 'l1' : pp.gcn);
    }
    p = { kind: 'arrays', mode: c === 1 ? 'gray' : 'rgb', size: [h, w], gcn: pp.gcn, minMax };
  }
  const mk = (sub: OneClassSubset, idx: number[], tag: string): ArraySplit => {
    const s = pick(sub, idx, tag);
    return new ArraySplit(s.raw, chw, s.labels, s.ids, s.defects, p, config.seed);
  };
  const train = mk(ds.train, fitPos.map((k) => trainIdx[k]!), 'train');
  const calib = calibPos.length > 0 ? mk(ds.train, calibPos.map((k) => trainIdx[k]!), 'train') : null;
  const nt = ds.test.shape[0];
  let testIdx = Array.from({ length: nt }, (_, i) => i);
  if (d.limitTest > 0 && d.limitTest < nt) testIdx = seededSubset(nt, d.limitTest, config.seed, 'limit-test');
  let val: ArraySplit | null = null;
  if (d.valFromTest > 0) {
    const [v, rest] = stratified(Int32Array.from(testIdx, (i) => ds.test.labels[i]!), d.valFromTest, config.seed, 'val');
    val = mk(ds.test, v.map((k) => testIdx[k]!), 'test');
    testIdx = rest.map((k) => testIdx[k]!);
  }
  const test = mk(ds.test, testIdx, 'test');
  o.onLog?.(`data: ${spec.dataset} normal class ${spec.normalClass}: train ${train.size}, held-out normals ${calib?.size ?? 0}, validation ${val?.size ?? 0}, test ${test.size}`);
  return { name: `${spec.dataset}:${spec.normalClass}`, imageShape: chw, preprocessing: p, train, calib, val, test, sourceSize: { height: h, width: w, share: 1 }, close: async () => {} };
}

async function prepareFiles(config: VigilConfig, inputs: MethodInputs, spec: Exclude<ParsedSpec, { kind: 'oneclass' }>, o: PrepareOptions): Promise<PreparedData> {
  const d = config.dataset;
  let train: AnomalySample[];
  let test: AnomalySample[];
  let name: string;
  if (spec.kind === 'synth') {
    const dir = resolve(spec.root, spec.category);
    if (!existsSync(dir) || (readSynthMarker(dir) === null && !existsSync(resolve(dir, 'train')))) {
      o.onLog?.(`data: generating the synthetic '${spec.category}' set in ${dir}`);
      await generateSynthDataset(spec.root, { categories: [spec.category], size: d.synth.size, trainCount: d.synth.trainCount, testGoodCount: d.synth.testGoodCount, testDefectCount: d.synth.testDefectCount, seed: config.seed });
    }
    const m = await loadMvtec(spec.root, spec.category);
    ({ train, test } = m);
    name = `synth:${spec.category}`;
  } else if (spec.kind === 'mvtec') {
    const m = await loadMvtec(spec.root, spec.category);
    ({ train, test } = m);
    name = `mvtec:${spec.category}`;
  } else {
    const f = d.folder;
    if (!f.normalDir) throw new UserError('dataset.folder.normalDir is required for folder: datasets (the folder of good images, relative to the --data folder)');
    const ds = await loadFolder({
      root: spec.dir,
      normalDir: f.normalDir,
      ...(f.abnormalDir ? { abnormalDir: f.abnormalDir } : {}),
      ...(f.maskDir ? { maskDir: f.maskDir } : {}),
      ...(f.normalTestDir ? { normalTestDir: f.normalTestDir } : {}),
      ...(f.extensions.length > 0 ? { extensions: f.extensions } : {}),
      // The schema always has a ratio (default 0.2); it only applies without normalTestDir.
      ...(f.normalTestDir ? {} : { normalSplitRatio: f.normalSplitRatio }),
      seed: config.seed,
      detect: true,
    });
    ({ train, test } = ds);
    const types = Object.entries(ds.layout.abnormal);
    o.onLog?.(`data: ${spec.dir}: good images in ${f.normalDir}/; ${types.length === 0 ? 'no defect folders (the threshold comes from good images only)' : `defect types ${types.map(([t, n]) => `${t} (${n})`).join(', ')}${f.abnormalDir ? '' : ' (sibling folders of good/)'}`}${ds.layout.maskDir ? `; masks in ${ds.layout.maskDir}${ds.layout.withoutMasks ? `, none for ${ds.layout.withoutMasks} defect images (no pixel metrics)` : ''}` : types.length ? '; no masks (ground_truth/<type>/<name>_mask.png would give pixel metrics)' : ''}`);
    name = `folder:${basename(spec.dir)}`;
  }
  if (d.limitTrain > 0 && d.limitTrain < train.length) train = seededSubset(train.length, d.limitTrain, config.seed, 'limit-train').map((i) => train[i]!);
  if (d.limitTest > 0 && d.limitTest < test.length) test = seededSubset(test.length, d.limitTest, config.seed, 'limit-test').map((i) => test[i]!);

  let p: Preprocessing;
  if (o.preprocessing) {
    if (o.preprocessing.kind !== 'files') throw new UserError(`the model was trained on an in-memory benchmark (${o.preprocessing.size.join('×')} arrays); test it with --data fmnist:<c>/mnist:<c>/cifar10:<c>, or use vigil predict for image files`);
    p = o.preprocessing;
  } else {
    const mode = config.preprocess.mode === 'auto' ? inputs.mode ?? 'rgb' : config.preprocess.mode;
    let transforms: TransformSpec[];
    try {
      transforms = config.preprocess.transforms
        ? parsePipeline(config.preprocess.transforms, 'preprocess.transforms')
        : inputs.transforms ?? [{ op: 'resize', size: [config.preprocess.size, config.preprocess.size] }];
    } catch (e) {
      throw new UserError((e as Error).message);
    }
    if (transforms.some(isRandomOp)) throw new UserError('preprocess.transforms: random ops (randomCrop, randomHorizontalFlip) cannot be used for evaluation transforms');
    p = { kind: 'files', mode, transforms };
  }
  const opts = { seed: config.seed, workers: config.train.workers ?? Math.min(4, o.threads ?? 2), skipUnreadable: d.skipUnreadable, cache: true, onWarning: (m: string) => o.onLog?.(`warning: ${m}`) };
  const [calibIdx, fitIdx] = o.testOnly ? [[], []] : holdout(train.map((s) => s.label), config.threshold, config.seed);
  let val: FileSplit | null = null;
  if (d.valFromTest > 0) {
    const [v, rest] = stratified(test.map((s) => s.label), d.valFromTest, config.seed, 'val');
    val = new FileSplit(v.map((i) => test[i]!), p, opts);
    test = rest.map((i) => test[i]!);
  }
  const trainSplit = new FileSplit(fitIdx.map((i) => train[i]!), p, opts);
  const calib = calibIdx.length > 0 ? new FileSplit(calibIdx.map((i) => train[i]!), p, opts) : null;
  const testSplit = test.length > 0 ? new FileSplit(test, p, opts) : null;
  // The input shape: run the eval pipeline on one image.
  const first = (o.testOnly ? test[0] : train[fitIdx[0] ?? 0]) ?? test[0];
  if (!first) throw new UserError(`dataset ${config.dataset.spec} has no images`);
  const img = applyPipeline({ image: await readImage(first.path, { mode: p.mode, ...decodeLimit(p) }) }, p.transforms, mulberry32(0)).image;
  const log = o.onLog ?? ((): void => {});
  const counts = (x: FileSplit | null): string => (x ? `${x.size}${x.labels.includes(1) ? ` (${x.labels.filter((l) => l === 0).length} good, ${x.labels.filter((l) => l === 1).length} anomalous)` : ''}` : '0');
  log(`data: ${name}: train ${trainSplit.size}, held-out normals ${calib?.size ?? 0}, validation ${counts(val)}, test ${counts(testSplit)}; inputs ${img.channels}×${img.height}×${img.width}`);
  const sourceSize = o.testOnly ? undefined : await trainingSize(train.map((t) => t.path), log);
  if (sourceSize && p.transforms.some((t) => t.op === 'centerCrop')) {
    const a = inspectedArea(p.transforms, sourceSize.height, sourceSize.width);
    if (a.share < 0.999) log(`note: the centre crop shows the model ${Math.round(a.right - a.left)}×${Math.round(a.bottom - a.top)} of each ${sourceSize.width}×${sourceSize.height} image (${(a.share * 100).toFixed(1)} % of its area); the outer ${Math.round(Math.min(a.top, a.left))} px are never inspected (overlays shade them; model.cropSize: null inspects everything)`);
  }
  const splits = [trainSplit, calib, val, testSplit];
  return {
    sourceSize,
    name,
    imageShape: [img.channels, img.height, img.width],
    preprocessing: p,
    train: trainSplit,
    calib,
    val,
    test: testSplit,
    close: async () => { for (const s of splits) await s?.close(); },
  };
}
