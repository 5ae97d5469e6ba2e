// Module registries and state dicts: PyTorch's key names and order, in-place loading (tensor
// identity kept for optimisers), round trips ours → safetensors → ours, ours → .pth → PyTorch
// load_state_dict, PyTorch .pth → ours, strict-load error listing, buffers, to(dtype).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as torch from '../../../src/torch/index.js';
import type { Tensor } from '../../../src/torch/index.js';
import { nn, optim } from '../../../src/torch/index.js';
import { assertClose, cleanup, runPython } from './helpers.js';

class Block extends nn.Module {
  declare conv1: nn.Conv2d;
  declare bn1: nn.BatchNorm2d;
  declare relu: nn.ReLU;
  declare conv2: nn.Conv2d;
  declare bn2: nn.BatchNorm2d;
  declare downsample?: nn.Sequential;
  constructor(cin: number, cout: number, stride: number) {
    super();
    this.registerModule('conv1', new nn.Conv2d(cin, cout, 3, { stride, padding: 1, bias: false }));
    this.registerModule('bn1', new nn.BatchNorm2d(cout));
    this.registerModule('relu', new nn.ReLU());
    this.registerModule('conv2', new nn.Conv2d(cout, cout, 3, { padding: 1, bias: false }));
    this.registerModule('bn2', new nn.BatchNorm2d(cout));
    if (stride !== 1 || cin !== cout) this.registerModule('downsample', new nn.Sequential(new nn.Conv2d(cin, cout, 1, { stride, bias: false }), new nn.BatchNorm2d(cout)));
  }
  forward(x: Tensor): Tensor {
    return torch.tidy(() => {
      const idt = this.downsample ? this.downsample.forward(x) : x;
      const y = this.bn2.forward(this.conv2.forward(this.relu.forward(this.bn1.forward(this.conv1.forward(x)))));
      return this.relu.forward(y.add(idt));
    });
  }
}

class Net extends nn.Module {
  conv1 = this.registerModule('conv1', new nn.Conv2d(3, 8, 3, { padding: 1, bias: false }));
  bn1 = this.registerModule('bn1', new nn.BatchNorm2d(8));
  relu = this.registerModule('relu', new nn.ReLU());
  layer1 = this.registerModule('layer1', new nn.Sequential(new Block(8, 8, 1), new Block(8, 16, 2)));
  gn = this.registerModule('gn', new nn.GroupNorm(4, 16));
  pool = this.registerModule('pool', new nn.AdaptiveAvgPool2d(1));
  fc = this.registerModule('fc', new nn.Linear(16, 5));
  forward(x: Tensor): Tensor {
    return torch.tidy(() => {
      const y = this.layer1.forward(this.relu.forward(this.bn1.forward(this.conv1.forward(x))));
      return this.fc.forward(this.pool.forward(this.gn.forward(y)).flatten(1));
    });
  }
}

function stateArrays(m: nn.Module): Map<string, number[]> {
  return torch.tidy(() => new Map([...m.stateDict()].map(([k, v]) => [k, v.toArray()])));
}

const dir = mkdtempSync(join(tmpdir(), 'vigil-state-'));
torch.manualSeed(1);
const x = torch.keep(torch.randn([2, 3, 8, 8]));
const A = new Net();
{
  // Two SGD steps so weights and BN statistics differ from their initial values.
  const opt = new optim.SGD(A.parameters(), { lr: 0.1, momentum: 0.9 });
  for (let s = 0; s < 2; s++) {
    opt.zeroGrad();
    torch.tidy(() => A.forward(x.mul(s + 1)).pow(2).mean().backward());
    opt.step();
  }
  opt.dispose();
}
A.eval();
const yA = torch.keep(A.forward(x));
const py = runPython('state.py', new Map([['x', x]]), {}, (d) => torch.tidy(() => torch.savePth(join(d, 'ts_model.pth'), A.stateDict())));
const info = py.json as { keys: string[]; params: string[]; buffers: string[]; modules: string[]; missing: string[]; unexpected: string[] };

test('state-dict keys, order and named parameters/buffers/modules equal PyTorch', () => {
  assert.deepEqual([...torch.tidy(() => A.stateDict()).keys()], info.keys);
  assert.deepEqual(A.namedParameters().map(([n]) => n), info.params);
  assert.deepEqual(A.namedBuffers().map(([n]) => n), info.buffers);
  assert.deepEqual(A.namedModules().map(([n]) => n), info.modules);
  assert.ok(info.keys.includes('layer1.1.downsample.1.num_batches_tracked'));
  assert.equal(A.numParameters(), A.parameters().reduce((s, p) => s + p.numel(), 0));
});

test('ours → .pth (savePth) → PyTorch load_state_dict(strict) gives the same eval output', () => {
  assert.deepEqual(info.missing, []);
  assert.deepEqual(info.unexpected, []);
  assertClose(yA, py.tensors.get('ts_eval_y'), 'eval output of our weights in PyTorch');
});

test('PyTorch .pth (torch.save) → ours (loadPth) gives PyTorch\'s eval output', () => {
  const sd = torch.loadPth(join(py.dir, 'py_model.pth'));
  const C = new Net();
  const res = C.loadStateDict(sd);
  assert.deepEqual(res, { missingKeys: [], unexpectedKeys: [] });
  const got = stateArrays(C);
  for (const [k, v] of sd) assert.deepEqual(got.get(k), v.toArray(), k);
  assert.ok(Number(sd.get('bn1.num_batches_tracked')!.item()) === 2);
  C.eval();
  torch.tidy(() => assertClose(C.forward(x), py.tensors.get('py_eval_y'), 'eval output of PyTorch weights in ours'));
  C.dispose();
  torch.dispose(sd);
});

test('ours → safetensors → ours: exact values, loaded in place (same tensor objects)', () => {
  const path = join(dir, 'a.safetensors');
  torch.tidy(() => torch.saveSafetensors(path, A.stateDict()));
  torch.manualSeed(2);
  const B = new Net();
  const before = B.parameters();
  const bufBefore = B.buffers();
  const opt = new optim.Adam(B.parameters(), { lr: 1e-3 });
  const { tensors } = torch.loadSafetensors(path);
  B.loadStateDict(tensors);
  torch.dispose(tensors);
  assert.ok(B.parameters().every((p, i) => p === before[i]));
  assert.ok(B.buffers().every((b, i) => b === bufBefore[i]));
  assert.deepEqual(stateArrays(B), stateArrays(A));
  assert.equal(B.bn1.num_batches_tracked!.dtype, 'int64');
  assert.ok(B.parameters().every((p) => p.requiresGrad && p.isLeaf));
  // The optimiser built before loading still steps the loaded tensors.
  B.train();
  torch.tidy(() => B.forward(x).sum().backward());
  opt.step();
  torch.tidy(() => assert.ok(B.fc.weight.sub(A.fc.weight).abs().max().item() > 0));
  B.eval();
  opt.dispose();
  B.dispose();
});

test('strict loading lists every problem at once; strict=false reports keys; size mismatch always errors; nothing copied on error', () => {
  const D = new Net();
  const before = stateArrays(D);
  const sd = torch.tidy(() => {
    const m = A.stateDict();
    m.delete('fc.bias');
    m.delete('layer1.0.bn2.running_var');
    m.set('fc.extra', torch.zeros([1]));
    m.set('conv1.weight', torch.zeros([8, 3, 5, 5]));
    return m;
  });
  assert.throws(() => D.loadStateDict(sd), (e: Error) => {
    assert.match(e.message, /^Error\(s\) in loading state_dict for Net:/);
    assert.match(e.message, /Missing key\(s\) in state_dict: "layer1\.0\.bn2\.running_var", "fc\.bias"\./);
    assert.match(e.message, /Unexpected key\(s\) in state_dict: "fc\.extra"\./);
    assert.match(e.message, /size mismatch for conv1\.weight: copying a param with shape \[8, 3, 5, 5\] from checkpoint, the shape in current model is \[8, 3, 3, 3\]/);
    return true;
  });
  assert.deepEqual(stateArrays(D), before, 'nothing copied');
  assert.throws(() => D.loadStateDict(sd, { strict: false }), /size mismatch for conv1\.weight/);
  torch.tidy(() => sd.set('conv1.weight', torch.keep(A.stateDict().get('conv1.weight')!.clone())));
  const res = D.loadStateDict(sd, { strict: false });
  assert.deepEqual(res, { missingKeys: ['layer1.0.bn2.running_var', 'fc.bias'], unexpectedKeys: ['fc.extra'] });
  assert.deepEqual(stateArrays(D).get('fc.weight'), stateArrays(A).get('fc.weight'));
  // Checkpoints without num_batches_tracked (old torchvision weights) load strictly.
  const old = torch.tidy(() => { const m = A.stateDict(); for (const k of [...m.keys()]) if (k.endsWith('num_batches_tracked')) m.delete(k); return m; });
  assert.deepEqual(D.loadStateDict(old), { missingKeys: [], unexpectedKeys: [] });
  torch.dispose([sd, old]);
  D.dispose();
});

class Custom extends nn.Module {
  declare weight: Tensor;
  declare stats: Tensor;
  declare scratch: Tensor;
  constructor() {
    super();
    this.weight = this.registerParameter('weight', torch.ones([3]))!;
    this.stats = this.registerBuffer('stats', torch.zeros([3]))!;
    this.scratch = this.registerBuffer('scratch', torch.zeros([2]), false)!;
  }
  forward(x: Tensor): Tensor { return x.mul(this.weight).add(this.stats); }
}

test('buffers: replacing by assignment keeps the key; non-persistent buffers stay out of stateDict', () => {
  const m = new Custom();
  assert.deepEqual(m.namedBuffers().map(([n]) => n), ['stats', 'scratch']);
  assert.deepEqual([...torch.tidy(() => m.stateDict()).keys()], ['weight', 'stats']);
  const old = m.stats;
  m.stats = torch.keep(torch.full([3], 2, { dtype: 'float32' }));
  old.dispose();
  assert.deepEqual(torch.tidy(() => m.stateDict().get('stats')!.toArray()), [2, 2, 2]);
  assert.equal(m.buffers()[0], m.stats);
  const oldW = m.weight;
  m.weight = torch.keep(torch.full([3], 3, { dtype: 'float32' }));
  oldW.dispose();
  assert.ok(m.weight.requiresGrad, 'a replaced parameter requires grad');
  assert.equal(m.parameters()[0], m.weight);
  // Registered tensors survive the tidy they were made in.
  const inner = torch.tidy(() => { const n = new Custom(); return n; });
  assert.deepEqual(inner.weight.toArray(), [1, 1, 1]);
  assert.throws(() => m.registerParameter('a.b', null), /cannot contain '\.'/);
  assert.throws(() => m.registerParameter('stats', null), /already registered as a buffer/);
  assert.throws(() => m.registerBuffer('forward', null), /already a property of Custom/);
  assert.throws(() => m.registerParameter('', null), /non-empty string/);
  m.dispose(); inner.dispose();
});

test('train/eval propagate; zeroGrad zeroes; to(float64) casts floating tensors only; dispose frees', () => {
  const m = new Net();
  m.eval();
  assert.ok(m.modules().every((c) => !c.training));
  m.train();
  assert.ok(m.modules().every((c) => c.training));
  torch.tidy(() => m.forward(x).sum().backward());
  m.zeroGrad();
  torch.tidy(() => assert.ok(m.parameters().every((p) => p.grad !== null && p.grad.abs().max().item() === 0)));
  m.to('float64');
  assert.ok(m.parameters().every((p) => p.dtype === 'float64' && p.requiresGrad));
  assert.equal(m.bn1.running_mean!.dtype, 'float64');
  assert.equal(m.bn1.num_batches_tracked!.dtype, 'int64');
  assert.equal(m.fc.weight.dtype, 'float64', 'accessors follow the converted tensors');
  torch.tidy(() => assert.deepEqual(m.eval().forward(x.double()).shape, [2, 5]));
  const params = m.parameters();
  m.dispose();
  assert.ok(params.every((p) => p.isDisposed));
});

class FieldStyle extends nn.Module {
  w = this.registerParameter('w', torch.ones([2]))!;
  forward(x: Tensor): Tensor { return x.mul(this.w); }
}

test('to(dtype) also retargets parameters kept in plain fields', () => {
  const m = new FieldStyle().to('float64');
  assert.equal(m.w.dtype, 'float64');
  assert.equal(m.parameters()[0], m.w);
  m.dispose();
});

test('to({ memoryFormat: channels_last }) re-lays out 4-D tensors only; values, outputs and state dicts unchanged', () => {
  torch.manualSeed(11);
  const a = new Net();
  torch.manualSeed(11);
  const b = new Net().to({ memoryFormat: 'channels_last' });
  const [, c, h, w] = a.conv1.weight.shape as number[];
  assert.deepEqual(b.conv1.weight.strides, [c! * h! * w!, 1, w! * c!, c!], 'NHWC strides');
  assert.deepEqual(b.fc.weight.strides, a.fc.weight.strides, '2-D weights untouched');
  assert.ok(b.parameters().every((p) => p.requiresGrad && p.isLeaf));
  torch.tidy(() => {
    a.eval(); b.eval();
    assert.ok(a.forward(x).sub(b.forward(x)).abs().max().item() < 1e-5);
    const sa = a.stateDict(), sb = b.stateDict();
    for (const [k, t] of sa) assert.deepEqual(torch.toRaw(sb.get(k)!).data, torch.toRaw(t).data, `${k}: same bytes when saved`);
  });
  a.dispose(); b.dispose();
});

test('cleanup', () => {
  A.dispose();
  torch.dispose([x, yA]);
  cleanup(py);
  rmSync(dir, { recursive: true, force: true });
});
