// Deep SVDD's `initFrom`: the autoencoder comes from a DCAE run directory, a safetensors/.pth state
// dict, or a Deep-SVDD-PyTorch checkpoint (written here by PyTorch 1.13, zip and legacy formats).
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import * as torch from '../../../src/torch/index.js';
import type { Tensor } from '../../../src/torch/index.js';
import { arrayTrainData } from '../../../src/methods/array-data.js';
import type { FitContext } from '../../../src/methods/types.js';
import {
  buildAutoencoder, buildNetwork, dsvdd, DSVDD_DEFAULTS, loadPretrainedAutoencoder, resolveDsvddConfig, type DsvddAutoencoder,
} from '../../../src/methods/dsvdd/index.js';
import { mulberry32 } from '../../../src/data/random.js';
import { runPython, tempDir } from '../../helpers/python.js';

let dir: string;
let ae: DsvddAutoencoder;
const p = (name: string): string => join(dir, name);

function writeRun(name: string, manifest: Record<string, unknown>, tensors?: Map<string, Tensor>, method = 'dcae'): string {
  const run = p(name);
  mkdirSync(join(run, 'model'), { recursive: true });
  writeFileSync(join(run, 'model', 'manifest.json'), JSON.stringify({ format: 'vigil-model/1', dataset: 'fashion-mnist:0', seed: 0, ...manifest }));
  if (tensors) torch.saveSafetensors(join(run, 'model', 'model.safetensors'), tensors, { method, format: 'vigil-model/1' });
  return run;
}

before(() => {
  dir = tempDir('vigil-initfrom-');
  torch.manualSeed(11);
  ae = buildAutoencoder('fmnist');
  // Non-default BN buffers, so their transfer is visible.
  ae.train();
  torch.tidy(() => { for (let i = 0; i < 3; i++) ae.forward(torch.rand([6, 1, 28, 28])); });
  ae.eval();
  const sd = ae.stateDict();
  torch.saveSafetensors(p('ae.safetensors'), sd);
  torch.savePth(p('ae.pth'), sd);
  writeRun('dcae-run', { method: 'dcae', config: { network: 'fmnist' } }, sd);
  writeRun('pixelstats-run', { method: 'pixelstats', config: {} }, sd, 'pixelstats');
  writeRun('mnist-run', { method: 'dcae', config: { network: 'mnist' } }, sd);
  writeRun('mixed-run', { method: 'dcae', config: { network: 'fmnist' } }, sd, 'dsvdd');
  mkdirSync(p('not-a-run'));
  const mnistAe = buildAutoencoder('mnist');
  torch.saveSafetensors(p('mnist-ae.safetensors'), mnistAe.stateDict());
  mnistAe.dispose();
  const net = buildNetwork('fmnist');
  torch.saveSafetensors(p('dsvdd-net.safetensors'), net.stateDict(), { method: 'dsvdd' });
  torch.saveSafetensors(p('net-only.safetensors'), net.stateDict());
  net.dispose();
  // Deep-SVDD-PyTorch's DeepSVDD.save_model: {'R': float, 'c': list, 'net_dict', 'ae_net_dict'}.
  runPython(`
import sys, torch
d = sys.argv[1]
sd = torch.load(d + '/ae.pth')
net = {k[len('encoder.'):]: v for k, v in sd.items() if k.startswith('encoder.')}
ck = {'R': 0.0, 'c': [0.1] * 64, 'net_dict': net, 'ae_net_dict': sd}
torch.save(ck, d + '/deepsvdd-model.tar')
torch.save(ck, d + '/deepsvdd-legacy.tar', _use_new_zipfile_serialization=False)
torch.save({'R': 0.0, 'c': [0.1] * 64, 'net_dict': net, 'ae_net_dict': None}, d + '/deepsvdd-nopretrain.tar')
`, dir);
});

function sameStateDict(a: Map<string, Tensor>, b: Map<string, Tensor>, what: string): void {
  assert.deepEqual([...a.keys()], [...b.keys()], what);
  for (const [k, v] of a) {
    const w = b.get(k)!;
    assert.deepEqual(v.shape, w.shape, `${what}: ${k}`);
    assert.equal(torch.tidy(() => v.double().sub(w.double()).abs().max().item()), 0, `${what}: ${k}`);
  }
}

test('every accepted source gives the autoencoder back exactly (weights and BN buffers)', () => {
  const expected = ae.stateDict();
  const sources: Array<[string, RegExp]> = [
    [p('dcae-run'), /DCAE run .*dcae-run \(data fashion-mnist:0, seed 0\)/],
    [p('ae.safetensors'), /autoencoder file .*ae\.safetensors/],
    [p('ae.pth'), /autoencoder file .*ae\.pth/],
    [p('deepsvdd-model.tar'), /ae_net_dict of .*deepsvdd-model\.tar/],
    [p('deepsvdd-legacy.tar'), /ae_net_dict of .*deepsvdd-legacy\.tar/],
  ];
  for (const [src, desc] of sources) {
    const got = loadPretrainedAutoencoder(src, 'fmnist');
    assert.equal(got.path, resolve(src));
    assert.match(got.description, desc);
    assert.equal(got.ae.training, false, 'returned in eval mode');
    torch.tidy(() => sameStateDict(got.ae.stateDict(), expected, src));
    got.ae.dispose();
  }
  torch.dispose(expected);
  const f64 = loadPretrainedAutoencoder(p('ae.safetensors'), 'fmnist', { dtype: 'float64' });
  assert.equal(f64.ae.parameters()[0]!.dtype, 'float64');
  f64.ae.dispose();
});

test('errors name the path and the problem', () => {
  const cases: Array<[string, RegExp]> = [
    [p('nope'), /model\.initFrom: .*nope: does not exist; give a DCAE run directory/],
    [p('not-a-run'), /not-a-run: not a finished vigil run directory \(model\/manifest\.json is missing\)/],
    [p('pixelstats-run'), /pixelstats-run: is a 'pixelstats' run; Deep SVDD is initialised from a 'dcae' run/],
    [p('mnist-run'), /mnist-run: the DCAE run uses network 'mnist' \(MNIST_LeNet_Autoencoder\), this Deep SVDD uses 'fmnist'/],
    [p('mixed-run'), /model\.safetensors: holds a 'dsvdd' model but manifest\.json says 'dcae'/],
    [p('mnist-ae.safetensors'), /mnist-ae\.safetensors: does not hold a FashionMNIST_LeNet_Autoencoder state dict: .*(Missing key|size mismatch)/s],
    [p('dsvdd-net.safetensors'), /dsvdd-net\.safetensors: holds a 'dsvdd' model; Deep SVDD is initialised from an autoencoder/],
    [p('net-only.safetensors'), /net-only\.safetensors: does not hold a FashionMNIST_LeNet_Autoencoder state dict \(it has no decoder weights/],
    [p('deepsvdd-nopretrain.tar'), /deepsvdd-nopretrain\.tar: does not hold a FashionMNIST_LeNet_Autoencoder state dict \(it has no decoder weights/],
    [p('ref.py'), /ref\.py: neither a safetensors file nor a PyTorch checkpoint/],
  ];
  for (const [src, re] of cases) assert.throws(() => loadPretrainedAutoencoder(src, 'fmnist'), re, src);
  assert.throws(() => resolveDsvddConfig({ initFrom: 3 as never }), /dsvdd\.initFrom: expected a string or null, got 3/);
  assert.equal(resolveDsvddConfig({}).initFrom, null);
});

test('fit with initFrom skips pretraining and starts from the transferred encoder (c proves weights + BN stats)', async () => {
  const rnd = mulberry32(12);
  const images = Float32Array.from({ length: 24 * 784 }, () => rnd.next());
  const data = arrayTrainData(images, [24, 1, 28, 28]);
  const cfg = resolveDsvddConfig({
    network: 'fmnist', initFrom: p('dcae-run'),
    pretrain: { ...DSVDD_DEFAULTS.pretrain, epochs: 3, batchSize: 8 },
    train: { ...DSVDD_DEFAULTS.train, epochs: 1, batchSize: 8 },
  });
  const stages = new Set<string>();
  const logs: string[] = [];
  const ctx: FitContext = { seed: 0, log: (m) => logs.push(m), progress: (s) => stages.add(s) };
  const det = dsvdd.create(cfg, [1, 28, 28]);
  await det.fit(data, ctx);
  assert.deepEqual([...stages], ['train'], 'no pretrain stage');
  assert.ok(logs.some((l) => /initFrom: copied \d+ encoder tensors .* from the DCAE run .*DCAE pretraining skipped/.test(l)), logs.join('\n'));
  // The center is computed before training from the initialised network in eval mode. Rebuilt
  // here without the functions under test (transferEncoderWeights, initCenter): the autoencoder's
  // `encoder.*` tensors loaded by name, one forward pass over the 24 images, the mean and the eps
  // rule (|c_i| < 0.1 → ±0.1) in plain arithmetic.
  const net = buildNetwork('fmnist');
  const sd = ae.stateDict();
  const enc = new Map([...sd].filter(([k]) => k.startsWith('encoder.')).map(([k, v]) => [k.slice('encoder.'.length), v]));
  net.loadStateDict(enc);
  net.eval();
  const out = torch.tidy(() => torch.noGrad(() => net.forward(torch.fromTypedArray(images, [24, 1, 28, 28]))).toTypedArray() as Float32Array);
  const dim = out.length / 24;
  const expected = Array.from({ length: dim }, (_, j) => {
    let sum = 0;
    for (let i = 0; i < 24; i++) sum += out[i * dim + j]!;
    const m = sum / 24;
    return Math.abs(m) < 0.1 ? (m < 0 ? -0.1 : m > 0 ? 0.1 : 0) : m;
  });
  const st = det.state();
  const c = torch.tidy(() => st.tensors.get('c')!.toTypedArray() as Float32Array);
  assert.equal(c.length, dim);
  assert.ok(expected.some((v) => Math.abs(v) === 0.1), 'the eps rule was exercised');
  expected.forEach((v, j) => assert.ok(Math.abs(c[j]! - v) <= 1e-5 * Math.max(1, Math.abs(v)), `c[${j}]: ${c[j]} vs ${v} from the transferred encoder`));
  assert.equal(st.meta.initFrom, resolve(p('dcae-run')));
  torch.dispose(st.tensors);
  torch.dispose([...sd.values()]);
  net.dispose();
  det.dispose();

  // create() loads the autoencoder, so a bad initFrom fails before any data is touched.
  assert.throws(() => dsvdd.create(resolveDsvddConfig({ ...cfg, initFrom: p('mnist-run') }), [1, 28, 28]), /mnist-run: the DCAE run uses network 'mnist'/);
  data.dispose();
});
