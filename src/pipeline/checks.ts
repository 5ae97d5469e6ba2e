// Checks that depend on the data, run before fitting: a mistake they catch would otherwise
// surface only after minutes of training (or as a model that cannot work).
import { readImageSize } from '../data/image/index.js';
import type { VigilConfig } from './config.js';
import { FileSplit, type DataSplit, type PreparedData } from './data.js';
import { UserError } from './errors.js';
import type { AnyMethod } from './registry.js';

/** Refuses to fit on fewer images than the method needs (unreadable ones skipped: `skipped`). */
export function checkTrainSize(method: AnyMethod, data: PreparedData, config: VigilConfig, skipped: number): void {
  const min = Math.max(1, method.minTrainImages ?? 1);
  const n = data.train.size - skipped;
  if (n >= min) return;
  const held = data.calib?.size ?? 0;
  const why = [
    ...(skipped > 0 ? [`${skipped} of ${data.train.size} were unreadable and skipped`] : []),
    ...(held > 0 ? [`${held} more ${held === 1 ? 'is' : 'are'} held out to set the threshold (threshold.holdout=${config.threshold.holdout}; --set threshold.holdout=0 fits on all of them)`] : []),
  ];
  throw new UserError(`${method.name} needs at least ${min} training image${min === 1 ? '' : 's'}, ${config.dataset.spec} gives ${n}${why.length ? ` (${why.join('; ')})` : ''}; add normal images`, { code: 'DATA_TOO_SMALL' });
}

/** Every ground-truth mask has its image's size (masks are compared pixel by pixel). */
export async function checkMaskSizes(splits: ReadonlyArray<DataSplit | null>): Promise<void> {
  const bad: string[] = [];
  let count = 0;
  for (const s of splits) {
    if (!(s instanceof FileSplit) || !s.hasMasks) continue;
    for (const { path, maskPath } of s.maskPairs) {
      const [img, mask] = await Promise.all([readImageSize(path), readImageSize(maskPath)]);
      // Unreadable files are reported (or skipped) by the loader, with the reason.
      if (!img || !mask || (img.width === mask.width && img.height === mask.height)) continue;
      count++;
      if (bad.length < 3) bad.push(`${maskPath} is ${mask.width}×${mask.height} but its image ${path} is ${img.width}×${img.height}`);
    }
  }
  if (count > 0) {
    throw new UserError(`${count} ground-truth mask${count === 1 ? '' : 's'} do${count === 1 ? 'es' : ''} not have the size of ${count === 1 ? 'its image' : 'their images'}: ${bad.join('; ')}${count > bad.length ? '; …' : ''}. Resize each mask to its image's size (nearest-neighbour, so it stays black and white)`, { code: 'DATA_INVALID' });
  }
}
