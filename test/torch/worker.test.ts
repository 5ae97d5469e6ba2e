// Torch work in worker_threads: the addon loads per thread, errors cross back, the main thread
// stays responsive, and terminate() mid-loop does not abort the process.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as torch from '../../src/torch/index.js';

const fns = new URL('./fixtures/worker-fns.js', import.meta.url);

test('training in a worker reports progress while the main thread keeps ticking', async () => {
  const progress: number[] = [];
  const w = new torch.TorchWorker(fns, { onProgress: (p) => progress.push((p as { step: number }).step) });
  let ticks = 0;
  const timer = setInterval(() => { ticks++; }, 10);
  const loss = await w.call<number>('train', 60);
  clearInterval(timer);
  assert.equal(progress.length, 60);
  assert.ok(Number.isFinite(loss));
  assert.ok(ticks >= 3, `main thread ticked only ${ticks} times`);
  // the same training on the main thread gives the same loss (same seed, same ops)
  const main = await import('./fixtures/worker-fns.js');
  const saved = console.log;
  assert.equal(main.train(60), loss);
  console.log = saved;
  await w.terminate();
});

test('async inference and error propagation through a worker', async () => {
  const w = new torch.TorchWorker(fns);
  const x = torch.tensor([1, 2, 3], { dtype: 'float32' });
  const [a, b] = await Promise.all([w.call<torch.AnyTypedArray>('double', torch.toRaw(x)), w.call('double', torch.toRaw(x))]);
  assert.deepEqual(Array.from(new Float32Array((a as unknown as { data: Uint8Array }).data.slice().buffer)), [2, 4, 6]);
  assert.ok(b);
  await assert.rejects(w.call('fail'), { name: 'TorchError', message: /mat1 and mat2/ });
  await assert.rejects(w.call('nope'), /no exported function 'nope'/);
  await w.terminate();
  x.dispose();
});

test('terminate() during a synchronous torch loop does not abort the process', async () => {
  // Terminate once the worker reports that it is inside the loop (not after a guessed delay).
  let inside!: () => void;
  const spinning = new Promise<void>((r) => { inside = r; });
  const w = new torch.TorchWorker(fns, { onProgress: () => inside() });
  const p = w.call('spin');
  await spinning;
  await w.terminate();
  await assert.rejects(p, /exited/);
  assert.equal(torch.ones([3]).sum().item(), 3);
});
