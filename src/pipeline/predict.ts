// `vigil predict`: a trained model on new image files → predictions.csv, heatmaps/, masks/.
// Predictor is the same path for one image at a time (the server): preprocessing as at training,
// scoring, verdict, normalisation and overlays all come from the run's manifest.
import { basename, extname, join, resolve } from 'node:path';
import { decodeImage, readImage, type Image } from '../data/image/index.js';
import { mulberry32 } from '../data/random.js';
import { applyPipeline } from '../data/transforms/index.js';
import type { Detector } from '../methods/types.js';
import { inspectedNote, predictionPngs } from './artifacts.js';
import { rethreshold, type ThresholdOverride } from './calibrate.js';
import { decodeLimit, FileSplit, loaderTransforms, postprocess } from './data.js';
import { InterruptedError, UserError } from './errors.js';
import { checkOutputFolder, csv, isPredictOutput, StagedFolder, writeAtomic } from './fsutil.js';
import { expandInputs, shardRange, type Shard } from './inputs.js';
import { loadDetector, readManifest, readRun, type Run } from './run-dir.js';
import { applyThreads, checkDevice, resolveThreads } from './runtime.js';
import { scoreBatch } from './score.js';
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
    return decodeImage(bytes, { mode: this.manifest.preprocessing.mode, ...decodeLimit(this.manifest.preprocessing), ...(name ? { name } : {}) });
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
      if (x.channels !== c || x.height !== h || x.width !== w) {
        throw new UserError(`the preprocessing of ${this.run.dir}/model/manifest.json (fields 'preprocessing.mode', 'preprocessing.transforms') turns image ${k + 1} into ${x.channels}×${x.height}×${x.width} inputs, but its 'imageShape' is ${c}×${h}×${w}`, { code: 'RUN_INVALID' });
      }
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
  /** Score only this task's block of the inputs (array jobs); the default output folder is per shard. */
  shard?: Shard;
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
  readManifest(runDir); // the run first: it is the first argument, and a wrong one makes the inputs moot
  const all = expandInputs(inputs);
  const [start, end] = o.shard ? shardRange(all.length, o.shard) : [0, all.length];
  const files = all.slice(start, end);
  const outDir = resolve(o.out ?? join(runDir, o.shard ? `predictions-shard-${o.shard.index}-of-${o.shard.count}` : 'predictions'));
  checkOutputFolder(outDir, '--out', isPredictOutput, 'the output of vigil predict (no predictions.csv)');
  const predictor = await Predictor.open(runDir, { ...(o.device ? { device: o.device } : {}), ...(o.threshold ? { threshold: o.threshold } : {}) });
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
  const [c, h, w] = m.imageShape;
  const total = Math.ceil(files.length / batchSize);
  if (o.shard) log(`shard ${o.shard.index}/${o.shard.count}: ${end > start ? `images ${start + 1}–${end}` : 'no image'} of ${all.length}`);
  log(`predict: ${files.length} image${files.length === 1 ? '' : 's'} in ${total} batch${total === 1 ? '' : 'es'} → ${outDir}`);
  // Everything goes to a fresh folder that replaces outDir at the end: no stale file of an earlier
  // run stays beside the new ones, and a killed run leaves the old folder as it was.
  const stage = new StagedFolder(outDir);
  const predictions: Prediction[] = [];
  let stopped: InterruptedError | null = null;
  try {
    let done = 0;
    for await (const b of split.batches({ batchSize })) {
      if (o.signal?.aborted) {
        stopped = o.signal.reason instanceof InterruptedError ? o.signal.reason : new InterruptedError();
        break;
      }
      const [n, bc, bh, bw] = b.shape;
      if (bc !== c || bh !== h || bw !== w) {
        throw new UserError(`the preprocessing of ${join(resolve(runDir), 'model', 'manifest.json')} (fields 'preprocessing.mode', 'preprocessing.transforms') turns ${b.ids[0]} into ${bc}×${bh}×${bw} inputs, but its 'imageShape' is ${c}×${h}×${w}; the file was changed after training: restore it, or retrain`, { code: 'RUN_INVALID' });
      }
      const r = scoreBatch(predictor.detector, b.images, b.shape, predictor.device);
      for (let k = 0; k < n; k++) {
        const path = b.ids[k]!;
        const score = r.scores[k]!;
        if (!Number.isFinite(score)) throw new Error(`${m.method}.score returned a non-finite score (${score}) for ${path}`);
        const v = predictor.judge(score);
        const pred: Prediction = { path, score: v.score, normalised: v.normalised, verdict: v.verdict };
        if (writeImages && r.maps) {
          const pngs = predictor.render(await readImage(path, { mode: 'rgb', ...decodeLimit(m.preprocessing) }), r.maps.subarray(k * h * w, (k + 1) * h * w))!;
          const name = uniqueName(path);
          pred.heatmap = `heatmaps/${name}.png`;
          pred.mask = `masks/${name}.png`;
          writeAtomic(join(stage.dir, pred.heatmap), pngs.heatmap);
          writeAtomic(join(stage.dir, pred.mask), pngs.mask);
        }
        predictions.push(pred);
      }
      o.onProgress?.({ stage: 'predict', done: ++done, total });
      // Let a signal handler run between batches.
      await new Promise((res) => setImmediate(res));
    }
    const skipped = split.skipped;
    const rows: Array<Array<string | number>> = predictions.map((p) => [p.path, p.score, p.normalised, p.verdict, threshold.value, p.heatmap ?? '', p.mask ?? '']);
    for (const s of skipped) rows.push([s.path, '', '', 'unreadable', threshold.value, '', '']);
    writeAtomic(join(stage.dir, 'predictions.csv'), csv(['path', 'score', 'normalised_score', 'verdict', 'threshold', 'heatmap', 'mask'], rows));
    stage.commit();
    if (stopped) {
      const msg = `interrupted after ${predictions.length} of ${files.length} images: ${join(outDir, 'predictions.csv')} lists those${writeImages ? ' (with their heatmaps and masks)' : ''}; run vigil predict again for all of them`;
      log(msg);
      throw new InterruptedError(stopped.signal, msg);
    }
    return { outDir, threshold, predictions, skipped };
  } catch (e) {
    stage.discard();
    throw e;
  } finally {
    predictor.dispose();
    await split.close();
  }

}
