/**
 * MVTec AD layout (Bergmann et al., CVPR 2019; https://www.mvtec.com/company/research/datasets/mvtec-ad):
 *
 *   <root>/<category>/train/good/*.png
 *   <root>/<category>/test/good/*.png, test/<defect>/*.png
 *   <root>/<category>/ground_truth/<defect>/<stem>_mask.png
 *
 * Ground-truth masks: the files hold only 0 and 255, so at native resolution "pixel > 0" is exact.
 * What the reference codes do after resizing differs and matters for pixel metrics:
 *   - anomalib (`read_mask`): reads at native size, divides by 255 and casts to uint8 → 255 ↦ 1;
 *   - patchcore-inspection: Resize(bilinear) → CenterCrop → ToTensor, then `.astype(int)` in its
 *     metric → only interpolated values exactly 1.0 count (truncation, not "> 0.5");
 *   - DRAEM (and OpenOOD's port): cv2 INTER_LINEAR resize, /255, `astype(np.uint8)` → same truncation.
 * The rule recommended to the mask loader is `value > 0` at native resolution (exact for MVTec's
 * 0/255 files), then nearest-neighbour resizing; this module only finds the files.
 */
import { readdir } from 'node:fs/promises';
import { basename, extname, join } from 'node:path';
import { DatasetError } from './dataset-error.js';
import { type AnomalySample, isDirectory, isFile, listImages, normalizeExtensions } from './samples.js';

export const MVTEC_CATEGORIES = [
  'bottle', 'cable', 'capsule', 'carpet', 'grid', 'hazelnut', 'leather', 'metal_nut',
  'pill', 'screw', 'tile', 'toothbrush', 'transistor', 'wood', 'zipper',
] as const;

export type MvtecCategory = (typeof MVTEC_CATEGORIES)[number];

export interface MvtecOptions {
  /** Image extensions; default ['.png'] (MVTec ships PNG only). */
  extensions?: readonly string[];
}

export interface MvtecDataset {
  readonly root: string;
  readonly category: string;
  /** train/good, sorted. */
  readonly train: AnomalySample[];
  /** test/<defect>, defect folders sorted ('good' among them), files sorted within each. */
  readonly test: AnomalySample[];
  /** Defect names found under test/, without 'good', sorted. */
  readonly defects: string[];
}

/** Categories present under `root`: sub-folders that contain a `train` folder, sorted. */
export async function listMvtecCategories(root: string): Promise<string[]> {
  if (!(await isDirectory(root))) {
    throw new DatasetError('not-found', `MVTec AD root ${root} does not exist or is not a folder`, root);
  }
  const out: string[] = [];
  for (const e of await readdir(root, { withFileTypes: true })) {
    if (e.isDirectory() && (await isDirectory(join(root, e.name, 'train')))) out.push(e.name);
  }
  return out.sort();
}

/**
 * Lists one category's samples. Any category folder with the MVTec layout is accepted (not only the
 * 15 official names), so MVTec-like datasets work too.
 *
 * @example
 * const { train, test } = await loadMvtec('/data/mvtec', 'bottle');
 * test[0]; // { path: '.../test/broken_large/000.png', label: 1, defect: 'broken_large', maskPath: '.../ground_truth/broken_large/000_mask.png' }
 */
export async function loadMvtec(root: string, category: string, options: MvtecOptions = {}): Promise<MvtecDataset> {
  const extensions = normalizeExtensions(options.extensions ?? ['.png']);
  const categoryDir = join(root, category);
  if (!(await isDirectory(categoryDir))) {
    const found = await listMvtecCategories(root);
    const list = found.length > 0 ? found.join(', ') : 'none';
    throw new DatasetError(
      'not-found',
      `MVTec AD category '${category}' not found: ${categoryDir} does not exist. Categories under ${root}: ${list}`,
      categoryDir,
    );
  }
  const trainDir = join(categoryDir, 'train', 'good');
  if (!(await isDirectory(trainDir))) {
    throw new DatasetError('not-found', `MVTec AD: ${trainDir} does not exist; expected <root>/<category>/train/good`, trainDir);
  }
  const trainFiles = await listImages(trainDir, extensions, false);
  if (trainFiles.length === 0) {
    throw new DatasetError('empty', `MVTec AD: no ${[...extensions].join('/')} images in ${trainDir}`, trainDir);
  }
  const train: AnomalySample[] = trainFiles.map((path) => ({ path, label: 0, defect: 'good' }));

  const testDir = join(categoryDir, 'test');
  if (!(await isDirectory(testDir))) {
    throw new DatasetError('not-found', `MVTec AD: ${testDir} does not exist; expected <root>/<category>/test/<defect>`, testDir);
  }
  const defectDirs = (await readdir(testDir, { withFileTypes: true }))
    .filter((e) => e.isDirectory() && !e.name.startsWith('.'))
    .map((e) => e.name)
    .sort();
  const test: AnomalySample[] = [];
  for (const defect of defectDirs) {
    const files = await listImages(join(testDir, defect), extensions, false);
    for (const path of files) {
      if (defect === 'good') {
        test.push({ path, label: 0, defect });
        continue;
      }
      const stem = basename(path, extname(path));
      const maskPath = join(categoryDir, 'ground_truth', defect, `${stem}_mask.png`);
      if (!(await isFile(maskPath))) {
        throw new DatasetError('missing-mask', `MVTec AD: test image ${path} has no ground-truth mask; expected ${maskPath}`, path);
      }
      test.push({ path, label: 1, defect, maskPath });
    }
  }
  if (test.length === 0) {
    throw new DatasetError('empty', `MVTec AD: no ${[...extensions].join('/')} images under ${testDir}`, testDir);
  }
  return { root, category, train, test, defects: defectDirs.filter((d) => d !== 'good') };
}
