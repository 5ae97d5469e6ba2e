// tinyae's train-time augmentation, run by the pipeline in loader worker threads: salt-and-pepper
// speckle whose pixels come from (seed, epoch, position), so a resumed epoch draws the same.
import { deriveSeed, mulberry32 } from '../../../src/data/random.js';
import type { AugmentContext, AugmentInput, AugmentOutput } from '../../../src/pipeline/augment.js';

export function speckle(batch: AugmentInput, ctx: AugmentContext, options: Record<string, unknown>): AugmentOutput {
  const amount = Number(options.amount ?? 0.1);
  const [n, c, h, w] = batch.shape;
  const per = c * h * w;
  const out = Float32Array.from(batch.images);
  for (let k = 0; k < n; k++) {
    const rng = mulberry32(deriveSeed(ctx.seed, 'tinyae-speckle', ctx.epoch, ctx.positions[k]!));
    for (let i = 0; i < per; i++) if (rng.next() < amount) out[k * per + i] = rng.next() < 0.5 ? 0 : 1;
  }
  return { speckled: { data: out, shape: [n, c, h, w] } };
}
