import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DSVDD_MIN_MAX,
  computeGcnMinMax,
  dsvddPreprocess,
  globalContrastNormalization,
  globalContrastNormalizationBatch,
  minMaxScale,
} from '../../src/data/dsvdd-preprocess.js';
import { readMnistLike, FASHION_MNIST_DEFAULT_ROOT } from '../../src/data/oneclass.js';
import { mulberry32 } from '../../src/data/random.js';

// The reference is torch (as in the authors' transform: per-image mean, L1 = mean |x|,
// L2 = sqrt(sum x^2) / n) and numpy float64 for the min-max constants. One Python run per file.
const PY = String.raw`
import sys, json, gzip, os
import numpy as np, torch
d = sys.argv[1]
meta = json.load(open(os.path.join(d, 'meta.json')))
x = np.fromfile(os.path.join(d, 'x.f32'), dtype=np.float32).reshape(meta['n'], -1)
def gcn(t, scale):
    t = t.clone()
    t -= torch.mean(t)
    s = torch.mean(torch.abs(t)) if scale == 'l1' else torch.sqrt(torch.sum(t ** 2)) / t.numel()
    return t / s
for scale in ('l1', 'l2'):
    out = torch.stack([gcn(torch.from_numpy(r.copy()), scale) for r in x]).numpy()
    out.astype(np.float32).tofile(os.path.join(d, 'gcn_' + scale + '.f32'))
u8 = np.fromfile(os.path.join(d, 'u8.bin'), dtype=np.uint8).reshape(meta['m'], -1)
lo, hi = meta['range']
pipe = []
for r in u8:
    t = torch.from_numpy(r.copy()).float().div(255)
    t = gcn(t, 'l1')
    t = (t - torch.tensor(lo, dtype=torch.float32)) / torch.tensor(hi - lo, dtype=torch.float32)
    pipe.append(t.numpy())
np.stack(pipe).astype(np.float32).tofile(os.path.join(d, 'pipe.f32'))
res = {}
root = meta.get('fmnist')
if root:
    with gzip.open(os.path.join(root, 'train-images-idx3-ubyte.gz')) as f:
        imgs = np.frombuffer(f.read(), dtype=np.uint8, offset=16).reshape(-1, 784)
    with gzip.open(os.path.join(root, 'train-labels-idx1-ubyte.gz')) as f:
        labels = np.frombuffer(f.read(), dtype=np.uint8, offset=8)
    mm = []
    for c in range(10):
        v = imgs[labels == c].astype(np.float64) / 255.0
        v = v - v.mean(axis=1, keepdims=True)
        v = v / np.abs(v).mean(axis=1, keepdims=True)
        mm.append([float(v.min()), float(v.max())])
    res['fmnist'] = mm
json.dump(res, open(os.path.join(d, 'out.json'), 'w'))
`;

async function f32(path: string): Promise<Float32Array> {
  const b = await readFile(path);
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}

function maxRelErr(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!) / Math.max(1, Math.abs(b[i]!)));
  return worst;
}

test('GCN (l1, l2), the full Deep SVDD transform and the min-max constants match torch/numpy', async () => {
  let hasFmnist = true;
  try {
    await stat(FASHION_MNIST_DEFAULT_ROOT);
  } catch {
    hasFmnist = false;
  }
  const dir = await mkdtemp(join(tmpdir(), 'vigil-gcn-'));
  try {
    const rand = mulberry32(5);
    const n = 6;
    const per = 3 * 8 * 8;
    const x = Float32Array.from({ length: n * per }, (_, i) => (i % per < 20 ? 0 : rand.next() * rand.next() * 3 - 0.2));
    const m = 4;
    const u8 = Uint8Array.from({ length: m * 784 }, () => (rand.next() < 0.6 ? 0 : Math.floor(rand.next() * 256)));
    const range = DSVDD_MIN_MAX.mnist[3]!;
    await writeFile(join(dir, 'x.f32'), new Uint8Array(x.buffer));
    await writeFile(join(dir, 'u8.bin'), u8);
    await writeFile(join(dir, 'meta.json'), JSON.stringify({ n, m, range: [range.min, range.max], fmnist: hasFmnist ? FASHION_MNIST_DEFAULT_ROOT : null }));
    const r = spawnSync('/usr/bin/python3', ['-c', PY, dir], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);

    for (const scale of ['l1', 'l2'] as const) {
      const ref = await f32(join(dir, `gcn_${scale}.f32`));
      const ours = globalContrastNormalizationBatch(x, n, scale);
      assert.ok(maxRelErr(ours, ref) < 2e-6, `${scale}: ${maxRelErr(ours, ref)}`);
      // Single-image entry point agrees with the batch one.
      assert.deepEqual(globalContrastNormalization(x.subarray(per, 2 * per), scale), ours.subarray(per, 2 * per));
    }
    const pipeRef = await f32(join(dir, 'pipe.f32'));
    const pipe = dsvddPreprocess({ images: u8, shape: [m, 1, 28, 28] }, range);
    assert.ok(maxRelErr(pipe, pipeRef) < 2e-6, `pipeline: ${maxRelErr(pipe, pipeRef)}`);

    const out = JSON.parse(await readFile(join(dir, 'out.json'), 'utf8')) as { fmnist?: [number, number][] };
    if (hasFmnist) {
      const train = await readMnistLike(FASHION_MNIST_DEFAULT_ROOT, 'fashion-mnist', 'train');
      const per784 = 784;
      for (let c = 0; c < 10; c++) {
        const idx: number[] = [];
        train.labels.forEach((l, i) => l === c && idx.push(i));
        const imgs = new Uint8Array(idx.length * per784);
        idx.forEach((j, k) => imgs.set(train.images.subarray(j * per784, (j + 1) * per784), k * per784));
        const mm = computeGcnMinMax(imgs, idx.length);
        const [lo, hi] = out.fmnist![c]!;
        assert.ok(Math.abs(mm.min - lo) < 1e-12 * Math.abs(lo) && Math.abs(mm.max - hi) < 1e-12 * Math.abs(hi), `class ${c}: ${mm.min},${mm.max} vs ${lo},${hi}`);
        // The shipped table row is this computation.
        const row = DSVDD_MIN_MAX['fashion-mnist'][c]!;
        assert.ok(Math.abs(row.min - lo) < 1e-12 * Math.abs(lo) && Math.abs(row.max - hi) < 1e-12 * Math.abs(hi), `table class ${c}`);
      }
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a constant image is all zeros after GCN (the reference gives NaN) and counts as 0 in the min-max constants', () => {
  for (const scale of ['l1', 'l2'] as const) {
    assert.deepEqual(Array.from(globalContrastNormalization(new Float32Array(6).fill(0.3), scale)), [0, 0, 0, 0, 0, 0]);
  }
  const imgs = new Uint8Array(2 * 4);
  imgs.set([10, 20, 30, 40], 0);
  imgs.fill(77, 4);
  const withBlank = computeGcnMinMax(imgs, 2);
  const alone = computeGcnMinMax(imgs.subarray(0, 4), 1);
  assert.ok(Number.isFinite(withBlank.min) && Number.isFinite(withBlank.max));
  assert.deepEqual(withBlank, { min: Math.min(alone.min, 0), max: Math.max(alone.max, 0) });
});

test('min-max constants map the data they were computed on onto [0, 1]', () => {
  const rand = mulberry32(9);
  const count = 20;
  const imgs = Uint8Array.from({ length: count * 3 * 4 * 4 }, () => Math.floor(rand.next() * 256));
  const mm = computeGcnMinMax(imgs, count);
  const y = dsvddPreprocess({ images: imgs, shape: [count, 3, 4, 4] }, mm);
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of y) {
    lo = Math.min(lo, v);
    hi = Math.max(hi, v);
  }
  assert.ok(Math.abs(lo) < 1e-6 && Math.abs(hi - 1) < 1e-6, `${lo} ${hi}`);
  assert.deepEqual(Array.from(minMaxScale(Float32Array.from([-1, 3]), { min: -1, max: 3 })), [0, 1]);
  assert.throws(() => computeGcnMinMax(new Uint8Array(10), 3), /cannot be split into 3 images/);
});
