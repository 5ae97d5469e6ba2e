// Feeds ImageLoader batches to a detector (what the pipeline does in production).
import * as torch from '../../../src/torch/index.js';
import type { Tensor } from '../../../src/torch/index.js';
import { ImageLoader } from '../../../src/data/loader/index.js';
import type { TransformSpec } from '../../../src/data/transforms/index.js';
import type { AnomalySample } from '../../../src/data/samples.js';
import type { FitContext, ImageBatch, TrainData } from '../../../src/methods/types.js';

export function trainData(samples: readonly AnomalySample[], transforms: TransformSpec[], shape: [number, number, number], workers = 0): TrainData {
  return {
    size: samples.length,
    imageShape: shape,
    async *epoch(o): AsyncIterable<ImageBatch> {
      const loader = new ImageLoader(samples.map((s) => ({ path: s.path })), { batchSize: o.batchSize, transforms, workers, masks: false });
      try {
        for await (const b of loader.epoch(o.epoch)) {
          const images = torch.fromTypedArray(b.images, b.shape);
          try { yield { images, indices: b.indices }; } finally { images.dispose(); }
        }
      } finally { await loader.close(); }
    },
  };
}

export function quietContext(seed = 0, progress: Array<[string, number, number]> = []): FitContext {
  return { seed, log: () => undefined, progress: (s, d, t) => { progress.push([s, d, t]); } };
}

export interface Scored { scores: Float32Array; maps: Float32Array[]; masks: Uint8Array[]; labels: Uint8Array }

export async function scoreAll(score: (x: Tensor) => { scores: Float32Array; maps?: Float32Array }, samples: readonly AnomalySample[], transforms: TransformSpec[], size: number, batchSize = 8): Promise<Scored> {
  const loader = new ImageLoader(samples.map((s) => ({ path: s.path, label: s.label, maskPath: s.maskPath })), {
    batchSize, transforms, workers: 0, masks: true, maskOptions: {},
  });
  const scores: number[] = [];
  const maps: Float32Array[] = [];
  const masks: Uint8Array[] = [];
  const labels: number[] = [];
  try {
    for await (const b of loader.epoch(0)) {
      const x = torch.fromTypedArray(b.images, b.shape);
      const r = score(x);
      x.dispose();
      const n = b.shape[0];
      for (let i = 0; i < n; i++) {
        scores.push(r.scores[i]!);
        maps.push(r.maps!.slice(i * size * size, (i + 1) * size * size));
        masks.push(b.masks ? b.masks.slice(i * size * size, (i + 1) * size * size) : new Uint8Array(size * size));
        labels.push(b.labels[i]!);
      }
    }
  } finally { await loader.close(); }
  return { scores: Float32Array.from(scores), maps, masks, labels: Uint8Array.from(labels) };
}
