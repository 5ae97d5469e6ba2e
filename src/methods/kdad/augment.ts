// Optional train-time augmentation (MethodInputs.trainAugment; runs in the loader's worker
// threads): OpenOOD's KDAD port trains with RandomHorizontalFlip then RandomCrop(size, padding)
// with zero padding; the authors' code has none. Each image draws from (seed, epoch, position), so
// the result depends neither on the worker count nor on batching. Its output `augmented` replaces
// the batch's images in fit(), and the teacher then runs every step (no cache).
import { deriveSeed, mulberry32 } from '../../data/random.js';
import { applyPipeline, type TransformSpec } from '../../data/transforms/index.js';
import type { AugmentContext, AugmentInput, AugmentOutput } from '../types.js';

export interface KdadAugmentOptions {
  hflip: boolean;
  cropPadding: number;
}

export function augmentSpecs(o: KdadAugmentOptions, size: [number, number]): TransformSpec[] {
  const t: TransformSpec[] = [];
  if (o.hflip) t.push({ op: 'randomHorizontalFlip', p: 0.5 });
  if (o.cropPadding > 0) t.push({ op: 'randomCrop', size, padding: o.cropPadding });
  return t;
}

export function kdadAugment(batch: AugmentInput, ctx: AugmentContext, options: Record<string, unknown>): AugmentOutput {
  const [n, c, h, w] = batch.shape;
  if (c !== 1 && c !== 3) throw new Error(`kdadAugment: images must have 1 or 3 channels, got ${c}`);
  const spec = augmentSpecs({ hflip: options.hflip === true, cropPadding: Number(options.cropPadding ?? 0) }, [h, w]);
  const per = c * h * w;
  const out = new Float32Array(batch.images.length);
  for (let k = 0; k < n; k++) {
    const rng = mulberry32(deriveSeed(ctx.seed, 'kdad-augment', ctx.epoch, ctx.positions[k]!));
    const image = { data: batch.images.slice(k * per, (k + 1) * per), channels: c as 1 | 3, height: h, width: w };
    out.set(applyPipeline({ image }, spec, rng).image.data, k * per);
  }
  return { augmented: { data: out, shape: [n, c, h, w] } };
}
