// PatchCore's `model` section: one zod schema (types, validation, defaults) and the eval-time
// transforms it implies.
import { z } from 'zod';
import type { TransformSpec } from '../../data/transforms/index.js';
import { IMAGENET_MEAN, IMAGENET_STD } from '../../data/transforms/index.js';
import { RESNET_LAYERS, RESNET_NAMES, type ResNetLayer, type ResNetName } from '../../models/backbones/index.js';
import { parseOrThrow } from '../schema.js';
import { MethodInputError } from '../types.js';

export const patchcoreSchema = z.strictObject({
  backbone: z.strictObject({
    name: z.enum(RESNET_NAMES as [ResNetName, ...ResNetName[]]).default('wide_resnet50_2'),
    /** A torchvision .pth path; null = the official file in the torch hub cache; 'random' = untrained (tests, timing). */
    weights: z.string().nullable().default(null),
    /** Seed of the 'random' weights. */
    randomSeed: z.int().min(0).default(0),
  }).prefault({}),
  /** Layers as configured; the first one sets the patch grid (as in the authors' code). */
  layers: z.array(z.enum(RESNET_LAYERS as [ResNetLayer, ...ResNetLayer[]])).min(1).default(['layer2', 'layer3']),
  patchSize: z.int().min(1).default(3),
  patchStride: z.int().min(1).default(1),
  pretrainEmbedDim: z.int().min(1).default(1024),
  embedDim: z.int().min(1).default(1024),
  coreset: z.strictObject({
    /** 'approx_greedy' (authors' runs), 'greedy' (exact initial anchors, O(N²)), 'none' (keep every patch). */
    method: z.enum(['approx_greedy', 'greedy', 'none']).default('approx_greedy'),
    ratio: z.number().gt(0).max(1).default(0.1),
    projectionDim: z.int().min(1).default(128),
    startingPoints: z.int().min(1).default(10),
  }).prefault({}),
  /** k neighbours; prune: exact search with a PCA lower bound that skips most of a large bank (same result). */
  knn: z.strictObject({ k: z.int().min(1).default(1), prune: z.boolean().default(true) }).prefault({}),
  /**
   * Resize before the crop: a side (authors: 256; the shorter side, as torchvision's Resize(int)),
   * or [height, width]. Without a crop a single side means a square imageSize × imageSize.
   */
  imageSize: z.union([z.int().min(8), z.tuple([z.int().min(8), z.int().min(8)])]).default(256),
  /** Centre crop side (authors: 224: the outer 12.5 % of each side is never seen); null = no crop, the whole image. */
  cropSize: z.int().min(8).nullable().default(224),
  /** σ of the map smoothing (authors: 4). */
  smoothing: z.number().min(0).default(4),
  memoryBank: z.strictObject({ dtype: z.enum(['float32', 'float16']).default('float32') }).prefault({}),
  /** Images per backbone forward during fit. */
  batchSize: z.int().min(1).default(8),
});

export type PatchCoreConfig = z.infer<typeof patchcoreSchema>;

export const PATCHCORE_DEFAULTS: PatchCoreConfig = patchcoreSchema.parse({});

/**
 * Resize → center crop → ImageNet normalisation, as patchcore-inspection's MVTecDataset; with
 * cropSize null, resize to imageSize × imageSize (or [h, w]) and no crop: every pixel is seen.
 */
export function patchcoreTransforms(config: Pick<PatchCoreConfig, 'imageSize' | 'cropSize'>): TransformSpec[] {
  const size: number | [number, number] = typeof config.imageSize === 'number' ? (config.cropSize === null ? [config.imageSize, config.imageSize] : config.imageSize) : [...config.imageSize];
  return [
    { op: 'resize', size, interpolation: 'bilinear' },
    ...(config.cropSize === null ? [] : [{ op: 'centerCrop' as const, size: config.cropSize }]),
    { op: 'normalize', mean: [...IMAGENET_MEAN], std: [...IMAGENET_STD] },
  ];
}

/** Fills defaults and validates; errors name every bad field and what it must be. */
export function resolvePatchCoreConfig(partial: unknown = {}): PatchCoreConfig {
  return parseOrThrow(patchcoreSchema, partial, 'patchcore', (m) => new MethodInputError(m));
}
