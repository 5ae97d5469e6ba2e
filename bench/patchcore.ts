// PatchCore fit and inference: Vigil vs a PyTorch implementation of the same algorithm
// (bench/patchcore_ref.py, spawned here), on synthetic MVTec-style 224×224 images with a randomly
// initialised wide_resnet50_2. Prints one JSON line.
// Usage: node dist/bench/patchcore.js [train=200] [test=50] [threads=2] [ratio=0.1]
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as torch from '../src/torch/index.js';
import { generateSynthDataset } from '../src/data/synth/index.js';
import { ImageLoader } from '../src/data/loader/index.js';
import * as patchcoreMod from '../src/methods/patchcore/index.js';
import { patchcore, patchcoreTransforms, resolvePatchCoreConfig } from '../src/methods/patchcore/index.js';
import type { ImageBatch, TrainData } from '../src/methods/types.js';

const nTrain = Number(process.argv[2] ?? 200);
const nTest = Number(process.argv[3] ?? 50);
const threads = Number(process.argv[4] ?? 2);
const ratio = Number(process.argv[5] ?? 0.1);
const dir = mkdtempSync(join(tmpdir(), 'vigil-bench-pc-'));
process.removeAllListeners('warning');

try {
  const perDefect = Math.max(1, Math.floor(nTest / 2 / 5));
  await generateSynthDataset(dir, { categories: ['object'], size: 224, trainCount: nTrain, testGoodCount: nTest - 5 * perDefect, testDefectCount: perDefect, seed: 1 });
  const root = join(dir, 'object');
  const trainFiles = readdirSync(join(root, 'train/good')).sort().map((f) => join(root, 'train/good', f));
  const testFiles = readdirSync(join(root, 'test')).sort().flatMap((d) => readdirSync(join(root, 'test', d)).sort().map((f) => join(root, 'test', d, f)));

  torch.setNumThreads(threads);
  const cfg = resolvePatchCoreConfig({ backbone: { name: 'wide_resnet50_2', weights: 'random', randomSeed: 0 }, imageSize: 224, cropSize: 224, coreset: { method: 'approx_greedy', ratio, projectionDim: 128, startingPoints: 10 } });
  const tf = patchcoreTransforms(cfg);
  const det = patchcore.create(cfg, [3, 224, 224]);
  const data: TrainData = {
    size: trainFiles.length,
    imageShape: [3, 224, 224],
    async *epoch(o): AsyncIterable<ImageBatch> {
      const loader = new ImageLoader(trainFiles.map((path) => ({ path })), { batchSize: o.batchSize, transforms: tf, workers: 0, masks: false });
      try {
        for await (const b of loader.epoch(0)) {
          const images = torch.fromTypedArray(b.images, b.shape);
          try { yield { images }; } finally { images.dispose(); }
        }
      } finally { await loader.close(); }
    },
  };
  const stamps: Record<string, number> = {};
  const t0 = performance.now();
  await det.fit(data, {
    seed: 0, log: () => undefined,
    progress: (stage, done, total) => { if (stage === 'features' && done === total) stamps['features'] = performance.now(); },
  });
  const t1 = performance.now();
  const fitRss = process.resourceUsage().maxRSS / 1024;
  const fitNative = torch.memory().nativePeak / 2 ** 20;

  // Inference, one image at a time: decode + transform → embed → kNN → map → score.
  const loader = new ImageLoader(testFiles.map((path) => ({ path })), { batchSize: 1, transforms: tf, workers: 0, masks: false });
  const lat: number[] = [];
  let lastImage: { images: Float32Array; shape: [number, number, number, number] } | undefined;
  const parts = { decode: 0, backbone: 0, embed: 0, knn: 0, map: 0 };
  const it = loader.epoch(0)[Symbol.asyncIterator]();
  for (;;) {
    const s = performance.now();
    const n = await it.next();
    if (n.done) break;
    const x = torch.fromTypedArray(n.value.images, n.value.shape);
    lastImage = n.value;
    const s1 = performance.now();
    const r = det.score(x);
    const e = performance.now();
    if (r.maps === undefined || r.scores.length !== 1) throw new Error('no map');
    x.dispose();
    lat.push(e - s);
    parts.decode += s1 - s;
  }
  await loader.close();
  // Where time goes (separate pass with per-stage timers, on the last test image).
  {
    const d = det as patchcoreMod.PatchCoreDetector;
    const x = torch.fromTypedArray(lastImage!.images, lastImage!.shape);
    for (let i = 0; i < 10; i++) {
      torch.tidy(() => {
        let s = performance.now();
        const f = d.backbone.forwardFeatures(x, d.layers);
        parts.backbone += performance.now() - s; s = performance.now();
        const { embeddings, grid } = d.plan.embed(d.layers.map((l) => f.get(l)!));
        parts.embed += performance.now() - s; s = performance.now();
        const dist = d.nearest(embeddings).mean(1);
        parts.knn += performance.now() - s; s = performance.now();
        const { anomalyMaps } = patchcoreMod;
        anomalyMaps(dist.reshape([1, grid[0], grid[1]]), [224, 224], 4);
        parts.map += performance.now() - s;
      });
    }
    x.dispose();
  }
  const mean = lat.reduce((a, b) => a + b, 0) / lat.length;
  const median = [...lat].sort((a, b) => a - b)[Math.floor(lat.length / 2)]!;
  const bank = det.state();
  const bankShape = bank.tensors.get('memory_bank')!.shape;
  torch.dispose([...bank.tensors.values()]);
  det.dispose();
  const vigil = {
    features_s: ((stamps['features'] ?? t1) - t0) / 1000, coreset_s: (t1 - (stamps['features'] ?? t0)) / 1000, fit_s: (t1 - t0) / 1000, bank: bankShape,
    infer_ms: mean, infer_ms_median: median, fit_peak_rss_mb: fitRss, fit_native_peak_mb: fitNative, peak_rss_mb: process.resourceUsage().maxRSS / 1024,
    breakdown_ms: { decode: parts.decode / lat.length, backbone: parts.backbone / 10, embed: parts.embed / 10, knn: parts.knn / 10, map: parts.map / 10 },
  };

  const script = fileURLToPath(new URL('../../bench/patchcore_ref.py', import.meta.url));
  const py = spawnSync('/usr/bin/python3', [script, root, String(threads), String(ratio)], { encoding: 'utf8', maxBuffer: 1 << 24 });
  if (py.status !== 0) throw new Error(`PyTorch reference failed:\n${py.stderr}`);
  const pytorch = JSON.parse(py.stdout.trim().split('\n').at(-1)!) as typeof vigil;
  console.log(JSON.stringify({
    bench: 'patchcore', backbone: 'wide_resnet50_2 (random init)', train: trainFiles.length, test: testFiles.length, threads, ratio,
    vigil, pytorch,
    ratios: {
      infer: vigil.infer_ms / pytorch.infer_ms, fit: vigil.fit_s / pytorch.fit_s, features: vigil.features_s / pytorch.features_s,
      coreset: vigil.coreset_s / pytorch.coreset_s, fit_peak_rss: vigil.fit_peak_rss_mb / pytorch.fit_peak_rss_mb,
    },
    targets: { infer_le_0_7x: vigil.infer_ms <= 0.7 * pytorch.infer_ms, infer_le_250ms: vigil.infer_ms <= 250, fit_rss_le_4gb: vigil.fit_peak_rss_mb <= 4096 },
  }));
} finally {
  rmSync(dir, { recursive: true, force: true });
}
