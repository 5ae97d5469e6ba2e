/**
 * A dataset from plain folders, like anomalib's `Folder`: normal images for training, optional
 * abnormal images (and masks) for testing. Abnormal images are only ever used for testing.
 * Without `normalTestDir`, a seeded `normalSplitRatio` share of the normal images (default 0.2,
 * anomalib's default) moves to the test set so that the test set has both classes.
 */
import { isAbsolute, join, resolve } from 'node:path';
import { DatasetError } from './dataset-error.js';
import {
  type AnomalySample,
  DEFAULT_IMAGE_EXTENSIONS,
  isDirectory,
  listImages,
  normalizeExtensions,
  stemKey,
} from './samples.js';
import { deriveSeed, mulberry32, permutation } from './random.js';

export interface FolderOptions {
  /** Base for relative directories. Default: the current directory. */
  root?: string;
  /** Normal images (required). One folder or several. */
  normalDir: string | readonly string[];
  /** Anomalous images (test only). */
  abnormalDir?: string | readonly string[];
  /** Normal test images. When set, no normal image is moved out of `normalDir`. */
  normalTestDir?: string | readonly string[];
  /**
   * Masks for the abnormal images, matched by path relative to the abnormal folder without the
   * extension, with an optional `_mask` suffix: `abnormal/a/x.png` ↔ `masks/a/x.png` or `masks/a/x_mask.png`.
   */
  maskDir?: string | readonly string[];
  /** Accepted extensions (case-insensitive). Default {@link DEFAULT_IMAGE_EXTENSIONS}. */
  extensions?: readonly string[];
  /** Share of normal images moved to test when `normalTestDir` is absent. Default 0.2; 0 disables. */
  normalSplitRatio?: number;
  /** Seed of the normal split. Default 0. */
  seed?: number;
  /** Descend into sub-folders. Default true. */
  recursive?: boolean;
}

export interface FolderDataset {
  readonly train: AnomalySample[];
  readonly test: AnomalySample[];
}

function asList(v: string | readonly string[] | undefined): string[] {
  if (v === undefined) return [];
  return typeof v === 'string' ? [v] : [...v];
}

async function collect(dirs: string[], field: string, root: string, extensions: Set<string>, recursive: boolean): Promise<Array<{ dir: string; file: string }>> {
  const out: Array<{ dir: string; file: string }> = [];
  for (const d of dirs) {
    const dir = isAbsolute(d) ? d : resolve(root, d);
    if (!(await isDirectory(dir))) {
      throw new DatasetError('not-found', `Folder dataset: ${field} ${dir} does not exist or is not a folder`, dir);
    }
    const files = await listImages(dir, extensions, recursive);
    if (files.length === 0) {
      throw new DatasetError(
        'empty',
        `Folder dataset: ${field} ${dir} has no images with extensions ${[...extensions].join(', ')}${recursive ? ' (searched sub-folders too)' : ''}; set \`extensions\` if your images use another one`,
        dir,
      );
    }
    for (const file of files) out.push({ dir, file });
  }
  return out;
}

/** Builds the train/test sample lists. Deterministic for a given seed. */
export async function loadFolder(options: FolderOptions): Promise<FolderDataset> {
  const root = options.root ?? process.cwd();
  const extensions = normalizeExtensions(options.extensions ?? DEFAULT_IMAGE_EXTENSIONS);
  const recursive = options.recursive ?? true;
  const normalDirs = asList(options.normalDir);
  const normalTestDirs = asList(options.normalTestDir);
  if (normalDirs.length === 0) throw new DatasetError('bad-option', 'Folder dataset: normalDir is required');
  if (normalTestDirs.length > 0 && options.normalSplitRatio !== undefined && options.normalSplitRatio > 0) {
    throw new DatasetError('bad-option', 'Folder dataset: normalSplitRatio only applies without normalTestDir; remove one of them');
  }
  const ratio = normalTestDirs.length > 0 ? 0 : options.normalSplitRatio ?? 0.2;
  if (!Number.isFinite(ratio) || ratio < 0 || ratio >= 1) {
    throw new DatasetError('bad-option', `Folder dataset: normalSplitRatio must be in [0, 1), got ${ratio}`);
  }

  const normals = await collect(normalDirs, 'normalDir', root, extensions, recursive);
  const nTest = Math.round(ratio * normals.length);
  if (nTest >= normals.length) {
    throw new DatasetError('bad-option', `Folder dataset: normalSplitRatio ${ratio} would leave no training images out of ${normals.length}`);
  }
  const moved = new Set(permutation(normals.length, mulberry32(deriveSeed(options.seed ?? 0, 'folder-normal-split'))).slice(0, nTest));
  const train: AnomalySample[] = [];
  const test: AnomalySample[] = [];
  normals.forEach(({ file }, i) => (moved.has(i) ? test : train).push({ path: file, label: 0, defect: 'good' }));
  for (const { file } of await collect(normalTestDirs, 'normalTestDir', root, extensions, recursive)) {
    test.push({ path: file, label: 0, defect: 'good' });
  }

  const abnormals = await collect(asList(options.abnormalDir), 'abnormalDir', root, extensions, recursive);
  const maskDirs = asList(options.maskDir);
  if (maskDirs.length > 0 && abnormals.length === 0) {
    throw new DatasetError('bad-option', 'Folder dataset: maskDir is set but abnormalDir is not; masks belong to abnormal images');
  }
  const masks = new Map<string, string>();
  for (const { dir, file } of await collect(maskDirs, 'maskDir', root, extensions, recursive)) {
    const key = stemKey(dir, file).replace(/_mask$/, '');
    const prev = masks.get(key);
    if (prev !== undefined) {
      throw new DatasetError('bad-format', `Folder dataset: masks ${prev} and ${file} both match images named '${key}'`, file);
    }
    masks.set(key, file);
  }
  for (const { dir, file } of abnormals) {
    if (maskDirs.length === 0) {
      test.push({ path: file, label: 1, defect: 'abnormal' });
      continue;
    }
    const key = stemKey(dir, file);
    const maskPath = masks.get(key);
    if (maskPath === undefined) {
      throw new DatasetError(
        'missing-mask',
        `Folder dataset: abnormal image ${file} has no mask in ${maskDirs.map((d) => (isAbsolute(d) ? d : join(root, d))).join(', ')}; expected ${key}.<ext> or ${key}_mask.<ext>`,
        file,
      );
    }
    test.push({ path: file, label: 1, defect: 'abnormal', maskPath });
  }
  return { train, test };
}
