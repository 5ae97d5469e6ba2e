/**
 * A dataset from plain folders, like anomalib's `Folder`: normal images for training, optional
 * abnormal images (and masks) for testing. Abnormal images are only ever used for testing.
 * Without `normalTestDir`, a seeded `normalSplitRatio` share of the normal images (default 0.2,
 * anomalib's default) moves to the test set so that the test set has both classes.
 *
 * With `detect: true` (what `--data folder:<dir>` uses), the layout is read from the folder names:
 *   <root>/good/…                         normal images (normalDir)
 *   <root>/<type>/…                       every other sibling folder: defect images of that type
 *   <root>/ground_truth/<type>/<stem>_mask.png   their masks (or masks/; `<stem>.png` works too)
 * Explicit abnormalDir / maskDir override the detection.
 */
import { readdir } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';
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
  /** Find the defect folders (siblings of normalDir) and the mask folder (ground_truth/ or masks/) when not given. */
  detect?: boolean;
}

export interface FolderDataset {
  readonly train: AnomalySample[];
  readonly test: AnomalySample[];
  /** What was used: defect folders (type → images) and the mask folder, detected or given. */
  readonly layout: { abnormal: Record<string, number>; maskDir: string | null; withoutMasks: number };
}

/** Folder names that hold masks, not images to judge. */
export const MASK_FOLDER_NAMES: readonly string[] = ['ground_truth', 'ground-truth', 'groundtruth', 'masks', 'mask', 'gt'];

/** The sibling folders of normalDir (relative to root) that are defect types; the mask folder if any. */
async function detectLayout(root: string, normalDir: string, exclude: readonly string[]): Promise<{ abnormal: string[]; maskDir: string | null }> {
  const normal = isAbsolute(normalDir) ? normalDir : resolve(root, normalDir);
  const parent = dirname(normal);
  const skip = new Set([normal, ...exclude.map((d) => (isAbsolute(d) ? d : resolve(root, d)))]);
  const abnormal: string[] = [];
  let maskDir: string | null = null;
  let entries: import('node:fs').Dirent[];
  try {
    entries = await readdir(parent, { withFileTypes: true });
  } catch {
    return { abnormal, maskDir };
  }
  for (const e of entries.sort((a, b) => (a.name < b.name ? -1 : 1))) {
    if (!e.isDirectory() || e.name.startsWith('.')) continue;
    const full = join(parent, e.name);
    if (skip.has(full)) continue;
    if (MASK_FOLDER_NAMES.includes(e.name.toLowerCase())) { maskDir ??= full; continue; }
    abnormal.push(full);
  }
  return { abnormal, maskDir };
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

  let abnormalDirs = asList(options.abnormalDir);
  let maskDirs = asList(options.maskDir);
  let autoMasks = false;
  if (options.detect && typeof options.normalDir === 'string') {
    const found = await detectLayout(root, options.normalDir, [...normalTestDirs, ...maskDirs]);
    if (abnormalDirs.length === 0) abnormalDirs = (await Promise.all(found.abnormal.map(async (d) => ((await listImages(d, extensions, recursive)).length > 0 ? d : null)))).filter((d): d is string => d !== null);
    if (maskDirs.length === 0 && found.maskDir && abnormalDirs.length > 0) { maskDirs = [found.maskDir]; autoMasks = true; }
  }
  const abnormals = await collect(abnormalDirs, 'abnormalDir', root, extensions, recursive);
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
  const layout = { abnormal: {} as Record<string, number>, maskDir: maskDirs.length > 0 ? maskDirs.map((d) => (isAbsolute(d) ? d : join(root, d))).join(', ') : null, withoutMasks: 0 };
  for (const { dir, file } of abnormals) {
    const type = basename(dir);
    layout.abnormal[type] = (layout.abnormal[type] ?? 0) + 1;
    if (maskDirs.length === 0) {
      test.push({ path: file, label: 1, defect: type });
      continue;
    }
    // ground_truth/<type>/<stem>_mask.png beside <type>/<stem>.png, or <stem>_mask.png directly in the mask folder.
    const key = stemKey(dir, file);
    const maskPath = masks.get(key) ?? masks.get(`${type}/${key}`);
    if (maskPath === undefined) {
      // Detected masks: a defect type without a folder of masks is simply unmasked.
      const typeHasMasks = [...masks.keys()].some((k) => k.startsWith(`${type}/`));
      if (autoMasks && !typeHasMasks) {
        layout.withoutMasks++;
        test.push({ path: file, label: 1, defect: type });
        continue;
      }
      throw new DatasetError(
        'missing-mask',
        `Folder dataset: abnormal image ${file} has no mask in ${maskDirs.map((d) => (isAbsolute(d) ? d : join(root, d))).join(', ')}; expected ${autoMasks ? `${type}/${key}_mask.<ext> or ` : ''}${key}.<ext> or ${key}_mask.<ext>`,
        file,
      );
    }
    test.push({ path: file, label: 1, defect: type, maskPath });
  }
  return { train, test, layout };
}
