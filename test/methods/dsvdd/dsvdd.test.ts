// DCAE / Deep SVDD behaviour that needs no Python: the conv-based transposed convolution, the
// encoder transfer, the center eps rule, state()/load() round trips and resuming from checkpoints.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import * as torch from '../../../src/torch/index.js';
import type { Tensor } from '../../../src/torch/index.js';
import { arrayTrainData } from '../../../src/methods/array-data.js';
import type { FitContext, TrainingState } from '../../../src/methods/types.js';
import {
  applyCenterEps, buildAutoencoder, buildNetwork, convTranspose2dViaConv, dcae, dsvdd, DSVDD_NETWORKS, initCenter,
  resolveDsvddConfig, transferEncoderWeights, type DsvddConfig,
} from '../../../src/methods/dsvdd/index.js';
import { mulberry32 } from '../../../src/data/random.js';
import { tempDir } from '../../helpers/python.js';

const maxAbs = (a: Tensor, b: Tensor): number => torch.tidy(() => a.sub(b).abs().max().item());

test('convTranspose2dViaConv equals conv_transpose2d (values and gradients), padding 2 and 3', () => {
  torch.manualSeed(3);
  for (const [inC, outC, p] of [[8, 32, 2], [32, 16, 3], [2, 4, 2]] as const) {
    torch.tidy(() => {
      const x1 = torch.randn([4, inC, 8, 8]).requiresGrad_();
      const w1 = torch.randn([inC, outC, 5, 5]).mul(0.1).requiresGrad_();
      const x2 = x1.detach().clone().requiresGrad_();
      const w2 = w1.detach().clone().requiresGrad_();
      const ref = torch.conv_transpose2d(x1, w1, { padding: p });
      const fast = convTranspose2dViaConv(x2, w2, [p, p]);
      assert.deepEqual(fast.shape, ref.shape);
      assert.ok(maxAbs(fast, ref) < 1e-4, `forward, padding ${p}`);
      const g = torch.randn(ref.shape);
      ref.mul(g).sum().backward();
      fast.mul(g).sum().backward();
      assert.ok(maxAbs(x1.grad!, x2.grad!) < 1e-4, `input gradient, padding ${p}`);
      assert.ok(maxAbs(w1.grad!, w2.grad!) < 1e-3, `weight gradient, padding ${p}`);
    });
  }
});

test('autoencoders give the same output with and without the fast transposed convolution', () => {
  torch.manualSeed(4);
  for (const name of DSVDD_NETWORKS) {
    const ae = buildAutoencoder(name);
    const [c, h, w] = name.startsWith('cifar') ? [3, 32, 32] : [1, 28, 28];
    torch.tidy(() => {
      const x = torch.rand([4, c, h, w]);
      ae.eval();
      const a = ae.forward(x);
      ae.setFastDeconv(false);
      const b = ae.forward(x);
      assert.ok(maxAbs(a, b) < 1e-5, name);
    });
    ae.dispose();
  }
});

test('channels-last networks and autoencoders (float32) are as accurate as contiguous ones against a float64 reference', () => {
  // Train-mode BatchNorm backward is ill-conditioned in float32 (batch 8), so the two float32
  // layouts are compared by their error against the same computation in float64.
  const err = (a: Tensor, ref: Tensor): number => torch.tidy(() => a.to('float64').sub(ref).abs().max().item());
  for (const name of DSVDD_NETWORKS) {
    const [c, h, w] = name.startsWith('cifar') ? [3, 32, 32] : [1, 28, 28];
    for (const kind of ['network', 'autoencoder'] as const) {
      const run = (channelsLast: boolean, dtype: 'float32' | 'float64'): { y: Tensor; grads: Map<string, Tensor>; bufs: Map<string, Tensor> } => {
        torch.manualSeed(5);
        const m = kind === 'network' ? buildNetwork(name, { channelsLast }) : buildAutoencoder(name, { channelsLast });
        if (channelsLast) assert.ok(m.parameters().filter((p) => p.ndim === 4).every((p) => p.strides[1] === 1), `${name} ${kind}: 4-D weights are channels-last`);
        m.to(dtype);
        torch.manualSeed(6);
        const x = torch.rand([8, c, h, w]).to(dtype);
        const y = m.forward(x);
        y.mul(torch.randn(y.shape).to(dtype)).sum().backward();
        const out = {
          y: torch.keep(y.detach()),
          grads: new Map(m.namedParameters().map(([k, p]) => [k, torch.keep(p.grad!.clone())])),
          bufs: new Map(m.namedBuffers().filter(([, t]) => t.isFloatingPoint).map(([k, t]) => [k, torch.keep(t.clone())])),
        };
        m.dispose();
        return out;
      };
      torch.tidy(() => {
        const ref = run(false, 'float64');
        const nchw = run(false, 'float32');
        const cl = run(true, 'float32');
        const check = (what: string, a: Tensor, b: Tensor, r: Tensor): void => {
          const ea = err(a, r), eb = err(b, r);
          const scale = torch.tidy(() => r.abs().max().item());
          assert.ok(eb <= 2 * ea + 1e-5 * Math.max(1, scale), `${name} ${kind} ${what}: channels-last error ${eb} vs contiguous ${ea}`);
        };
        check('output', nchw.y, cl.y, ref.y);
        for (const [k, g] of ref.grads) check(`gradient of ${k}`, nchw.grads.get(k)!, cl.grads.get(k)!, g);
        for (const [k, t] of ref.bufs) check(`buffer ${k}`, nchw.bufs.get(k)!, cl.bufs.get(k)!, t);
      });
    }
  }
});

test('dcae: maps are the per-pixel squared reconstruction error (summed over channels) and sum to the scores', () => {
  for (const network of ['mnist', 'cifar10'] as const) {
    const [c, h, w] = network === 'cifar10' ? [3, 32, 32] : [1, 28, 28];
    torch.manualSeed(8);
    const det = dcae.create({ ...dcae.defaults, network }, [c, h, w]);
    torch.tidy(() => {
      const x = torch.rand([3, c, h, w]);
      const r = det.score(x);
      assert.equal(r.maps!.length, 3 * h * w);
      // Expected map from the reconstruction (the network is checked against PyTorch elsewhere),
      // in plain arithmetic: per pixel, the sum over channels of (reconstruction − input)².
      const ae = (det as unknown as { ae: { eval(): void; forward(t: Tensor): Tensor } }).ae;
      const rec = torch.noGrad(() => ae.forward(x)).toTypedArray() as Float32Array;
      const xs = x.toTypedArray() as Float32Array;
      const expected = new Float64Array(3 * h * w);
      for (let n = 0; n < 3; n++) for (let k = 0; k < c; k++) for (let q = 0; q < h * w; q++) {
        const i = (n * c + k) * h * w + q;
        expected[n * h * w + q]! += (rec[i]! - xs[i]!) ** 2;
      }
      for (let i = 0; i < expected.length; i++) assert.ok(Math.abs(r.maps![i]! - expected[i]!) <= 1e-5 * Math.max(1e-3, expected[i]!), `pixel ${i}`);
      for (let n = 0; n < 3; n++) {
        const sum = r.maps!.subarray(n * h * w, (n + 1) * h * w).reduce((a, b) => a + b, 0);
        assert.ok(Math.abs(sum - r.scores[n]!) <= 1e-4 * r.scores[n]!, `${network} image ${n}: map sum ${sum} vs score ${r.scores[n]}`);
      }
    });
    det.dispose();
  }
});

test('transferEncoderWeights copies exactly the network keys (weights and BN buffers) from the encoder', () => {
  torch.manualSeed(5);
  for (const name of DSVDD_NETWORKS) {
    const ae = buildAutoencoder(name);
    const net = buildNetwork(name);
    // Make the BN buffers non-default so their copy is visible.
    ae.train();
    torch.tidy(() => { ae.forward(torch.rand(name.startsWith('cifar') ? [4, 3, 32, 32] : [4, 1, 28, 28])); });
    const keys = transferEncoderWeights(ae, net);
    torch.tidy(() => {
      const nsd = net.stateDict();
      const asd = ae.stateDict();
      assert.deepEqual(keys, [...nsd.keys()], name);
      assert.ok(keys.some((k) => k.endsWith('running_var')) && keys.some((k) => k.endsWith('num_batches_tracked')), `${name}: BN buffers are transferred`);
      for (const k of keys) {
        const src = asd.get(ae.encoderPrefix + k)!;
        assert.ok(src, `${name}: ${k} comes from ${ae.encoderPrefix}${k}`);
        assert.equal(maxAbs(nsd.get(k)!.double(), src.double()), 0, `${name}: ${k}`);
      }
      assert.ok([...asd.keys()].some((k) => k.includes('deconv') && !keys.includes(k)), 'decoder keys are not transferred');
    });
    ae.dispose();
    net.dispose();
  }
});

test('center eps rule: (−eps, 0) → −eps, (0, eps) → eps, 0 stays 0, the rest unchanged', () => {
  const c = Float32Array.from([-0.05, 0.05, 0, 0.2, -0.3, -0.1, 0.1, 0.0999, -1e-9]);
  const out = applyCenterEps(c, 0.1);
  assert.deepEqual(Array.from(out), Array.from(Float32Array.from([-0.1, 0.1, 0, 0.2, -0.3, -0.1, 0.1, 0.1, -0.1])));
  assert.equal(c[0], Math.fround(-0.05), 'input untouched');
});

test('initCenter = eps rule applied to the eval-mode mean of the network outputs', async () => {
  torch.manualSeed(6);
  const net = buildNetwork('fmnist');
  const rnd = mulberry32(6);
  const images = Float32Array.from({ length: 40 * 784 }, () => rnd.next());
  const data = arrayTrainData(images, [40, 1, 28, 28]);
  const c = await initCenter(net, data, 16, 0.1);
  const expected = torch.tidy(() => {
    net.eval();
    const out = torch.noGrad(() => net.forward(torch.fromTypedArray(images, [40, 1, 28, 28])));
    return applyCenterEps(out.mean([0]).toTypedArray() as Float32Array, 0.1);
  });
  const got = c.toTypedArray() as Float32Array;
  got.forEach((v, i) => assert.ok(Math.abs(v - expected[i]!) < 1e-5, `c[${i}] ${v} vs ${expected[i]}`));
  c.dispose();
  net.dispose();
  data.dispose();
});

function tinyConfig(objective: DsvddConfig['objective']): DsvddConfig {
  return resolveDsvddConfig({
    network: 'fmnist', objective, nu: 0.2, warmUpEpochs: 1,
    pretrain: { epochs: 2, lr: 1e-3, milestones: [1], gamma: 0.1, weightDecay: 0.5e-3, batchSize: 16, amsgrad: false, loss: 'mean' },
    train: { epochs: 3, lr: 1e-3, milestones: [2], gamma: 0.1, weightDecay: 0.5e-6, batchSize: 16, amsgrad: false },
  });
}

function tinyData(): { images: Float32Array; data: ReturnType<typeof arrayTrainData> } {
  const rnd = mulberry32(7);
  const images = Float32Array.from({ length: 48 * 784 }, () => rnd.next() * rnd.next());
  return { images, data: arrayTrainData(images, [48, 1, 28, 28], { seed: 7 }) };
}

function ctxWith(checkpoints: TrainingState[], resume?: TrainingState): FitContext {
  return {
    seed: 7, log: () => {}, progress: () => {}, resume,
    checkpoint: (st) => {
      checkpoints.push({ tensors: new Map([...st.tensors].map(([k, v]) => [k, torch.keep(v.clone())])), meta: structuredClone(st.meta) });
    },
  };
}

test('state() → load() (also through a safetensors file) gives identical scores; soft-boundary subtracts R²', async () => {
  const { images, data } = tinyData();
  const x = torch.keep(torch.fromTypedArray(images.subarray(0, 16 * 784), [16, 1, 28, 28]));
  for (const objective of ['one-class', 'soft-boundary'] as const) {
    torch.manualSeed(8);
    const cfg = tinyConfig(objective);
    const det = dsvdd.create(cfg, [1, 28, 28]);
    await det.fit(data, ctxWith([]));
    const s1 = det.score(x).scores;
    const st = det.state();
    if (objective === 'soft-boundary') assert.ok((st.meta.R as number) > 0, 'R > 0 after warm-up');
    const file = join(tempDir('vigil-dsvdd-'), 'dsvdd.safetensors');
    torch.saveSafetensors(file, st.tensors, { meta: JSON.stringify(st.meta) });
    for (const t of st.tensors.values()) t.dispose();
    const { tensors, metadata } = torch.loadSafetensors(file);
    const back = dsvdd.load(cfg, [1, 28, 28], { tensors, meta: JSON.parse(metadata.meta!) });
    for (const t of tensors.values()) t.dispose();
    assert.deepEqual(Array.from(back.score(x).scores), Array.from(s1), objective);
    back.dispose();
    det.dispose();
  }
  // DCAE too.
  torch.manualSeed(9);
  const dcfg = { ...dcae.defaults, train: { epochs: 1, lr: 1e-3, milestones: [], gamma: 0.1, weightDecay: 0, batchSize: 16, amsgrad: false } };
  const d = dcae.create(dcfg, [1, 28, 28]);
  await d.fit(data, ctxWith([]));
  const st = d.state();
  const d2 = dcae.load(dcfg, [1, 28, 28], st);
  for (const t of st.tensors.values()) t.dispose();
  assert.deepEqual(Array.from(d2.score(x).scores), Array.from(d.score(x).scores));
  assert.throws(() => dcae.load({ ...dcfg, network: 'mnist' }, [1, 28, 28], d.state()), /cannot load the saved weights into MNIST|MnistLeNetAutoencoder/);
  d.dispose();
  d2.dispose();
  x.dispose();
  data.dispose();
});

test('resuming from a checkpoint (mid-pretrain, mid-train) gives the same final weights as an uninterrupted run', async () => {
  const { data } = tinyData();
  const cfg = tinyConfig('soft-boundary');
  const full: TrainingState[] = [];
  torch.manualSeed(10);
  const a = dsvdd.create(cfg, [1, 28, 28]);
  await a.fit(data, ctxWith(full));
  assert.deepEqual(full.map((s) => `${s.meta.stage}:${s.meta.epoch}`), ['pretrain:1', 'pretrain:2', 'train:1', 'train:2', 'train:3']);
  const final = a.state();
  for (const from of [full[0]!, full[2]!]) {
    torch.manualSeed(999); // a different seed: everything that matters must come from the checkpoint
    const b = dsvdd.create(cfg, [1, 28, 28]);
    const rest: TrainingState[] = [];
    await b.fit(data, ctxWith(rest, from));
    const got = b.state();
    assert.equal(got.meta.R, final.meta.R, `R after resuming from ${from.meta.stage}:${from.meta.epoch}`);
    for (const [k, v] of final.tensors) assert.equal(maxAbs(got.tensors.get(k)!.double(), v.double()), 0, `${k} after resuming from ${from.meta.stage}:${from.meta.epoch}`);
    for (const t of got.tensors.values()) t.dispose();
    for (const s of rest) for (const t of s.tensors.values()) t.dispose();
    b.dispose();
  }
  for (const t of final.tensors.values()) t.dispose();
  for (const s of full) for (const t of s.tensors.values()) t.dispose();
  a.dispose();
  data.dispose();
});

test('config errors name every bad field at once', () => {
  const err = (() => { try { resolveDsvddConfig({ nu: 0, objective: 'hard', network: 'resnet', train: { epochs: 0 } }); } catch (e) { return (e as Error).message; } return ''; })();
  assert.match(err, /✖ dsvdd\.nu: must be > 0, got 0/);
  assert.match(err, /✖ dsvdd\.objective: must be one of "one-class", "soft-boundary", got "hard"/);
  assert.match(err, /✖ dsvdd\.network: must be one of "mnist", "fmnist", "cifar10", "cifar10-elu", got "resnet"/);
  assert.match(err, /✖ dsvdd\.train\.epochs: must be >= 1, got 0/);
  assert.throws(() => resolveDsvddConfig({ train: { batchSize: 1 } }), /dsvdd\.train\.batchSize: must be >= 2/);
  assert.throws(() => resolveDsvddConfig({ initFrom: 42 }), /dsvdd\.initFrom: expected a string or null, got 42/);
  assert.throws(() => resolveDsvddConfig({ train: { epochs: 1.5 } }), /dsvdd\.train\.epochs: expected an integer >= 1, got 1\.5/);
  assert.equal(resolveDsvddConfig({ initFrom: '' }).initFrom, null);
  assert.throws(() => dsvdd.create(dsvdd.defaults, [3, 32, 32]), /takes 1×28×28 images, the data has 3×32×32/);
});
