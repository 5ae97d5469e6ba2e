// `vigil test`: a trained model on a dataset's test split (default: the one it was trained on) →
// metrics.json, scores.csv, report.html, images/. evaluateSplit() is also train's last step.
import { join, resolve } from 'node:path';
import type { Detector } from '../methods/types.js';
import { writeGalleries, writeMetricsAndReport, writeScoresCsv } from './artifacts.js';
import { applicableConfig, rejectIgnoredKeys, resizeUsedBy } from './applicable.js';
import { rethreshold, type ThresholdOverride } from './calibrate.js';
import { configToYaml, modelSchemaOf, resolveConfig, type VigilConfig } from './config.js';
import { checkMaskSizes } from './checks.js';
import { FileSplit, prepareData, type DataSplit } from './data.js';
import { ConfigError, InterruptedError, UserError } from './errors.js';
import { computeMetrics, testPass } from './evaluate.js';
import { checkOutputFolder, isVigilOutput, StagedFolder, writeAtomic } from './fsutil.js';
import { loadDetector, readRun, RunLog, specSlug } from './run-dir.js';
import { applyThreads, checkDevice } from './runtime.js';
import { warnIfConstant } from './score.js';
import { warnSizes } from './sizes.js';
import { describeThreshold } from './threshold.js';
import type { ModelManifest, RunHooks, RunMetrics } from './types.js';
import { VIGIL_VERSION } from './version.js';

export interface EvaluateInput {
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
  threads: number;
  device: string;
}

/** Test pass → metrics → scores.csv, galleries, metrics.json, report.html. */
export async function evaluateSplit(e: EvaluateInput): Promise<RunMetrics> {
  const { manifest, split } = e;
  if (split instanceof FileSplit) await warnSizes(split.ids, manifest.sourceSize, e.log);
  const pass = await testPass(e.det, split, manifest, { batchSize: e.config.train.batchSize, gallery: e.config.output.images, hooks: e.hooks, device: e.device });
  warnIfConstant(pass.scored.scores, 'test', e.log);
  const thr = manifest.threshold.image.value;
  const { image, pixel, confusion, rates, defects, errors } = computeMetrics(pass, split, manifest.method, thr, e.log);
  writeScoresCsv(e.outDir, pass, split, manifest);
  const galleries = await writeGalleries(e.outDir, pass, split, manifest);
  const { labels, scores } = pass.scored;
  const metrics: RunMetrics = {
    method: manifest.method,
    dataset: e.dataset,
    image,
    pixel,
    threshold: {
      ...manifest.threshold.image,
      description: describeThreshold(manifest.threshold.image),
      normalised: 0.5,
      pixel: manifest.threshold.pixel ? { value: manifest.threshold.pixel.value, rule: manifest.threshold.pixel.rule, description: describeThreshold(manifest.threshold.pixel, 'good parts have a pixel above it') } : null,
    },
    confusion,
    rates,
    defects,
    errors,
    counts: {
      ...e.counts,
      test: scores.length,
      test_normal: labels.filter((l) => l === 0).length,
      test_anomalous: labels.filter((l) => l === 1).length,
      // Unreadable files of every split (train passes its own in counts) plus the test split's.
      skipped_unreadable: (e.counts.skipped_unreadable ?? 0) + (split instanceof FileSplit ? split.skipped.length : 0),
    },
    timing: { fit_s: e.fitS, test_s: pass.seconds, infer_ms_per_image: scores.length ? pass.scored.inferMs / scores.length : 0, threads: e.threads, device: e.device },
    seed: manifest.seed,
    images: galleries.images,
    vigil_version: VIGIL_VERSION,
  };
  writeMetricsAndReport(e.outDir, metrics, pass, split, galleries, manifest, e.config, e.dataset);
  if (confusion) e.log(`verdicts: ${confusion.tp} of ${confusion.tp + confusion.fn} defects NG, ${confusion.fp} of ${confusion.fp + confusion.tn} good parts NG (false reject${confusion.fp === 1 ? '' : 's'})`);
  e.log(`test: ${scores.length} image${scores.length === 1 ? '' : 's'}${image ? `, image AUROC ${image.auroc.toFixed(4)}, AP ${image.ap.toFixed(4)}, F1-max ${image.f1_max.toFixed(4)}` : ''}${pixel ? `, pixel AUROC ${pixel.auroc.toFixed(4)}, AUPRO ${pixel.aupro.toFixed(4)}` : ''}`);
  return metrics;
}

export interface TestOptions extends RunHooks {
  /** Another dataset to evaluate on (default: the training dataset's test split). */
  data?: string;
  dataRoot?: string;
  set?: readonly string[];
  /** Output folder (default <run>/test-<dataset>). */
  out?: string;
  device?: string;
  /** --threshold <score> / --target-fpr <rate>: re-threshold without retraining. */
  threshold?: ThresholdOverride;
}

export interface TestResult {
  outDir: string;
  metrics: RunMetrics;
}

export async function test(runDir: string, o: TestOptions = {}): Promise<TestResult> {
  rejectIgnoredKeys('test', o.set ?? []);
  const run = readRun(runDir);
  const manifest: ModelManifest = { ...run.manifest, ...rethreshold(run.manifest, o.threshold ?? {}) };
  const threads = applyThreads(o.threads);
  const device = checkDevice(o.device ?? 'cpu');
  const { det, method } = await loadDetector(run, device);
  let stage: StagedFolder | null = null;
  try {
    const flags: Record<string, unknown> = { device };
    if (o.dataRoot !== undefined) flags.dataset = { root: resolve(o.dataRoot) };
    let config: VigilConfig;
    try {
      ({ config } = resolveConfig({
        method: run.manifest.method,
        modelSchema: modelSchemaOf(method),
        fileLayer: { ...run.config, output: { ...(run.config.output as object), dir: null } },
        ...(o.data ? { data: o.data } : {}),
        ...(o.set ? { set: o.set } : {}),
        flags,
      }));
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e;
      throw new UserError(`${e.message}\n  (from ${join(run.dir, 'config.yaml')}${o.set?.length ? ' and --set' : ''})`, { code: 'CONFIG_INVALID', cause: e });
    }
    const outDir = resolve(o.out ?? join(run.dir, `test-${specSlug(config.dataset.spec)}`));
    checkOutputFolder(outDir, '--out', (d) => isVigilOutput(d, 'test'), 'the output of an earlier vigil test');
    // Written to a fresh folder that replaces outDir at the end: no file of an earlier test stays.
    stage = new StagedFolder(outDir);
    const { log } = new RunLog(join(stage.dir, 'log.txt'), o.onLog);
    log(`vigil ${VIGIL_VERSION} test: model ${run.dir} (${run.manifest.method}), data ${config.dataset.spec}, ${threads} thread${threads === 1 ? '' : 's'}, device ${device}, results ${outDir}`);
    const data = await prepareData(config, method.inputs?.(config.model) ?? {}, { preprocessing: run.manifest.preprocessing, testOnly: true, onLog: log, threads });
    try {
      if (data.imageShape.join('×') !== run.manifest.imageShape.join('×')) {
        throw new UserError(`dataset ${config.dataset.spec} gives ${data.imageShape.join('×')} inputs but the model expects ${run.manifest.imageShape.join('×')} (fields 'preprocessing' and 'imageShape' of ${join(run.dir, 'model', 'manifest.json')})`);
      }
      if (!data.test || data.test.size === 0) throw new UserError(`dataset ${config.dataset.spec} has no test images`);
      await checkMaskSizes([data.test]);
      const ti = manifest.threshold.image;
      if (o.threshold?.threshold !== undefined || o.threshold?.targetFpr !== undefined) {
        config.threshold = { ...config.threshold, rule: ti.rule === 'manual' ? 'manual' : 'tolerance', value: ti.rule === 'manual' ? ti.value : null, ...(ti.targetFpr !== undefined ? { targetFpr: ti.targetFpr, confidence: ti.confidence! } : {}) };
        log(`threshold: ${ti.value.toPrecision(6)} (overrides the model's ${run.manifest.threshold.image.value.toPrecision(6)}): ${describeThreshold(ti)}`);
      }
      writeAtomic(join(stage.dir, 'config.yaml'), configToYaml(applicableConfig(config, resizeUsedBy(manifest.preprocessing, config.preprocess.size))));
      const metrics = await evaluateSplit({ det, manifest, config, split: data.test, outDir: stage.dir, dataset: data.name, fitS: null, log, hooks: o, counts: {}, threads, device });
      stage.commit();
      return { outDir, metrics };
    } finally {
      await data.close();
    }
  } catch (e) {
    stage?.discard();
    if (o.signal?.aborted && o.signal.reason instanceof InterruptedError) {
      throw new InterruptedError(o.signal.reason.signal, `interrupted; nothing was written${stage ? ` (${stage.target} is as it was)` : ''}`);
    }
    throw e;
  } finally {
    det.dispose();
  }
}
