// Scoring: a fitted detector over a data split, batch by batch, on the run's device. Also the
// adapter that hands a training split to fit().
import { performance } from 'node:perf_hooks';
import * as torch from '../torch/index.js';
import type { Detector, TrainData } from '../methods/types.js';
import { deriveSeed, mulberry32 } from '../data/random.js';
import type { AugmentOutput, AugmentPool } from './augment.js';
import type { DataSplit, EvalBatch } from './data.js';
import type { RunHooks } from './types.js';

export interface Scored {
  scores: Float32Array;
  labels: Int32Array;
  ids: string[];
  /** Position of each image in its split. */
  indices: number[];
  /** Every map at input resolution, when keepMaps. */
  maps: Float32Array[];
  masks: Uint8Array[];
  inferMs: number;
}

export interface ScoreOptions {
  batchSize: number;
  /** Progress stage name: 'calibrate', 'validate', 'test', 'predict'. */
  stage: string;
  keepMaps: boolean;
  hooks: RunHooks;
  device?: string;
  /** Called per image with its map, in order (test pass: pixel metrics, galleries). */
  perImage?: (i: number, score: number, label: number, map: Float32Array | undefined, mask: Uint8Array | undefined) => void;
}

/** Scores one preprocessed batch; checks the method kept its contract. */
export function scoreBatch(det: Detector, images: Float32Array, shape: readonly [number, number, number, number], device = 'cpu'): { scores: Float32Array; maps?: Float32Array } {
  const [n, , h, w] = shape;
  const r = torch.tidy(() => torch.noGrad(() => det.score(torch.fromTypedArray(images, [...shape], { device }))));
  if (r.scores.length !== n) throw new Error(`${det.method}.score returned ${r.scores.length} scores for ${n} images`);
  if (r.maps && r.maps.length !== n * h * w) throw new Error(`${det.method}.score returned maps of ${r.maps.length} values, expected ${n}×${h}×${w}`);
  return r;
}

export async function scoreSplit(det: Detector, split: DataSplit, o: ScoreOptions): Promise<Scored> {
  const scores: number[] = [];
  const labels: number[] = [];
  const ids: string[] = [];
  const indices: number[] = [];
  const maps: Float32Array[] = [];
  const masks: Uint8Array[] = [];
  let inferMs = 0;
  const total = Math.ceil(split.size / o.batchSize);
  let done = 0;
  for await (const b of split.batches({ batchSize: o.batchSize })) {
    o.hooks.signal?.throwIfAborted();
    const [n, , h, w] = b.shape;
    const t0 = performance.now();
    const r = scoreBatch(det, b.images, b.shape, o.device);
    inferMs += performance.now() - t0;
    for (let k = 0; k < n; k++) {
      const map = r.maps ? r.maps.slice(k * h * w, (k + 1) * h * w) : undefined;
      const mask = b.masks ? b.masks.slice(k * h * w, (k + 1) * h * w) : undefined;
      if (!Number.isFinite(r.scores[k]!)) throw new Error(`${det.method}.score returned a non-finite score (${r.scores[k]}) for ${b.ids[k]}`);
      o.perImage?.(scores.length, r.scores[k]!, b.labels[k]!, map, mask);
      scores.push(r.scores[k]!);
      labels.push(b.labels[k]!);
      ids.push(b.ids[k]!);
      indices.push(b.indices[k]!);
      if (o.keepMaps && map) maps.push(map);
      if (o.keepMaps && mask) masks.push(mask);
    }
    o.hooks.onProgress?.({ stage: o.stage, done: ++done, total });
    // Let signal handlers and progress output run between batches.
    await new Promise((r) => setImmediate(r));
  }
  return { scores: Float32Array.from(scores), labels: Int32Array.from(labels), ids, indices, maps, masks, inferMs };
}

export interface TrainDataOptions {
  device?: string;
  /** Seeds sampling with replacement (and is passed to the augmentation). */
  seed?: number;
  /** The method's train-time augmentation, run when an epoch asks for it (EpochOptions.augment). */
  augment?: AugmentPool;
  /**
   * The user's stop: checked before every batch, after a yield to the event loop, so a signal
   * handler runs and training stops at the next batch even in a method that never checks it.
   */
  signal?: AbortSignal;
}

/** `n` indices drawn uniformly with replacement, seeded by (seed, epoch). */
export function drawWithReplacement(n: number, seed: number, epoch: number): number[] {
  const rng = mulberry32(deriveSeed(seed, 'replacement', epoch));
  return Array.from({ length: n }, () => rng.int(0, n));
}

/**
 * The training split as fit() sees it: tensors on `device`, freed after each batch. With
 * augmentation, up to (workers + 1) batches are augmented ahead of the one being trained on.
 */
export function trainData(split: DataSplit, imageShape: [number, number, number], o: TrainDataOptions = {}): TrainData {
  const device = o.device ?? 'cpu';
  const seed = o.seed ?? 0;
  return {
    size: split.size,
    imageShape,
    async *epoch(eo) {
      const order = eo.sampling === 'replacement' ? drawWithReplacement(split.size, seed, eo.epoch) : undefined;
      const shuffle = eo.sampling === 'sequential' ? false : eo.shuffle;
      const batches = split.batches({ batchSize: eo.batchSize, epoch: eo.epoch, shuffle, ...(order ? { order } : {}) });
      const pool = eo.augment ? o.augment : undefined;
      const ahead: Array<{ b: EvalBatch; extra: Promise<AugmentOutput> | null }> = [];
      const it = batches[Symbol.asyncIterator]();
      let position = 0;
      let done = false;
      const fill = async (): Promise<void> => {
        while (!done && ahead.length < (pool ? pool.size + 1 : 1)) {
          const r = await it.next();
          if (r.done) { done = true; break; }
          const b = r.value;
          const positions = b.indices.map((_, k) => position + k);
          position += b.indices.length;
          const extra = pool ? pool.run({ images: b.images, shape: b.shape }, { seed, epoch: eo.epoch, indices: b.indices, positions }) : null;
          extra?.catch(() => undefined); // awaited below; avoid an unhandled rejection while queued
          ahead.push({ b, extra });
        }
      };
      try {
        for (;;) {
          if (o.signal) {
            await new Promise((r) => setImmediate(r));
            o.signal.throwIfAborted();
          }
          await fill();
          const next = ahead.shift();
          if (!next) break;
          const { b } = next;
          const out = next.extra ? await next.extra : null;
          const images = torch.keep(torch.fromTypedArray(b.images, b.shape, { device }));
          const extra: Record<string, torch.Tensor> = {};
          for (const [k, v] of Object.entries(out ?? {})) extra[k] = torch.keep(torch.fromTypedArray(v.data, v.shape, { device }));
          try {
            yield { images, labels: b.labels, indices: b.indices, ...(out ? { extra } : {}) };
          } finally {
            images.dispose();
            for (const t of Object.values(extra)) t.dispose();
          }
        }
      } finally {
        await it.return?.();
      }
    },
  };
}

/** A model that gives every image the same score ranks nothing; say so rather than report AUROC 0.5. */
export function warnIfConstant(scores: Float32Array, what: string, log: (m: string) => void): void {
  if (scores.length < 2) return;
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of scores) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  if (hi - lo <= 1e-6 * Math.max(Math.abs(lo), Math.abs(hi), 1e-30)) {
    log(`warning: all ${scores.length} ${what} scores are equal (${lo.toPrecision(6)}): the model does not tell images apart; check the data (blank or identical images?) and the method's settings`);
  }
}
