// The teacher-output cache: fit() with the cache in memory or on disk (float32) follows exactly the
// trajectory of running the teacher every step (same losses, same final weights, bit for bit);
// float16 stays within its rounding; the plan for 'auto'; the disk folder is removed; with
// augmentation the teacher runs every step on the augmented images; a data source whose positions
// move is refused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import * as torch from '../../../src/torch/index.js';
import type { Tensor } from '../../../src/torch/index.js';
import { mulberry32 } from '../../../src/data/random.js';
import { arrayTrainData } from '../../../src/methods/array-data.js';
import type { FitContext, ImageBatch, TrainData } from '../../../src/methods/types.js';
import { kdad, kdadAugment, kdadSchema, planCache, type KdadConfig, type KdadDetector } from '../../../src/methods/kdad/index.js';
import { tempDir } from '../../helpers/python.js';

process.removeAllListeners('warning');
const dir = tempDir('vigil-kdad-cache-test-');
// 18 images in batches of 4: no batch of one (libtorch's batch-of-1 convolutions differ in the last bit).
const N = 18;
const SIDE = 32;
const rnd = mulberry32(11);
const pixels = Float32Array.from({ length: N * 3 * SIDE * SIDE }, () => rnd.next());

interface Run { losses: number[]; weights: Map<string, Float32Array>; logs: string[]; during: string[] }

async function run(over: Record<string, unknown>, data: TrainData = arrayTrainData(pixels, [N, 3, SIDE, SIDE], { seed: 5 })): Promise<Run> {
  const cfg: KdadConfig = kdadSchema.parse({ teacher: { weights: 'random', randomSeed: 2 }, imageSize: SIDE, localization: 'none', train: { epochs: 3, batchSize: 4 }, ...over });
  torch.manualSeed(9);
  const d = kdad.create(cfg, [3, SIDE, SIDE]) as KdadDetector;
  const out: Run = { losses: [], weights: new Map(), logs: [], during: [] };
  const ctx: FitContext = {
    seed: 5,
    log: (m) => out.logs.push(m),
    progress: (stage, _d, _t, v) => {
      if (stage !== 'train') return;
      out.losses.push(v!['loss']!);
      if (cfg.featureCacheDir) out.during.push(...readdirSync(cfg.featureCacheDir));
    },
  };
  try {
    await d.fit(data, ctx);
    for (const [k, v] of d.student.stateDict()) out.weights.set(k, v.to('float32').toTypedArray() as Float32Array);
  } finally {
    d.dispose();
  }
  return out;
}

test('memory and disk caches (float32) give the trajectory of running the teacher every step, bit for bit', async () => {
  const cacheDir = join(dir, 'disk');
  mkdirSync(cacheDir);
  const off = await run({ featureCache: 'off' });
  const mem = await run({ featureCache: 'memory' });
  const disk = await run({ featureCache: 'disk', featureCacheDir: cacheDir });
  assert.match(off.logs.join('\n'), /teacher runs every step \(model\.featureCache is off\)/);
  assert.match(mem.logs.join('\n'), /cached in memory, 1\.0 MB float32 \(18 images × 14848 values/);
  assert.match(disk.logs.join('\n'), /cached on disk/);
  assert.equal(off.losses.length, 3);
  assert.deepEqual(mem.losses, off.losses);
  assert.deepEqual(disk.losses, off.losses);
  assert.deepEqual(mem.weights, off.weights);
  assert.deepEqual(disk.weights, off.weights);
  // One cache folder while training, none after.
  assert.ok(disk.during.length > 0 && disk.during.every((f) => f.startsWith('vigil-kdad-cache-')), disk.during.join(', '));
  assert.deepEqual(readdirSync(cacheDir), []);
});

test('float16 caches: memory and disk agree exactly, and stay within fp16 rounding of float32', async () => {
  const off = await run({ featureCache: 'off' });
  const mem = await run({ featureCache: 'memory', featureCacheDtype: 'float16' });
  const disk = await run({ featureCache: 'disk', featureCacheDtype: 'float16', featureCacheDir: dir });
  assert.match(mem.logs.join('\n'), /0\.5 MB float16/);
  assert.deepEqual(disk.losses, mem.losses);
  assert.deepEqual(disk.weights, mem.weights);
  console.log(`float16 vs float32 epoch losses: ${mem.losses.map((l, i) => ((l - off.losses[i]!) / off.losses[i]!).toExponential(2)).join(', ')}`);
  mem.losses.forEach((l, i) => assert.ok(Math.abs(l - off.losses[i]!) <= (i === 0 ? 1e-3 : 1e-2) * off.losses[i]!, `epoch ${i}: ${l} vs ${off.losses[i]}`));
  assert.notDeepEqual(mem.losses, off.losses, 'float16 rows are rounded');
});

test("planCache: 'auto' keeps what fits the memory budget, else disk on CPU and no cache on CUDA; augmentation and 'off' run the teacher", () => {
  const c = (over: Record<string, unknown>): KdadConfig => kdadSchema.parse({ featureCacheMemoryMB: 100, ...over });
  assert.equal(planCache(c({}), 50 * 2 ** 20, 'cpu', false).mode, 'memory');
  assert.equal(planCache(c({}), 150 * 2 ** 20, 'cpu', false).mode, 'disk');
  assert.equal(planCache(c({}), 150 * 2 ** 20, 'cuda', false).mode, null);
  assert.equal(planCache(c({ featureCache: 'disk' }), 1, 'cpu', false).mode, 'disk');
  assert.equal(planCache(c({ featureCache: 'memory' }), 2 ** 40, 'cpu', false).mode, 'memory');
  assert.equal(planCache(c({ featureCache: 'off' }), 1, 'cpu', false).mode, null);
  assert.match(planCache(c({ featureCache: 'memory' }), 1, 'cpu', true).why, /augmentation/);
  assert.equal(planCache(c({ featureCache: 'memory' }), 1, 'cpu', true).mode, null);
});

/** arrayTrainData plus the method's augmentation in `extra`, as the pipeline's loader gives it. */
function augmented(options: { hflip: boolean; cropPadding: number }, seen: Tensor[]): TrainData {
  const inner = arrayTrainData(pixels, [N, 3, SIDE, SIDE], { seed: 5 });
  let position = 0;
  return {
    size: N,
    imageShape: [3, SIDE, SIDE],
    epoch(o) {
      const it = inner.epoch(o);
      return {
        async *[Symbol.asyncIterator](): AsyncGenerator<ImageBatch> {
          for await (const b of it) {
            const shape = b.images.shape as [number, number, number, number];
            const positions = b.indices!.map((_, k) => position + k);
            position += positions.length;
            const a = kdadAugment({ images: b.images.toTypedArray() as Float32Array, shape }, { seed: 5, epoch: o.epoch, indices: b.indices!, positions }, options)['augmented']!;
            const t = torch.keep(torch.fromTypedArray(a.data, a.shape));
            seen.push(torch.keep(t.clone()));
            try {
              yield { ...b, extra: { augmented: t } };
            } finally {
              t.dispose();
            }
          }
        },
      };
    },
  };
}

test('augmentation: the teacher runs every step on the augmented images (flip and padded crop, seeded per position)', async () => {
  const seen: Tensor[] = [];
  const a = await run({ featureCache: 'memory', augment: { hflip: true, cropPadding: 4 } }, augmented({ hflip: true, cropPadding: 4 }, seen));
  assert.match(a.logs.join('\n'), /teacher runs every step \(augmentation is on/);
  const plain = await run({ featureCache: 'off' });
  assert.notDeepEqual(a.losses, plain.losses);
  assert.ok(seen.some((t) => torch.tidy(() => t.eq(0).any().item()) === 1), 'zero padding appears');
  torch.dispose(seen);
  // Without the augmented images the step says what is missing.
  await assert.rejects(run({ augment: { hflip: true, cropPadding: 0 } }), /no augmented images.*trainAugment/);
  // The same position and epoch give the same augmentation whatever the batch.
  const one = kdadAugment({ images: pixels.slice(0, 2 * 3 * SIDE * SIDE), shape: [2, 3, SIDE, SIDE] }, { seed: 1, epoch: 3, indices: [0, 1], positions: [7, 8] }, { hflip: true, cropPadding: 4 })['augmented']!.data;
  const two = kdadAugment({ images: pixels.slice(3 * SIDE * SIDE, 2 * 3 * SIDE * SIDE), shape: [1, 3, SIDE, SIDE] }, { seed: 1, epoch: 3, indices: [1], positions: [8] }, { hflip: true, cropPadding: 4 })['augmented']!.data;
  assert.deepEqual(one.slice(3 * SIDE * SIDE), two);
});

test('a data source whose positions move between epochs is refused; one without positions cannot be cached', async () => {
  const shifting: TrainData = {
    size: N,
    imageShape: [3, SIDE, SIDE],
    epoch(o) {
      const inner = arrayTrainData(pixels, [N, 3, SIDE, SIDE], { seed: 5 });
      const it = inner.epoch(o);
      return {
        async *[Symbol.asyncIterator](): AsyncGenerator<ImageBatch> {
          for await (const b of it) yield { ...b, indices: b.indices!.map((i) => (o.shuffle ? (i + 1) % N : i)) };
          inner.dispose();
        },
      };
    },
  };
  await assert.rejects(run({ featureCache: 'memory' }, shifting), /image at position \d+ is not the one cached.*model\.featureCache=off/);
  const anonymous: TrainData = {
    size: N,
    imageShape: [3, SIDE, SIDE],
    epoch(o) {
      const it = arrayTrainData(pixels, [N, 3, SIDE, SIDE]).epoch(o);
      return { async *[Symbol.asyncIterator](): AsyncGenerator<ImageBatch> { for await (const b of it) yield { images: b.images }; } };
    },
  };
  await assert.rejects(run({ featureCache: 'memory' }, anonymous), /no image positions.*featureCache=off/);
  assert.equal((await run({ featureCache: 'off', train: { epochs: 1, batchSize: 4 } }, anonymous)).losses.length, 1);
});
