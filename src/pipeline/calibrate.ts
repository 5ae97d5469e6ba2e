// Calibration: the decision thresholds (image and pixel) and the score normalisation, from the
// images fit() never saw — held-out normals, a labelled validation split — or, as a last resort,
// the training images. The rules themselves are in threshold.ts. The normal scores are saved in
// the manifest, so `vigil test|predict --target-fpr` can re-threshold without retraining.
import type { Detector } from '../methods/types.js';
import type { VigilConfig } from './config.js';
import type { PreparedData } from './data.js';
import { UserError } from './errors.js';
import { scoreSplit } from './score.js';
import {
  chooseThreshold, choosePixelThreshold, describeThreshold, mapMaximum, minMaxOf, toleranceThreshold,
  type Normalisation, type ThresholdInfo, type ThresholdSettings,
} from './threshold.js';
import type { ModelManifest, RunHooks } from './types.js';

/** Fewer calibration images than this and the log and the report say the threshold is rough. */
export const FEW_CALIBRATION_IMAGES = 20;

/** What the thresholds were computed from (float32 values as numbers). */
export interface CalibrationSamples {
  /** Image scores of the normal calibration images. */
  normal: number[];
  /** Per-image maximum of their anomaly maps; null for methods without maps. */
  pixelMaxima: number[] | null;
  /** Where they came from: held-out training images + validation normals, or training images. */
  source: 'held-out' | 'training';
}

export interface Calibration {
  threshold: { image: ThresholdInfo; pixel: ThresholdInfo | null };
  /** Lowest normal calibration score (→ 0) and the threshold (→ 0.5); see threshold.ts. */
  normalisation: { image: Normalisation; pixel: Normalisation | null };
  calibration: CalibrationSamples;
}

export async function calibrate(det: Detector, data: PreparedData, config: VigilConfig, hooks: RunHooks, log: (m: string) => void, device = 'cpu'): Promise<Calibration> {
  const bs = config.train.batchSize;
  const opts = { batchSize: bs, keepMaps: true, hooks, device };
  const calib = data.calib ? await scoreSplit(det, data.calib, { ...opts, stage: 'calibrate' }) : null;
  const val = data.val ? await scoreSplit(det, data.val, { ...opts, stage: 'validate' }) : null;
  const valNormal = val ? val.labels.reduce<number[]>((a, l, i) => (l === 0 ? [...a, i] : a), []) : [];
  const held = (calib?.scores.length ?? 0) + valNormal.length;
  const train = held === 0 ? await scoreSplit(det, data.train, { ...opts, stage: 'calibrate' }) : null;
  if (train) log('warning: no held-out normal images (threshold.holdout = 0) and no validation normals: the threshold comes from training scores and will be optimistic');
  const normal = train ? train.scores : Float32Array.from([...(calib?.scores ?? []), ...valNormal.map((i) => val!.scores[i]!)]);
  const normalMaps = train ? train.maps : [...(calib?.maps ?? []), ...(val ? valNormal.map((i) => val.maps[i]).filter((m): m is Float32Array => m !== undefined) : [])];
  const t: ThresholdSettings = config.threshold;
  const image = chooseThreshold(t, {
    normal: train ? new Float32Array(0) : normal,
    ...(val ? { val: { scores: val.scores, labels: Uint8Array.from(val.labels, (l) => (l === 1 ? 1 : 0)) } } : {}),
    ...(train ? { train: train.scores } : {}),
  });
  const imageNorm: Normalisation = { threshold: image.value, ...minMaxOf([normal]) };
  let pixel: ThresholdInfo | null = null;
  let pixelNorm: Normalisation | null = null;
  const maxima = normalMaps.length > 0 ? Float32Array.from(normalMaps, mapMaximum) : null;
  if (maxima) {
    const valMasks = val && val.masks.length === val.maps.length && val.masks.length > 0 ? { maps: val.maps, masks: val.masks } : undefined;
    pixel = choosePixelThreshold(t, maxima, valMasks);
    pixelNorm = { threshold: pixel.value, ...minMaxOf(normalMaps) };
  }
  log(`threshold: ${image.value.toPrecision(6)}: ${describeThreshold(image)}`);
  if (pixel) log(`pixel threshold: ${pixel.value.toPrecision(6)}: ${describeThreshold(pixel, 'good parts have a pixel above it')}`);
  if (!train && normal.length < FEW_CALIBRATION_IMAGES && image.rule !== 'manual') {
    log(`warning: the threshold rests on ${normal.length} normal image${normal.length === 1 ? '' : 's'} (fewer than ${FEW_CALIBRATION_IMAGES}), so it is set wide to keep its promise; hold out more good images (threshold.holdoutMin, threshold.holdout) or add some for a tighter one`);
  }
  if (val && val.labels.includes(1)) {
    const bad = val.labels.filter((l) => l === 1).length;
    const caught = val.scores.filter((s, i) => val.labels[i] === 1 && s >= image.value).length;
    const rejected = valNormal.filter((i) => val.scores[i]! >= image.value).length;
    log(`validation at this threshold: ${caught} of ${bad} anomalous images NG, ${rejected} of ${valNormal.length} normal images NG`);
  }
  return {
    threshold: { image, pixel },
    normalisation: { image: imageNorm, pixel: pixelNorm },
    calibration: { normal: Array.from(normal), pixelMaxima: maxima ? Array.from(maxima) : null, source: train ? 'training' : 'held-out' },
  };
}

export interface ThresholdOverride {
  /** A raw image-score threshold. */
  threshold?: number;
  /** A false-reject rate: the tolerance rule re-run on the saved calibration scores. */
  targetFpr?: number;
  /** Its confidence; default the one the model was calibrated with (else 0.9). */
  confidence?: number;
}

/** The manifest's thresholds and normalisation with --threshold or --target-fpr applied. */
export function rethreshold(m: ModelManifest, o: ThresholdOverride): Pick<ModelManifest, 'threshold' | 'normalisation'> {
  if (o.threshold !== undefined && o.targetFpr !== undefined) throw new UserError('give --threshold or --target-fpr, not both', { code: 'CONFIG_INVALID' });
  if (o.threshold !== undefined) {
    if (!Number.isFinite(o.threshold)) throw new UserError(`--threshold must be a finite number, got ${o.threshold}`, { code: 'CONFIG_INVALID' });
    return {
      threshold: { image: { value: o.threshold, rule: 'manual', samples: 0 }, pixel: m.threshold.pixel },
      normalisation: { image: { ...m.normalisation.image, threshold: o.threshold }, pixel: m.normalisation.pixel },
    };
  }
  if (o.targetFpr === undefined) return { threshold: m.threshold, normalisation: m.normalisation };
  if (!(o.targetFpr > 0 && o.targetFpr < 1)) throw new UserError(`--target-fpr must be a rate in (0, 1), e.g. 0.01 for 1 %, got ${o.targetFpr}`, { code: 'CONFIG_INVALID' });
  const c = m.calibration;
  if (!c) throw new UserError('this model was saved without its calibration scores (vigil < 0.2); retrain it, or give --threshold <score>', { code: 'RUN_INVALID' });
  const confidence = o.confidence ?? m.threshold.image.confidence ?? 0.9;
  const image = toleranceThreshold(c.normal, o.targetFpr, confidence);
  const pixel = c.pixelMaxima && c.pixelMaxima.length > 0 ? toleranceThreshold(c.pixelMaxima, o.targetFpr, confidence) : m.threshold.pixel;
  if (c.source === 'training') image.rule = 'quantile-train';
  return {
    threshold: { image, pixel },
    normalisation: {
      image: { ...m.normalisation.image, threshold: image.value },
      pixel: m.normalisation.pixel && pixel ? { ...m.normalisation.pixel, threshold: pixel.value } : m.normalisation.pixel,
    },
  };
}
