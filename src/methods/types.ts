// The contract between a method (src/methods/<name>/) and the pipeline that feeds it data, saves
// it and evaluates it. A method sees preprocessed image tensors only; reading files, transforms,
// thresholds, metrics, reports and the CLI live above it.
import type { Tensor } from '../torch/index.js';

/** One batch of preprocessed images, N×C×H×W float32. Owned by the pipeline: disposed after use. */
export interface ImageBatch {
  images: Tensor;
  /** 0 normal / 1 anomalous, where known (polluted training sets); -1 unknown. */
  labels?: Int32Array;
  /** Position of each image in the dataset (stable across epochs). */
  indices?: number[];
}

export interface EpochOptions {
  epoch: number;
  batchSize: number;
  shuffle: boolean;
  /** Random training augmentation (for methods/presets that use it). */
  augment?: boolean;
}

/** The training images; each call to epoch() is one pass. Shuffling is seeded by (seed, epoch). */
export interface TrainData {
  readonly size: number;
  /** Channels, height and width of every image. */
  readonly imageShape: readonly [number, number, number];
  epoch(options: EpochOptions): AsyncIterable<ImageBatch>;
}

/** What fit() may report; the CLI turns it into progress bars and log lines. */
export interface FitContext {
  /** Seed for everything random in fit (the pipeline already called torch.manualSeed with it). */
  seed: number;
  log(message: string): void;
  /** stage e.g. 'pretrain', 'train', 'features', 'coreset'; unit e.g. 'epoch', 'batch', 'point'. */
  progress(stage: string, done: number, total: number, values?: Record<string, number>): void;
  /**
   * Called by iterative trainers at the end of each epoch with their resumable state; the pipeline
   * writes it atomically. Absent when the pipeline does not checkpoint.
   */
  checkpoint?(state: TrainingState): void;
  /** Set by `vigil train --resume`: the state from the last checkpoint() to continue from. */
  resume?: TrainingState;
  /** Set when the user asked to stop; trainers check it between batches. */
  signal?: AbortSignal;
}

/** Resumable training state: tensors (weights, optimiser moments) plus JSON-able bookkeeping. */
export interface TrainingState {
  tensors: Map<string, Tensor>;
  meta: { stage: string; epoch: number; [k: string]: unknown };
}

export interface ScoreResult {
  /** One anomaly score per image; higher = more anomalous. */
  scores: Float32Array;
  /** N×H×W anomaly maps at the input resolution (H×W of the batch), when the method localises. */
  maps?: Float32Array;
}

/** A detector: built from a config, fitted on normal images, then scores images. */
export interface Detector {
  readonly method: string;
  fit(data: TrainData, ctx: FitContext): Promise<void>;
  /** Scores a batch (eval mode, no grad, inside tidy). */
  score(images: Tensor): ScoreResult;
  /** Everything needed to rebuild the fitted detector: tensors (safetensors) + JSON. */
  state(): { tensors: Map<string, Tensor>; meta: Record<string, unknown> };
  dispose(): void;
}

export interface MethodDefinition<C extends object = Record<string, unknown>> {
  readonly name: string;
  readonly description: string;
  /** Defaults of the `model` section of the config; presets override them. */
  readonly defaults: C;
  /** A new, unfitted detector for images of the given C×H×W. */
  create(config: C, imageShape: readonly [number, number, number]): Detector;
  /** Rebuilds a fitted detector from state() output. Throws naming the key on a shape mismatch. */
  load(config: C, imageShape: readonly [number, number, number], state: { tensors: Map<string, Tensor>; meta: Record<string, unknown> }): Detector;
}
