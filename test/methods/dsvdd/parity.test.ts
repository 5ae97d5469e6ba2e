// Parity of DCAE and Deep SVDD with a PyTorch implementation of the authors' code (dsvdd_ref.py), in
// ONE Python process: seeded initial weights (ours saved with savePth, loaded strictly in Python),
// the 20 DCAE and 20 Deep SVDD optimisation steps of a real fit() (one batch per epoch, so the
// per-epoch lr milestones are exercised), the center c, the soft-boundary radius, DCAE and Deep SVDD
// scores, and numpy's quantile for the radius rule.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as torch from '../../../src/torch/index.js';
import type { Tensor } from '../../../src/torch/index.js';
import { arrayTrainData } from '../../../src/methods/array-data.js';
import type { ImageBatch, TrainData, TrainingState } from '../../../src/methods/types.js';
import {
  buildAutoencoder, buildNetwork, dcae, dsvdd, NETWORK_INPUT, radiusFromDistances, type DsvddConfig, type DsvddNetworkName,
} from '../../../src/methods/dsvdd/index.js';
import { runPython, tempDir } from '../../helpers/python.js';
import { mulberry32 } from '../../../src/data/random.js';

const N = 16;
const STEPS = 20;

interface Case {
  name: string;
  network: DsvddNetworkName;
  loss: 'sum' | 'mean';
  objective: 'one-class' | 'soft-boundary';
  seed: number;
  /**
   * 'authors': the ‡ path. Vigil runs with model.pretrain.epochs=0 (no DCAE, no transfer); the
   * reference pretrains the DCAE as Deep-SAD-PyTorch does and transfers with its own key filter,
   * which matches no key of the F-MNIST autoencoder (they carry an `encoder.` prefix).
   */
  transfer?: 'authors';
}

const cases: Case[] = [
  { name: 'fmnist-oc', network: 'fmnist', loss: 'mean', objective: 'one-class', seed: 11 },
  { name: 'fmnist-sb', network: 'fmnist', loss: 'mean', objective: 'soft-boundary', seed: 12 },
  { name: 'mnist-sb', network: 'mnist', loss: 'sum', objective: 'soft-boundary', seed: 13 },
  { name: 'cifar10-oc', network: 'cifar10', loss: 'sum', objective: 'one-class', seed: 14 },
  { name: 'cifar10-elu-oc', network: 'cifar10-elu', loss: 'sum', objective: 'one-class', seed: 15 },
  { name: 'fmnist-authors-oc', network: 'fmnist', loss: 'mean', objective: 'one-class', seed: 16, transfer: 'authors' },
];

/** Records the indices of every batch it hands out. */
function recording(inner: TrainData): TrainData & { log: number[][] } {
  const log: number[][] = [];
  return {
    size: inner.size,
    imageShape: inner.imageShape,
    log,
    epoch(o) {
      const it = inner.epoch(o);
      return {
        async *[Symbol.asyncIterator](): AsyncGenerator<ImageBatch> {
          for await (const b of it) {
            if (o.shuffle) log.push(b.indices!);
            yield b;
          }
        },
      };
    },
  };
}

function syntheticImages(shape: readonly [number, number, number], seed: number): Float32Array {
  // Smooth blobs plus noise in [0, 1], so the networks see structured inputs.
  const [c, h, w] = shape;
  const rnd = mulberry32(seed);
  const out = new Float32Array(N * c * h * w);
  for (let i = 0; i < N; i++) {
    const cx = rnd.next() * w, cy = rnd.next() * h, r = 3 + rnd.next() * 8;
    for (let k = 0; k < c; k++) {
      const a = rnd.next();
      for (let y = 0; y < h; y++) {
        for (let x = 0; x < w; x++) {
          const d = Math.hypot(x - cx, y - cy) / r;
          out[((i * c + k) * h + y) * w + x] = Math.min(1, Math.max(0, a * Math.exp(-d * d) + 0.15 * rnd.next()));
        }
      }
    }
  }
  return out;
}

function relClose(a: number, b: number, rel: number, what: string): void {
  const tol = rel * Math.max(Math.abs(a), Math.abs(b), 1e-6);
  assert.ok(Math.abs(a - b) <= tol, `${what}: ours ${a} vs PyTorch ${b} (|Δ| ${Math.abs(a - b)} > ${tol})`);
}

function arrayClose(a: ArrayLike<number>, b: ArrayLike<number>, rel: number, what: string): void {
  assert.equal(a.length, b.length, `${what}: length`);
  const scale = Math.max(...Array.from(b, Math.abs), 1e-6);
  for (let i = 0; i < a.length; i++) {
    assert.ok(Math.abs(a[i]! - b[i]!) <= rel * Math.max(Math.abs(b[i]!), scale * 1e-2), `${what}[${i}]: ours ${a[i]} vs PyTorch ${b[i]}`);
  }
}

interface CaseOut {
  ts: { aeLosses: number[]; svddLosses: number[]; R: number[]; c: number[]; transferKeys: string[]; dsvddScores: number[]; dcaeScores: number[]; netKeys: string[]; aeKeys: string[] };
  spec: Record<string, unknown>;
}

const dir = tempDir('vigil-dsvdd-parity-');
const outs: CaseOut[] = [];
const quantileSpecs: { d: number[]; nu: number }[] = [];
let py: { cases: Record<string, unknown>[]; quantiles: number[] };

test('setup: run our fits and the PyTorch reference', async () => {
  for (const cs of cases) {
    const shape = NETWORK_INPUT[cs.network];
    const images = syntheticImages(shape, cs.seed);
    torch.savePth(join(dir, `data_${cs.name}.pth`), { x: torch.tidy(() => torch.fromTypedArray(Float64Array.from(images), [N, ...shape])) });
    // The same RNG sequence as inside fit(): the network is built first, then the autoencoder.
    torch.manualSeed(cs.seed);
    const net0 = buildNetwork(cs.network);
    const ae0 = buildAutoencoder(cs.network);
    torch.tidy(() => {
      torch.savePth(join(dir, `net_${cs.name}.pth`), net0.stateDict());
      torch.savePth(join(dir, `ae_${cs.name}.pth`), ae0.stateDict());
    });
    const netKeys = [...torch.tidy(() => net0.stateDict()).keys()];
    const aeKeys = [...torch.tidy(() => ae0.stateDict()).keys()];
    net0.dispose();
    ae0.dispose();

    const config: DsvddConfig = {
      ...dsvdd.defaults,
      network: cs.network,
      objective: cs.objective,
      nu: 0.1,
      warmUpEpochs: 5,
      fastDeconv: true,
      channelsLast: true, // the default; the reference below is contiguous NCHW
      // float64 on both sides: Adam's first steps are ≈ lr·sign(g), so float32 rounding differences
      // (1 ulp in step 2) grow chaotically to ~1e-4 within 20 steps; in float64 they stay ~1e-12.
      dtype: 'float64',
      pretrain: { epochs: cs.transfer === 'authors' ? 0 : STEPS, lr: 1e-4, milestones: [8, 15], gamma: 0.5, weightDecay: 0.5e-3, batchSize: N, amsgrad: false, loss: cs.loss },
      train: { epochs: STEPS, lr: 1e-4, milestones: [10], gamma: 0.1, weightDecay: 0.5e-6, batchSize: N, amsgrad: false },
    };
    const base = arrayTrainData(Float64Array.from(images), [N, ...shape], { seed: cs.seed });
    const pre = recording(base);
    const aeLosses: number[] = [];
    const svddLosses: number[] = [];
    const R: number[] = [];
    let lastAe: Map<string, Tensor> | null = null;
    let transferKeys: string[] = [];
    torch.manualSeed(cs.seed);
    const det = dsvdd.create(config, shape);
    await det.fit(pre, {
      seed: cs.seed,
      log: (m) => { if (m.startsWith('pretrain: copied')) transferKeys = m.slice(m.indexOf('(') + 1, m.lastIndexOf(')')).split(', '); },
      progress: (stage, _done, _total, v) => {
        if (stage === 'pretrain') aeLosses.push(v!.loss!);
        else { svddLosses.push(v!.loss!); R.push(v!.R!); }
      },
      checkpoint: (st: TrainingState) => {
        if (st.meta.stage !== 'pretrain' || st.meta.epoch !== STEPS) return;
        lastAe = new Map([...st.tensors].filter(([k]) => k.startsWith('model.')).map(([k, v]) => [k.slice(6), torch.keep(v.clone())]));
      },
    });
    const x = torch.keep(torch.fromTypedArray(Float64Array.from(images), [N, ...shape]));
    const dsvddScores = Array.from(det.score(x).scores);
    let dcaeScores: number[] = [];
    const ae = lastAe as Map<string, Tensor> | null; // set in the checkpoint callback (none without pretraining)
    if (ae) {
      const dcaeDet = dcae.load({ ...dcae.defaults, network: cs.network, dtype: 'float64' }, shape, { tensors: ae, meta: {} });
      dcaeScores = Array.from(dcaeDet.score(x).scores);
      dcaeDet.dispose();
      for (const t of ae.values()) t.dispose();
    }
    const c = Array.from(torch.tidy(() => det.state().tensors.get('c')!.toTypedArray() as Float64Array));
    det.dispose();
    x.dispose();
    base.dispose();
    // Without pretraining the reference still trains its DCAE (as the authors' code does); in a
    // fixed order here, since nothing of it reaches the network.
    const orders = cs.transfer === 'authors' ? [...Array.from({ length: STEPS }, () => Array.from({ length: N }, (_, k) => k)), ...pre.log] : pre.log;
    assert.equal(orders.length, 2 * STEPS, 'one batch per epoch in both stages');
    outs.push({
      ts: { aeLosses, svddLosses, R, c, transferKeys, dsvddScores, dcaeScores, netKeys, aeKeys },
      spec: {
        name: cs.name, network: cs.network, loss: cs.loss, objective: cs.objective, nu: config.nu, warmUp: config.warmUpEpochs, seed: cs.seed,
        batchSize: N, pre: config.pretrain, train: config.train, initNet: `net_${cs.name}.pth`, initAe: `ae_${cs.name}.pth`, data: `data_${cs.name}.pth`,
        aeOrder: orders.slice(0, STEPS), svddOrder: orders.slice(STEPS), transfer: cs.transfer ?? 'stripped',
      },
    });
  }
  const rnd = mulberry32(99);
  for (const [n, nu] of [[1, 0.1], [2, 0.5], [7, 0.1], [128, 0.1], [200, 0.05], [33, 0.9], [10, 1]] as const) {
    quantileSpecs.push({ d: Array.from({ length: n }, () => Math.fround(rnd.next() * 5)), nu });
  }
  const { writeFileSync } = await import('node:fs');
  writeFileSync(join(dir, 'spec.json'), JSON.stringify({ cases: outs.map((o) => o.spec), quantiles: quantileSpecs }));
  const script = readFileSync(fileURLToPath(new URL('../../../../test/methods/dsvdd/dsvdd_ref.py', import.meta.url)), 'utf8');
  runPython(script, dir);
  py = JSON.parse(readFileSync(join(dir, 'out.json'), 'utf8'));
});

for (const [i, cs] of cases.entries()) {
  test(`${cs.name}: seeded initial weights equal the authors' constructors; state-dict keys load strictly`, () => {
    const p = py.cases[i]!;
    assert.equal(p.initNetDiff, 0, 'network init differs from torch.manual_seed + the PyTorch class');
    assert.equal(p.initAeDiff, 0, 'autoencoder init differs from torch.manual_seed + the PyTorch class');
    assert.deepEqual(outs[i]!.ts.netKeys, p.netKeys);
    assert.deepEqual(outs[i]!.ts.aeKeys, p.aeKeys);
  });

  if (cs.transfer === 'authors') {
    test(`${cs.name}: model.pretrain.epochs=0 (‡) is what Deep-SAD-PyTorch runs on F-MNIST: no key transferred, then c, 20 Deep SVDD losses and scores equal (rel 1e-9)`, () => {
      const p = py.cases[i]! as Record<string, number[] & string[]>;
      const ts = outs[i]!.ts;
      assert.equal(p.aeLosses!.length, STEPS, 'the reference did pretrain its DCAE');
      assert.deepEqual(p.transferKeys, [], "the authors' filter `k in net_dict` matches none of the `encoder.`-prefixed keys");
      assert.deepEqual(ts.transferKeys, [], 'Vigil copied nothing either');
      assert.equal(ts.aeLosses.length, 0, 'and ran no pretraining stage');
      arrayClose(ts.c, p.c!, 1e-9, 'center c of the randomly initialised network');
      assert.equal(ts.svddLosses.length, STEPS);
      ts.svddLosses.forEach((l, k) => relClose(l, p.svddLosses![k]!, 1e-9, `Deep SVDD loss at step ${k + 1}`));
      arrayClose(ts.dsvddScores, p.dsvddScores!, 1e-6, 'Deep SVDD score (returned as float32)');
    });
    continue;
  }

  test(`${cs.name}: 20 DCAE losses, transfer keys, c, 20 Deep SVDD losses and scores match PyTorch in float64 (rel 1e-9; the issue asks 1e-4)`, () => {
    const p = py.cases[i]! as Record<string, number[] & string[]>;
    const ts = outs[i]!.ts;
    assert.equal(ts.aeLosses.length, STEPS);
    ts.aeLosses.forEach((l, k) => relClose(l, p.aeLosses![k]!, 1e-9, `DCAE loss at step ${k + 1}`));
    arrayClose(ts.dcaeScores, p.dcaeScores!, 1e-4, 'DCAE score');
    assert.deepEqual(ts.transferKeys, p.transferKeys);
    assert.deepEqual(ts.transferKeys, ts.netKeys, 'every network tensor comes from the autoencoder');
    arrayClose(ts.c, p.c!, 1e-4, 'center c');
    assert.equal(ts.svddLosses.length, STEPS);
    ts.svddLosses.forEach((l, k) => relClose(l, p.svddLosses![k]!, 1e-9, `Deep SVDD loss at step ${k + 1}`));
    ts.R.forEach((r, k) => relClose(r, p.R![k]!, 1e-9, `R after step ${k + 1}`));
    arrayClose(ts.dsvddScores, p.dsvddScores!, 1e-4, 'Deep SVDD score');
    if (cs.objective === 'soft-boundary') assert.ok(ts.R[STEPS - 1]! > 0, 'R was updated after warm-up');
  });
}

test('the eps rule was exercised by at least one case (some |c_i| < 0.1 before the rule)', () => {
  const hit = py.cases.some((p) => (p.cRaw as number[]).some((v) => Math.abs(v) < 0.1 && v !== 0));
  assert.ok(hit);
});

test('soft-boundary radius = numpy.quantile(sqrt(dist), 1 − ν)', () => {
  quantileSpecs.forEach((q, k) => {
    const ours = radiusFromDistances(Float32Array.from(q.d), q.nu);
    relClose(ours, py.quantiles[k]!, 1e-6, `quantile case ${k} (n=${q.d.length}, ν=${q.nu})`);
  });
});
