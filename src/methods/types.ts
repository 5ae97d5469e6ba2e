// The contract between a method (src/methods/<name>/) and the pipeline that feeds it data, saves
// it and evaluates it. A method sees preprocessed image tensors only; reading files, transforms,
// thresholds, metrics, reports and the CLI live above it.
import type { Tensor } from '../torch/index.js';
import type { ZodType } from 'zod';
import type { TransformSpec } from '../data/transforms/index.js';

/**
 * A problem with the user's data or settings that a method finds (e.g. images of the wrong size
 * for a fixed-size network): the CLI prints it and exits 1. Bugs stay plain Errors (exit 2).
 */
export class MethodInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MethodInputError';
  }
}

/** One batch of preprocessed images, N×C×H×W float32. Owned by the pipeline: disposed after use. */
export interface ImageBatch {
  images: Tensor;
  /** 0 normal / 1 anomalous, where known (polluted training sets); -1 unknown. */
  labels?: Int32Array;
  /** Position of each image in the dataset (stable across epochs). */
  indices?: number[];
  /**
   * Outputs of the method's train-time augmentation (MethodInputs.trainAugment), by name, e.g.
   * DRAEM's `augmented`, `mask`, `hasAnomaly`; on the batch's device, owned by the pipeline.
   */
  extra?: Record<string, Tensor>;
}

/**
 * How an epoch draws its batches: 'sequential' = dataset order; 'shuffle' = each image once, in a
 * permutation seeded by (seed, epoch); 'replacement' = `size` indices drawn uniformly with
 * replacement, seeded by (seed, epoch), batched in draw order (DRAEM's sampler: torch.randint per item).
 */
export type Sampling = 'sequential' | 'shuffle' | 'replacement';

export interface EpochOptions {
  epoch: number;
  batchSize: number;
  shuffle: boolean;
  /**
   * Run the method's train-time augmentation/synthesis (MethodInputs.trainAugment) on each batch;
   * its outputs arrive in ImageBatch.extra. Ignored when the method declares none.
   */
  augment?: boolean;
  /**
   * Takes precedence over `shuffle`; the shared trainer sets both (shuffle = sampling !== 'sequential').
   */
  sampling?: Sampling;
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

/**
 * Resumable training state: tensors (weights, optimiser moments) plus JSON-able bookkeeping.
 * The shared trainer's layout (src/methods/components/trainer.ts): tensors `<module>.<key>`,
 * `optim.<param>.<field>` and the stage's own; meta { stage, epoch, optimGroups, scheduler, … }.
 */
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
  /**
   * Scores a batch; the pipeline calls it inside tidy with grad disabled. A method whose maps
   * need gradients (KDAD's gradient localisation) may turn grad on itself with torch.enableGrad.
   */
  score(images: Tensor): ScoreResult;
  /** Everything needed to rebuild the fitted detector: tensors (safetensors) + JSON. */
  state(): { tensors: Map<string, Tensor>; meta: Record<string, unknown> };
  dispose(): void;
}

/**
 * Train-time augmentation or anomaly synthesis, run batched in the data loader's worker threads
 * (functions cannot cross threads, so the method names a module and an export). The export is
 * called as `fn(batch, ctx, options)`; see src/pipeline/augment.ts for the signature.
 */
/** The batch a train-time augmentation gets: N×C×H×W float32, as the eval transforms made it. */
export interface AugmentInput {
  images: Float32Array;
  shape: [number, number, number, number];
}

export interface AugmentContext {
  seed: number;
  epoch: number;
  /** Dataset index of each image (repeats possible when sampling with replacement). */
  indices: number[];
  /** Position of each image in the epoch: unique within an epoch; seed per-sample randomness with it. */
  positions: number[];
}

/** Named arrays (e.g. DRAEM's augmented image, mask, has-anomaly flag); they reach fit() as tensors in ImageBatch.extra. */
export type AugmentOutput = Record<string, { data: Float32Array; shape: number[] }>;

export type AugmentFn = (batch: AugmentInput, ctx: AugmentContext, options: Record<string, unknown>) => AugmentOutput | Promise<AugmentOutput>;

export interface TrainAugmentation {
  /** Module URL (e.g. `new URL('./synthesis.js', import.meta.url).href`). */
  module: string;
  export: string;
  /** JSON-able options passed to every call. */
  options: Record<string, unknown>;
}

/** What a method needs from the data side, derived from its `model` config. */
export interface MethodInputs {
  /** Colour mode for image files; default rgb. */
  mode?: 'rgb' | 'gray';
  /** Eval-time transforms for image files (e.g. PatchCore's resize/crop/ImageNet normalisation). */
  transforms?: TransformSpec[];
  /** Train-time augmentation/synthesis in the loader workers (DRAEM's synthetic anomalies). */
  trainAugment?: TrainAugmentation;
}

export interface CreateOptions {
  /** 'cpu' (default), 'cuda', 'cuda:1'; parameters, buffers and saved state live there. */
  device?: string;
}

export interface MethodDefinition<C extends object = Record<string, unknown>> {
  readonly name: string;
  readonly description: string;
  /**
   * The `model` section's schema: types, validation and defaults in one place (zod). Parsing `{}`
   * gives `defaults`. A method without one gets a schema inferred from `defaults`.
   */
  readonly schema?: ZodType<C>;
  /**
   * Fewest training images the method can fit (default 1): the pipeline refuses fewer before
   * fitting, e.g. a per-pixel standard deviation needs two.
   */
  readonly minTrainImages?: number;
  /** Defaults of the `model` section of the config; presets override them. */
  readonly defaults: C;
  /** What the data side must give the method; absent = rgb, the pipeline's default resize. */
  inputs?(config: C): MethodInputs;
  /** A new, unfitted detector for images of the given C×H×W. */
  create(config: C, imageShape: readonly [number, number, number], options?: CreateOptions): Detector;
  /** Rebuilds a fitted detector from state() output. Throws naming the key on a shape mismatch. */
  load(config: C, imageShape: readonly [number, number, number], state: { tensors: Map<string, Tensor>; meta: Record<string, unknown> }, options?: CreateOptions): Detector;
}
