// Deep SVDD (DCAE pretraining → transfer → one-class training → test) on one Fashion-MNIST class:
// Vigil vs a PyTorch implementation with the reference code's data path (bench/dsvdd-fmnist.py:
// torchvision FashionMNIST + DataLoader, per-sample PIL → ToTensor, batch 128), same machine, same
// thread count, same initial weights, same reduced epoch count on both sides. The two sides run in
// alternation for several rounds (this machine's speed drifts by 2× over minutes); the speedup is
// the ratio of the median wall times. Prints one JSON line.
// Usage: node dist/bench/dsvdd-fmnist.js [normalClass=0] [pretrainEpochs=5] [trainEpochs=5] [rounds=3]
import { spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { median } from './stats.js';
import * as torch from '../src/torch/index.js';
import { auroc } from '../src/eval/index.js';
import { FASHION_MNIST_DEFAULT_ROOT, loadOneClass } from '../src/data/oneclass.js';
import { arrayTrainData } from '../src/methods/array-data.js';
import { uint8ToUnitFloat } from '../src/data/dsvdd-preprocess.js';
import { buildAutoencoder, buildNetwork, dsvdd, type DsvddConfig } from '../src/methods/dsvdd/index.js';
import { modelSchemaOf, resolveConfig } from '../src/pipeline/config.js';

const normalClass = Number(process.argv[2] ?? 0);
const preEpochs = Number(process.argv[3] ?? 5);
const trainEpochs = Number(process.argv[4] ?? 5);
const rounds = Number(process.argv[5] ?? 3);
const seed = 1;
const threads = torch.getNumThreads();
const here = (p: string): string => fileURLToPath(new URL(`../../${p}`, import.meta.url));
const r2 = (x: number): number => +x.toFixed(2);
const sum = (a: number[]): number => a.reduce((x, y) => x + y, 0);

// The fmnist preset (configs/dsvdd/fmnist.yaml): Deep SAD protocol, pixels / 255.
const resolved = resolveConfig({ method: 'dsvdd', modelSchema: modelSchemaOf(dsvdd), data: `fmnist:${normalClass}` }).config;
if (resolved.preprocess.gcn !== 'none' || resolved.preprocess.minMax !== 'none') throw new Error('bench: the fmnist preset is expected to use pixels / 255');
const presetModel = resolved.model as DsvddConfig;
const config: DsvddConfig = {
  ...presetModel,
  pretrain: { ...presetModel.pretrain, epochs: preEpochs, milestones: [] },
  train: { ...presetModel.train, epochs: trainEpochs, milestones: [] },
};
const prep = (set: { images: Uint8Array }): Float32Array => uint8ToUnitFloat(set.images);

interface VigilRun { wallS: number; loadPreprocessS: number; pretrainS: number; trainS: number; testS: number; auroc: number }
interface RefRun { wallS: number; inProcessS: number; pretrainS: number; trainS: number; testS: number; auroc: number }

/** The whole Vigil job, data loading included, as a user's run would do it. */
async function runVigil(): Promise<VigilRun> {
  const stageTimes: Record<string, number[]> = { pretrain: [], train: [] };
  const t0 = performance.now();
  const ds = await loadOneClass('fashion-mnist', { normalClass });
  const trainData = arrayTrainData(prep(ds.train), ds.train.shape, { seed });
  const tLoad = performance.now();
  torch.manualSeed(seed);
  const det = dsvdd.create(config, [1, 28, 28]);
  await det.fit(trainData, { seed, log: () => {}, progress: (stage, _d, _t, v) => { stageTimes[stage]?.push(v?.seconds ?? 0); } });
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
  det.dispose();
  trainData.dispose();
  // Stage times: pretrain = the AE epochs; train = the rest of fit (transfer, center, SVDD epochs).
  const pretrainS = sum(stageTimes.pretrain!);
  return {
    wallS: r2((tEnd - t0) / 1000), loadPreprocessS: r2((tLoad - t0) / 1000), pretrainS: r2(pretrainS),
    trainS: r2((tFit - tLoad) / 1000 - pretrainS), testS: r2((tEnd - tFit) / 1000), auroc: +auroc(scores, ds.test.labels).toFixed(4),
  };
}

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

  const raw = join(dir, 'FashionMNIST', 'raw');
  mkdirSync(raw, { recursive: true });
  for (const f of ['train-images-idx3-ubyte', 'train-labels-idx1-ubyte', 't10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte']) {
    writeFileSync(join(raw, f), gunzipSync(readFileSync(join(FASHION_MNIST_DEFAULT_ROOT, `${f}.gz`))));
  }
  writeFileSync(join(dir, 'spec.json'), JSON.stringify({
    root: dir, normalClass, seed, threads, initNet: join(dir, 'net.pth'), initAe: join(dir, 'ae.pth'),
    netsPy: here('test/methods/dsvdd/dsvdd_ref.py'), pretrain: config.pretrain, train: config.train,
  }));
  const runReference = (): RefRun => {
    const p0 = performance.now();
    const r = spawnSync('/usr/bin/python3', [here('bench/dsvdd-fmnist.py'), dir], { encoding: 'utf8', env: { ...process.env, OMP_NUM_THREADS: String(threads) } });
    const wallS = (performance.now() - p0) / 1000;
    if (r.status !== 0) throw new Error(`reference failed:\n${r.stderr}`);
    const ref = JSON.parse(readFileSync(join(dir, 'scores.json'), 'utf8')) as { scores: number[]; labels: number[]; times: Record<string, number> };
    return {
      wallS: r2(wallS), inProcessS: r2(ref.times.total!), pretrainS: r2(ref.times.pretrain!), trainS: r2(ref.times.train!), testS: r2(ref.times.test!),
      auroc: +auroc(Float32Array.from(ref.scores), Uint8Array.from(ref.labels)).toFixed(4),
    };
  };

  const vigil: VigilRun[] = [];
  const reference: RefRun[] = [];
  for (let i = 0; i < rounds; i++) {
    vigil.push(await runVigil());
    reference.push(runReference());
  }

  // Where the time goes: one epoch of each stage with the layout and transposed-convolution
  // choices switched off one at a time (channels-last + conv-based deconv is the default).
  const ablation: Record<string, { aeEpochS: number; svddEpochS: number }> = {};
  {
    const ds = await loadOneClass('fashion-mnist', { normalClass });
    const data = arrayTrainData(prep(ds.train), ds.train.shape, { seed });
    const variants = { default: { channelsLast: true, fastDeconv: true }, contiguous: { channelsLast: false, fastDeconv: true }, contiguousConvTranspose: { channelsLast: false, fastDeconv: false } };
    for (const [name, v] of Object.entries(variants)) {
      torch.manualSeed(seed);
      const d = dsvdd.create({ ...config, ...v, pretrain: { ...config.pretrain, epochs: 1 }, train: { ...config.train, epochs: 1 } }, [1, 28, 28]);
      const sec = { pretrain: 0, train: 0 };
      await d.fit(data, { seed, log: () => {}, progress: (stage, _d, _t, p) => { if (stage === 'pretrain' || stage === 'train') sec[stage] = p!.seconds!; } });
      ablation[name] = { aeEpochS: r2(sec.pretrain), svddEpochS: r2(sec.train) };
      d.dispose();
    }
    data.dispose();
  }

  const vMed = median(vigil.map((r) => r.wallS));
  const rMed = median(reference.map((r) => r.wallS));
  console.log(JSON.stringify({
    bench: 'dsvdd-fmnist', normalClass, epochs: { pretrain: preEpochs, train: trainEpochs }, batchSize: 128, threads, rounds,
    torch: torch.backendInfo().torchVersion, allocator: process.env.VIGIL_DEFAULT_ALLOCATOR === '1' ? 'glibc' : 'vigil-caching',
    vigilMedianS: r2(vMed), referenceMedianS: r2(rMed), speedup: r2(rMed / vMed),
    speedupPerRound: vigil.map((v, i) => r2(reference[i]!.wallS / v.wallS)),
    vigil, reference, ablation,
  }));
} finally {
  rmSync(dir, { recursive: true, force: true });
}
