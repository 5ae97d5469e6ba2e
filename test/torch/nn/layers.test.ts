// Parity of every nn layer with PyTorch 1.13: default initialisation (exact, same manual seed),
// forward outputs, input and parameter gradients, BatchNorm running statistics over several
// train steps and in eval mode, and the nn.init functions. One Python process for the file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as torch from '../../../src/torch/index.js';
import type { Tensor } from '../../../src/torch/index.js';
import { nn } from '../../../src/torch/index.js';
import { assertClose, assertEqualTensors, cleanup, hold, runPython, type PyResult } from './helpers.js';

interface Step { mode: 'train' | 'eval'; shape: number[]; seed?: number }
interface LayerCase { name: string; seed: number; make: () => nn.Module; py: string; steps: Step[] }

const train = (shape: number[], n = 1): Step[] => Array.from({ length: n }, () => ({ mode: 'train' as const, shape }));
const evalStep = (shape: number[]): Step => ({ mode: 'eval', shape });
const X4 = [2, 4, 7, 6];

const cases: LayerCase[] = [
  { name: 'Conv2d default', seed: 1, make: () => new nn.Conv2d(3, 4, 3), py: 'nn.Conv2d(3, 4, 3)', steps: train([2, 3, 7, 6]) },
  { name: 'Conv2d stride 2, padding 1, no bias', seed: 2, make: () => new nn.Conv2d(4, 6, 3, { stride: 2, padding: 1, bias: false }),
    py: 'nn.Conv2d(4, 6, 3, stride=2, padding=1, bias=False)', steps: train(X4) },
  { name: 'Conv2d dilation 2, groups 2', seed: 3, make: () => new nn.Conv2d(4, 4, 3, { padding: 2, dilation: 2, groups: 2 }),
    py: 'nn.Conv2d(4, 4, 3, padding=2, dilation=2, groups=2)', steps: train(X4) },
  { name: 'Conv2d reflect padding, rectangular kernel', seed: 4, make: () => new nn.Conv2d(3, 4, [3, 5], { padding: [1, 2], paddingMode: 'reflect' }),
    py: "nn.Conv2d(3, 4, (3, 5), padding=(1, 2), padding_mode='reflect')", steps: train([2, 3, 7, 6]) },
  { name: "Conv2d padding 'same' (even kernel), replicate", seed: 5, make: () => new nn.Conv2d(3, 2, [4, 3], { padding: 'same', paddingMode: 'replicate' }),
    py: "nn.Conv2d(3, 2, (4, 3), padding='same', padding_mode='replicate')", steps: train([2, 3, 7, 6]) },
  { name: "Conv2d padding 'same', zeros", seed: 6, make: () => new nn.Conv2d(3, 2, 4, { padding: 'same' }),
    py: "nn.Conv2d(3, 2, 4, padding='same')", steps: train([2, 3, 7, 6]) },
  { name: 'ConvTranspose2d stride 2, outputPadding 1', seed: 7, make: () => new nn.ConvTranspose2d(4, 3, 3, { stride: 2, padding: 1, outputPadding: 1 }),
    py: 'nn.ConvTranspose2d(4, 3, 3, stride=2, padding=1, output_padding=1)', steps: train(X4) },
  { name: 'ConvTranspose2d k4 s2 groups 2 no bias', seed: 8, make: () => new nn.ConvTranspose2d(4, 6, 4, { stride: 2, padding: 1, groups: 2, bias: false }),
    py: 'nn.ConvTranspose2d(4, 6, 4, stride=2, padding=1, groups=2, bias=False)', steps: train(X4) },
  { name: 'ConvTranspose2d dilation 2', seed: 9, make: () => new nn.ConvTranspose2d(4, 2, 3, { dilation: 2, stride: 3, outputPadding: 2 }),
    py: 'nn.ConvTranspose2d(4, 2, 3, dilation=2, stride=3, output_padding=2)', steps: train(X4) },
  { name: 'Linear on 3-D input', seed: 10, make: () => new nn.Linear(5, 3), py: 'nn.Linear(5, 3)', steps: train([2, 4, 5]) },
  { name: 'Linear no bias', seed: 11, make: () => new nn.Linear(5, 3, { bias: false }), py: 'nn.Linear(5, 3, bias=False)', steps: train([4, 5]) },
  { name: 'BatchNorm2d train ×3 then eval', seed: 12, make: () => new nn.BatchNorm2d(4), py: 'nn.BatchNorm2d(4)', steps: [...train(X4, 3), evalStep(X4)] },
  { name: 'BatchNorm2d affine=false', seed: 13, make: () => new nn.BatchNorm2d(4, { affine: false }), py: 'nn.BatchNorm2d(4, affine=False)', steps: [...train(X4, 3), evalStep(X4)] },
  { name: 'BatchNorm2d momentum=null (cumulative), eps', seed: 14, make: () => new nn.BatchNorm2d(4, { momentum: null, eps: 1e-3 }),
    py: 'nn.BatchNorm2d(4, momentum=None, eps=1e-3)', steps: [...train(X4, 3), evalStep(X4)] },
  { name: 'BatchNorm2d momentum 0.3', seed: 15, make: () => new nn.BatchNorm2d(4, { momentum: 0.3 }), py: 'nn.BatchNorm2d(4, momentum=0.3)', steps: [...train(X4, 2), evalStep(X4), ...train(X4)] },
  { name: 'BatchNorm2d trackRunningStats=false', seed: 16, make: () => new nn.BatchNorm2d(4, { trackRunningStats: false }),
    py: 'nn.BatchNorm2d(4, track_running_stats=False)', steps: [...train(X4, 2), evalStep(X4)] },
  { name: 'BatchNorm1d (N, C)', seed: 17, make: () => new nn.BatchNorm1d(5), py: 'nn.BatchNorm1d(5)', steps: [...train([6, 5], 3), evalStep([6, 5])] },
  { name: 'BatchNorm1d (N, C, L)', seed: 18, make: () => new nn.BatchNorm1d(3), py: 'nn.BatchNorm1d(3)', steps: [...train([2, 3, 5], 2), evalStep([2, 3, 5])] },
  { name: 'GroupNorm', seed: 19, make: () => new nn.GroupNorm(2, 4), py: 'nn.GroupNorm(2, 4)', steps: train(X4) },
  { name: 'GroupNorm affine=false, eps', seed: 20, make: () => new nn.GroupNorm(4, 4, { affine: false, eps: 1e-3 }), py: 'nn.GroupNorm(4, 4, affine=False, eps=1e-3)', steps: train(X4) },
  { name: 'MaxPool2d k3 s2 p1', seed: 21, make: () => new nn.MaxPool2d(3, { stride: 2, padding: 1 }), py: 'nn.MaxPool2d(3, stride=2, padding=1)', steps: train(X4) },
  { name: 'MaxPool2d ceilMode, dilation', seed: 22, make: () => new nn.MaxPool2d(2, { ceilMode: true, dilation: 2 }), py: 'nn.MaxPool2d(2, ceil_mode=True, dilation=2)', steps: train([2, 3, 9, 7]) },
  { name: 'AvgPool2d countIncludePad=false', seed: 23, make: () => new nn.AvgPool2d(3, { stride: 2, padding: 1, countIncludePad: false }),
    py: 'nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False)', steps: train(X4) },
  { name: 'AvgPool2d ceilMode, divisorOverride', seed: 24, make: () => new nn.AvgPool2d(2, { ceilMode: true, divisorOverride: 3 }),
    py: 'nn.AvgPool2d(2, ceil_mode=True, divisor_override=3)', steps: train([2, 3, 9, 7]) },
  { name: 'AdaptiveAvgPool2d [3, null]', seed: 25, make: () => new nn.AdaptiveAvgPool2d([3, null]), py: 'nn.AdaptiveAvgPool2d((3, None))', steps: train(X4) },
  { name: 'AdaptiveAvgPool2d 1', seed: 26, make: () => new nn.AdaptiveAvgPool2d(1), py: 'nn.AdaptiveAvgPool2d(1)', steps: train(X4) },
  { name: 'Upsample nearest ×2', seed: 27, make: () => new nn.Upsample({ scaleFactor: 2 }), py: 'nn.Upsample(scale_factor=2)', steps: train(X4) },
  { name: 'Upsample nearest ×1.7', seed: 28, make: () => new nn.Upsample({ scaleFactor: 1.7 }), py: 'nn.Upsample(scale_factor=1.7)', steps: train(X4) },
  { name: 'Upsample bilinear ×2', seed: 29, make: () => new nn.Upsample({ scaleFactor: 2, mode: 'bilinear' }), py: "nn.Upsample(scale_factor=2, mode='bilinear')", steps: train(X4) },
  { name: 'Upsample bilinear ×2 alignCorners', seed: 30, make: () => new nn.Upsample({ scaleFactor: 2, mode: 'bilinear', alignCorners: true }),
    py: "nn.Upsample(scale_factor=2, mode='bilinear', align_corners=True)", steps: train(X4) },
  { name: 'Upsample bilinear size [11, 5]', seed: 31, make: () => new nn.Upsample({ size: [11, 5], mode: 'bilinear' }), py: "nn.Upsample(size=(11, 5), mode='bilinear')", steps: train(X4) },
  { name: 'Upsample bilinear ×1.5 alignCorners', seed: 32, make: () => new nn.Upsample({ scaleFactor: 1.5, mode: 'bilinear', alignCorners: true }),
    py: "nn.Upsample(scale_factor=1.5, mode='bilinear', align_corners=True)", steps: train(X4) },
  { name: 'Upsample bicubic ×2', seed: 33, make: () => new nn.Upsample({ scaleFactor: 2, mode: 'bicubic' }), py: "nn.Upsample(scale_factor=2, mode='bicubic')", steps: train(X4) },
  { name: 'Dropout train (same RNG) and eval', seed: 34, make: () => new nn.Dropout(0.3), py: 'nn.Dropout(0.3)',
    steps: [{ mode: 'train', shape: X4, seed: 99 }, evalStep(X4)] },
  { name: 'Dropout2d train and eval', seed: 35, make: () => new nn.Dropout2d(0.5), py: 'nn.Dropout2d(0.5)',
    steps: [{ mode: 'train', shape: [3, 8, 4, 4], seed: 98 }, evalStep(X4)] },
  { name: 'Identity', seed: 36, make: () => new nn.Identity(), py: 'nn.Identity()', steps: train(X4) },
  { name: 'Flatten(1, 2)', seed: 37, make: () => new nn.Flatten(1, 2), py: 'nn.Flatten(1, 2)', steps: train(X4) },
  { name: 'ReLU', seed: 38, make: () => new nn.ReLU(), py: 'nn.ReLU()', steps: train(X4) },
  { name: 'LeakyReLU 0.2', seed: 39, make: () => new nn.LeakyReLU(0.2), py: 'nn.LeakyReLU(0.2)', steps: train(X4) },
  { name: 'ELU 0.5', seed: 40, make: () => new nn.ELU(0.5), py: 'nn.ELU(0.5)', steps: train(X4) },
  { name: 'Sigmoid', seed: 41, make: () => new nn.Sigmoid(), py: 'nn.Sigmoid()', steps: train(X4) },
  { name: 'Tanh', seed: 42, make: () => new nn.Tanh(), py: 'nn.Tanh()', steps: train(X4) },
  { name: 'Softmax(1)', seed: 43, make: () => new nn.Softmax(1), py: 'nn.Softmax(1)', steps: train(X4) },
  { name: 'GELU', seed: 44, make: () => new nn.GELU(), py: 'nn.GELU()', steps: train(X4) },
  { name: 'Sequential conv-bn-relu-pool-flatten-linear', seed: 45,
    make: () => new nn.Sequential(new nn.Conv2d(3, 4, 3, { padding: 1 }), new nn.BatchNorm2d(4), new nn.ReLU(), new nn.MaxPool2d(2), new nn.Flatten(), new nn.Linear(4 * 3 * 3, 5)),
    py: 'nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(36, 5))',
    steps: [...train([3, 3, 6, 6], 2), evalStep([3, 3, 6, 6])] },
];

interface InitCase { name: string; seed: number; shape: number[]; run: (t: Tensor) => Tensor; py: string }
const I = nn.init;
const inits: InitCase[] = [
  { name: 'kaimingUniform_ default', seed: 1, shape: [8, 4, 3, 3], run: (t) => I.kaimingUniform_(t), py: 'kaiming_uniform_(t)' },
  { name: 'kaimingUniform_ a=√5', seed: 2, shape: [8, 4, 3, 3], run: (t) => I.kaimingUniform_(t, { a: Math.sqrt(5) }), py: 'kaiming_uniform_(t, a=math.sqrt(5))' },
  { name: 'kaimingUniform_ fan_out relu', seed: 3, shape: [6, 5], run: (t) => I.kaimingUniform_(t, { mode: 'fan_out', nonlinearity: 'relu' }),
    py: "kaiming_uniform_(t, mode='fan_out', nonlinearity='relu')" },
  { name: 'kaimingNormal_ fan_out relu', seed: 4, shape: [8, 4, 3, 3], run: (t) => I.kaimingNormal_(t, { mode: 'fan_out', nonlinearity: 'relu' }),
    py: "kaiming_normal_(t, mode='fan_out', nonlinearity='relu')" },
  { name: 'kaimingNormal_ leaky a=0.1', seed: 5, shape: [7, 3, 2], run: (t) => I.kaimingNormal_(t, { a: 0.1 }), py: 'kaiming_normal_(t, a=0.1)' },
  { name: 'xavierUniform_', seed: 6, shape: [8, 4, 3, 3], run: (t) => I.xavierUniform_(t), py: 'xavier_uniform_(t)' },
  { name: 'xavierUniform_ gain tanh', seed: 7, shape: [5, 9], run: (t) => I.xavierUniform_(t, I.calculateGain('tanh')), py: "xavier_uniform_(t, gain=nn.init.calculate_gain('tanh'))" },
  { name: 'xavierNormal_ gain 2', seed: 8, shape: [8, 4, 3, 3], run: (t) => I.xavierNormal_(t, 2), py: 'xavier_normal_(t, gain=2.0)' },
  { name: 'uniform_(-0.3, 0.7)', seed: 9, shape: [10, 3], run: (t) => I.uniform_(t, -0.3, 0.7), py: 'uniform_(t, -0.3, 0.7)' },
  { name: 'normal_(1, 0.02)', seed: 10, shape: [10, 3], run: (t) => I.normal_(t, 1, 0.02), py: 'normal_(t, 1.0, 0.02)' },
  { name: 'constant_(0.25)', seed: 11, shape: [4], run: (t) => I.constant_(t, 0.25), py: 'constant_(t, 0.25)' },
  { name: 'zeros_', seed: 12, shape: [4, 2], run: (t) => I.zeros_(t), py: 'zeros_(t)' },
  { name: 'ones_', seed: 13, shape: [4, 2], run: (t) => I.ones_(t), py: 'ones_(t)' },
];

const gainArgs: [nn.init.Nonlinearity, number?][] = [['linear'], ['conv2d'], ['sigmoid'], ['tanh'], ['relu'], ['leaky_relu'], ['leaky_relu', 0.2], ['selu'], ['conv_transpose2d']];

// ---- TS side ------------------------------------------------------------------------------
const inputs = new Map<string, Tensor>();
const ours = new Map<string, Tensor>();
const moduleKeys: string[][] = [];

cases.forEach((c, i) => {
  const p = `c${i}.`;
  torch.manualSeed(c.seed);
  const m = c.make();
  torch.tidy(() => { for (const [k, v] of m.stateDict()) inputs.set(`${p}init.${k}`, hold(v)); });
  moduleKeys.push([...m.stateDict().keys()]);
  c.steps.forEach((st, s) => {
    const q = `${p}s${s}.`;
    m.train(st.mode === 'train');
    torch.tidy(() => {
      const x = torch.randn(st.shape).requiresGrad_();
      inputs.set(`${q}x`, hold(x));
      if (st.seed !== undefined) torch.manualSeed(st.seed);
      const y = nn.callForward(m, x);
      const gout = torch.randn(y.shape);
      inputs.set(`${q}gout`, hold(gout));
      y.backward(gout);
      ours.set(`${q}y`, hold(y));
      ours.set(`${q}xgrad`, hold(x.grad!));
      for (const [n, prm] of m.namedParameters()) ours.set(`${q}grad.${n}`, hold(prm.grad!));
      m.zeroGrad();
    });
  });
  torch.tidy(() => { for (const [k, v] of m.stateDict()) ours.set(`${p}final.${k}`, hold(v)); });
  m.dispose();
});

inits.forEach((c, i) => {
  torch.manualSeed(c.seed);
  const t = torch.keep(torch.empty(c.shape));
  assert.equal(c.run(t), t, `${c.name} returns its tensor`);
  ours.set(`init${i}`, t);
});

const spec = {
  cases: cases.map((c) => ({ seed: c.seed, py: c.py, steps: c.steps.map((s) => (s.seed === undefined ? { mode: s.mode } : { mode: s.mode, seed: s.seed })) })),
  inits: inits.map((c) => ({ seed: c.seed, shape: c.shape, py: c.py })),
  gains: gainArgs,
};
const py: PyResult = runPython('layers.py', inputs, spec);
const ref = py.tensors;

test('state-dict keys follow PyTorch (weight/bias/running stats/num_batches_tracked; none for affine=false)', () => {
  cases.forEach((c, i) => {
    const pyKeys = [...ref.keys()].filter((k) => k.startsWith(`c${i}.pyinit.`)).map((k) => k.slice(`c${i}.pyinit.`.length));
    assert.deepEqual(moduleKeys[i], pyKeys, c.name);
  });
});

test('default initialisation equals PyTorch exactly under the same manual seed', () => {
  cases.forEach((c, i) => {
    for (const k of moduleKeys[i]!) assertEqualTensors(inputs.get(`c${i}.init.${k}`), ref.get(`c${i}.pyinit.${k}`), `${c.name}: ${k}`);
  });
});

for (const [i, c] of cases.entries()) {
  test(`forward and gradients: ${c.name}`, () => {
    c.steps.forEach((st, s) => {
      const q = `c${i}.s${s}.`;
      assertClose(ours.get(`${q}y`), ref.get(`${q}y`), `${q}y (${st.mode})`);
      assertClose(ours.get(`${q}xgrad`), ref.get(`${q}xgrad`), `${q}input grad (${st.mode})`);
      const gradKeys = [...ref.keys()].filter((k) => k.startsWith(`${q}grad.`));
      assert.deepEqual([...ours.keys()].filter((k) => k.startsWith(`${q}grad.`)), gradKeys, `${q} parameter-gradient names`);
      for (const k of gradKeys) assertClose(ours.get(k), ref.get(k), k);
    });
    for (const k of moduleKeys[i]!) {
      const key = `c${i}.final.${k}`;
      if (k.endsWith('num_batches_tracked')) assertEqualTensors(ours.get(key), ref.get(key), key);
      else assertClose(ours.get(key), ref.get(key), `${key} after ${c.steps.length} steps`);
    }
  });
}

test('BatchNorm running statistics move in train mode and stay put in eval mode', () => {
  const bn = new nn.BatchNorm2d(3);
  torch.tidy(() => {
    const x = torch.randn([4, 3, 5, 5]).mul(2).add(1);
    bn.forward(x);
    assert.equal(bn.num_batches_tracked!.item(), 1);
    const before = bn.running_mean!.toArray();
    assert.ok(before.some((v) => v !== 0));
    bn.eval();
    bn.forward(x);
    assert.deepEqual(bn.running_mean!.toArray(), before);
    assert.equal(bn.num_batches_tracked!.item(), 1);
  });
  assert.throws(() => torch.tidy(() => bn.train().forward(torch.randn([1, 3, 1, 1]))), /more than 1 value per channel/);
  assert.throws(() => torch.tidy(() => bn.forward(torch.randn([3, 5]))), /BatchNorm2d: expected 4D input \(got 2D input\)/);
  bn.dispose();
});

test('nn.init functions equal PyTorch exactly under the same manual seed', () => {
  inits.forEach((c, i) => assertEqualTensors(ours.get(`init${i}`), ref.get(`init${i}`), c.name));
  const gains = (py.json as { gains: number[] }).gains;
  gainArgs.forEach(([nl, param], i) => assert.equal(I.calculateGain(nl, param), gains[i], `calculateGain(${nl}, ${param})`));
  assert.throws(() => I.kaimingUniform_(torch.empty([5])), /fewer than 2 dimensions/);
  assert.throws(() => I.kaimingUniform_(torch.empty([5, 5]), { mode: 'fan_avg' as nn.init.FanMode }), /Mode fan_avg not supported/);
});

test('default initialisation statistics: kaiming_uniform(a=√5) weight and U(±1/√fanIn) bias', () => {
  torch.manualSeed(123);
  const conv = new nn.Conv2d(64, 128, 3);
  const fanIn = 64 * 9;
  const bound = 1 / Math.sqrt(fanIn); // gain √(2/(1+5)) · √(3/fanIn)
  for (const [name, t] of [['weight', conv.weight], ['bias', conv.bias!]] as const) {
    const v = t.toArray();
    const mean = v.reduce((a, b) => a + b, 0) / v.length;
    const sd = Math.sqrt(v.reduce((a, b) => a + (b - mean) ** 2, 0) / v.length);
    assert.ok(Math.max(...v) <= bound && Math.min(...v) >= -bound, `${name} within ±${bound}`);
    const tolSd = name === 'weight' ? 0.01 : 0.1;
    assert.ok(Math.abs(sd / (bound / Math.sqrt(3)) - 1) < tolSd, `${name} std ${sd} vs ${bound / Math.sqrt(3)}`);
    assert.ok(Math.abs(mean) < (name === 'weight' ? 0.01 : 0.2) * bound, `${name} mean ${mean}`);
  }
  const lin = new nn.Linear(256, 32);
  const w = lin.weight.toArray();
  assert.ok(Math.max(...w) <= 1 / 16 && Math.min(...w) >= -1 / 16);
  const deconv = new nn.ConvTranspose2d(16, 8, 4);
  // PyTorch computes fan_in from weight dim 1 (outC/groups) for transposed convolutions.
  const b = deconv.bias!.toArray();
  assert.ok(Math.max(...b) <= 1 / Math.sqrt(8 * 16));
  conv.dispose(); lin.dispose(); deconv.dispose();
});

test('cleanup', () => {
  cleanup(py);
  torch.dispose([...inputs.values(), ...ours.values()]);
});
