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
  seconds: number;
}

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
    },
  });
  return { scored, pixel, most, least, seconds: (performance.now() - t0) / 1000 };
}

/** Image metrics (both classes needed), pixel metrics (masks and maps needed), confusion at the threshold. */
export function computeMetrics(pass: TestPass, method: string, threshold: number, log: (m: string) => void): Pick<RunMetrics, 'image' | 'pixel' | 'confusion'> {
  const { scores, labels } = pass.scored;
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
  let confusion: RunMetrics['confusion'] = null;
  if (!labels.includes(-1)) {
    const c = { tp: 0, fp: 0, tn: 0, fn: 0 };
    scores.forEach((s, i) => {
      const flag = s >= threshold;
      if (labels[i] === 1) flag ? c.tp++ : c.fn++;
      else flag ? c.fp++ : c.tn++;
    });
    confusion = c;
  }
  return { image, pixel, confusion };
}
