// One DRAEM training step of the full networks (base widths 128/64) at 256², batch 2 by default:
// G(aug), D(cat(rec, aug)), MSE + (1 − SSIM) + focal, backward, Adam (lr 1e-4) on both nets.
// Vigil vs PyTorch (the authors' NCHW code, test/methods/draem/draem_ref.py), each
// in its own process with the same thread count, alternating rounds; median step time (wall and
// CPU: on a shared machine the CPU time is the steadier figure), Vigil's forward/backward/optimiser
// split, peak RSS.
// Usage: node dist/bench/draem-step.js [--steps 5] [--rounds 1] [--batch 2] [--size 256] [--threads N]
//        [--widths 128,64] [--channels-last 0|1] [--pytorch-channels-last 0|1] [--device cpu|cuda[:n]]
//        [--precision float32|bfloat16]   (bfloat16: both sides run the networks under bfloat16
//        autocast and the loss in float32: torch.autocast in PyTorch, model.train.precision in Vigil)
//        [--convolution winograd|direct]  (Vigil's model.convolution; PyTorch runs its own direct kernels)
// Vigil's side is what its DRAEM trainer runs: the fused Adam and model.convolution.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { cpus } from 'node:os';
import { median } from './stats.js';
import * as torch from '../src/torch/index.js';
import { optim } from '../src/torch/index.js';
import { buildNetworks } from '../src/methods/draem/networks.js';
import { draemLoss } from '../src/methods/draem/loss.js';

const arg = (name: string, def: number): number => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : def;
};
const STEPS = arg('--steps', 5), ROUNDS = arg('--rounds', 1), BATCH = arg('--batch', 2), SIZE = arg('--size', 256);
const THREADS = arg('--threads', cpus().length);
const sarg = (name: string, def: string): string => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1]! : def;
};
const [RW, DW] = sarg('--widths', '128,64').split(',').map(Number) as [number, number];
const CL = arg('--channels-last', 0) === 1, PY_CL = arg('--pytorch-channels-last', 0) === 1;
/** cpu, or cuda[:n] (Vigil's addon built against a CUDA libtorch; PyTorch on the same GPU). */
const DEVICE = sarg('--device', 'cpu');
const PRECISION = sarg('--precision', 'float32');
if (PRECISION !== 'float32' && PRECISION !== 'bfloat16') {
  console.error(`--precision ${PRECISION}: must be float32 or bfloat16`);
  process.exit(1);
}
if (DEVICE !== 'cpu' && !torch.cudaAvailable()) {
  console.error(`--device ${DEVICE}: this addon's libtorch has no CUDA; build it against a CUDA libtorch (docs/engine.md)`);
  process.exit(1);
}
const CONVOLUTION = sarg('--convolution', 'winograd') as 'winograd' | 'direct';
if (CONVOLUTION !== 'winograd' && CONVOLUTION !== 'direct') {
  console.error(`--convolution ${CONVOLUTION}: must be winograd or direct`);
  process.exit(1);
}
const WARMUP = 2;

interface Phases { forward: number[]; backward: number[]; optimizer: number[] }

/** CPU time (user + system, all threads) of this process in ms: steadier than wall time on a shared machine. */
const cpuMs = (): number => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; };

function runVigil(): { times: number[]; cpu: number[]; phases: Phases } {
  torch.setNumThreads(THREADS);
  torch.manualSeed(0);
  const { reconstructive: g, discriminative: d } = buildNetworks({ reconstructiveWidth: RW, discriminativeWidth: DW, channelsLast: CL, convolution: CONVOLUTION });
  if (DEVICE !== 'cpu') { g.to(DEVICE); d.to(DEVICE); }
  const opt = new optim.Adam([{ params: g.parameters(), lr: 1e-4 }, { params: d.parameters(), lr: 1e-4 }], { fused: true });
  const img = torch.keep(torch.rand([BATCH, 3, SIZE, SIZE]).to(DEVICE));
  const aug = torch.keep(torch.rand([BATCH, 3, SIZE, SIZE]).to(DEVICE));
  const mask = torch.keep(torch.rand([BATCH, 1, SIZE, SIZE]).gt(0.8).to('float32').to(DEVICE));
  // On a GPU the kernels run asynchronously: reading one value waits for the step to finish.
  const sync = (): void => { if (DEVICE !== 'cpu') torch.tidy(() => { g.parameters()[0]!.flatten().slice(0, 0, 1).item(); }); };
  const times: number[] = [];
  const cpu: number[] = [];
  const phases: Phases = { forward: [], backward: [], optimizer: [] };
  for (let i = 0; i < WARMUP + STEPS; i++) {
    const c0 = cpuMs();
    const t0 = performance.now();
    let t1 = 0, t2 = 0;
    torch.tidy(() => {
      opt.zeroGrad();
      const l = torch.autocast({ device: DEVICE === 'cpu' ? 'cpu' : 'cuda', dtype: 'bfloat16', enabled: PRECISION === 'bfloat16' }, () => {
        const rec = g.forward(aug);
        return draemLoss(rec, img, d.forward(torch.cat([rec, aug], 1)), mask);
      });
      if (DEVICE !== 'cpu') l.loss.item();
      t1 = performance.now();
      l.loss.backward();
      sync();
      t2 = performance.now();
      opt.step();
      sync();
    });
    const t3 = performance.now();
    if (i >= WARMUP) {
      times.push(t3 - t0);
      cpu.push(cpuMs() - c0);
      phases.forward.push(t1 - t0);
      phases.backward.push(t2 - t1);
      phases.optimizer.push(t3 - t2);
    }
  }
  return { times, cpu, phases };
}

const PY = String.raw`
import sys, time, json, resource, torch
sys.path.insert(0, sys.argv[5])
import draem_ref as R
steps, warm, bs, size, threads, rw, dw, cl = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[6]), int(sys.argv[7]), int(sys.argv[8]), sys.argv[9] == '1'
bf16 = sys.argv[11] == 'bfloat16'
torch.set_num_threads(threads)
g, d = R.build(0, rw, dw)
dev = sys.argv[10]
g, d = g.to(dev), d.to(dev)
sync = (lambda: torch.cuda.synchronize()) if dev != 'cpu' else (lambda: None)
if cl:
    g, d = g.to(memory_format=torch.channels_last), d.to(memory_format=torch.channels_last)
opt = torch.optim.Adam([{'params': g.parameters(), 'lr': 1e-4}, {'params': d.parameters(), 'lr': 1e-4}])
img = torch.rand(bs, 3, size, size).to(dev); aug = torch.rand(bs, 3, size, size).to(dev); mask = (torch.rand(bs, 1, size, size) > 0.8).float().to(dev)
times, cpu = [], []
for i in range(warm + steps):
    t0, c0 = time.perf_counter(), time.process_time()
    opt.zero_grad(); rec, seg, l2, ss, fo = R.losses(g, d, aug, img, mask, amp=bf16); (l2 + ss + fo).backward(); opt.step(); sync()
    if i >= warm:
        times.append((time.perf_counter() - t0) * 1000)
        cpu.append((time.process_time() - c0) * 1000)
print(json.dumps({"times": times, "cpu": cpu, "threads": torch.get_num_threads(), "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "version": torch.__version__}))
`;

if (process.argv.includes('--vigil-child')) {
  const { times, cpu, phases } = runVigil();
  console.log(JSON.stringify({ times, cpu, phases, threads: torch.getNumThreads(), rss_mb: process.resourceUsage().maxRSS / 1024 }));
} else {
  const self = fileURLToPath(import.meta.url);
  const refDir = fileURLToPath(new URL('../../test/methods/draem/', import.meta.url));
  const vig: number[] = [], py: number[] = [], vigCpu: number[] = [], pyCpu: number[] = [];
  let vigRss = 0, pyRss = 0, pyThreads = 0, vigThreads = 0, pyVersion = '';
  const ph: Phases = { forward: [], backward: [], optimizer: [] };
  for (let r = 0; r < ROUNDS; r++) {
    const p = spawnSync(process.env.VIGIL_PYTHON ?? '/usr/bin/python3', ['-c', PY, String(STEPS), String(WARMUP), String(BATCH), String(SIZE), refDir, String(THREADS), String(RW), String(DW), PY_CL ? '1' : '0', DEVICE, PRECISION], { encoding: 'utf8' });
    if (p.status !== 0) throw new Error(`PyTorch side failed: ${p.stderr}`);
    const pr = JSON.parse(p.stdout) as { times: number[]; cpu: number[]; threads: number; rss_mb: number; version: string };
    py.push(...pr.times); pyCpu.push(...pr.cpu); pyRss = Math.max(pyRss, pr.rss_mb); pyThreads = pr.threads; pyVersion = pr.version;
    const v = spawnSync(process.execPath, [self, '--vigil-child', ...process.argv.slice(2)], { encoding: 'utf8' });
    if (v.status !== 0) throw new Error(`Vigil side failed: ${v.stderr}`);
    const vr = JSON.parse(v.stdout) as { times: number[]; cpu: number[]; phases: Phases; threads: number; rss_mb: number };
    vig.push(...vr.times); vigCpu.push(...vr.cpu);
    for (const k of ['forward', 'backward', 'optimizer'] as const) ph[k].push(...vr.phases[k]);
    vigRss = Math.max(vigRss, vr.rss_mb); vigThreads = vr.threads;
  }
  const mv = median(vig), mp = median(py);
  console.log(JSON.stringify({
    bench: 'draem-step', device: DEVICE, precision: PRECISION, convolution: { vigil: DEVICE === 'cpu' && PRECISION === 'float32' && torch.nn.F.winogradAvailable() ? CONVOLUTION : 'direct', pytorch: 'direct' }, widths: [RW, DW], layout: { vigil: CL ? 'channels_last' : 'nchw', pytorch: PY_CL ? 'channels_last' : 'nchw' }, size: SIZE, batch: BATCH, steps: STEPS * ROUNDS,
    vigil_median_ms: +mv.toFixed(1), pytorch_median_ms: +mp.toFixed(1), ratio: +(mv / mp).toFixed(3),
    // CPU time per step (user + system, all threads): on a shared machine the steadier comparison.
    vigil_cpu_median_ms: Math.round(median(vigCpu)), pytorch_cpu_median_ms: Math.round(median(pyCpu)), cpu_ratio: +(median(vigCpu) / median(pyCpu)).toFixed(3),
    vigil_phases_median_ms: { forward: Math.round(median(ph.forward)), backward: Math.round(median(ph.backward)), optimizer: Math.round(median(ph.optimizer)) },
    vigil_peak_rss_mb: Math.round(vigRss), pytorch_peak_rss_mb: Math.round(pyRss),
    threads: { vigil: vigThreads, pytorch: pyThreads }, pytorch_version: pyVersion,
  }));
}
