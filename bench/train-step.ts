// Median time per training step of the Deep SVDD CIFAR-10 LeNet (openood-ad.md §2.3: bias-free
// convs, BN eps=1e-4 affine=false, leaky ReLU, batch 200, Adam lr 1e-4 wd 5e-7), Vigil vs PyTorch on
// the same machine in one run. Each side runs in its own process (for peak RSS), alternating rounds.
// Usage: node dist/bench/train-step.js [--steps 30] [--rounds 2]
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { median } from './stats.js';
import * as torch from '../src/torch/index.js';
import { nn, optim, type Tensor } from '../src/torch/index.js';

const arg = (name: string, def: number) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : def;
};
const STEPS = arg('--steps', 30);
const ROUNDS = arg('--rounds', 2);
const WARMUP = 5;
const BATCH = 200;

class Cifar10LeNet extends nn.Module {
  declare conv1: nn.Conv2d; declare bn2d1: nn.BatchNorm2d;
  declare conv2: nn.Conv2d; declare bn2d2: nn.BatchNorm2d;
  declare conv3: nn.Conv2d; declare bn2d3: nn.BatchNorm2d;
  declare fc1: nn.Linear;
  constructor() {
    super();
    this.conv1 = this.registerModule('conv1', new nn.Conv2d(3, 32, 5, { bias: false, padding: 2 }));
    this.bn2d1 = this.registerModule('bn2d1', new nn.BatchNorm2d(32, { eps: 1e-4, affine: false }));
    this.conv2 = this.registerModule('conv2', new nn.Conv2d(32, 64, 5, { bias: false, padding: 2 }));
    this.bn2d2 = this.registerModule('bn2d2', new nn.BatchNorm2d(64, { eps: 1e-4, affine: false }));
    this.conv3 = this.registerModule('conv3', new nn.Conv2d(64, 128, 5, { bias: false, padding: 2 }));
    this.bn2d3 = this.registerModule('bn2d3', new nn.BatchNorm2d(128, { eps: 1e-4, affine: false }));
    this.fc1 = this.registerModule('fc1', new nn.Linear(128 * 4 * 4, 128, { bias: false }));
  }
  forward(x: Tensor): Tensor {
    const block = (conv: nn.Conv2d, bn: nn.BatchNorm2d, h: Tensor) => torch.max_pool2d(nn.F.leakyRelu(bn.forward(conv.forward(h))), 2, [2]);
    let h = block(this.conv1, this.bn2d1, x);
    h = block(this.conv2, this.bn2d2, h);
    h = block(this.conv3, this.bn2d3, h);
    return this.fc1.forward(h.flatten({ startDim: 1 }));
  }
}

function runVigil(): { times: number[]; threads: number } {
  torch.manualSeed(0);
  const net = new Cifar10LeNet();
  const opt = new optim.Adam(net.parameters(), { lr: 1e-4, weightDecay: 5e-7 });
  const x = torch.keep(torch.rand([BATCH, 3, 32, 32]));
  const c = torch.keep(torch.randn([128]).mul(0.1));
  const times: number[] = [];
  for (let i = 0; i < WARMUP + STEPS; i++) {
    const t0 = performance.now();
    torch.tidy(() => {
      opt.zeroGrad();
      const out = net.forward(x);
      const loss = out.sub(c).pow(2).sum([1]).mean();
      loss.backward();
      opt.step();
    });
    if (i >= WARMUP) times.push(performance.now() - t0);
  }
  return { times, threads: torch.getNumThreads() };
}

const PY = String.raw`
import sys, time, json, resource, torch, torch.nn as nn, torch.nn.functional as F
steps, warm, bs = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 32, 5, bias=False, padding=2); self.bn2d1 = nn.BatchNorm2d(32, eps=1e-04, affine=False)
        self.conv2 = nn.Conv2d(32, 64, 5, bias=False, padding=2); self.bn2d2 = nn.BatchNorm2d(64, eps=1e-04, affine=False)
        self.conv3 = nn.Conv2d(64, 128, 5, bias=False, padding=2); self.bn2d3 = nn.BatchNorm2d(128, eps=1e-04, affine=False)
        self.fc1 = nn.Linear(128 * 4 * 4, 128, bias=False)
        self.pool = nn.MaxPool2d(2, 2)
    def forward(self, x):
        x = self.pool(F.leaky_relu(self.bn2d1(self.conv1(x))))
        x = self.pool(F.leaky_relu(self.bn2d2(self.conv2(x))))
        x = self.pool(F.leaky_relu(self.bn2d3(self.conv3(x))))
        return self.fc1(x.view(x.size(0), -1))
torch.manual_seed(0)
net = Net(); opt = torch.optim.Adam(net.parameters(), lr=1e-4, weight_decay=5e-7)
x = torch.rand(bs, 3, 32, 32); c = torch.randn(128) * 0.1
times = []
for i in range(warm + steps):
    t0 = time.perf_counter()
    opt.zero_grad(); out = net(x); loss = torch.mean(torch.sum((out - c) ** 2, dim=1)); loss.backward(); opt.step()
    if i >= warm: times.append((time.perf_counter() - t0) * 1000)
print(json.dumps({"times": times, "threads": torch.get_num_threads(), "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "version": torch.__version__}))
`;


if (process.argv.includes('--vigil-child')) {
  const r = runVigil();
  console.log(JSON.stringify({ ...r, rss_mb: process.resourceUsage().maxRSS / 1024 }));
} else {
  const self = fileURLToPath(import.meta.url);
  const vig: number[] = []; const py: number[] = [];
  let vigRss = 0; let pyRss = 0; let vigThreads = 0; let pyThreads = 0; let pyVersion = '';
  for (let r = 0; r < ROUNDS; r++) {
    const p = spawnSync(process.env.VIGIL_PYTHON ?? '/usr/bin/python3', ['-c', PY, String(STEPS), String(WARMUP), String(BATCH)], { encoding: 'utf8' });
    if (p.status !== 0) throw new Error(`PyTorch side failed: ${p.stderr}`);
    const pr = JSON.parse(p.stdout) as { times: number[]; threads: number; rss_mb: number; version: string };
    py.push(...pr.times); pyRss = Math.max(pyRss, pr.rss_mb); pyThreads = pr.threads; pyVersion = pr.version;
    const v = spawnSync(process.execPath, [self, '--vigil-child', '--steps', String(STEPS)], { encoding: 'utf8' });
    if (v.status !== 0) throw new Error(`Vigil side failed: ${v.stderr}`);
    const vr = JSON.parse(v.stdout) as { times: number[]; threads: number; rss_mb: number };
    vig.push(...vr.times); vigRss = Math.max(vigRss, vr.rss_mb); vigThreads = vr.threads;
  }
  const mv = median(vig); const mp = median(py);
  console.log(JSON.stringify({
    bench: 'train-step', model: 'CIFAR10_LeNet (Deep SVDD)', batch: BATCH, steps: STEPS * ROUNDS,
    vigil_median_ms: +mv.toFixed(2), pytorch_median_ms: +mp.toFixed(2), ratio: +(mv / mp).toFixed(3),
    vigil_peak_rss_mb: Math.round(vigRss), pytorch_peak_rss_mb: Math.round(pyRss),
    threads: { vigil: vigThreads, pytorch: pyThreads }, pytorch_version: pyVersion,
  }));
}
