/**
 * One-class benchmarks built from a multi-class dataset, with the protocol of the Deep SVDD paper
 * (Ruff et al., ICML 2018, §4.1) and its code (lukasruff/Deep-SVDD-PyTorch):
 *   - train: the training images of the normal class only;
 *   - test:  the WHOLE test set, label 0 = normal class, 1 = any other class (anomaly).
 * Optional extras, both seeded: `validationFraction` holds out part of the normal training images;
 * `pollution` mixes anomalies (from the other classes' training images) into the training set.
 */
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { DatasetError } from './dataset-error.js';
import type { CifarSplit } from './formats/cifar.js';
import { readCifar10 } from './formats/cifar-python.js';
import { readIdxImages, readIdxLabels } from './formats/idx.js';
import type { LabeledImages } from './formats/types.js';
import { deriveSeed, mulberry32, permutation } from './random.js';

export type OneClassDatasetName = 'mnist' | 'fashion-mnist' | 'cifar10';

/** Where Debian's `dataset-fashion-mnist` package installs the four .gz files. */
export const FASHION_MNIST_DEFAULT_ROOT = '/usr/share/datasets/fashion-mnist';

export const FASHION_MNIST_CLASSES = [
  'T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot',
] as const;

export interface OneClassOptions {
  /** Dataset folder. Default: Fashion-MNIST → {@link FASHION_MNIST_DEFAULT_ROOT}; others have none. */
  root?: string;
  /** The class treated as normal, 0..9. */
  normalClass: number;
  /**
   * Fraction of the resulting training set that is anomalous, in [0, 1): with m normal training
   * images, round(p·m / (1 − p)) images of the other classes' training split are added
   * (Deep SAD's `ratio_pollution` definition). Default 0.
   */
  pollution?: number;
  /** Fraction of the normal training images held out as a validation set (normals only). Default 0. */
  validationFraction?: number;
  /** Seed of the validation and pollution draws. Default 0. */
  seed?: number;
}

/** A subset: images plus the binary anomaly label and the original class of each image. */
export interface OneClassSubset {
  /** uint8, N×C×H×W. */
  readonly images: Uint8Array;
  readonly shape: readonly [number, number, number, number];
  /** 0 = normal, 1 = anomaly. */
  readonly labels: Uint8Array;
  /** Original class ids. */
  readonly classes: Uint8Array;
  /** Index of each image in its source split (train or test file), ascending within each kind. */
  readonly sourceIndex: Int32Array;
}

export interface OneClassDataset {
  readonly name: OneClassDatasetName;
  readonly normalClass: number;
  readonly train: OneClassSubset;
  /** Empty (N = 0) unless `validationFraction` > 0. */
  readonly validation: OneClassSubset;
  readonly test: OneClassSubset;
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

const IDX_FILES = {
  train: ['train-images-idx3-ubyte', 'train-labels-idx1-ubyte'],
  test: ['t10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte'],
} as const;

/**
 * Finds an IDX file by its standard name, gzipped or not, in `root` or in the folders torchvision
 * uses (`<root>/raw`, `<root>/MNIST/raw`, `<root>/FashionMNIST/raw`).
 */
async function findIdxFile(root: string, base: string, dataset: OneClassDatasetName): Promise<string> {
  const dirs = [root, join(root, 'raw'), join(root, dataset === 'mnist' ? 'MNIST' : 'FashionMNIST', 'raw')];
  for (const dir of dirs) {
    for (const name of [base, `${base}.gz`]) {
      const path = join(dir, name);
      if (await exists(path)) return path;
    }
  }
  throw new DatasetError(
    'not-found',
    `${dataset}: ${base}[.gz] not found in ${dirs.join(', ')}; pass the folder holding the four IDX files as \`root\`, or download them (DATASET_SOURCES['${dataset}'])`,
    root,
  );
}

/** Reads one split of MNIST or Fashion-MNIST as N×1×28×28 images plus class labels. */
export async function readMnistLike(root: string, dataset: 'mnist' | 'fashion-mnist', split: CifarSplit): Promise<LabeledImages> {
  const [imgBase, lblBase] = IDX_FILES[split];
  const imgPath = await findIdxFile(root, imgBase, dataset);
  const lblPath = await findIdxFile(root, lblBase, dataset);
  const img = await readIdxImages(imgPath);
  const labels = await readIdxLabels(lblPath);
  if (labels.length !== img.count) {
    throw new DatasetError('bad-format', `${lblPath} has ${labels.length} labels but ${imgPath} has ${img.count} images`, lblPath);
  }
  return { images: img.data, labels, shape: [img.count, 1, img.height, img.width] };
}

/** Reads one split of any of the supported multi-class datasets. */
export async function readClassificationSplit(name: OneClassDatasetName, root: string, split: CifarSplit): Promise<LabeledImages> {
  if (name === 'cifar10') return readCifar10(root, split);
  return readMnistLike(root, name, split);
}

function subset(src: LabeledImages, indices: Int32Array, normalClass: number): OneClassSubset {
  const [, c, h, w] = src.shape;
  const per = c * h * w;
  const images = new Uint8Array(indices.length * per);
  const labels = new Uint8Array(indices.length);
  const classes = new Uint8Array(indices.length);
  for (let i = 0; i < indices.length; i++) {
    const j = indices[i]!;
    images.set(src.images.subarray(j * per, (j + 1) * per), i * per);
    classes[i] = src.labels[j]!;
    labels[i] = src.labels[j] === normalClass ? 0 : 1;
  }
  return { images, shape: [indices.length, c, h, w], labels, classes, sourceIndex: indices };
}

function checkFraction(value: number, field: string, allowOne: boolean): void {
  if (!Number.isFinite(value) || value < 0 || (allowOne ? value > 1 : value >= 1)) {
    throw new DatasetError('bad-option', `${field} must be in [0, 1${allowOne ? ']' : ')'}, got ${value}`);
  }
}

/**
 * Splits already-loaded train/test sets into a one-class benchmark. Pure given its inputs:
 * the same seed gives the same split.
 */
export function makeOneClassSplit(
  name: OneClassDatasetName,
  trainSet: LabeledImages,
  testSet: LabeledImages,
  options: Omit<OneClassOptions, 'root'>,
): OneClassDataset {
  const { normalClass } = options;
  const pollution = options.pollution ?? 0;
  const validationFraction = options.validationFraction ?? 0;
  const seed = options.seed ?? 0;
  if (!Number.isInteger(normalClass) || normalClass < 0 || normalClass > 9) {
    throw new DatasetError('bad-option', `normalClass must be an integer in 0..9, got ${normalClass}`);
  }
  checkFraction(pollution, 'pollution', false);
  checkFraction(validationFraction, 'validationFraction', false);

  const normal: number[] = [];
  const other: number[] = [];
  trainSet.labels.forEach((l, i) => (l === normalClass ? normal : other).push(i));
  if (normal.length === 0) {
    throw new DatasetError('empty', `${name}: no training images of class ${normalClass}`);
  }

  // Validation: a seeded draw of the normal indices; the rest stays in train.
  const nVal = Math.round(validationFraction * normal.length);
  const perm = permutation(normal.length, mulberry32(deriveSeed(seed, 'oneclass-validation')));
  const valIdx = Int32Array.from(perm.slice(0, nVal), (k) => normal[k]!).sort();
  const keepIdx = Int32Array.from(perm.slice(nVal), (k) => normal[k]!).sort();

  const nPoll = Math.round((pollution * keepIdx.length) / (1 - pollution));
  if (nPoll > other.length) {
    throw new DatasetError('bad-option', `pollution ${pollution} needs ${nPoll} anomalies but only ${other.length} are available`);
  }
  const permOther = permutation(other.length, mulberry32(deriveSeed(seed, 'oneclass-pollution')));
  const pollIdx = Int32Array.from(permOther.slice(0, nPoll), (k) => other[k]!).sort();

  const trainIdx = new Int32Array(keepIdx.length + pollIdx.length);
  trainIdx.set(keepIdx);
  trainIdx.set(pollIdx, keepIdx.length);
  trainIdx.sort();

  const testIdx = new Int32Array(testSet.shape[0]);
  for (let i = 0; i < testIdx.length; i++) testIdx[i] = i;

  return {
    name,
    normalClass,
    train: subset(trainSet, trainIdx, normalClass),
    validation: subset(trainSet, valIdx, normalClass),
    test: subset(testSet, testIdx, normalClass),
  };
}

/**
 * Loads a one-class benchmark from disk.
 *
 * Roots: MNIST / Fashion-MNIST: a folder with the four standard IDX files (`train-images-idx3-ubyte`,
 * `train-labels-idx1-ubyte`, `t10k-images-idx3-ubyte`, `t10k-labels-idx1-ubyte`, optionally `.gz`);
 * CIFAR-10: a folder holding `cifar-10-batches-bin/` or `cifar-10-batches-py/` (or one of those itself).
 *
 * @example
 * const ds = await loadOneClass('fashion-mnist', { normalClass: 0 });
 * ds.train.shape; // [6000, 1, 28, 28]
 * ds.test.shape;  // [10000, 1, 28, 28], ds.test.labels: 1000 zeros
 */
export async function loadOneClass(name: OneClassDatasetName, options: OneClassOptions): Promise<OneClassDataset> {
  const root = options.root ?? (name === 'fashion-mnist' ? FASHION_MNIST_DEFAULT_ROOT : undefined);
  if (root === undefined) {
    throw new DatasetError('bad-option', `${name}: \`root\` is required (the folder holding the dataset files)`);
  }
  if (!(await exists(root))) {
    throw new DatasetError('not-found', `${name}: dataset folder ${root} does not exist`, root);
  }
  const train = await readClassificationSplit(name, root, 'train');
  const test = await readClassificationSplit(name, root, 'test');
  return makeOneClassSplit(name, train, test, options);
}
