// Parity of nn.functional with PyTorch 1.13's torch.nn.functional: outputs and input gradients
// for every helper (interpolate's size and scale rules, padding modes, losses and reductions,
// normalisation, sampling grids, …). One Python process for the file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as torch from '../../../src/torch/index.js';
import type { Tensor } from '../../../src/torch/index.js';
import { nn } from '../../../src/torch/index.js';
import { assertClose, cleanup, hold, runPython } from './helpers.js';

const F = nn.functional;

interface In { make: () => Tensor; grad: boolean }
interface FCase { name: string; inputs: In[]; ts: (x: Tensor[]) => Tensor; py: string; seed?: number; after?: number[] }

const rn = (shape: number[], grad = true): In => ({ make: () => torch.randn(shape), grad });
const un = (shape: number[], grad = true): In => ({ make: () => torch.rand(shape).mul(0.98).add(0.01), grad });
const cst = (f: () => Tensor): In => ({ make: f, grad: false });
const X = [2, 3, 7, 6];

const cases: FCase[] = [];
const add = (name: string, inputs: In[], ts: (x: Tensor[]) => Tensor, py: string, extra: Partial<FCase> = {}): void => {
  cases.push({ name, inputs, ts, py, ...extra });
};

// interpolate: size and scale rules for each mode
add('interpolate nearest size [11, 4]', [rn(X)], (x) => F.interpolate(x[0]!, { size: [11, 4] }), 'F.interpolate(x[0], size=(11, 4))');
add('interpolate nearest ×1.7', [rn(X)], (x) => F.interpolate(x[0]!, { scaleFactor: 1.7 }), 'F.interpolate(x[0], scale_factor=1.7)');
add('interpolate nearest ×[2, 0.5]', [rn(X)], (x) => F.interpolate(x[0]!, { scaleFactor: [2, 0.5] }), 'F.interpolate(x[0], scale_factor=(2, 0.5))');
add('interpolate bilinear ×1.3', [rn(X)], (x) => F.interpolate(x[0]!, { scaleFactor: 1.3, mode: 'bilinear' }), "F.interpolate(x[0], scale_factor=1.3, mode='bilinear')");
add('interpolate bilinear ×1.3 recompute', [rn(X)], (x) => F.interpolate(x[0]!, { scaleFactor: 1.3, mode: 'bilinear', recomputeScaleFactor: true }),
  "F.interpolate(x[0], scale_factor=1.3, mode='bilinear', recompute_scale_factor=True)");
add('interpolate bilinear size alignCorners', [rn(X)], (x) => F.interpolate(x[0]!, { size: [5, 13], mode: 'bilinear', alignCorners: true }),
  "F.interpolate(x[0], size=(5, 13), mode='bilinear', align_corners=True)");
add('interpolate bilinear ×0.5 antialias', [rn([1, 2, 12, 10])], (x) => F.interpolate(x[0]!, { scaleFactor: 0.5, mode: 'bilinear', antialias: true }),
  "F.interpolate(x[0], scale_factor=0.5, mode='bilinear', antialias=True)");
add('interpolate bilinear size antialias', [rn([1, 2, 12, 10])], (x) => F.interpolate(x[0]!, { size: [5, 3], mode: 'bilinear', antialias: true }),
  "F.interpolate(x[0], size=(5, 3), mode='bilinear', antialias=True)");
add('interpolate bicubic ×2', [rn(X)], (x) => F.interpolate(x[0]!, { scaleFactor: 2, mode: 'bicubic' }), "F.interpolate(x[0], scale_factor=2, mode='bicubic')");
add('interpolate bicubic size alignCorners', [rn(X)], (x) => F.interpolate(x[0]!, { size: 9, mode: 'bicubic', alignCorners: true }),
  "F.interpolate(x[0], size=9, mode='bicubic', align_corners=True)");
add('interpolate bicubic antialias', [rn([1, 2, 12, 10])], (x) => F.interpolate(x[0]!, { size: [4, 7], mode: 'bicubic', antialias: true }),
  "F.interpolate(x[0], size=(4, 7), mode='bicubic', antialias=True)");
add('interpolate area ×0.5', [rn([1, 2, 12, 10])], (x) => F.interpolate(x[0]!, { scaleFactor: 0.5, mode: 'area' }), "F.interpolate(x[0], scale_factor=0.5, mode='area')");
// padding
add('pad constant 1.5', [rn(X)], (x) => F.pad(x[0]!, [1, 2, 0, 3], { value: 1.5 }), 'F.pad(x[0], (1, 2, 0, 3), value=1.5)');
add('pad reflect', [rn(X)], (x) => F.pad(x[0]!, [2, 1, 3, 2], { mode: 'reflect' }), "F.pad(x[0], (2, 1, 3, 2), mode='reflect')");
add('pad replicate', [rn(X)], (x) => F.pad(x[0]!, [2, 1, 3, 2], { mode: 'replicate' }), "F.pad(x[0], (2, 1, 3, 2), mode='replicate')");
add('pad circular', [rn(X)], (x) => F.pad(x[0]!, [2, 1, 3, 2], { mode: 'circular' }), "F.pad(x[0], (2, 1, 3, 2), mode='circular')");
add('pad constant negative (crop)', [rn(X)], (x) => F.pad(x[0]!, [-1, 2]), 'F.pad(x[0], (-1, 2))');
// losses
for (const r of ['mean', 'sum', 'none'] as const) {
  add(`mseLoss ${r}`, [rn([4, 5]), rn([4, 5])], (x) => F.mseLoss(x[0]!, x[1]!, { reduction: r }), `F.mse_loss(x[0], x[1], reduction='${r}')`);
  add(`l1Loss ${r}`, [rn([4, 5]), rn([4, 5])], (x) => F.l1Loss(x[0]!, x[1]!, { reduction: r }), `F.l1_loss(x[0], x[1], reduction='${r}')`);
  add(`crossEntropy ${r}`, [rn([6, 4]), cst(() => torch.tensor([0, 3, 1, 1, 2, 0]))], (x) => F.crossEntropy(x[0]!, x[1]!, { reduction: r }),
    `F.cross_entropy(x[0], x[1], reduction='${r}')`);
  add(`binaryCrossEntropy ${r}`, [un([3, 4]), un([3, 4], false)], (x) => F.binaryCrossEntropy(x[0]!, x[1]!, { reduction: r }),
    `F.binary_cross_entropy(x[0], x[1], reduction='${r}')`);
}
add('mseLoss broadcast target', [rn([4, 5]), rn([5])], (x) => F.mseLoss(x[0]!, x[1]!), 'F.mse_loss(x[0], x[1])');
add('smoothL1Loss beta 0.5', [rn([4, 5]), rn([4, 5])], (x) => F.smoothL1Loss(x[0]!, x[1]!, { beta: 0.5 }), 'F.smooth_l1_loss(x[0], x[1], beta=0.5)');
add('smoothL1Loss beta 0 sum', [rn([4, 5]), rn([4, 5])], (x) => F.smoothL1Loss(x[0]!, x[1]!, { beta: 0, reduction: 'sum' }), "F.smooth_l1_loss(x[0], x[1], beta=0.0, reduction='sum')");
add('binaryCrossEntropy weight (broadcast)', [un([3, 4]), un([3, 4], false), cst(() => torch.rand([4]))], (x) => F.binaryCrossEntropy(x[0]!, x[1]!, { weight: x[2]! }),
  'F.binary_cross_entropy(x[0], x[1], weight=x[2])');
add('binaryCrossEntropyWithLogits posWeight', [rn([3, 4]), un([3, 4], false), cst(() => torch.rand([4]).add(0.5))],
  (x) => F.binaryCrossEntropyWithLogits(x[0]!, x[1]!, { posWeight: x[2]! }), 'F.binary_cross_entropy_with_logits(x[0], x[1], pos_weight=x[2])');
add('binaryCrossEntropyWithLogits weight sum', [rn([3, 4]), un([3, 4], false), cst(() => torch.rand([3, 4]))],
  (x) => F.binaryCrossEntropyWithLogits(x[0]!, x[1]!, { weight: x[2]!, reduction: 'sum' }), "F.binary_cross_entropy_with_logits(x[0], x[1], weight=x[2], reduction='sum')");
add('crossEntropy weight, ignoreIndex, labelSmoothing', [rn([6, 4]), cst(() => torch.tensor([0, 3, 1, 1, 2, 0])), cst(() => torch.rand([4]).add(0.5))],
  (x) => F.crossEntropy(x[0]!, x[1]!, { weight: x[2]!, ignoreIndex: 1, labelSmoothing: 0.1 }), 'F.cross_entropy(x[0], x[1], weight=x[2], ignore_index=1, label_smoothing=0.1)');
add('crossEntropy (N, C, H, W) with probabilities', [rn([2, 3, 4, 4]), cst(() => torch.rand([2, 3, 4, 4]).softmax(1))],
  (x) => F.crossEntropy(x[0]!, x[1]!), 'F.cross_entropy(x[0], x[1])');
// vectors, activations
add('normalize default', [rn([4, 6])], (x) => F.normalize(x[0]!), 'F.normalize(x[0])');
add('normalize p=1 dim=-1 with a zero row', [cst(() => torch.cat([torch.randn([3, 5]), torch.zeros([1, 5])]))], (x) => F.normalize(x[0]!, { p: 1, dim: -1 }),
  'F.normalize(x[0], p=1, dim=-1)');
add('normalize feature maps', [rn(X)], (x) => F.normalize(x[0]!, { dim: 1, eps: 1e-3 }), 'F.normalize(x[0], dim=1, eps=1e-3)');
add('cosineSimilarity', [rn([4, 6]), rn([4, 6])], (x) => F.cosineSimilarity(x[0]!, x[1]!), 'F.cosine_similarity(x[0], x[1])');
add('cosineSimilarity dim 0 broadcast', [rn([5, 3]), rn([5, 1])], (x) => F.cosineSimilarity(x[0]!, x[1]!, { dim: 0, eps: 1e-6 }), 'F.cosine_similarity(x[0], x[1], dim=0, eps=1e-6)');
add('softmax dim 1', [rn(X)], (x) => F.softmax(x[0]!, 1), 'F.softmax(x[0], 1)');
add('logSoftmax dim -1', [rn(X)], (x) => F.logSoftmax(x[0]!, -1), 'F.log_softmax(x[0], -1)');
add('relu', [rn(X)], (x) => F.relu(x[0]!), 'F.relu(x[0])');
add('leakyRelu default', [rn(X)], (x) => F.leakyRelu(x[0]!), 'F.leaky_relu(x[0])');
add('leakyRelu 0.2', [rn(X)], (x) => F.leakyRelu(x[0]!, 0.2), 'F.leaky_relu(x[0], 0.2)');
add('elu 0.7', [rn(X)], (x) => F.elu(x[0]!, 0.7), 'F.elu(x[0], 0.7)');
add('sigmoid', [rn(X)], (x) => F.sigmoid(x[0]!), 'torch.sigmoid(x[0])');
add('gelu', [rn(X)], (x) => F.gelu(x[0]!), 'F.gelu(x[0])');
add('gelu tanh', [rn(X)], (x) => F.gelu(x[0]!, { approximate: 'tanh' }), "F.gelu(x[0], approximate='tanh')");
add('dropout p=0.4 (same RNG)', [rn(X)], (x) => F.dropout(x[0]!, 0.4), 'F.dropout(x[0], 0.4)', { seed: 5 });
add('dropout eval', [rn(X)], (x) => F.dropout(x[0]!, 0.4, false), 'F.dropout(x[0], 0.4, False)');
add('dropout2d p=0.5 (same RNG)', [rn([4, 6, 3, 3])], (x) => F.dropout2d(x[0]!, 0.5), 'F.dropout2d(x[0], 0.5)', { seed: 6 });
// blocks, sampling
add('unfold k3', [rn(X)], (x) => F.unfold(x[0]!, 3), 'F.unfold(x[0], 3)');
add('unfold k[2,3] dilation 2 padding 1 stride 2', [rn(X)], (x) => F.unfold(x[0]!, [2, 3], { dilation: 2, padding: 1, stride: 2 }),
  'F.unfold(x[0], (2, 3), dilation=2, padding=1, stride=2)');
const grid = (): Tensor => torch.rand([2, 5, 4, 2]).mul(2.4).sub(1.2);
for (const mode of ['bilinear', 'nearest', 'bicubic'] as const) {
  for (const paddingMode of ['zeros', 'border', 'reflection'] as const) {
    for (const alignCorners of [false, true]) {
      add(`gridSample ${mode} ${paddingMode} alignCorners=${alignCorners}`, [rn(X), { make: grid, grad: mode !== 'nearest' }],
        (x) => F.gridSample(x[0]!, x[1]!, { mode, paddingMode, alignCorners }),
        `F.grid_sample(x[0], x[1], mode='${mode}', padding_mode='${paddingMode}', align_corners=${alignCorners ? 'True' : 'False'})`);
    }
  }
}
add('affineGrid', [rn([2, 2, 3])], (x) => F.affineGrid(x[0]!, [2, 3, 5, 4]), 'F.affine_grid(x[0], [2, 3, 5, 4], align_corners=False)');
add('affineGrid alignCorners', [rn([2, 2, 3])], (x) => F.affineGrid(x[0]!, [2, 3, 5, 4], { alignCorners: true }), 'F.affine_grid(x[0], [2, 3, 5, 4], align_corners=True)');
add('affineGrid → gridSample', [rn(X), rn([2, 2, 3])], (x) => F.gridSample(x[0]!, F.affineGrid(x[1]!, [2, 3, 4, 4])),
  'F.grid_sample(x[0], F.affine_grid(x[1], [2, 3, 4, 4], align_corners=False), align_corners=False)');
// layers as functions
add('avgPool2d', [rn(X)], (x) => F.avgPool2d(x[0]!, 3, { stride: 2, padding: 1, ceilMode: true }), 'F.avg_pool2d(x[0], 3, stride=2, padding=1, ceil_mode=True)');
add('maxPool2d', [rn(X)], (x) => F.maxPool2d(x[0]!, [2, 3]), 'F.max_pool2d(x[0], (2, 3))');
add('adaptiveAvgPool2d 4', [rn(X)], (x) => F.adaptiveAvgPool2d(x[0]!, 4), 'F.adaptive_avg_pool2d(x[0], 4)');
add('adaptiveAvgPool2d [null, 2]', [rn(X)], (x) => F.adaptiveAvgPool2d(x[0]!, [null, 2]), 'F.adaptive_avg_pool2d(x[0], (None, 2))');
add('adaptiveAvgPool1d 3', [rn([2, 3, 10])], (x) => F.adaptiveAvgPool1d(x[0]!, 3), 'F.adaptive_avg_pool1d(x[0], 3)');
add('batchNorm training (running stats updated)', [rn(X), cst(() => torch.randn([3])), cst(() => torch.rand([3]).add(0.5)), rn([3]), rn([3])],
  (x) => F.batchNorm(x[0]!, x[1]!, x[2]!, { weight: x[3]!, bias: x[4]!, training: true, momentum: 0.2, eps: 1e-4 }),
  'F.batch_norm(x[0], x[1], x[2], weight=x[3], bias=x[4], training=True, momentum=0.2, eps=1e-4)', { after: [1, 2] });
add('batchNorm eval', [rn(X), cst(() => torch.randn([3])), cst(() => torch.rand([3]).add(0.5))],
  (x) => F.batchNorm(x[0]!, x[1]!, x[2]!), 'F.batch_norm(x[0], x[1], x[2])');
add('groupNorm', [rn([2, 6, 3, 3]), rn([6]), rn([6])], (x) => F.groupNorm(x[0]!, 3, { weight: x[1]!, bias: x[2]! }), 'F.group_norm(x[0], 3, weight=x[1], bias=x[2])');
add('linear', [rn([3, 5]), rn([4, 5]), rn([4])], (x) => F.linear(x[0]!, x[1]!, x[2]!), 'F.linear(x[0], x[1], x[2])');
add('conv2d', [rn(X), rn([4, 3, 3, 3]), rn([4])], (x) => F.conv2d(x[0]!, x[1]!, { bias: x[2]!, stride: [2, 1], padding: 1 }),
  'F.conv2d(x[0], x[1], x[2], stride=(2, 1), padding=1)');
add("conv2d padding 'same' dilation 2", [rn(X), rn([2, 3, 2, 3])], (x) => F.conv2d(x[0]!, x[1]!, { padding: 'same', dilation: 2 }),
  "F.conv2d(x[0], x[1], padding='same', dilation=2)");
add("conv2d padding 'valid'", [rn(X), rn([2, 3, 2, 3])], (x) => F.conv2d(x[0]!, x[1]!, { padding: 'valid' }), "F.conv2d(x[0], x[1], padding='valid')");
add('convTranspose2d', [rn(X), rn([3, 2, 3, 3]), rn([2])], (x) => F.convTranspose2d(x[0]!, x[1]!, { bias: x[2]!, stride: 2, padding: 1, outputPadding: 1 }),
  'F.conv_transpose2d(x[0], x[1], x[2], stride=2, padding=1, output_padding=1)');

// ---- TS side ------------------------------------------------------------------------------
torch.manualSeed(2024);
const inputs = new Map<string, Tensor>();
const ours = new Map<string, Tensor>();
cases.forEach((c, i) => {
  const p = `c${i}.`;
  torch.tidy(() => {
    const xs = c.inputs.map((inp, j) => {
      const t = inp.make();
      inputs.set(`${p}in${j}`, hold(t));
      return inp.grad ? t.requiresGrad_() : t;
    });
    if (c.seed !== undefined) torch.manualSeed(c.seed);
    const y = c.ts(xs);
    ours.set(`${p}y`, hold(y));
    if (c.inputs.some((inp) => inp.grad)) {
      const gout = torch.randn(y.shape);
      inputs.set(`${p}gout`, hold(gout));
      y.backward(gout);
      c.inputs.forEach((inp, j) => { if (inp.grad) ours.set(`${p}grad${j}`, hold(xs[j]!.grad!)); });
    }
    for (const j of c.after ?? []) ours.set(`${p}after${j}`, hold(xs[j]!));
  });
});
const py = runPython('functional.py', inputs, { cases: cases.map((c) => ({ py: c.py, grad: c.inputs.map((i) => i.grad), seed: c.seed ?? null, after: c.after ?? [] })) });

for (const [i, c] of cases.entries()) {
  test(`F parity: ${c.name}`, () => {
    const p = `c${i}.`;
    assertClose(ours.get(`${p}y`), py.tensors.get(`${p}y`), `${c.name}: output`);
    c.inputs.forEach((inp, j) => { if (inp.grad) assertClose(ours.get(`${p}grad${j}`), py.tensors.get(`${p}grad${j}`), `${c.name}: grad of input ${j}`); });
    for (const j of c.after ?? []) assertClose(ours.get(`${p}after${j}`), py.tensors.get(`${p}after${j}`), `${c.name}: input ${j} after the call`);
  });
}

test('bad arguments give clear errors', () => {
  torch.tidy(() => {
    const x = torch.randn([1, 2, 4, 4]);
    assert.throws(() => F.interpolate(x, { size: 3, scaleFactor: 2 }), /exactly one of size and scaleFactor/);
    assert.throws(() => F.interpolate(x, { size: 3, alignCorners: true }), /alignCorners only has an effect/);
    assert.throws(() => F.interpolate(x, { size: 3, mode: 'nearest', antialias: true }), /antialias is only supported/);
    assert.throws(() => F.mseLoss(x, x, { reduction: 'avg' as 'mean' }), /reduction 'avg' is not valid/);
    assert.throws(() => F.binaryCrossEntropy(x.sigmoid(), torch.rand([2, 4, 4])), /target size \[2, 4, 4\] differs from input size \[1, 2, 4, 4\]/);
    assert.throws(() => F.dropout(x, 1.5), /between 0 and 1/);
    assert.throws(() => F.gridSample(x, torch.zeros([1, 2, 2, 2]), { mode: 'area' as 'nearest' }), /mode 'area' is not valid/);
    assert.throws(() => F.affineGrid(torch.zeros([1, 3, 3]), [1, 2, 4, 4]), /expected theta of shape \[1, 2, 3\]/);
    assert.throws(() => F.conv2d(x, torch.zeros([2, 2, 3, 3]), { padding: 'same', stride: 2 }), /not supported for strided/);
  });
});

test('cleanup', () => {
  cleanup(py);
  torch.dispose([...inputs.values(), ...ours.values()]);
});
