// Tensor handles, dtypes, memory scopes, errors and autograd entry points.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as torch from '../../src/torch/index.js';
import { Tensor } from '../../src/torch/index.js';

test('every dtype round-trips through typed arrays', () => {
  const cases: [torch.DType, ArrayLike<number> | BigInt64Array][] = [
    ['float32', new Float32Array([1.5, -2, 3e-8])], ['float64', new Float64Array([1e-300, 2, -3])],
    ['int64', new BigInt64Array([1n, -2n, 9007199254740993n])], ['int32', new Int32Array([1, -2, 2147483647])],
    ['int16', new Int16Array([1, -2, 32767])], ['int8', new Int8Array([1, -2, 127])], ['uint8', new Uint8Array([0, 128, 255])],
  ];
  for (const [dtype, data] of cases) {
    const t = torch.fromTypedArray(data as torch.AnyTypedArray, [3]);
    assert.equal(t.dtype, dtype);
    assert.deepEqual(Array.from(t.toTypedArray() as ArrayLike<unknown>), Array.from(data as ArrayLike<unknown>));
    t.dispose();
  }
  const b = torch.tensor([true, false, true]);
  assert.equal(b.dtype, 'bool');
  assert.deepEqual(b.toArray(), [1, 0, 1]);
  const h = torch.tensor([1.5, -2.25, 65504], { dtype: 'float16' });
  assert.equal(h.dtype, 'float16');
  assert.deepEqual(h.toArray(), [1.5, -2.25, 65504]);
  const bf = torch.tensor([1.5, -2.25], { dtype: 'bfloat16' });
  assert.deepEqual(bf.toArray(), [1.5, -2.25]);
  torch.dispose([b, h, bf]);
});

test('tensor() infers dtype and shape like torch.tensor', () => {
  const i = torch.tensor([[1, 2], [3, 4]]);
  assert.equal(i.dtype, 'int64');
  assert.deepEqual(i.shape, [2, 2]);
  const f = torch.tensor([[1, 2.5]]);
  assert.equal(f.dtype, 'float32');
  const s = torch.tensor(3.5);
  assert.deepEqual(s.shape, []);
  assert.equal(s.item(), 3.5);
  assert.throws(() => torch.tensor([[1, 2], [3]]), /ragged/);
  assert.throws(() => torch.fromTypedArray(new Float32Array(5), [2, 3]), /do not fill shape/);
  torch.dispose([i, f, s]);
});

test('manualSeed makes random ops repeat', () => {
  torch.manualSeed(42);
  const a = [torch.rand([5]).toArray(), torch.randn([5]).toArray(), torch.randperm(10).toArray(), torch.randint(0, 100, [5]).toArray()];
  torch.manualSeed(42);
  const b = [torch.rand([5]).toArray(), torch.randn([5]).toArray(), torch.randperm(10).toArray(), torch.randint(0, 100, [5]).toArray()];
  assert.deepEqual(a, b);
  torch.manualSeed(43);
  assert.notDeepEqual(torch.rand([5]).toArray(), a[0]);
});

test('tidy disposes intermediates and keeps what it returns', () => {
  const before = torch.memory();
  const x = torch.ones([100, 100]);
  let inner: Tensor | undefined;
  const { y, list } = torch.tidy(() => {
    inner = x.mul(2);
    const y = inner.add(1);
    return { y, list: [y.sum(), new Map([['k', y.mean()]])] };
  });
  assert.equal(inner!.isDisposed, true);
  assert.equal(y.isDisposed, false);
  assert.equal((list[0] as Tensor).item(), 30000);
  assert.equal(((list[1] as Map<string, Tensor>).get('k'))!.item(), 3);
  // Nested scopes: a tensor returned from the inner scope belongs to the outer one.
  let fromInner: Tensor | undefined;
  torch.tidy(() => {
    fromInner = torch.tidy(() => x.add(1));
    assert.equal(fromInner.isDisposed, false);
  });
  assert.equal(fromInner!.isDisposed, true);
  // keep() survives every scope.
  const kept = torch.tidy(() => { torch.keep(x.add(5)); return null; });
  assert.equal(kept, null);
  torch.dispose([x, y, list]);
  assert.throws(() => torch.tidy(() => Promise.resolve(1)), /Promise/);
  assert.throws(() => x.add(1), /disposed/);
  assert.ok(torch.memory().numTensors <= before.numTensors + 1);
});

test('in-place ops and views return fresh handles over the same storage', () => {
  const a = torch.zeros([2, 3]);
  const b = a.add_(1);
  assert.notEqual(a, b);
  assert.ok(a.sharesStorageWith(b));
  b.dispose();
  assert.deepEqual(a.toArray(), [1, 1, 1, 1, 1, 1]);
  const v = a.view([3, 2]);
  v.mul_(3).dispose();
  assert.deepEqual(a.toArray(), [3, 3, 3, 3, 3, 3]);
  torch.dispose([a, v]);
});

test('native memory stays flat over many scoped training steps', () => {
  const w = torch.keep(torch.randn([8, 3, 3, 3]).requiresGrad_());
  const x = torch.keep(torch.randn([4, 3, 16, 16]));
  const step = () => torch.tidy(() => {
    const loss = torch.conv2d(x, w, { padding: 1 }).relu().pow(2).mean();
    loss.backward();
    torch.noGrad(() => { w.sub_(w.grad!.mul(0.01)); });
    w.grad = null;
  });
  for (let i = 0; i < 50; i++) step();
  const m1 = torch.memory();
  for (let i = 0; i < 500; i++) step();
  const m2 = torch.memory();
  assert.equal(m2.numTensors, m1.numTensors);
  assert.equal(m2.nativeBytes, m1.nativeBytes);
  torch.dispose([w, x]);
});

test('libtorch errors become catchable TorchErrors with the op and shapes', () => {
  const a = torch.randn([2, 3]);
  const e1 = (() => { try { torch.mm(a, a); } catch (e) { return e as Error & { op?: string }; } })();
  assert.equal(e1?.name, 'TorchError');
  assert.match(e1!.message, /mat1 and mat2 shapes cannot be multiplied \(2x3 and 2x3\)/);
  assert.match(e1!.message, /aten::mm/);
  assert.match(e1!.message, /\[2,3\]/);
  assert.doesNotMatch(e1!.message, /frame #|\.cpp:/);
  assert.throws(() => a.index_select(0, torch.tensor([7])), { name: 'TorchError', message: /index out of range/ });
  assert.throws(() => a.add(torch.randn([4])), { name: 'TorchError', message: /must match/ });
  assert.throws(() => torch.empty([1e6, 1e6, 1e3]), { name: 'TorchError' });
  assert.throws(() => torch.zeros([2], { dtype: 'complex' as torch.DType }), /dtype|option/);
  assert.throws(() => torch.conv2d(a, a), { name: 'TorchError' });
  assert.throws(() => a.view([5]), { name: 'TorchError', message: /shape '\[5\]' is invalid/ });
  assert.throws(() => torch.tensor([1, 2]).requiresGrad_(), /floating[- ]point/i);
  assert.throws(() => (a as unknown as { add(x: string): void }).add('x'), /no overload matches/);
  // the process is still fine
  assert.equal(torch.ones([2]).sum().item(), 2);
  a.dispose();
});

test('autograd: backward, grad w.r.t. inputs, higher order, noGrad', () => {
  const x = torch.tensor([1, 2, 3], { dtype: 'float32', requiresGrad: true });
  const y = x.pow(3).sum();
  const [g] = torch.autograd.grad(y, x, { createGraph: true });
  assert.deepEqual(g!.toArray(), [3, 12, 27]);
  const [g2] = torch.autograd.grad(g!.sum(), x);
  assert.deepEqual(g2!.toArray(), [6, 12, 18]);
  const z = torch.noGrad(() => x.mul(2));
  assert.equal(z.requiresGrad, false);
  assert.equal(torch.isGradEnabled(), true);
  const loss = x.mul(x).sum();
  loss.backward();
  assert.deepEqual(x.grad!.toArray(), [2, 4, 6]);
  x.mul(x).sum().backward();
  assert.deepEqual(x.grad!.toArray(), [4, 8, 12], 'gradients accumulate');
  x.grad = null;
  assert.equal(x.grad, null);
  assert.equal(x.isLeaf, true);
  assert.equal(loss.gradFn, 'SumBackward0');
});

test('threads and backend info', () => {
  const n = torch.getNumThreads();
  torch.setNumThreads(1);
  assert.equal(torch.getNumThreads(), 1);
  torch.setNumThreads(n);
  const info = torch.backendInfo();
  assert.match(info.torchVersion, /^\d+\.\d+/);
  assert.equal(typeof info.cuda, 'boolean');
});

test('overloads are chosen by option types too', () => {
  const x = torch.randn([1, 2, 7, 7]);
  const w = torch.randn([3, 2, 3, 3]);
  assert.deepEqual(torch.conv2d(x, w, { padding: 'same' }).shape, [1, 3, 7, 7]);
  assert.deepEqual(torch.conv2d(x, w, { padding: 0 }).shape, [1, 3, 5, 5]);
  assert.throws(() => torch.conv2d(x, w, { padding: 'same', stride: 'x' as unknown as number }), /no overload matches/);
  torch.dispose([x, w]);
});
