// Evaluation: the test pass (scores, streaming pixel metrics, the most/least anomalous images) and
// the metrics computed from it. Metrics only; files are written by artifacts.ts.
import { performance } from 'node:perf_hooks';
import { binaryMetrics, PixelMetricAccumulator } from '../eval/index.js';
import type { Detector } from '../methods/types.js';
import type { DataSplit } from './data.js';
import { scoreSplit, type Scored } from './score.js';
import type { ModelManifest, RunHooks, RunMetrics } from './types.js';

export interface Candidate { i: number; score: number; label: number; map?: Float32Array }

export interface TestPass {
  scored: Scored;
  pixel: PixelMetricAccumulator | null;
  /** The `k` highest and lowest scoring images (with maps), best first. */
  most: Candidate[];
  least: Candidate[];
  /** Wrong verdicts at the threshold (with maps): good parts judged NG, defects judged OK; at most MAX_ERROR_IMAGES each. */
  falseRejects: Candidate[];
  misses: Candidate[];
  seconds: number;
}

/** Wrong verdicts drawn in the report (each kind); all of them are listed in its table and metrics.json. */
export const MAX_ERROR_IMAGES = 48;

function pushBounded(list: Candidate[], c: Candidate, k: number, higherFirst: boolean): void {
  if (k === 0) return;
  list.push(c);
  list.sort((a, b) => (higherFirst ? b.score - a.score : a.score - b.score));
  if (list.length > k) list.length = k;
}

/** Scores the test split once, keeping only what the metrics and galleries need (not every map). */
export async function testPass(det: Detector, split: DataSplit, manifest: ModelManifest, o: { batchSize: number; gallery: number; hooks: RunHooks; device?: string }): Promise<TestPass> {
  const [, h, w] = manifest.imageShape;
  const pixel = split.hasMasks ? new PixelMetricAccumulator({ width: w, height: h, aupro: true }) : null;
  const most: Candidate[] = [];
  const least: Candidate[] = [];
  const falseRejects: Candidate[] = [];
  const misses: Candidate[] = [];
  const thr = manifest.threshold.image.value;
  const t0 = performance.now();
  const scored = await scoreSplit(det, split, {
    batchSize: o.batchSize,
    stage: 'test',
    keepMaps: false,
    hooks: o.hooks,
    ...(o.device ? { device: o.device } : {}),
    perImage: (i, score, label, map, mask) => {
      if (pixel && map && mask) pixel.add(map, mask);
      pushBounded(most, { i, score, label, ...(map ? { map } : {}) }, o.gallery, true);
      pushBounded(least, { i, score, label, ...(map ? { map } : {}) }, o.gallery, false);
      if (label === 0 && score >= thr) pushBounded(falseRejects, { i, score, label, ...(map ? { map } : {}) }, MAX_ERROR_IMAGES, true);
      if (label === 1 && score < thr) pushBounded(misses, { i, score, label, ...(map ? { map } : {}) }, MAX_ERROR_IMAGES, false);
    },
  });
  return { scored, pixel, most, least, falseRejects, misses, seconds: (performance.now() - t0) / 1000 };
}

/**
 * Image metrics (both classes needed), pixel metrics (masks and maps needed), verdicts at the
 * threshold: confusion, rates, per defect type, and every wrong verdict.
 */
export function computeMetrics(pass: TestPass, split: DataSplit, method: string, threshold: number, log: (m: string) => void): Pick<RunMetrics, 'image' | 'pixel' | 'confusion' | 'rates' | 'defects' | 'errors'> {
  const { scores, labels, ids, indices } = pass.scored;
  let image: RunMetrics['image'] = null;
  if (labels.includes(0) && labels.includes(1)) {
    const m = binaryMetrics(scores, Uint8Array.from(labels, (l) => (l === 1 ? 1 : 0)));
    image = { auroc: m.auroc, ap: m.averagePrecision, f1_max: m.f1Max, f1_threshold: m.f1Threshold };
  } else {
    log('test split has only one class: image AUROC/AP/F1 are not defined');
  }
  let pixel: RunMetrics['pixel'] = null;
  const acc = pass.pixel;
  if (acc) {
    if (acc.images === 0) {
      log(`test split has masks, but ${method} gives no anomaly maps: pixel metrics are not computed`);
    } else if (acc.positivePixels === 0 || acc.negativePixels === 0) {
      log(`the test masks have ${acc.positivePixels === 0 ? 'no anomalous' : 'no normal'} pixels: pixel AUROC/AP/AUPRO are not defined`);
    } else {
      const p = acc.compute();
      pixel = { auroc: p.auroc, ap: p.averagePrecision, aupro: p.aupro!, f1_max: p.f1Max };
    }
  }
  const errors: RunMetrics['errors'] = { false_rejects: [], misses: [] };
  let confusion: RunMetrics['confusion'] = null;
  let rates: RunMetrics['rates'] = null;
  if (!labels.includes(-1)) {
    const c = { tp: 0, fp: 0, tn: 0, fn: 0 };
    scores.forEach((s, i) => {
      const flag = s >= threshold;
      if (labels[i] === 1) flag ? c.tp++ : (c.fn++, errors.misses.push(ids[i]!));
      else flag ? (c.fp++, errors.false_rejects.push(ids[i]!)) : c.tn++;
    });
    confusion = c;
    rates = { false_reject: c.fp + c.tn > 0 ? c.fp / (c.fp + c.tn) : null, detection: c.tp + c.fn > 0 ? c.tp / (c.tp + c.fn) : null };
  }
  const defects: RunMetrics['defects'] = {};
  const byType = new Map<string, number[]>();
  scores.forEach((_, i) => {
    const type = split.defects[indices[i]!] || (labels[i] === 0 ? 'good' : labels[i] === 1 ? 'anomalous' : 'unlabelled');
    if (!byType.has(type)) byType.set(type, []);
    byType.get(type)!.push(i);
  });
  const good = [...byType.values()].flat().filter((i) => labels[i] === 0);
  for (const [type, idx] of [...byType].sort(([a], [b]) => (a === 'good' ? -1 : b === 'good' ? 1 : a.localeCompare(b)))) {
    const ng = idx.filter((i) => scores[i]! >= threshold).length;
    const anomalous = idx.every((i) => labels[i] === 1);
    let auroc: number | null = null;
    if (anomalous && good.length > 0) {
      const both = [...good, ...idx];
      auroc = binaryMetrics(Float32Array.from(both, (i) => scores[i]!), Uint8Array.from(both, (i) => (labels[i] === 1 ? 1 : 0))).auroc;
    }
    defects[type] = { images: idx.length, ng, rate: ng / idx.length, auroc };
  }
  return { image, pixel, confusion, rates, defects, errors };
}
