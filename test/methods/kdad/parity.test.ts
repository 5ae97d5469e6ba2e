// KDAD against a PyTorch implementation of the authors' code (kdad_ref.py, one Python run for the
// file): torchvision VGG16 with seeded random weights and the authors' cloner, both written by
// torch.save and read through Vigil's .pth reader. Compared: the 13 teacher taps, the cloner's 13
// outputs (train and eval mode), the training loss and every parameter gradient, the per-image
// score, the input gradients (vanilla, guided), the three localisation maps, 5 Adam steps of a real
// fit() (losses and final weights), and the per-dataset input transforms. Tolerance: rel 1e-4.
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as torch from '../../../src/torch/index.js';
import type { Tensor } from '../../../src/torch/index.js';
import { deriveSeed, mulberry32, permutation } from '../../../src/data/random.js';
import { arrayTrainData } from '../../../src/methods/array-data.js';
import type { ImageBatch, TrainData } from '../../../src/methods/types.js';
import {
  InputAdapter, KdadDetector, STUDENT_TAPS, TEACHER_TAPS, forwardTaps, guidedGradients, inputGradients, kdLoss, kdad, kdadSchema,
  LOSS_OUTPUTS, teacherTaps, type KdadConfig,
} from '../../../src/methods/kdad/index.js';
import { runPython, tempDir } from '../../helpers/python.js';

const dir = tempDir('vigil-kdad-parity-');
const SIDE = 64;
const N_MAPS = 2;
const SAMPLES = 6;
const N_FIT = 20;
const FIT_SIDE = 32;
const BS = 4; // 20 images, batches of 4: five Adam steps in one epoch
const FIT_SEED = 7;
let ref: Map<string, Tensor>;
let inputs: Map<string, Tensor>;
let refLosses: number[];
const orders: number[][][] = [];

function get(m: Map<string, Tensor>, k: string): Tensor {
  const t = m.get(k);
  assert.ok(t, `reference has no ${k}`);
  return t;
}

/** max|a − b| / max|b|; asserts ≤ tol and returns the figure for the log. */
function close(a: Tensor, b: Tensor, what: string, tol = 1e-4): number {
  assert.deepEqual(a.shape, b.shape, `${what}: shape`);
  const [err, scale] = torch.tidy(() => [a.to('float64').sub(b.to('float64')).abs().max().item(), b.to('float64').abs().max().item()]);
  assert.ok(scale > 0, `${what}: reference is all zeros`);
  assert.ok(err <= tol * scale, `${what}: max abs error ${err} > ${tol} × ${scale}`);
  return err / scale;
}

const worst = new Map<string, number>();
function note(k: string, e: number): void { worst.set(k, Math.max(worst.get(k) ?? 0, e)); }

function config(over: Record<string, unknown>): KdadConfig {
  return kdadSchema.parse({ teacher: { weights: join(dir, 'teacher.pth') }, imageSize: SIDE, featureCache: 'off', ...over });
}

/** A detector with the reference weights: `cloner` = fresh init, `cloner_eval` = randomised BN. */
function detector(cloner: 'cloner' | 'cloner_eval', over: Record<string, unknown> = {}): KdadDetector {
  const d = kdad.create(config(over), [3, SIDE, SIDE]) as KdadDetector;
  const sd = torch.loadPth(join(dir, `${cloner}.pth`));
  d.load(sd, {});
  torch.dispose([...sd.values()]);
  return d;
}

before(() => {
  process.removeAllListeners('warning');
  // The batches of arrayTrainData (seed FIT_SEED, shuffled): what fit() below will be given.
  const perm = permutation(N_FIT, mulberry32(deriveSeed(FIT_SEED, 'epoch', 0)));
  orders.push(Array.from({ length: N_FIT / BS }, (_, b) => perm.slice(b * BS, (b + 1) * BS)));
  writeFileSync(join(dir, 'spec.json'), JSON.stringify({
    seed: 1234, side: SIDE, nMaps: N_MAPS, samples: SAMPLES, sgSigma: 0.05, nFit: N_FIT, fitSide: FIT_SIDE,
    lamdaLoss: 0.01, lamdaScore: 0.5, lr: 1e-3, orders,
  }));
  runPython(readFileSync(fileURLToPath(new URL('../../../../test/methods/kdad/kdad_ref.py', import.meta.url)), 'utf8'), dir);
  ref = torch.loadPth(join(dir, 'ref.pth'));
  inputs = torch.loadPth(join(dir, 'inputs.pth'));
  for (const t of [...ref.values(), ...inputs.values()]) torch.keep(t);
  refLosses = (JSON.parse(readFileSync(join(dir, 'ref.json'), 'utf8')) as { losses: number[] }).losses;
});

test('teacher: the 13 taps of torchvision VGG16 (weights from a .pth file)', () => {
  const d = detector('cloner');
  const x = get(inputs, 'x');
  const taps = forwardTaps(d.teacher, x, TEACHER_TAPS, false);
  taps.forEach((t, i) => note('teacher taps', close(t, get(ref, `teacher.${TEACHER_TAPS[i]}`), `teacher tap ${TEACHER_TAPS[i]}`)));
  torch.dispose(taps);
  d.dispose();
});

test('cloner: the 13 outputs in eval mode (randomised BN) and in train mode; loss, its parts and every parameter gradient', () => {
  const x = get(inputs, 'x');
  const e = detector('cloner_eval');
  e.student.eval();
  const outE = forwardTaps(e.student, x, STUDENT_TAPS, false);
  outE.forEach((t, i) => note('cloner eval', close(t, get(ref, `student.eval.${STUDENT_TAPS[i]}`), `cloner eval output ${i}`)));
  torch.dispose(outE);
  e.dispose();
  const d = detector('cloner');
  d.student.train();
  torch.tidy(() => {
    const s = forwardTaps(d.student, x, STUDENT_TAPS, true);
    s.forEach((t, i) => note('cloner train', close(t, get(ref, `student.train.${STUDENT_TAPS[i]}`), `cloner train output ${i}`)));
    const t = forwardTaps(d.teacher, x, teacherTaps(LOSS_OUTPUTS), false);
    const { loss, direction, mse } = kdLoss(LOSS_OUTPUTS.map((k) => s[k]!), t, { lamda: 0.01, directionOnly: false });
    note('loss', close(torch.stack([loss, direction, mse]), get(ref, 'loss'), 'loss, direction, mse'));
    d.student.zeroGrad();
    loss.backward();
    for (const [name, p] of d.student.namedParameters()) note('parameter grads', close(p.grad!, get(ref, `grad.${name}`), `∂L/∂${name}`));
  });
  d.dispose();
});

test('score per image (eval mode, λ 0.5, with and without the MSE terms), input gradients, and the three maps', () => {
  const x = get(inputs, 'x');
  const z = get(inputs, 'z');
  const noise = (i: number): Tensor => z.select(0, i);
  for (const method of ['gradients', 'gbp', 'smoothgrad'] as const) {
    const d = detector('cloner_eval', { lamda: 0.5, localization: method, smoothGrad: { samples: SAMPLES, sigma: 0.05 } });
    const r = d.scoreWithNoise(x, noise);
    note('score', close(torch.tensor(r.scores), get(ref, 'score').to('float32'), 'score'));
    // SmoothGrad averages gradients at noisy inputs, where float32 rounding that differs between
    // kernels (an AVX2 CPU: 1.2e-3) can flip a ReLU gate; the noiseless maps stay within 1e-5.
    note(`map ${method}`, close(torch.fromTypedArray(r.maps!, [N_MAPS, SIDE, SIDE]), get(ref, `map.${method}`), `map ${method}`, method === 'smoothgrad' ? 5e-3 : 1e-4));
    if (method === 'gradients') {
      const nets = { teacher: d.teacher, student: d.student, lamda: 0.5, directionOnly: false };
      d.student.eval();
      const gv = inputGradients(nets, x);
      const gg = guidedGradients(nets, x);
      const gplain = guidedGradients(nets, x, false);
      note('input grad vanilla', close(gv, get(ref, 'grad.vanilla'), 'vanilla ∂s/∂x'));
      note('input grad guided', close(gg, get(ref, 'grad.gbp'), 'guided ∂s/∂x'));
      // The segment-by-segment backward with plain ReLUs is ordinary autograd.
      note('segmented = autograd', close(gplain, gv, 'segmented vs autograd', 1e-5));
      torch.dispose([gv, gg, gplain]);
    }
    d.dispose();
  }
  const dd = detector('cloner_eval', { lamda: 0.5, directionOnly: true, localization: 'none' });
  const r = dd.score(x);
  assert.equal(r.maps, undefined);
  note('score', close(torch.tensor(r.scores), get(ref, 'scoreDirection').to('float32'), 'direction-only score'));
  dd.dispose();
});

/** Records the indices of every training batch (the shuffled epochs). */
function recording(inner: TrainData, log: number[][]): TrainData {
  return {
    size: inner.size,
    imageShape: inner.imageShape,
    epoch(o) {
      const it = inner.epoch(o);
      return {
        async *[Symbol.asyncIterator](): AsyncGenerator<ImageBatch> {
          for await (const b of it) {
            if (o.shuffle) log.push(b.indices!);
            yield b;
          }
        },
      };
    },
  };
}

for (const cache of ['off', 'memory'] as const) {
  test(`fit(): 5 Adam steps (lr 1e-3, batches of 4) match the authors' loop, teacher cache ${cache}`, async () => {
    const xfit = get(inputs, 'xfit');
    const data = arrayTrainData(xfit.toTypedArray() as Float32Array, [N_FIT, 3, FIT_SIDE, FIT_SIDE], { seed: FIT_SEED });
    const cfg = kdadSchema.parse({
      teacher: { weights: join(dir, 'teacher.pth') }, imageSize: FIT_SIDE, featureCache: cache, localization: 'none',
      train: { epochs: 1, batchSize: BS, lr: 1e-3 },
    });
    const d = kdad.create(cfg, [3, FIT_SIDE, FIT_SIDE]) as KdadDetector;
    const init = torch.loadPth(join(dir, 'cloner.pth'));
    torch.tidy(() => d.student.loadStateDict(init));
    torch.dispose([...init.values()]);
    const seen: number[][] = [];
    const losses: number[] = [];
    await d.fit(recording(data, seen), {
      seed: FIT_SEED, log: () => {},
      progress: (stage, _d, _t, v) => { if (stage === 'train') losses.push(v!['loss']!); },
    });
    assert.deepEqual(seen, orders.flat(), 'the batches the reference replayed');
    assert.equal(refLosses.length, 5);
    // The trainer reports the epoch's mean loss.
    const mean = refLosses.reduce((a, b) => a + b, 0) / refLosses.length;
    note('fit loss', Math.abs(losses[0]! - mean) / mean);
    assert.ok(Math.abs(losses[0]! - mean) <= 1e-4 * mean, `epoch loss ${losses[0]} vs PyTorch ${mean}`);
    const sd = d.student.stateDict();
    for (const [k, v] of sd) {
      if (k.endsWith('num_batches_tracked')) assert.equal(v.item(), 5, k);
      else note('fit weights', close(v, get(ref, `fit.${k}`), `after 5 steps: ${k}`));
    }
    torch.dispose([...sd.values()]);
    d.dispose();
    data.dispose();
  });
}

test('input transforms: F-MNIST Resize 32 + grey → 3 channels, CIFAR-10 Resize 256 (lanczos) + CenterCrop 224 + ImageNet normalisation', () => {
  const fm = get(inputs, 'fm');
  const fmCfg = kdadSchema.parse({ imageSize: 32 });
  const a = new InputAdapter(fmCfg, [1, 28, 28]);
  assert.equal(a.mode, 'method');
  const xf = a.prepare(fm.to('float32').div(255).unsqueeze(1), 'float32');
  note('transforms', close(xf, get(ref, 'tf.fmnist'), 'F-MNIST inputs', 1e-6));
  const cf = get(inputs, 'cf');
  const cCfg = kdadSchema.parse({ imageSize: 256, interpolation: 'lanczos', cropSize: 224, normalize: 'imagenet' });
  const b = new InputAdapter(cCfg, [3, 32, 32]);
  const xc = b.prepare(cf.permute([0, 3, 1, 2]).to('float32').div(255), 'float32');
  note('transforms', close(xc, get(ref, 'tf.cifar10'), 'CIFAR-10 inputs', 1e-6));
  // Maps come back at the arrays' size.
  const m = b.mapsToImages(torch.rand([2, 224, 224]));
  assert.deepEqual(m.shape, [2, 32, 32]);
  torch.dispose([xf, xc, m]);
});

test('parity summary', () => {
  console.log(`kdad parity, max rel error: ${JSON.stringify(Object.fromEntries([...worst].map(([k, e]) => [k, Number(e.toExponential(2))])))}`);
  assert.ok(worst.size >= 10);
});

