// F.conv2dWinograd (native/winograd.cc): oneDNN's Winograd kernels are the same convolution up to
// float32 rounding (forward and all three gradients, against a float64 direct convolution as
// the truth, no worse than 10× the direct float32 kernels' own error), in NCHW and channels-last,
// with and without bias, padding 0 and 1; everywhere else it is conv2d itself, bit for bit; and
// it frees what it allocates.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import * as torch from '../../../src/torch/index.js';
import type { Tensor } from '../../../src/torch/index.js';

const F = torch.nn.F;
const cfg = new URL('../../../../build/Release/vigil_torch.config', import.meta.url);
const built = existsSync(cfg) && readFileSync(cfg, 'utf8').includes('oneDNN Winograd');
const avx512 = existsSync('/proc/cpuinfo') && / avx512f /.test(readFileSync('/proc/cpuinfo', 'utf8'));

test('a build with oneDNN on an AVX-512 CPU has the Winograd kernels', () => {
  assert.equal(F.winogradAvailable(), built && avx512, `build ${built ? 'with' : 'without'} oneDNN, CPU ${avx512 ? 'with' : 'without'} AVX-512 (${cpus()[0]?.model})`);
});

const rel = (a: Tensor, b: Tensor): number => torch.tidy(() => a.to('float64').sub(b).norm().item() / b.norm().item());

/** Output and the gradients of input, weight, bias for the upstream gradient `up`. */
function run(conv: (x: Tensor, w: Tensor, b: Tensor | null) => Tensor, x0: Tensor, w0: Tensor, b0: Tensor | null, up: Tensor): Tensor[] {
  const x = x0.detach().requiresGrad_(true), w = w0.detach().requiresGrad_(true), b = b0 === null ? null : b0.detach().requiresGrad_(true);
  const y = conv(x, w, b);
  y.mul(up.to(y.dtype)).sum().backward();
  return [y.detach(), x.grad!, w.grad!, ...(b === null ? [] : [b.grad!])];
}

for (const layout of ['nchw', 'channels_last'] as const) {
  for (const [padding, bias] of [[1, true], [0, false]] as const) {
    test(`${layout}, padding ${padding}, ${bias ? 'bias' : 'no bias'}: output and gradients to float32 rounding`, () => {
      torch.tidy(() => {
        torch.manualSeed(1);
        // 64 channels at 64×64: the smallest size where the op picks Winograd (native/winograd.cc).
        let x = torch.randn([2, 64, 64, 64]).relu(), w = torch.randn([80, 64, 3, 3]).mul(0.04);
        if (layout === 'channels_last') { x = x.contiguous({ memoryFormat: 'channels_last' }); w = w.contiguous({ memoryFormat: 'channels_last' }); }
        const b = bias ? torch.randn([80]) : null;
        const up = torch.randn([2, 80, 64 - 2 + 2 * padding, 64 - 2 + 2 * padding]);
        const calls = F.winogradCalls();
        const wino = run((x, w, b) => F.conv2dWinograd(x, w, { bias: b, padding }), x, w, b, up);
        assert.equal(F.winogradCalls() > calls, F.winogradAvailable(), 'Winograd kernels ran where available');
        const direct = run((x, w, b) => torch.conv2d(x, w, b, { padding }), x, w, b, up);
        const truth = run((x, w, b) => torch.conv2d(x, w, b, { padding }), x.to('float64'), w.to('float64'), b?.to('float64') ?? null, up.to('float64'));
        const [, c, h, wd] = wino[0]!.shape as [number, number, number, number];
        assert.deepEqual(wino[0]!.strides, layout === 'channels_last' ? [h * wd * c, 1, wd * c, c] : [c * h * wd, h * wd, wd, 1], 'output keeps the input layout');
        ['output', 'input grad', 'weight grad', 'bias grad'].slice(0, wino.length).forEach((what, i) => {
          const e = rel(wino[i]!, truth[i]!), d = rel(direct[i]!, truth[i]!);
          assert.ok(e <= Math.max(10 * d, 1e-6) && e < 1e-5, `${what}: Winograd rel error ${e}, direct ${d}`);
        });
      });
    });
  }
}

test('where Winograd is not used it is conv2d exactly: other shapes, strides, float64, autocast, no grad', () => {
  torch.tidy(() => {
    torch.manualSeed(2);
    const x = torch.randn([2, 64, 64, 64]), w = torch.randn([64, 64, 3, 3]).mul(0.05);
    const same = (a: Tensor, b: Tensor): void => assert.equal(a.sub(b).abs().max().item(), 0);
    const calls = F.winogradCalls();
    // Too few channels / too small an image for Winograd to pay, a 1×1 kernel, float64.
    same(F.conv2dWinograd(x.slice(1, 0, 16), w.slice(0, 0, 16).slice(1, 0, 16), { padding: 1 }), torch.conv2d(x.slice(1, 0, 16), w.slice(0, 0, 16).slice(1, 0, 16), { padding: 1 }));
    same(F.conv2dWinograd(x.slice(2, 0, 32).slice(3, 0, 32), w, { padding: 1 }), torch.conv2d(x.slice(2, 0, 32).slice(3, 0, 32), w, { padding: 1 }));
    same(F.conv2dWinograd(x, w.slice(2, 1, 2).slice(3, 1, 2)), torch.conv2d(x, w.slice(2, 1, 2).slice(3, 1, 2)));
    same(F.conv2dWinograd(x.to('float64'), w.to('float64'), { padding: 1 }), torch.conv2d(x.to('float64'), w.to('float64'), { padding: 1 }));
    assert.equal(F.winogradCalls(), calls, 'no Winograd call so far');
    // Under autocast the convolution runs as conv2d does there, in bfloat16.
    const low = torch.autocast({ dtype: 'bfloat16' }, () => F.conv2dWinograd(x, w, { padding: 1 }));
    assert.equal(low.dtype, 'bfloat16');
    same(low, torch.autocast({ dtype: 'bfloat16' }, () => torch.conv2d(x, w, { padding: 1 })));
    assert.equal(F.winogradCalls(), calls, 'no Winograd call under autocast');
    // Without grad it still gives the result, and nothing for backward.
    const y = torch.noGrad(() => F.conv2dWinograd(x.requiresGrad_(true), w, { padding: 1 }));
    assert.equal(y.requiresGrad, false);
    assert.ok(rel(y, torch.conv2d(x.detach().to('float64'), w.to('float64'), { padding: 1 })) < 1e-5);
  });
});

test('nn.Conv2d({ algorithm }) picks it; bad values are named', () => {
  torch.tidy(() => {
    const c = new torch.nn.Conv2d(64, 64, 3, { padding: 1, algorithm: 'winograd' });
    const x = torch.randn([1, 64, 64, 64]);
    const calls = F.winogradCalls();
    const y = c.forward(x);
    assert.equal(F.winogradCalls() > calls, F.winogradAvailable());
    c.algorithm = 'direct';
    assert.ok(rel(y, c.forward(x).to('float64')) < 1e-5);
    assert.throws(() => new torch.nn.Conv2d(3, 3, 3, { algorithm: 'fft' as never }), /algorithm 'fft' is not valid; use 'direct' or 'winograd'/);
  });
});

test('double backward: refused with a clear error on the Winograd path, as conv2d where it falls back', () => {
  torch.tidy(() => {
    torch.manualSeed(3);
    const x = torch.randn([1, 64, 64, 64]).requiresGrad_(true), w = torch.randn([64, 64, 3, 3]).mul(0.05);
    const y = F.conv2dWinograd(x, w, { padding: 1 }).square().sum();
    if (F.winogradAvailable()) {
      assert.throws(() => torch.autograd.grad([y], [x], { createGraph: true }), /no double backward/);
    } else {
      const [gx] = torch.autograd.grad([y], [x], { createGraph: true });
      const [ref] = torch.autograd.grad([torch.conv2d(x, w, { padding: 1 }).square().sum()], [x], { createGraph: true });
      assert.equal(gx!.requiresGrad, true);
      assert.equal(gx!.sub(ref!).abs().max().item(), 0);
    }
  });
});

test('native memory returns to where it was after forward and backward', () => {
  const x = torch.keep(torch.randn([1, 64, 64, 64]).requiresGrad_(true)), w = torch.keep(torch.randn([64, 64, 3, 3]).requiresGrad_(true));
  const step = (): void => torch.tidy(() => { F.conv2dWinograd(x, w, { padding: 1 }).sum().backward(); x.grad!.dispose(); w.grad!.dispose(); x.grad = null; w.grad = null; });
  step();
  const before = torch.memory().nativeBytes;
  for (let i = 0; i < 5; i++) step();
  assert.equal(torch.memory().nativeBytes, before);
  torch.dispose([x, w]);
});
