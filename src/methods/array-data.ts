// An in-memory TrainData over preprocessed float32 images, for tests, benchmarks and callers that
// already hold the whole training set. Batches are index_select views of one resident tensor.
import * as torch from '../torch/index.js';
import type { Tensor } from '../torch/index.js';
import { deriveSeed, mulberry32, permutation } from '../data/random.js';
import type { EpochOptions, ImageBatch, TrainData } from './types.js';

export interface ArrayTrainData extends TrainData {
  /** Frees the resident tensor. */
  dispose(): void;
}

/**
 * Wraps N×C×H×W float32 images. With `shuffle`, epoch e visits the images in a permutation drawn
 * from (seed, e), so two runs with the same seed see the same batches. The last batch may be short
 * (PyTorch DataLoader's drop_last=False).
 */
export function arrayTrainData(
  images: Float32Array | Float64Array,
  shape: readonly [number, number, number, number],
  options: { labels?: Int32Array; seed?: number } = {},
): ArrayTrainData {
  const [n, c, h, w] = shape;
  if (![n, c, h, w].every((d) => Number.isInteger(d) && d > 0)) throw new RangeError(`arrayTrainData: shape [${shape.join(', ')}] must hold positive integers`);
  if (images.length !== n * c * h * w) {
    throw new RangeError(`arrayTrainData: ${images.length} values do not fill shape [${shape.join(', ')}] (${n * c * h * w} expected)`);
  }
  const labels = options.labels;
  if (labels !== undefined && labels.length !== n) throw new RangeError(`arrayTrainData: ${labels.length} labels for ${n} images`);
  const seed = options.seed ?? 0;
  const all = torch.keep(torch.fromTypedArray(images, [n, c, h, w]));
  return {
    size: n,
    imageShape: [c, h, w],
    epoch(o: EpochOptions): AsyncIterable<ImageBatch> {
      const bs = o.batchSize;
      if (!Number.isInteger(bs) || bs < 1) throw new RangeError(`arrayTrainData: batchSize must be a positive integer, got ${bs}`);
      const order = o.shuffle ? permutation(n, mulberry32(deriveSeed(seed, 'epoch', o.epoch))) : Array.from({ length: n }, (_, i) => i);
      return {
        async *[Symbol.asyncIterator](): AsyncGenerator<ImageBatch> {
          for (let start = 0; start < n; start += bs) {
            const idx = order.slice(start, start + bs);
            const sorted = !o.shuffle;
            const batchImages: Tensor = sorted && idx.length === n
              ? all.detach()
              : torch.tidy(() => all.index_select(0, torch.tensor(Int32Array.from(idx), { dtype: 'int64' })));
            const batch: ImageBatch = { images: batchImages, indices: idx };
            if (labels) batch.labels = Int32Array.from(idx, (i) => labels[i]!);
            try {
              yield batch;
            } finally {
              batchImages.dispose();
            }
          }
        },
      };
    },
    dispose(): void { all.dispose(); },
  };
}
