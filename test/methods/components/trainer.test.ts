// The shared trainer in-process: exact resume from any epoch of a two-stage fit (weights, BN
// buffers, Adam / SGD-momentum state, schedule, stage state, libtorch RNG), the lr schedule, the
// checkpoint layout, abort between batches after a macrotask yield, the options handed to the
// data, and no leaked tensors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as torch from '../../../src/torch/index.js';
import { nn, type Tensor } from '../../../src/torch/index.js';
import { arrayTrainData, type ArrayTrainData } from '../../../src/methods/array-data.js';
import type { EpochOptions, FitContext, TrainData, TrainingState } from '../../../src/methods/types.js';
import { stagesToRun, trainStage, type Stage } from '../../../src/methods/components/index.js';
import { mulberry32 } from '../../../src/data/random.js';

class Net extends nn.Module {
  readonly conv = this.registerModule('conv', new nn.Conv2d(1, 4, 3, { padding: 1 }));
  readonly bn = this.registerModule('bn', new nn.BatchNorm2d(4));
  readonly drop = this.registerModule('drop', new nn.Dropout(0.3));
  readonly fc = this.registerModule('fc', new nn.Linear(4 * 8 * 8, 3));
  forward(x: Tensor): Tensor { return this.fc.forward(this.drop.forward(this.bn.forward(this.conv.forward(x)).relu().flatten(1))); }
}

function images(n: number, seed: number): ArrayTrainData {
  const rnd = mulberry32(seed);
  return arrayTrainData(Float32Array.from({ length: n * 64 }, () => rnd.next()), [n, 1, 8, 8], { seed });
}

interface Fit {
  progress: Array<{ stage: string; done: number; values: Record<string, number> }>;
  checkpoints: TrainingState[];
  weights: Map<string, Float32Array>;
  /** A draw from libtorch's RNG after fit: the RNG position must not depend on resuming. */
  after: number[];
  center: number;
}

/** A two-stage fit: 'pretrain' (Adam, noise on the input) then 'train' (SGD + momentum, a center kept as stage state). */
async function fit(data: TrainData, resume?: TrainingState): Promise<Fit> {
  const out: Fit = { progress: [], checkpoints: [], weights: new Map(), after: [], center: 0 };
  const ctx: FitContext = {
    seed: 21, log: () => {}, ...(resume ? { resume } : {}),
    progress: (stage, done, _total, values) => out.progress.push({ stage, done, values: values! }),
    checkpoint: (st) => out.checkpoints.push({ tensors: new Map([...st.tensors].map(([k, v]) => [k, torch.keep(v.clone())])), meta: structuredClone(st.meta) }),
  };
  const a = new Net();
  const b = new Net();
  let center: Tensor | null = null;
  const todo = stagesToRun(ctx, 'test', ['pretrain', 'train']);
  if (todo.includes('pretrain')) {
    await trainStage({
      name: 'pretrain', epochs: 3, batchSize: 5, modules: { a, b }, optimizer: { type: 'adam', lr: 1e-2, weightDecay: 1e-3 },
      schedule: { milestones: [1], gamma: 0.5 },
      step: (batch) => {
        const x = batch.images.add(torch.randn_like(batch.images).mul(0.1));
        const l = a.forward(x).sub(b.forward(batch.images)).pow(2).mean().add(a.forward(x).pow(2).mean());
        return { loss: l, parts: { half: l.div(2), one: 1 } };
      },
    }, data, ctx);
  }
  await trainStage({
    name: 'train', epochs: 4, batchSize: 4, modules: { model: b }, optimizer: { type: 'sgd', lr: 0.05, momentum: 0.9, nesterov: true },
    schedule: { milestones: [1, 1, 3], gamma: 0.2 },
    state: {
      init: () => { center = torch.keep(torch.randn([3])); },
      save: () => ({ tensors: new Map([['center', center!]]), meta: { note: 'kept' } }),
      load: (st) => { assert.equal(st.meta.note, 'kept'); center = torch.keep(st.tensors.get('center')!.clone()); },
    },
    step: (batch) => ({ loss: b.forward(batch.images).sub(center!).pow(2).sum([1]).mean() }),
  }, data, ctx);
  for (const [k, v] of b.stateDict()) { out.weights.set(`b.${k}`, v.toTypedArray() as Float32Array); v.dispose(); }
  out.after = Array.from(torch.tidy(() => torch.rand([4]).toTypedArray() as Float32Array));
  out.center = torch.tidy(() => center!.sum().item());
  center!.dispose();
  a.dispose();
  b.dispose();
  return out;
}

const free = (sts: TrainingState[]): void => { for (const s of sts) torch.dispose(s.tensors); };

test('resuming from any epoch of either stage, after a different seed, gives the uninterrupted fit exactly', async () => {
  const data = images(13, 4);
  torch.manualSeed(1);
  const full = await fit(data);
  assert.deepEqual(full.checkpoints.map((s) => `${s.meta.stage}:${s.meta.epoch}`), ['pretrain:1', 'pretrain:2', 'pretrain:3', 'train:1', 'train:2', 'train:3', 'train:4']);
  for (const from of full.checkpoints.slice(0, -1)) {
    // Another RNG position: weights, state and the RNG at the resumed epoch must come from the checkpoint and the trainer.
    torch.manualSeed(1);
    torch.rand([17]).dispose();
    const r = await fit(data, from);
    const at = `resumed from ${from.meta.stage}:${from.meta.epoch}`;
    assert.deepEqual(r.weights, full.weights, at);
    assert.equal(r.center, full.center, at);
    assert.deepEqual(r.after, full.after, at);
    const tail = (f: Fit): unknown[] => f.progress.map(({ values: { seconds: _s, ...v }, ...p }) => ({ ...p, v })).slice(-r.progress.length);
    assert.deepEqual(tail(r), tail(full), at);
    free(r.checkpoints);
  }
  free(full.checkpoints);
  data.dispose();
});

test('progress: epoch means of loss and parts, the lr after MultiStepLR (milestones [1, 1, 3], γ 0.2), seconds', async () => {
  const data = images(13, 5);
  torch.manualSeed(2);
  const f = await fit(data);
  const train = f.progress.filter((p) => p.stage === 'train');
  assert.deepEqual(train.map((p) => p.done), [1, 2, 3, 4]);
  // After epoch e the lr is the one epoch e + 1 trains with: 0.05 · 0.2^(milestones ≤ e + 1).
  const want = [0.05 * 0.2 ** 2, 0.05 * 0.2 ** 2, 0.05 * 0.2 ** 3, 0.05 * 0.2 ** 3];
  train.forEach((p, i) => assert.ok(Math.abs(p.values.lr! - want[i]!) < 1e-15, `lr after epoch ${i}: ${p.values.lr} vs ${want[i]}`));
  for (const p of f.progress.filter((q) => q.stage === 'pretrain')) {
    assert.deepEqual(Object.keys(p.values), ['loss', 'half', 'one', 'lr', 'seconds']);
    assert.ok(Math.abs(p.values.half! - p.values.loss! / 2) < 1e-6 && p.values.one === 1 && p.values.seconds! >= 0);
  }
  assert.deepEqual(f.progress.filter((q) => q.stage === 'pretrain').map((p) => p.values.lr), [0.005, 0.005, 0.005]);
  free(f.checkpoints);
  data.dispose();
});

test('checkpoint layout: <module>.<key>, optim.<param>.<field>, one parameter group per module, the stage state', async () => {
  const data = images(13, 6);
  torch.manualSeed(3);
  const f = await fit(data);
  const pre = f.checkpoints[0]!;
  const keys = [...pre.tensors.keys()];
  assert.ok(keys.includes('a.conv.weight') && keys.includes('b.bn.running_var') && keys.includes('b.bn.num_batches_tracked'), keys.join(', '));
  assert.ok(keys.includes('optim.0.exp_avg') && keys.includes('optim.7.exp_avg_sq'), keys.join(', '));
  const groups = pre.meta.optimGroups as Array<{ params: number[]; lr: number }>;
  assert.deepEqual(groups.map((g) => g.params), [[0, 1, 2, 3, 4, 5], [6, 7, 8, 9, 10, 11]]);
  assert.equal((pre.meta.scheduler as { lastEpoch: number }).lastEpoch, 1);
  const tr = f.checkpoints[3]!;
  assert.ok(tr.tensors.has('center') && tr.tensors.has('model.fc.bias') && tr.tensors.has('optim.0.momentum_buffer'), [...tr.tensors.keys()].join(', '));
  assert.equal(tr.meta.note, 'kept');
  free(f.checkpoints);

  const net = new Net();
  const bad = new Map([['model.x', torch.keep(torch.zeros([1]))]]);
  await assert.rejects(trainStage({
    name: 'train', epochs: 1, batchSize: 13, modules: { model: net }, optimizer: { type: 'adam', lr: 1e-3 },
    state: { save: () => ({ tensors: bad }), load: () => {} },
    step: (b) => ({ loss: net.forward(b.images).mean() }),
  }, data, { seed: 0, log: () => {}, progress: () => {}, checkpoint: () => {} }), /stage state tensor 'model.x' collides with a module or optimiser key/);
  torch.dispose(bad);
  net.dispose();
  data.dispose();
});

test('abort: a macrotask queued during a batch runs before the next one, whose check throws the reason; nothing leaks', async () => {
  const data = images(40, 7);
  const net = new Net();
  const before = torch.memory().numTensors;
  const ac = new AbortController();
  let steps = 0;
  await assert.rejects(trainStage({
    name: 'train', epochs: 3, batchSize: 4, modules: { model: net }, optimizer: { type: 'adam', lr: 1e-3 },
    step: (b) => {
      // In-memory batches never wait on I/O: without the trainer's yield this would run after fit.
      if (steps++ === 0) setImmediate(() => ac.abort(new Error('stop requested')));
      return { loss: net.forward(b.images).pow(2).mean() };
    },
  }, data, { seed: 0, log: () => {}, progress: () => {}, signal: ac.signal }), /stop requested/);
  assert.equal(steps, 1);
  assert.equal(torch.memory().numTensors, before, 'optimiser state and batches freed');
  net.dispose();
  data.dispose();
});

test('the data sees epoch, batch size, sampling, shuffle and augment; modules end in eval mode; no tensor leaks', async () => {
  const inner = images(9, 8);
  const seen: EpochOptions[] = [];
  const data: TrainData = { size: inner.size, imageShape: inner.imageShape, epoch: (o) => { seen.push(o); return inner.epoch(o); } };
  const net = new Net();
  const before = torch.memory().numTensors;
  const stage = (sampling: Stage['sampling'], augment?: boolean): Stage => ({
    name: 'train', epochs: 2, batchSize: 3, modules: { model: net }, optimizer: { type: 'adamw', lr: 1e-3 },
    ...(sampling ? { sampling } : {}), ...(augment === undefined ? {} : { augment }),
    step: (b) => ({ loss: net.forward(b.images).pow(2).mean() }),
  });
  const ctx: FitContext = { seed: 0, log: () => {}, progress: () => {}, checkpoint: () => {} };
  await trainStage(stage(undefined), data, ctx);
  await trainStage(stage('sequential', true), data, ctx);
  await trainStage(stage('replacement'), data, ctx);
  assert.deepEqual(seen.map((o) => [o.epoch, o.batchSize, o.sampling, o.shuffle, o.augment]), [
    [0, 3, 'shuffle', true, false], [1, 3, 'shuffle', true, false],
    [0, 3, 'sequential', false, true], [1, 3, 'sequential', false, true],
    [0, 3, 'replacement', true, false], [1, 3, 'replacement', true, false],
  ]);
  assert.equal(net.training, false);
  assert.equal(torch.memory().numTensors, before);
  net.dispose();
  inner.dispose();
});

test('stagesToRun: all stages, or from the resumed one; an unknown stage is an error naming the choices', () => {
  const ctx = (stage?: string): FitContext => ({ seed: 0, log: () => {}, progress: () => {}, ...(stage ? { resume: { tensors: new Map(), meta: { stage, epoch: 1 } } } : {}) });
  assert.deepEqual(stagesToRun(ctx(), 'm', ['pretrain', 'train']), ['pretrain', 'train']);
  assert.deepEqual(stagesToRun(ctx('train'), 'm', ['pretrain', 'train']), ['train']);
  assert.throws(() => stagesToRun(ctx('coreset'), 'm', ['pretrain', 'train']), /m: cannot resume from stage 'coreset'; expected 'pretrain' or 'train'/);
});
