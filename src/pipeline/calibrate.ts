// Calibration: the decision thresholds (image and pixel) and the score normalisation, from the
// images fit() never saw — held-out normals, a labelled validation split — or, as a last resort,
// the training images. The rules themselves are in threshold.ts.
import type { Detector } from '../methods/types.js';
import type { VigilConfig } from './config.js';
import type { PreparedData } from './data.js';
import { scoreSplit, type Scored } from './score.js';
import { chooseThreshold, choosePixelThreshold, minMaxOf, type Normalisation, type ThresholdInfo } from './threshold.js';
import type { RunHooks } from './types.js';

export interface Calibration {
  threshold: { image: ThresholdInfo; pixel: ThresholdInfo | null };
  /** Min/max over the calibration scores (held-out normals, validation, or training) and the threshold. */
  normalisation: { image: Normalisation; pixel: Normalisation | null };
}

export async function calibrate(det: Detector, data: PreparedData, config: VigilConfig, hooks: RunHooks, log: (m: string) => void, device = 'cpu'): Promise<Calibration> {
  const bs = config.train.batchSize;
  const opts = { batchSize: bs, keepMaps: true, hooks, device };
  const calib = data.calib ? await scoreSplit(det, data.calib, { ...opts, stage: 'calibrate' }) : null;
  const val = data.val ? await scoreSplit(det, data.val, { ...opts, stage: 'validate' }) : null;
  const train = !calib && !val ? await scoreSplit(det, data.train, { ...opts, stage: 'calibrate' }) : null;
  if (train) log('warning: no held-out normal images (threshold.holdout = 0) and no validation split: the threshold comes from training scores and will be optimistic');
  const t = config.threshold;
  const image = chooseThreshold(t.rule, t.quantile, t.value, {
    normal: calib?.scores ?? new Float32Array(0),
    ...(val ? { val: { scores: val.scores, labels: Uint8Array.from(val.labels, (l) => (l === 1 ? 1 : 0)) } } : {}),
    ...(train ? { train: train.scores } : {}),
  });
  const pool = [calib, val, train].filter((x): x is Scored => x !== null);
  const imageNorm: Normalisation = { threshold: image.value, ...minMaxOf([...pool.map((p) => p.scores), Float32Array.of(image.value)]) };
  let pixel: ThresholdInfo | null = null;
  let pixelNorm: Normalisation | null = null;
  if (pool.some((p) => p.maps.length > 0)) {
    const normalMaps = [...(calib?.maps ?? []), ...(train?.maps ?? [])];
    const valMasks = val && val.masks.length === val.maps.length && val.masks.length > 0 ? { maps: val.maps, masks: val.masks } : undefined;
    pixel = choosePixelThreshold(t.quantile, normalMaps, valMasks);
    pixelNorm = { threshold: pixel.value, ...minMaxOf([...pool.flatMap((p) => p.maps), Float32Array.of(pixel.value)]) };
  }
  log(`threshold: ${image.value.toPrecision(6)} (${image.rule}${image.quantile !== undefined ? ` q=${image.quantile}` : ''}, ${image.samples} images)${pixel ? `; pixel threshold ${pixel.value.toPrecision(6)} (${pixel.rule})` : ''}`);
  return { threshold: { image, pixel }, normalisation: { image: imageNorm, pixel: pixelNorm } };
}
