// `vigil predict`: a trained model on new image files → predictions.csv, heatmaps/, masks/.
// Predictor is the same path for one image at a time (the server): preprocessing as at training,
// scoring, verdict, normalisation and overlays all come from the run's manifest.
import { mkdirSync } from 'node:fs';
import { basename, extname, join, resolve } from 'node:path';
import { decodeImage, readImage, type Image } from '../data/image/index.js';
import { mulberry32 } from '../data/random.js';
import { applyPipeline } from '../data/transforms/index.js';
import type { Detector } from '../methods/types.js';
import { inspectedNote, predictionPngs } from './artifacts.js';
import { rethreshold, type ThresholdOverride } from './calibrate.js';
import { FileSplit, loaderTransforms, postprocess } from './data.js';
import { UserError } from './errors.js';
import { csv, writeAtomic } from './fsutil.js';
import { expandInputs } from './inputs.js';
import { loadDetector, readRun, type Run } from './run-dir.js';
import { applyThreads, checkDevice, resolveThreads } from './runtime.js';
import { scoreBatch, scoreSplit } from './score.js';
import { sizeMessage, warnSizes } from './sizes.js';
import { describeThreshold, normalise } from './threshold.js';
import type { ModelManifest, RunHooks } from './types.js';

export type Verdict = 'anomalous' | 'normal';

export interface ImagePrediction {
  score: number;
  /** (score − threshold)/(max − min) + 0.5, clamped to [0, 1]; 0.5 = the threshold. */
  normalised: number;
  verdict: Verdict;
  /** Threshold the verdict used. */
  threshold: number;
  /** Anomaly map at the model's input size, when the method localises. */
  map?: Float32Array;
  /** The image's size or aspect ratio differs from the training images' (see sizes.ts). */
  warnings?: string[];
}

/** A loaded model that turns decoded images into verdicts and heatmaps. */
export class Predictor {
  #det: Detector | null;
  #manifest: ModelManifest;
  /** The image-score threshold; starts as the manifest's (or the override's), an operator may change it. */
  threshold: number;

  private constructor(readonly run: Run, det: Detector, readonly device: string, override: ThresholdOverride) {
    this.#det = det;
    this.#manifest = { ...run.manifest, ...rethreshold(run.manifest, override) };
    this.threshold = this.#manifest.threshold.image.value;
  }

  /** Loads a run's model; `threshold` re-thresholds it (--threshold / --target-fpr) without retraining. */
  static async open(runDir: string, o: { device?: string; threshold?: ThresholdOverride } = {}): Promise<Predictor> {
    const run = readRun(runDir);
    const device = checkDevice(o.device ?? 'cpu');
    const override = o.threshold ?? {};
    rethreshold(run.manifest, override); // a bad override fails before the model loads
    const { det } = await loadDetector(run, device);
    return new Predictor(run, det, device, override);
  }

  /** The run's manifest, with the threshold override applied. */
  get manifest(): ModelManifest { return this.#manifest; }

  get detector(): Detector {
    if (!this.#det) throw new Error('Predictor: used after dispose()');
    return this.#det;
  }

  /** The verdict of a raw score under the current threshold. */
  judge(score: number, map?: Float32Array): ImagePrediction {
    const m = this.manifest;
    const norm = { ...m.normalisation.image, threshold: this.threshold };
    return { score, normalised: normalise(score, norm), verdict: score >= this.threshold ? 'anomalous' : 'normal', threshold: this.threshold, ...(map ? { map } : {}) };
  }

  /** Decodes image bytes in the colour mode the model was trained with. */
  decode(bytes: Uint8Array, name?: string): Promise<Image> {
    return decodeImage(bytes, { mode: this.manifest.preprocessing.mode, ...(name ? { name } : {}) });
  }

  /** Preprocesses (as at training) and scores decoded images in one batch. */
  predictImages(images: readonly Image[]): ImagePrediction[] {
    if (images.length === 0) return [];
    const p = this.manifest.preprocessing;
    const [c, h, w] = this.manifest.imageShape;
    const per = c * h * w;
    const batch = new Float32Array(images.length * per);
    images.forEach((img, k) => {
      const x = applyPipeline({ image: img }, loaderTransforms(p), mulberry32(0)).image;
      if (x.channels !== c || x.height !== h || x.width !== w) throw new UserError(`image ${k + 1} gives ${x.channels}×${x.height}×${x.width} inputs, the model expects ${c}×${h}×${w}`);
      batch.set(x.data, k * per);
    });
    postprocess(p, batch, images.length);
    const r = scoreBatch(this.detector, batch, [images.length, c, h, w], this.device);
    const source = this.manifest.sourceSize;
    return images.map((img, k) => {
      const v = this.judge(r.scores[k]!, r.maps?.slice(k * h * w, (k + 1) * h * w));
      const warning = source ? sizeMessage(img, source, 1, `image ${k + 1}`) : null;
      return warning ? { ...v, warnings: [warning.replace(/^warning: /, '')] } : v;
    });
  }

  /** Heatmap overlay and predicted-mask PNGs at the original image's size (null without maps). */
  render(img: Image, map: Float32Array | undefined): { heatmap: Uint8Array; mask: Uint8Array } | null {
    const norm = this.manifest.normalisation.pixel;
    return map && norm ? predictionPngs(img, map, this.manifest, norm) : null;
  }

  dispose(): void {
    this.#det?.dispose();
    this.#det = null;
  }
}

export interface PredictOptions extends RunHooks {
  /** Output folder (default <run>/predictions). */
  out?: string;
  batchSize?: number;
  /** Skip unreadable files (listed with verdict 'unreadable') instead of failing. */
  skipUnreadable?: boolean;
  /** Write heatmap and mask PNGs (default true). */
  images?: boolean;
  device?: string;
  /** --threshold <score> / --target-fpr <rate>: re-threshold without retraining. */
  threshold?: ThresholdOverride;
}

export interface Prediction {
  path: string;
  score: number;
  normalised: number;
  verdict: Verdict;
  /** Relative to the output folder; absent when the method gives no maps or images are off. */
  heatmap?: string;
  mask?: string;
}

export interface PredictResult {
  outDir: string;
  /** The threshold the verdicts used, and how it was set. */
  threshold: { value: number; rule: string; description: string };
  predictions: Prediction[];
  skipped: Array<{ path: string; reason: string }>;
}

export async function predict(runDir: string, inputs: readonly string[], o: PredictOptions = {}): Promise<PredictResult> {
  if (inputs.length === 0) throw new UserError('predict: give at least one image, folder or glob');
  const batchSize = o.batchSize ?? 16;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new UserError(`--batch-size must be a positive integer, got ${o.batchSize}`, { code: 'CONFIG_INVALID' });
  const threads = applyThreads(o.threads);
  const predictor = await Predictor.open(runDir, { ...(o.device ? { device: o.device } : {}), ...(o.threshold ? { threshold: o.threshold } : {}) });
  const files = expandInputs(inputs);
  const outDir = resolve(o.out ?? join(runDir, 'predictions'));
  const m = predictor.manifest;
  const log = o.onLog ?? ((): void => {});
  const ti = m.threshold.image;
  const threshold = { value: ti.value, rule: ti.rule, description: describeThreshold(ti) };
  log(`threshold: ${ti.value.toPrecision(6)}${ti.value !== predictor.run.manifest.threshold.image.value ? ` (overrides the model's ${predictor.run.manifest.threshold.image.value.toPrecision(6)})` : ''}: ${threshold.description}`);
  await warnSizes(files, m.sourceSize, log);
  const note = m.preprocessing.kind === 'files' ? inspectedNote(m.preprocessing.transforms, m) : null;
  if (note) log(`note: ${note}`);
  const split = new FileSplit(files.map((path) => ({ path })), m.preprocessing, { seed: 0, workers: Math.min(4, resolveThreads(threads)), skipUnreadable: o.skipUnreadable ?? false, cache: false });
  const writeImages = (o.images ?? true) && m.normalisation.pixel !== null;
  const names = new Map<string, number>();
  const uniqueName = (p: string): string => {
    const stem = basename(p, extname(p));
    const n = names.get(stem) ?? 0;
    names.set(stem, n + 1);
    return n === 0 ? stem : `${stem}-${n}`;
  };
  const predictions: Prediction[] = [];
  try {
    const scored: Array<{ score: number; map?: Float32Array }> = [];
    const r = await scoreSplit(predictor.detector, split, {
      batchSize, stage: 'predict', keepMaps: false, hooks: o, device: predictor.device,
      perImage: (_i, score, _l, map) => { scored.push({ score, ...(map ? { map } : {}) }); },
    });
    for (const [k, s] of scored.entries()) {
      o.signal?.throwIfAborted();
      const path = r.ids[k]!;
      const v = predictor.judge(s.score);
      const pred: Prediction = { path, score: v.score, normalised: v.normalised, verdict: v.verdict };
      if (writeImages && s.map) {
        const pngs = predictor.render(await readImage(path, { mode: 'rgb' }), s.map)!;
        const name = uniqueName(path);
        pred.heatmap = `heatmaps/${name}.png`;
        pred.mask = `masks/${name}.png`;
        mkdirSync(join(outDir, 'heatmaps'), { recursive: true });
        writeAtomic(join(outDir, pred.heatmap), pngs.heatmap);
        writeAtomic(join(outDir, pred.mask), pngs.mask);
      }
      predictions.push(pred);
    }
    const skipped = split.skipped;
    const rows: Array<Array<string | number>> = predictions.map((p) => [p.path, p.score, p.normalised, p.verdict, threshold.value, p.heatmap ?? '', p.mask ?? '']);
    for (const s of skipped) rows.push([s.path, '', '', 'unreadable', threshold.value, '', '']);
    writeAtomic(join(outDir, 'predictions.csv'), csv(['path', 'score', 'normalised_score', 'verdict', 'threshold', 'heatmap', 'mask'], rows));
    return { outDir, threshold, predictions, skipped };
  } finally {
    predictor.dispose();
    await split.close();
  }
}
