// The `model` section of a KDAD run: one zod schema gives the keys, their types, the defaults and
// the TS type. Defaults are the authors' configs/config.yaml (rohban-lab/Knowledge_Distillation_AD
// @0c574ae: Adam lr 1e-3, batch 64, 201 epochs, λ 0.01, cloner 'B' without biases, direction and
// MSE terms, 'gbp' localisation) with the input handling they use for image folders (MVTec, OCT:
// Resize 128, ToTensor, no normalisation). Per-dataset settings are the presets in configs/kdad/.
import { z } from 'zod';
import { IMAGENET_MEAN, IMAGENET_STD, type TransformSpec } from '../../data/transforms/index.js';
import { parseOrThrow } from '../schema.js';
import { MethodInputError } from '../types.js';

/** OpenOOD's `normalization_dict['cifar10']` (openood/preprocessors/transform.py). */
export const CIFAR10_MEAN: readonly [number, number, number] = [0.4914, 0.4822, 0.4465];
export const CIFAR10_STD: readonly [number, number, number] = [0.2470, 0.2435, 0.2616];

export const kdadSchema = z.strictObject({
  teacher: z.strictObject({
    /** The source network: torchvision VGG16, frozen, ImageNet weights. */
    name: z.enum(['vgg16']).default('vgg16'),
    /** A .pth path; null = vgg16-397923af.pth in the torch hub cache; 'random' = untrained (tests, timing). */
    weights: z.string().nullable().default(null),
    /** Seed of the 'random' teacher (the same seed rebuilds the same teacher at load time). */
    randomSeed: z.int().min(0).default(0),
  }).prefault({}),
  /** Cloner: 'B' = the authors' small VGG (343,984 parameters), 'A' = VGG16-sized (`equal_network_size`). */
  student: z.enum(['B', 'A']).default('B'),
  /** λ, the weight of the MSE terms (authors: 0.01; MVTec 0.5). Spelled as in the authors' code. */
  lamda: z.number().min(0).default(0.01),
  /** Loss and score from the direction (1 − cos) terms only (`direction_loss_only`). */
  directionOnly: z.boolean().default(false),
  /** Anomaly maps: input gradients of the score ('gradients'), SmoothGrad, guided backprop, or none (scores only, faster). */
  localization: z.enum(['gradients', 'smoothgrad', 'gbp', 'none']).default('gbp'),
  /** SmoothGrad: noisy copies per image and the σ multiplier (authors: 50, 0.05). */
  smoothGrad: z.strictObject({
    samples: z.int().min(1).default(50),
    sigma: z.number().positive().default(0.05),
  }).prefault({}),
  /** σ of the Gaussian filter on the maps (authors: 4; 0 = none). */
  smoothing: z.number().min(0).default(4),
  train: z.strictObject({
    epochs: z.int().min(1).default(201),
    /** ≥ 2: the cloner has BatchNorm. */
    batchSize: z.int().min(2).default(64),
    lr: z.number().positive().default(1e-3),
  }).prefault({}),
  /**
   * Teacher outputs computed once per training image instead of every step (the teacher is frozen
   * and, without augmentation, sees the same images every epoch): 'memory', 'disk', 'auto' (memory
   * when it fits featureCacheMemoryMB, else disk on CPU and no cache on CUDA, where recomputing beats
   * reading), 'off'. Ignored (the teacher runs every step) when augmentation is on.
   */
  featureCache: z.enum(['auto', 'memory', 'disk', 'off']).default('auto'),
  /** float32 keeps the training trajectory identical to running the teacher; float16 halves the cache. */
  featureCacheDtype: z.enum(['float32', 'float16']).default('float32'),
  /** Folder of the disk cache (a temporary subfolder is made and removed); null = the system temp folder. */
  featureCacheDir: z.string().nullable().default(null),
  /** 'auto': the largest cache kept in memory, in MB; null = a quarter of the machine's RAM. */
  featureCacheMemoryMB: z.int().min(0).nullable().default(null),
  /** Train-time augmentation (not in the authors' code; OpenOOD's port flips and pads-and-crops). */
  augment: z.strictObject({
    hflip: z.boolean().default(false),
    /** RandomCrop to the image size after zero padding by this many pixels; 0 = none. */
    cropPadding: z.int().min(0).default(0),
  }).prefault({}),
  /** torchvision Resize((s, s)) of image files (authors: 32 MNIST/F-MNIST, 256 CIFAR-10, 128 MVTec). */
  imageSize: z.int().min(8).max(4096).default(128),
  /** PIL filter of that resize: CIFAR-10's `Image.ANTIALIAS` is lanczos. */
  interpolation: z.enum(['bilinear', 'lanczos']).default('bilinear'),
  /** CenterCrop after the resize (CIFAR-10: 224); null = none. */
  cropSize: z.int().min(8).max(4096).nullable().default(null),
  /** Normalisation after ToTensor: none (MNIST, MVTec), ImageNet (CIFAR-10), OpenOOD's CIFAR-10 constants. */
  normalize: z.enum(['none', 'imagenet', 'cifar10']).default('none'),
  /**
   * Where the transforms above run: 'pipeline' (image files, decoded and transformed by the data
   * loader), 'method' (the in-memory one-class sets, which reach the method as 28×28 or 32×32 arrays
   * in [0, 1]: the detector applies the same transforms itself, PIL-exact, and returns maps at the
   * array size), 'auto' = 'pipeline' when the data already has the transformed shape, else 'method'.
   */
  preprocessIn: z.enum(['auto', 'pipeline', 'method']).default('auto'),
  /** Computation precision; float64 exists for numerical checks. */
  dtype: z.enum(['float32', 'float64']).default('float32'),
});

export type KdadConfig = z.infer<typeof kdadSchema>;

export const KDAD_DEFAULTS: KdadConfig = kdadSchema.parse({});

/** Defaults filled in and validated; a bad value raises one error listing every issue by key. */
export function resolveKdadConfig(partial: unknown = {}): KdadConfig {
  return parseOrThrow(kdadSchema, partial, 'kdad', (m) => new MethodInputError(m));
}

/** The authors' per-dataset input transforms as Vigil transform specs (torchvision order). */
export function kdadTransforms(c: Pick<KdadConfig, 'imageSize' | 'interpolation' | 'cropSize' | 'normalize'>): TransformSpec[] {
  const t: TransformSpec[] = [{ op: 'resize', size: [c.imageSize, c.imageSize], interpolation: c.interpolation }];
  if (c.cropSize !== null) t.push({ op: 'centerCrop', size: c.cropSize });
  if (c.normalize === 'imagenet') t.push({ op: 'normalize', mean: [...IMAGENET_MEAN], std: [...IMAGENET_STD] });
  if (c.normalize === 'cifar10') t.push({ op: 'normalize', mean: [...CIFAR10_MEAN], std: [...CIFAR10_STD] });
  return t;
}

/** Side of the images the networks see. */
export function inputSide(c: Pick<KdadConfig, 'imageSize' | 'cropSize'>): number {
  return c.cropSize ?? c.imageSize;
}

export function augmentationOn(c: Pick<KdadConfig, 'augment'>): boolean {
  return c.augment.hflip || c.augment.cropPadding > 0;
}
