// The FeatureExtractor contract without Python: tap names and aliases, stopping early, the grad
// switch, freezing, fusing, to(), the loader and the registry, KDAD's cloner config, and memory.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import * as torch from '../../../src/torch/index.js';
import type { Tensor } from '../../../src/torch/index.js';
import { createBackbone, loadBackbone, ResNet, VGG, type FeatureExtractor } from '../../../src/models/backbones/index.js';
import { tempDir } from '../../helpers/python.js';

const dir = tempDir('vigil-extractor-');

function maxDiff(a: Tensor, b: Tensor): number {
  return torch.tidy(() => a.to('float64').sub(b.to('float64')).abs().max().item());
}

test('vgg16 taps are the features indices, with paper-style aliases and channels for both', () => {
  const m = new VGG('vgg16', { init: false });
  assert.deepEqual(m.layers, Array.from({ length: 31 }, (_, i) => String(i)));
  assert.equal(m.aliases['relu1_1'], '1');
  assert.equal(m.aliases['pool1'], '4');
  assert.equal(m.aliases['relu2_1'], '6');
  assert.equal(m.aliases['conv5_3'], '28');
  assert.equal(m.aliases['pool5'], '30');
  assert.deepEqual(['1', '4', '9', '16', '23', '30', 'pool3'].map((l) => m.channels[l]), [64, 64, 128, 256, 512, 512, 256]);
  const bn = new VGG('vgg16_bn', { init: false });
  assert.equal(bn.layers.length, 44);
  assert.deepEqual([bn.aliases['conv1_1'], bn.aliases['bn1_1'], bn.aliases['relu1_1'], bn.aliases['pool1'], bn.aliases['pool5']], ['0', '1', '2', '6', '43']);
  m.dispose();
  bn.dispose();
});

test('an index and its alias give equal values in separate handles; later layers are not run', () => {
  torch.manualSeed(1);
  const m = new VGG('vgg11');
  const x = torch.randn([1, 3, 8, 8]);
  const f = m.forward(x, ['pool2', '5', '1']);
  assert.deepEqual([...f.keys()], ['pool2', '5', '1']);
  assert.equal(maxDiff(f.get('pool2')!, f.get('5')!), 0);
  assert.deepEqual(f.get('pool2')!.shape, [1, 128, 2, 2]);
  torch.dispose([...f.values()]); // two handles, each disposable
  // On a 2×2 image pool1 gives 1×1 and pool2 cannot run: asking for pool1 must stop before it.
  const tiny = torch.randn([1, 3, 2, 2]);
  const p1 = m.forward(tiny, ['pool1']);
  assert.deepEqual(p1.get('pool1')!.shape, [1, 64, 1, 1]);
  assert.throws(() => m.forward(tiny, ['pool2']));
  torch.dispose([x, tiny, ...p1.values()]);
  m.dispose();
});

test('wrong inputs and names are errors that say what is valid', () => {
  const m = new VGG('vgg11', { init: false });
  assert.throws(() => m.forward(torch.zeros([1, 1, 8, 8]), ['1']), /vgg11\.forward: expected an N×3×H×W input, got \[1, 1, 8, 8\]/);
  assert.throws(() => m.forward(torch.zeros([1, 3, 8, 8]), ['relu9_9']), /unknown layer 'relu9_9' \(use 0, 1, 2/);
  assert.throws(() => m.forward(torch.zeros([1, 3, 8, 8]), []), /no layers requested/);
  assert.throws(() => new VGG('vgg16', { batchNorm: true }), /option batchNorm is fixed by the architecture; pass a config \(VGG_CONFIGS\.D\)/);
  assert.throws(() => new VGG([64, 'X' as 'M']), /a config is a non-empty list/);
  assert.throws(() => createBackbone('vgg99'), /backbone 'vgg99' is not supported \(use resnet18.*vgg19_bn\)/);
  const r = new ResNet('resnet18', { init: false });
  assert.throws(() => r.forward(torch.zeros([1, 3, 8, 8]), ['layer5' as 'layer1']), /unknown layer 'layer5' \(use layer1, layer2, layer3, layer4\)/);
  r.dispose();
  m.dispose();
});

test('grad: false runs without a graph; grad: true reaches the input even inside noGrad; frozen weights get none', () => {
  const { model } = loadBackbone({ name: 'vgg11_bn', weights: 'random', randomSeed: 2 });
  assert.ok(model.frozen && model.fused && !model.training);
  const x = torch.randn([2, 3, 16, 16]).requiresGrad_(true);
  const plain = model.forward(x, ['pool2']);
  assert.equal(plain.get('pool2')!.requiresGrad, false);
  const g = torch.noGrad(() => torch.tidy(() => {
    const f = model.forward(x, ['pool2', 'pool3'], { grad: true });
    assert.ok(f.get('pool3')!.requiresGrad, 'the taps carry a graph');
    return torch.enableGrad(() => torch.autograd.grad(f.get('pool2')!.square().mean().add(f.get('pool3')!.square().mean()), x)[0]!);
  }));
  assert.deepEqual(g.shape, x.shape);
  assert.ok(torch.tidy(() => g.abs().sum().item()) > 0);
  assert.ok(model.parameters().every((p) => p.grad === null));
  torch.dispose([x, g, ...plain.values()]);
  model.dispose();
});

test('an unfrozen VGG trains: grad: true reaches its parameters', () => {
  torch.manualSeed(3);
  const m = new VGG([8, 'M', 16, 'M'], { batchNorm: true, name: 'tiny' });
  const x = torch.randn([2, 3, 8, 8]);
  torch.tidy(() => { m.forward(x, ['pool2'], { grad: true }).get('pool2')!.square().mean().backward(); });
  const grads = m.parameters().map((p) => p.grad);
  assert.ok(grads.every((gr) => gr !== null), 'every parameter has a gradient');
  torch.dispose([x, ...grads.filter((gr): gr is Tensor => gr !== null)]);
  m.dispose();
});

test("KDAD's cloner (config B-small, BN unless before a pool, no bias): module indices, channels and 343,984 parameters", () => {
  const cfg = [16, 16, 'M', 16, 128, 'M', 16, 16, 256, 'M', 16, 16, 512, 'M', 16, 16, 512, 'M'] as const;
  const m = new VGG(cfg, { batchNorm: 'notBeforePool', bias: false, init: 'xavierUniform', name: 'cloner' });
  assert.equal(m.numParameters(), 343_984);
  assert.equal(m.layers.length, 39);
  const taps = ['2', '5', '8', '11', '14', '17', '20', '23', '26', '29', '32', '35', '38'];
  assert.deepEqual(taps.map((t) => m.channels[t]), [16, 16, 16, 128, 16, 16, 256, 16, 16, 512, 16, 16, 512]);
  const f = m.eval().forward(torch.randn([1, 3, 32, 32]), taps);
  assert.deepEqual(f.get('11')!.shape, [1, 128, 8, 8]);
  assert.deepEqual(f.get('38')!.shape, [1, 512, 1, 1]);
  assert.ok(m.parameters().every((p) => p.requiresGrad));
  torch.dispose([...f.values()]);
  m.dispose();
});

test('fused BN: the conv before it cannot be tapped; VGG without BN fuses to itself', () => {
  const { model } = loadBackbone({ name: 'vgg11_bn', weights: 'random' });
  const x = torch.randn([1, 3, 8, 8]);
  assert.throws(() => model.forward(x, ['0']), /layer '0' is a conv whose BatchNorm is folded into it \(fused\); tap '1'.*unfuse\(\)/);
  model.unfuse();
  torch.dispose([...model.forward(x, ['0']).values()]);
  const plain = loadBackbone({ name: 'vgg11', weights: 'random' }).model;
  const a = plain.forward(x, ['0', '2']);
  plain.unfuse();
  const b = plain.forward(x, ['0', '2']);
  assert.equal(maxDiff(a.get('2')!, b.get('2')!), 0);
  torch.dispose([x, ...a.values(), ...b.values()]);
  model.dispose();
  plain.dispose();
});

test('to(dtype) keeps the extractor frozen and fused, and refolds from the converted weights', () => {
  for (const name of ['resnet18', 'vgg11_bn'] as const) {
    const { model } = loadBackbone({ name, weights: 'random', randomSeed: 4 });
    const m = model as FeatureExtractor;
    const layer = name === 'resnet18' ? 'layer3' : '13';
    const x = torch.randn([1, 3, 32, 32]);
    const a = m.forward(x, [layer]).get(layer)!;
    m.to('float64');
    assert.ok(m.fused && m.frozen);
    assert.ok(model.parameters().every((p) => p.dtype === 'float64' && !p.requiresGrad));
    const x64 = x.to('float64');
    const b = m.forward(x64, [layer]).get(layer)!;
    assert.equal(b.dtype, 'float64');
    assert.ok(maxDiff(a, b) <= 1e-4 * torch.tidy(() => b.abs().max().item()), `${name} float32 vs float64`);
    m.to('cpu');
    torch.dispose([x, x64, a, b]);
    m.dispose();
  }
});

test("loadBackbone: 'random' is seeded; fuse: false keeps BN; a wrong file is named; VGG's own loadStateDict stays strict", () => {
  const a = loadBackbone({ name: 'vgg11', weights: 'random', randomSeed: 5, fuse: false });
  const b = loadBackbone({ name: 'vgg11', weights: 'random', randomSeed: 5 });
  const c = loadBackbone({ name: 'vgg11', weights: 'random', randomSeed: 6 });
  assert.equal(a.weights, 'random');
  assert.equal(a.model.fused, false);
  assert.equal(b.model.fused, true);
  const w = (m: VGG): Tensor => m.features.at(0).stateDict().get('weight')!;
  const [wa, wb, wc] = [w(a.model), w(b.model), w(c.model)];
  assert.equal(maxDiff(wa, wb), 0);
  assert.ok(maxDiff(wa, wc) > 0);
  const p = join(dir, 'r18.pth');
  const r = new ResNet('resnet18', { init: false });
  const sd = r.stateDict();
  torch.savePth(p, sd);
  assert.throws(() => loadBackbone({ name: 'vgg16', weights: p }), /r18\.pth: not vgg16 weights.*Missing key\(s\) in state_dict: "features\.0\.weight"/);
  const vsd = b.model.stateDict();
  vsd.set('classifier.0.bias', torch.zeros([2]));
  assert.throws(() => b.model.loadStateDict(vsd), /Unexpected key\(s\) in state_dict: "classifier\.0\.bias"/);
  torch.dispose([wa, wb, wc, ...sd.values(), ...vsd.values()]);
  for (const m of [a.model, b.model, c.model, r]) m.dispose();
});

test('forward with grad and input gradients in tidy keeps tensor handles and native memory flat', () => {
  const { model } = loadBackbone({ name: 'vgg11_bn', weights: 'random', fuse: false });
  const x = torch.keep(torch.randn([1, 3, 16, 16]));
  const step = (): void => {
    torch.tidy(() => {
      const xi = x.clone().requiresGrad_(true);
      const f = model.forward(xi, ['2', 'pool2', 'pool3'], { grad: true });
      const s = f.get('pool2')!.square().mean().add(f.get('pool3')!.square().mean());
      torch.autograd.grad(s, xi)[0]!.sum().item();
    });
  };
  for (let i = 0; i < 5; i++) step();
  const before = torch.memory();
  for (let i = 0; i < 30; i++) step();
  const after = torch.memory();
  assert.equal(after.numTensors, before.numTensors, 'tensor handles alive');
  assert.ok(Math.abs(after.nativeBytes - before.nativeBytes) <= 4096, `native bytes ${before.nativeBytes} → ${after.nativeBytes}`);
  x.dispose();
  model.dispose();
});
