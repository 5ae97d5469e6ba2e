// Result and hook types shared by the pipeline steps and the library API.
import type { CalibrationSamples } from './calibrate.js';
import type { Preprocessing } from './data.js';
import type { Normalisation, ThresholdInfo } from './threshold.js';

export interface ProgressEvent {
  stage: string;
  done: number;
  total: number;
  values?: Record<string, number>;
}

export interface RunHooks {
  onProgress?: (e: ProgressEvent) => void;
  onLog?: (message: string) => void;
  /** Aborting stops the run at the next batch; the reason is rethrown (the CLI's InterruptedError). */
  signal?: AbortSignal;
  /** libtorch intra-op threads; default VIGIL_THREADS, else every available core. */
  threads?: number;
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
  /** The normal scores the thresholds came from (absent in models of Vigil ≤ 0.1). */
  calibration?: CalibrationSamples;
  /** Height × width of the training images as read (the most common size), for size warnings. */
  sourceSize?: { height: number; width: number; share: number };
  /** The detector's state().meta. */
  state_meta: Record<string, unknown>;
}

export interface RunMetrics {
  method: string;
  dataset: string;
  image: { auroc: number; ap: number; f1_max: number; f1_threshold: number } | null;
  pixel: { auroc: number; ap: number; aupro: number; f1_max: number } | null;
  threshold: ThresholdInfo & { description: string; normalised: 0.5; pixel: { value: number; rule: string; description: string } | null };
  /** Test images at the threshold: tp = anomalous flagged (NG), fp = normal flagged (false reject), fn = missed… */
  confusion: { tp: number; fp: number; tn: number; fn: number } | null;
  /** Rates at the threshold: good parts rejected, defects caught. */
  rates: { false_reject: number | null; detection: number | null } | null;
  /** Per defect type ('good' included): images, NG verdicts, and image AUROC against the good ones. */
  defects: Record<string, { images: number; ng: number; rate: number; auroc: number | null }>;
  /** Every wrong verdict on the test split, by image id. */
  errors: { false_rejects: string[]; misses: string[] };
  counts: { test: number; test_normal: number; test_anomalous: number; train?: number; held_out_normal?: number; validation?: number; skipped_unreadable: number };
  timing: { fit_s: number | null; test_s: number; infer_ms_per_image: number; threads: number; device: string };
  seed: number;
  images: Array<{ file: string; id: string; score: number; normalised: number; label: number }>;
  vigil_version: string;
}
