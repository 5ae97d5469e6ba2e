// A fast, training-free baseline: per-pixel mean and standard deviation of the normal training
// images. An image's anomaly map is the squared z-score per pixel (averaged over channels), its
// score the mean of that map. It only makes sense for aligned images (fixed camera, registered
// parts, centred digits), but it runs in seconds on any data, so the pipeline can be tried end to end.
import * as torch from '../../torch/index.js';
import { z } from 'zod';
import type { Detector, FitContext, MethodDefinition, ScoreResult, TrainData } from '../types.js';

export const pixelStatsSchema = z.strictObject({
  /** Floor on each pixel's standard deviation, so constant pixels do not divide by zero. */
  minStd: z.number().positive().default(0.02),
  /** Batch size of the statistics pass. */
  batchSize: z.int().min(1).default(64),
});

export type PixelStatsConfig = z.infer<typeof pixelStatsSchema>;

type Shape = readonly [number, number, number];

class PixelStats implements Detector {
  readonly method = 'pixelstats';
  #mean: torch.Tensor | null = null;
  #std: torch.Tensor | null = null;

  constructor(readonly config: PixelStatsConfig, readonly imageShape: Shape) {}

  async fit(data: TrainData, ctx: FitContext): Promise<void> {
    const [c, h, w] = this.imageShape;
    // Float64 sums: float32 sums of squares lose digits after a few thousand images.
    const sum = torch.keep(torch.zeros([c, h, w], { dtype: 'float64' }));
    const sumSq = torch.keep(torch.zeros([c, h, w], { dtype: 'float64' }));
    let n = 0;
    const total = Math.ceil(data.size / this.config.batchSize);
    let done = 0;
    try {
      for await (const batch of data.epoch({ epoch: 0, batchSize: this.config.batchSize, shuffle: false })) {
        ctx.signal?.throwIfAborted();
        torch.tidy(() => {
          const x = batch.images.to('float64');
          sum.add_(x.sum(0));
          sumSq.add_(x.square().sum(0));
        });
        n += batch.images.shape[0]!;
        ctx.progress('statistics', ++done, total);
      }
      if (n === 0) throw new Error('pixelstats: the training set is empty');
      const [mean, std] = torch.tidy(() => {
        const m = sum.div(n);
        const v = sumSq.div(n).sub(m.square()).clamp_min(0);
        return [m.to('float32'), v.sqrt().clamp_min(this.config.minStd).to('float32')];
      });
      this.#set(mean!, std!);
      ctx.log(`pixelstats: statistics of ${n} images, mean std ${this.#std!.mean().item().toFixed(4)}`);
    } finally {
      sum.dispose();
      sumSq.dispose();
    }
  }

  #set(mean: torch.Tensor, std: torch.Tensor): void {
    this.#mean?.dispose();
    this.#std?.dispose();
    this.#mean = torch.keep(mean);
    this.#std = torch.keep(std);
  }

  score(images: torch.Tensor): ScoreResult {
    if (!this.#mean || !this.#std) throw new Error('pixelstats: score() before fit() or load()');
    const shape = images.shape;
    const [c, h, w] = this.imageShape;
    if (shape.length !== 4 || shape[1] !== c || shape[2] !== h || shape[3] !== w) {
      throw new Error(`pixelstats: expected images N×${c}×${h}×${w}, got [${shape.join(', ')}]`);
    }
    return torch.tidy(() => {
      const z2 = images.sub(this.#mean!).div(this.#std!).square();
      const map = z2.mean(1);
      const scores = map.mean([1, 2]);
      return { scores: scores.toTypedArray() as Float32Array, maps: map.contiguous().toTypedArray() as Float32Array };
    });
  }

  state(): { tensors: Map<string, torch.Tensor>; meta: Record<string, unknown> } {
    if (!this.#mean || !this.#std) throw new Error('pixelstats: state() before fit()');
    return { tensors: new Map([['mean', this.#mean], ['std', this.#std]]), meta: { imageShape: [...this.imageShape] } };
  }

  load(tensors: Map<string, torch.Tensor>): void {
    const mean = tensors.get('mean');
    const std = tensors.get('std');
    if (!mean || !std) throw new Error(`pixelstats: model state lacks ${!mean ? "'mean'" : "'std'"}; is this a pixelstats model?`);
    const want = [...this.imageShape].join('×');
    for (const [k, t] of [['mean', mean], ['std', std]] as const) {
      if (t.shape.join('×') !== want) throw new Error(`pixelstats: state tensor '${k}' has shape ${t.shape.join('×')}, expected ${want}`);
    }
    // fit() floors std at minStd > 0: a zero or negative one can only come from a damaged file.
    if (torch.tidy(() => std.min().item()) <= 0) throw new Error(`pixelstats: state tensor 'std' holds values <= 0 (fit() keeps every std >= model.minStd)`);
    this.#set(mean.to('float32'), std.to('float32'));
  }

  dispose(): void {
    this.#mean?.dispose();
    this.#std?.dispose();
    this.#mean = this.#std = null;
  }
}

export const pixelstats: MethodDefinition<PixelStatsConfig> = {
  name: 'pixelstats',
  description: 'per-pixel mean/std of normal images; score = mean squared z-score (fast baseline for aligned images)',
  schema: pixelStatsSchema,
  defaults: pixelStatsSchema.parse({}),
  // A standard deviation needs two images.
  minTrainImages: 2,
  create(config, imageShape) {
    return new PixelStats(config, imageShape);
  },
  load(config, imageShape, state) {
    const d = new PixelStats(config, imageShape);
    d.load(state.tensors);
    return d;
  },
};
