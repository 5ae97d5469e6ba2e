// Deep SVDD (DCAE pretraining → transfer → one-class training → test) on one Fashion-MNIST class:
// Vigil vs a PyTorch implementation with the reference code's data path (bench/dsvdd-fmnist.py:
// torchvision FashionMNIST + DataLoader, per-sample PIL → ToTensor, batch 128), same machine, same
// thread count, same initial weights, same reduced epoch count on both sides. Prints one JSON line.
// Usage: node dist/bench/dsvdd-fmnist.js [normalClass=0] [pretrainEpochs=5] [trainEpochs=5]
import { spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import * as torch from '../src/torch/index.js';
import { auroc } from '../src/eval/index.js';
import { FASHION_MNIST_DEFAULT_ROOT, loadOneClass } from '../src/data/oneclass.js';
import { arrayTrainData } from '../src/methods/array-data.js';
import { buildAutoencoder, buildNetwork, dsvdd, DSVDD_PRESETS, preprocessFor, type DsvddConfig } from '../src/methods/dsvdd/index.js';

const normalClass = Number(process.argv[2] ?? 0);
const preEpochs = Number(process.argv[3] ?? 5);
const trainEpochs = Number(process.argv[4] ?? 5);
const seed = 1;
const threads = torch.getNumThreads();
const here = (p: string): string => fileURLToPath(new URL(`../../${p}`, import.meta.url));

const preset = DSVDD_PRESETS.fmnist;
const config: DsvddConfig = {
  ...preset.dsvdd,
  pretrain: { ...preset.dsvdd.pretrain, epochs: preEpochs, milestones: [] },
  train: { ...preset.dsvdd.train, epochs: trainEpochs, milestones: [] },
};

const dir = mkdtempSync(join(tmpdir(), 'vigil-bench-dsvdd-'));
try {
  // Same initial weights on both sides: the RNG sequence of fit() (network, then autoencoder).
  torch.manualSeed(seed);
  const net0 = buildNetwork('fmnist');
  const ae0 = buildAutoencoder('fmnist');
  torch.tidy(() => {
    torch.savePth(join(dir, 'net.pth'), net0.stateDict());
    torch.savePth(join(dir, 'ae.pth'), ae0.stateDict());
  });
  net0.dispose();
  ae0.dispose();

  // ---- Vigil ----
  const stageTimes: Record<string, number[]> = { pretrain: [], train: [] };
  const t0 = performance.now();
  const ds = await loadOneClass('fashion-mnist', { normalClass });
  const prep = preprocessFor('fashion-mnist', normalClass, preset.preprocessing);
  const trainData = arrayTrainData(prep(ds.train), ds.train.shape, { seed });
  const tLoad = performance.now();
  torch.manualSeed(seed);
  const det = dsvdd.create(config, [1, 28, 28]);
  await det.fit(trainData, {
    seed, log: () => {},
    progress: (stage, _d, _t, v) => { stageTimes[stage]?.push(v?.seconds ?? 0); },
  });
  const tFit = performance.now();
  const testX = prep(ds.test);
  const scores = new Float32Array(ds.test.shape[0]);
  for (let s = 0; s < scores.length; s += 1000) {
    const n = Math.min(1000, scores.length - s);
    const x = torch.fromTypedArray(testX.subarray(s * 784, (s + n) * 784), [n, 1, 28, 28]);
    scores.set(det.score(x).scores, s);
    x.dispose();
  }
  const tEnd = performance.now();
  const vigilAuroc = auroc(scores, ds.test.labels);
  det.dispose();
  trainData.dispose();

  // Where the time goes: one epoch of each stage with the layout and transposed-convolution
  // choices switched off one at a time (channels-last + conv-based deconv is the default).
  const ablation: Record<string, { aeEpochS: number; svddEpochS: number }> = {};
  {
    const data = arrayTrainData(prep(ds.train), ds.train.shape, { seed });
    const variants = { default: { channelsLast: true, fastDeconv: true }, contiguous: { channelsLast: false, fastDeconv: true }, contiguousConvTranspose: { channelsLast: false, fastDeconv: false } };
    for (const [name, v] of Object.entries(variants)) {
      torch.manualSeed(seed);
      const d = dsvdd.create({ ...config, ...v, pretrain: { ...config.pretrain, epochs: 1 }, train: { ...config.train, epochs: 1 } }, [1, 28, 28]);
      const sec = { pretrain: 0, train: 0 };
      await d.fit(data, { seed, log: () => {}, progress: (stage, _d, _t, p) => { if (stage === 'pretrain' || stage === 'train') sec[stage] = p!.seconds!; } });
      ablation[name] = { aeEpochS: +sec.pretrain.toFixed(2), svddEpochS: +sec.train.toFixed(2) };
      d.dispose();
    }
    data.dispose();
  }

  // ---- PyTorch reference ----
  const raw = join(dir, 'FashionMNIST', 'raw');
  mkdirSync(raw, { recursive: true });
  for (const f of ['train-images-idx3-ubyte', 'train-labels-idx1-ubyte', 't10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte']) {
    writeFileSync(join(raw, f), gunzipSync(readFileSync(join(FASHION_MNIST_DEFAULT_ROOT, `${f}.gz`))));
  }
  writeFileSync(join(dir, 'spec.json'), JSON.stringify({
    root: dir, normalClass, seed, threads, initNet: join(dir, 'net.pth'), initAe: join(dir, 'ae.pth'),
    netsPy: here('test/methods-dsvdd/dsvdd_ref.py'), pretrain: config.pretrain, train: config.train,
  }));
  const p0 = performance.now();
  const r = spawnSync('/usr/bin/python3', [here('bench/dsvdd-fmnist.py'), dir], { encoding: 'utf8', env: { ...process.env, OMP_NUM_THREADS: String(threads) } });
  const pyWall = (performance.now() - p0) / 1000;
  if (r.status !== 0) throw new Error(`reference failed:\n${r.stderr}`);
  const ref = JSON.parse(readFileSync(join(dir, 'scores.json'), 'utf8')) as { scores: number[]; labels: number[]; times: Record<string, number> };
  const refAuroc = auroc(Float32Array.from(ref.scores), Uint8Array.from(ref.labels));

  const vigilWall = (tEnd - t0) / 1000;
  const sum = (a: number[]): number => a.reduce((x, y) => x + y, 0);
  console.log(JSON.stringify({
    bench: 'dsvdd-fmnist', normalClass, epochs: { pretrain: preEpochs, train: trainEpochs }, batchSize: 128, threads,
    torch: torch.backendInfo().torchVersion,
    vigil: {
      wallS: +vigilWall.toFixed(2), loadPreprocessS: +((tLoad - t0) / 1000).toFixed(2), fitS: +((tFit - tLoad) / 1000).toFixed(2),
      pretrainEpochsS: +sum(stageTimes.pretrain!).toFixed(2), trainEpochsS: +sum(stageTimes.train!).toFixed(2), testS: +((tEnd - tFit) / 1000).toFixed(2),
      auroc: +vigilAuroc.toFixed(4),
    },
    reference: {
      wallS: +pyWall.toFixed(2), inProcessS: +ref.times.total!.toFixed(2), pretrainS: +ref.times.pretrain!.toFixed(2), trainS: +ref.times.train!.toFixed(2),
      testS: +ref.times.test!.toFixed(2), auroc: +refAuroc.toFixed(4),
    },
    speedup: +(pyWall / vigilWall).toFixed(2),
    ablation,
  }));
} finally {
  rmSync(dir, { recursive: true, force: true });
}
