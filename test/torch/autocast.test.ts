// torch.autocast: which ops run in bfloat16, that the mode is restored (also after a throw and in
// nested regions), and that a disabled region changes nothing. Numerics against PyTorch's
// autocast are checked on DRAEM's whole training step (test/methods/draem/parity.test.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as torch from '../../src/torch/index.js';

const x = torch.keep(torch.rand([2, 3, 8, 8]));
const w = torch.keep(torch.rand([4, 3, 3, 3]));

test('convolutions and matmuls run in bfloat16 inside, float32 outside; mse_loss stays float32', () => {
  torch.tidy(() => {
    const [c, m, l] = torch.autocast({ dtype: 'bfloat16' }, () => {
      const c = torch.conv2d(x, w);
      return [c, torch.matmul(x.flatten(1), x.flatten(1).t()), torch.nn.F.mseLoss(c, c.detach().mul(0.5))];
    });
    assert.equal(c!.dtype, 'bfloat16');
    assert.equal(m!.dtype, 'bfloat16');
    assert.equal(l!.dtype, 'float32');
    assert.equal(torch.conv2d(x, w).dtype, 'float32');
  });
});

test('autocast values are the float32 result to bfloat16 precision', () => {
  torch.tidy(() => {
    const ref = torch.conv2d(x, w);
    const low = torch.autocast({}, () => torch.conv2d(x, w)).to('float32');
    const rel = ref.sub(low).abs().max().item() / ref.abs().max().item();
    assert.ok(rel > 0 && rel < 2e-2, `relative difference ${rel}`);
  });
});

test('the mode is restored after a throw, nested regions keep the outer one on, enabled:false turns it off inside', () => {
  assert.throws(() => torch.autocast({}, () => { throw new Error('boom'); }), /boom/);
  torch.tidy(() => {
    assert.equal(torch.conv2d(x, w).dtype, 'float32');
    torch.autocast({}, () => {
      torch.autocast({}, () => assert.equal(torch.conv2d(x, w).dtype, 'bfloat16'));
      assert.equal(torch.conv2d(x, w).dtype, 'bfloat16', 'still on after the inner region');
      torch.autocast({ enabled: false }, () => assert.equal(torch.conv2d(x, w).dtype, 'float32', 'enabled:false turns it off inside'));
      assert.equal(torch.conv2d(x, w).dtype, 'bfloat16', 'and back on after');
    });
    assert.equal(torch.conv2d(x, w).dtype, 'float32');
  });
  assert.throws(() => torch.autocast({}, () => Promise.resolve(1)), /synchronous/);
});

test('gradients flow to float32 weights through a bfloat16 region', () => {
  torch.tidy(() => {
    const wg = w.clone().requiresGrad_();
    const loss = torch.autocast({}, () => torch.conv2d(x, wg).float().pow(2).mean());
    loss.backward();
    assert.equal(wg.grad!.dtype, 'float32');
    assert.ok(wg.grad!.abs().sum().item() > 0);
  });
});
