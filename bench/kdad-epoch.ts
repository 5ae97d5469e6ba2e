// One KDAD training epoch at 224² (synthetic MVTec-style images, random-init VGG16 teacher, cloner
// 'B', Adam lr 1e-3): Vigil with the teacher cache, Vigil without it, and the authors' loop in
// PyTorch (bench/kdad-epoch.py: teacher called with autograd on, as train.py does), plus that loop
// with the teacher under no_grad. Same weights, same images, same batch order; each variant runs in
// its own process (peak RSS) for two epochs, the second one timed; the four variants alternate for
// `rounds` rounds and the medians are compared (the machine may be shared). Prints one JSON line.
// Usage: node dist/bench/kdad-epoch.js [images=16] [batch=8] [threads=1] [side=224] [rounds=3]
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as torch from '../src/torch/index.js';
import { deriveSeed, mulberry32, permutation } from '../src/data/random.js';
import { generateSynthDataset } from '../src/data/synth/index.js';
import { ImageLoader } from '../src/data/loader/index.js';
import { arrayTrainData } from '../src/methods/array-data.js';
import { median } from './stats.js';
import { kdad, kdadSchema, type KdadDetector } from '../src/methods/kdad/index.js';

process.removeAllListeners('warning');
const SEED = 3;
const EPOCHS = 2;

interface VariantResult { epochS: number[]; fillS: number; losses: number[]; peakRssMb: number }

/** Child: one Vigil fit over the saved images, cached or not. */
async function child(mode: 'cached' | 'uncached', dir: string, batch: number, threads: number): Promise<void> {
  torch.setNumThreads(threads);
  const x = torch.loadPth(join(dir, 'images.pth')).get('x')!;
  const [n, , side] = x.shape as [number, number, number, number];
  const data = arrayTrainData(x.toTypedArray() as Float32Array, [n, 3, side, side], { seed: SEED });
  const cfg = kdadSchema.parse({
    teacher: { weights: join(dir, 'teacher.pth') }, imageSize: side, localization: 'none',
    featureCache: mode === 'cached' ? 'memory' : 'off', train: { epochs: EPOCHS, batchSize: batch, lr: 1e-3 },
  });
  const d = kdad.create(cfg, [3, side, side]) as KdadDetector;
  const init = torch.loadPth(join(dir, 'cloner.pth'));
  torch.tidy(() => d.student.loadStateDict(init));
  const out: VariantResult = { epochS: [], fillS: 0, losses: [], peakRssMb: 0 };
  await d.fit(data, {
    seed: SEED,
    log: (m) => { const f = /cache filled in ([\d.]+) s/.exec(m); if (f) out.fillS = Number(f[1]); },
    progress: (stage, _d, _t, v) => { if (stage === 'train') { out.epochS.push(v!['seconds']!); out.losses.push(v!['loss']!); } },
  });
  out.peakRssMb = process.resourceUsage().maxRSS / 1024;
  console.log(JSON.stringify(out));
}

async function main(): Promise<void> {
  const nImages = Number(process.argv[2] ?? 16);
  const batch = Number(process.argv[3] ?? 8);
  const threads = Number(process.argv[4] ?? 1);
  const side = Number(process.argv[5] ?? 224);
  const rounds = Number(process.argv[6] ?? 3);
  const dir = mkdtempSync(join(tmpdir(), 'vigil-bench-kdad-'));
  try {
    await generateSynthDataset(dir, { categories: ['object'], size: side, trainCount: nImages, testGoodCount: 0, testDefectCount: 0, seed: 1 });
    const files = readdirSync(join(dir, 'object/train/good')).sort().map((f) => ({ path: join(dir, 'object/train/good', f) }));
    const loader = new ImageLoader(files, { batchSize: nImages, transforms: [{ op: 'resize', size: [side, side] }], workers: 0, masks: false });
    for await (const b of loader.epoch(0)) torch.tidy(() => torch.savePth(join(dir, 'images.pth'), { x: torch.fromTypedArray(b.images, b.shape) }));
    await loader.close();
    // One set of weights for every variant: a random teacher and a fresh cloner.
    const seedDet = kdad.create(kdadSchema.parse({ teacher: { weights: 'random', randomSeed: 1 }, imageSize: side }), [3, side, side]) as KdadDetector;
    torch.tidy(() => {
      torch.savePth(join(dir, 'teacher.pth'), seedDet.teacher.stateDict());
      torch.savePth(join(dir, 'cloner.pth'), seedDet.student.stateDict());
    });
    seedDet.dispose();
    const orders = Array.from({ length: EPOCHS }, (_, e) => {
      const p = permutation(nImages, mulberry32(deriveSeed(SEED, 'epoch', e)));
      return Array.from({ length: Math.ceil(nImages / batch) }, (_, b) => p.slice(b * batch, (b + 1) * batch));
    });
    const self = fileURLToPath(import.meta.url);
    const run = (args: string[], exe = process.execPath): VariantResult => {
      const r = spawnSync(exe, args, { encoding: 'utf8', maxBuffer: 1 << 24, env: { ...process.env, OMP_NUM_THREADS: String(threads) } });
      if (r.status !== 0) throw new Error(`${args.join(' ')} failed:\n${r.stderr}`);
      return JSON.parse(r.stdout.trim().split('\n').at(-1)!) as VariantResult;
    };
    const py = fileURLToPath(new URL('../../bench/kdad-epoch.py', import.meta.url));
    const ordersArg = JSON.stringify(orders);
    const variants: Record<string, () => VariantResult> = {
      vigil_cached: () => run([self, '--child', 'cached', dir, String(batch), String(threads)]),
      vigil_uncached: () => run([self, '--child', 'uncached', dir, String(batch), String(threads)]),
      pytorch_authors: () => run([py, dir, String(threads), ordersArg, 'authors'], '/usr/bin/python3'),
      pytorch_nograd_teacher: () => run([py, dir, String(threads), ordersArg, 'nograd'], '/usr/bin/python3'),
    };
    const results: Record<string, VariantResult[]> = Object.fromEntries(Object.keys(variants).map((k) => [k, []]));
    for (let r = 0; r < rounds; r++) for (const [k, f] of Object.entries(variants)) results[k]!.push(f());
    const epoch = (k: string): number => median(results[k]!.map((v) => v.epochS.at(-1)!));
    const perRound = (a: string, b: string): number[] => results[a]!.map((v, i) => Number((v.epochS.at(-1)! / results[b]![i]!.epochS.at(-1)!).toFixed(3)));
    const rss = (k: string): number => Math.max(...results[k]!.map((v) => v.peakRssMb));
    const rel = (a: VariantResult, b: VariantResult): number => Math.max(...a.losses.map((v, i) => Math.abs(v - b.losses[i]!) / Math.abs(b.losses[i]!)));
    const [vc, vu, pa, pn] = ['vigil_cached', 'vigil_uncached', 'pytorch_authors', 'pytorch_nograd_teacher'].map(epoch) as [number, number, number, number];
    console.log(JSON.stringify({
      bench: 'kdad-epoch', images: nImages, side, batch, threads, rounds, timed: `epoch ${EPOCHS} of each process, median over rounds`,
      epoch_s: { vigil_cached: vc, vigil_uncached: vu, pytorch_authors: pa, pytorch_nograd_teacher: pn },
      vigil_cache_fill_s: median(results['vigil_cached']!.map((v) => v.fillS)),
      speedup_cached_vs_authors: pa / vc, ratio_uncached_vs_authors: vu / pa, speedup_cached_vs_uncached: vu / vc, ratio_uncached_vs_nograd_teacher: vu / pn,
      per_round: { authors_over_cached: perRound('pytorch_authors', 'vigil_cached'), uncached_over_authors: perRound('vigil_uncached', 'pytorch_authors') },
      target_cached_5x: pa / vc >= 5, target_uncached_0_9: vu / pa <= 0.9,
      peak_rss_mb: { vigil_cached: rss('vigil_cached'), vigil_uncached: rss('vigil_uncached'), pytorch_authors: rss('pytorch_authors'), pytorch_nograd_teacher: rss('pytorch_nograd_teacher') },
      epoch_loss_rel_diff_vs_pytorch: { cached: rel(results['vigil_cached']![0]!, results['pytorch_authors']![0]!), uncached: rel(results['vigil_uncached']![0]!, results['pytorch_authors']![0]!) },
    }));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[2] === '--child') await child(process.argv[3] as 'cached' | 'uncached', process.argv[4]!, Number(process.argv[5]), Number(process.argv[6]));
else await main();
