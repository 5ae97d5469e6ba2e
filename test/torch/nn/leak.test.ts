// 2,000 training steps of a small conv net (Conv2d-BN-ReLU-Linear, Adam) inside tidy must not leak
// tensor handles or native memory: numTensors and nativeBytes at step 2,000 equal step 100 (up to
// a small slack), and RSS stays bounded.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as torch from '../../../src/torch/index.js';
import type { Tensor } from '../../../src/torch/index.js';
import { nn, optim } from '../../../src/torch/index.js';

class SmallNet extends nn.Module {
  conv = this.registerModule('conv', new nn.Conv2d(3, 8, 3, { padding: 1 }));
  bn = this.registerModule('bn', new nn.BatchNorm2d(8));
  relu = this.registerModule('relu', new nn.ReLU());
  pool = this.registerModule('pool', new nn.AdaptiveAvgPool2d(2));
  fc = this.registerModule('fc', new nn.Linear(32, 4));
  forward(x: Tensor): Tensor {
    const h = this.pool.forward(this.relu.forward(this.bn.forward(this.conv.forward(x))));
    return this.fc.forward(h.flatten(1));
  }
}

test('2,000 Adam steps in tidy keep numTensors and nativeBytes flat and RSS bounded', () => {
  torch.manualSeed(0);
  const net = new SmallNet();
  const opt = new optim.Adam(net.parameters(), { lr: 1e-3, weightDecay: 1e-4, amsgrad: true });
  const sched = new optim.MultiStepLR(opt, { milestones: [500, 1500], gamma: 0.5 });
  const x = torch.keep(torch.randn([4, 3, 8, 8]));
  const target = torch.keep(torch.tensor([0, 1, 2, 3]));
  let at100 = torch.memory();
  let rss100 = 0;
  let first = 0, last = 0;
  const t0 = performance.now();
  for (let step = 1; step <= 2000; step++) {
    const loss = torch.tidy(() => {
      opt.zeroGrad();
      const l = nn.functional.crossEntropy(net.forward(x), target);
      l.backward();
      opt.step();
      return l.item();
    });
    if (step === 1) first = loss;
    last = loss;
    if (step % 100 === 0) sched.step();
    if (step === 100) { at100 = torch.memory(); rss100 = process.memoryUsage().rss; }
  }
  const ms = (performance.now() - t0) / 2000;
  const at2000 = torch.memory();
  const rss2000 = process.memoryUsage().rss;
  console.log(`${ms.toFixed(2)} ms/step; step 100: ${at100.numTensors} tensors, ${at100.nativeBytes} B; step 2000: ${at2000.numTensors} tensors, ${at2000.nativeBytes} B; RSS ${(rss100 / 2 ** 20).toFixed(1)} → ${(rss2000 / 2 ** 20).toFixed(1)} MiB; loss ${first.toFixed(4)} → ${last.toFixed(4)}`);
  assert.ok(last < first, 'the net trains');
  assert.equal(at2000.numTensors, at100.numTensors, 'tensor handles alive');
  assert.ok(Math.abs(at2000.nativeBytes - at100.nativeBytes) <= 4096, `native bytes ${at100.nativeBytes} → ${at2000.nativeBytes}`);
  assert.ok(rss2000 - rss100 < 64 * 2 ** 20, `RSS grew ${(rss2000 - rss100) / 2 ** 20} MiB`);
  opt.dispose();
  net.dispose();
  torch.dispose([x, target]);
});
