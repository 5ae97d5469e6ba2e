// Configuration of DRAEM: one zod schema (types, validation and defaults). The defaults are the
// authors' train_DRAEM.py / test_DRAEM.py settings (VitjanZ/DRAEM @ 2dbf673, README command
// `--bs 8 --lr 0.0001 --epochs 700`); the presets in configs/draem/ pick CPU-sized variants.
import { z } from 'zod';
import { parseOrThrow } from '../schema.js';
import { MethodInputError } from '../types.js';
import { DISCRIMINATIVE_WIDTH, RECONSTRUCTIVE_WIDTH } from './networks.js';

export const draemSchema = z.strictObject({
  /**
   * Where the pasted textures come from: a DTD-layout folder `<category>/*.jpg` (the paper: DTD,
   * `vigil datasets download dtd <dest>` then `<dest>/dtd/images`), or 'procedural' (generated
   * textures, so that DRAEM trains without a download; the paper's numbers need DTD).
   * Relative paths resolve against the working directory.
   */
  anomalySource: z.string().min(1).default('procedural'),
  /** ReconstructiveSubNetwork base_width (the authors' 128: 69,048,579 parameters). */
  reconstructiveWidth: z.int().min(1).default(RECONSTRUCTIVE_WIDTH),
  /** DiscriminativeSubNetwork base_channels (the authors' 64: 28,374,146 parameters). */
  discriminativeWidth: z.int().min(1).default(DISCRIMINATIVE_WIDTH),
  /** Square input size (the authors' 256; cv2.resize INTER_LINEAR); a multiple of 32 (five poolings in D). */
  imageSize: z.int().min(32).multipleOf(32).default(256),
  /**
   * Side of the average-pooling window of the image score (max of the pooled anomaly map).
   * null = the authors' 21 at 256², scaled with imageSize to the nearest odd size (11 at 128², 5 at 64²),
   * so that the window covers the same share of the image.
   */
  scoreWindow: z.int().min(1).nullable().default(null),
  /** 4-D weights and activations channels-last (same values up to summation order; see README for speed). */
  channelsLast: z.boolean().default(false),
  /**
   * How the 3×3 convolutions run on the CPU: 'winograd' (oneDNN's Winograd kernels, forward and
   * backward, where the addon was built with them: the same convolutions up to float32 rounding,
   * ~2.5× faster on AVX-512 CPUs, as cuDNN picks Winograd on a GPU), or 'direct' (libtorch's
   * kernels, as PyTorch on a CPU). Only float32 uses it; elsewhere both are the same.
   */
  convolution: z.enum(['winograd', 'direct']).default('winograd'),
  train: z.strictObject({
    epochs: z.int().min(1).default(700),
    /** BatchNorm needs at least 2 samples per batch. */
    batchSize: z.int().min(2).default(8),
    /** Adam on both sub-networks, one parameter group each. */
    lr: z.number().positive().default(1e-4),
    /**
     * MultiStepLR milestones as fractions of `epochs` (the authors' [0.8·E, 0.9·E]); the lr is
     * multiplied by `gamma` from each. As in PyTorch, a milestone f·E that is not a whole epoch is
     * never reached (the authors pass the floats as they are); pick epochs that make them whole.
     */
    milestones: z.array(z.number().gt(0).lt(1)).default([0.8, 0.9]),
    gamma: z.number().positive().default(0.2),
    /**
     * 'float32' (the authors), or 'bfloat16': mixed precision, as torch.autocast(dtype=bfloat16)
     * around the forward pass and loss (convolutions in bfloat16, weights, gradients and Adam in
     * float32). Several times faster on CPUs with AVX512-BF16/AMX and on recent GPUs, slower on
     * CPUs without them; a deviation from the paper (see the method's README).
     */
    precision: z.enum(['float32', 'bfloat16']).default('float32'),
  }).prefault({}),
  /**
   * Start from the authors' released checkpoints instead of training: the base path of a
   * `<base>.pckl` (ReconstructiveSubNetwork) + `<base>_seg.pckl` (DiscriminativeSubNetwork) pair,
   * e.g. checkpoints/DRAEM_seg_large_ae_large_0.0001_800_bs8_bottle_ (either file's path works too).
   * The widths must match the files'. null (or '') = train.
   */
  initFrom: z.string().nullable().default(null),
});

export type DraemConfig = z.infer<typeof draemSchema>;

export const DRAEM_DEFAULTS: DraemConfig = draemSchema.parse({});

/** Fills defaults and validates; errors name every bad field and what it must be. */
export function resolveDraemConfig(c: unknown = {}): DraemConfig {
  const r = parseOrThrow(draemSchema, c, 'draem', (m) => new MethodInputError(m));
  return r.initFrom === '' ? { ...r, initFrom: null } : r;
}

/** The image-score window: model.scoreWindow, or 21·imageSize/256 rounded to the nearest odd integer. */
export function scoreWindowOf(config: Pick<DraemConfig, 'scoreWindow' | 'imageSize'>): number {
  if (config.scoreWindow !== null) return config.scoreWindow;
  return Math.max(1, 2 * Math.round((21 * config.imageSize / 256 - 1) / 2) + 1);
}

/**
 * The epoch indices of the milestones (0-based; the lr drops from that epoch on), as PyTorch's
 * MultiStepLR treats the authors' float milestones: only whole numbers are ever reached.
 */
export function milestoneEpochs(epochs: number, fractions: readonly number[]): { milestones: number[]; unreachable: number[] } {
  const milestones: number[] = [];
  const unreachable: number[] = [];
  for (const f of fractions) {
    const m = epochs * f;
    (Number.isInteger(m) ? milestones : unreachable).push(m);
  }
  return { milestones, unreachable };
}
