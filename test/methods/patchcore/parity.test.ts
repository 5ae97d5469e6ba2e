// PatchCore parity with a PyTorch/scipy implementation of the authors' steps (patchcore_ref.py, one
// Python run for the whole file): backbone taps with the same torchvision weights, patch
// embeddings, coreset indices (same projection and starting points), kNN scores and maps.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import * as torch from '../../../src/torch/index.js';
import type { Tensor } from '../../../src/torch/index.js';
import { loadBackbone, ResNet } from '../../../src/models/backbones/index.js';
import { EmbedPlan, anomalyMaps, gaussianFilter2d, greedyCoresetIndices, knnDistances } from '../../../src/methods/patchcore/index.js';
import { runPython, tempDir } from '../../helpers/python.js';

const dir = tempDir('vigil-patchcore-');
let ref: Map<string, Tensor>;

before(() => {
  const code = readFileSync(fileURLToPath(new URL('../../../../test/methods/patchcore/patchcore_ref.py', import.meta.url)), 'utf8');
  runPython(code, dir);
  ref = torch.loadPth(join(dir, 'ref.pth'));
});

function get(k: string): Tensor {
  const t = ref.get(k);
  assert.ok(t, `reference has no ${k}`);
  return t;
}

/** max|a−b| ≤ tol·max|b| (and same shape). */
function close(a: Tensor, b: Tensor, what: string, tol = 1e-4): void {
  assert.deepEqual(a.shape, b.shape, `${what}: shape`);
  const [err, scale] = torch.tidy(() => [a.to('float64').sub(b.to('float64')).abs().max().item(), b.to('float64').abs().max().item()]);
  assert.ok(scale > 0, `${what}: reference is all zeros`);
  assert.ok(err <= tol * scale, `${what}: max abs error ${err} > ${tol} × ${scale}`);
}

test('resnet18 layer1..4 and logits match torchvision with the same weights (folded and unfolded BN)', () => {
  const { model } = loadBackbone({ name: 'resnet18', weights: join(dir, 'resnet18.pth') });
  const x = get('r18.x');
  for (const fused of [true, false]) {
    if (!fused) model.unfuse();
    const f = model.forwardFeatures(x, ['layer1', 'layer2', 'layer3', 'layer4']);
    for (const l of ['layer1', 'layer2', 'layer3', 'layer4'] as const) close(f.get(l)!, get(`r18.${l}`), `${l} fused=${fused}`);
    torch.dispose(f);
  }
  const logits = model.forward(x);
  close(logits, get('r18.logits'), 'logits');
  logits.dispose();
  model.dispose();
});

test('resnet18 stops after the last requested layer', () => {
  const m = new ResNet('resnet18');
  const f = m.forwardFeatures(torch.randn([1, 3, 32, 32]), ['layer2']);
  assert.deepEqual([...f.keys()], ['layer2']);
  torch.dispose(f);
  m.dispose();
});

test('wide_resnet50_2 layer2/layer3 on a small input, and the default 1024-d embedding', () => {
  const { model } = loadBackbone({ name: 'wide_resnet50_2', weights: join(dir, 'wide_resnet50_2.pth') });
  const f = model.forwardFeatures(get('wrn.x'), ['layer2', 'layer3']);
  close(f.get('layer2')!, get('wrn.layer2'), 'wrn layer2');
  close(f.get('layer3')!, get('wrn.layer3'), 'wrn layer3');
  const plan = new EmbedPlan({ channels: [512, 1024], patchSize: 3, pretrainEmbedDim: 1024, embedDim: 1024 });
  const { embeddings } = plan.embed([f.get('layer2')!, f.get('layer3')!]);
  close(embeddings, get('emb.wrn'), 'wrn embedding');
  torch.dispose([f, embeddings]);
  plan.dispose();
  model.dispose();
});

test('patch embeddings equal unfold → bilinear → adaptive pools for several patch sizes, strides and dims', () => {
  const cases: [string, number, number, number, number][] = [['a', 3, 1, 1024, 1024], ['b', 3, 1, 200, 150], ['c', 5, 2, 96, 160], ['d', 3, 1, 100, 333]];
  for (const [name, p, s, dPre, dT] of cases) {
    const plan = new EmbedPlan({ channels: [128, 256], patchSize: p, pretrainEmbedDim: dPre, embedDim: dT });
    const { embeddings, grid } = plan.embed([get('r18.layer2'), get('r18.layer3')], s);
    assert.deepEqual(grid, get(`emb.${name}.grid`).toArray(), `grid ${name}`);
    close(embeddings, get(`emb.${name}`), `embedding ${name}`);
    embeddings.dispose();
    plan.dispose();
  }
});

test('coreset indices equal the authors\' approximate and exact greedy samplers', async () => {
  const feats = get('cs.features');
  const starts = get('cs.starts').toArray();
  const approx = await greedyCoresetIndices(feats, { ratio: 0.1, projection: get('cs.projection'), startIndices: starts, chunkRows: 128 });
  assert.deepEqual(Array.from(approx), get('cs.approx').toArray());
  const exact = await greedyCoresetIndices(feats, { method: 'greedy', ratio: 0.05, projection: get('cs.projection'), chunkRows: 100 });
  assert.deepEqual(Array.from(exact), get('cs.greedy').toArray());
});

test('coreset is seeded and reports progress', async () => {
  const feats = get('cs.features');
  const seen: number[] = [];
  const a = await greedyCoresetIndices(feats, { ratio: 0.1, projectionDim: 16, seed: 7, onProgress: (d, t) => { seen.push(d); assert.equal(t, 60); } });
  const b = await greedyCoresetIndices(feats, { ratio: 0.1, projectionDim: 16, seed: 7 });
  const c = await greedyCoresetIndices(feats, { ratio: 0.1, projectionDim: 16, seed: 8 });
  assert.deepEqual(a, b);
  assert.notDeepEqual(a, c);
  assert.equal(new Set(a).size, 60);
  assert.equal(seen.at(-1), 60);
});

test('kNN distances, image scores and smoothed maps match faiss/scipy semantics', () => {
  const bank = get('sc.bank');
  const q = get('sc.query');
  for (const k of [1, 3]) {
    const d = knnDistances(q, bank, { k, queryChunk: 50, bankChunk: 64 });
    close(d, get(`sc.knn${k}`), `knn k=${k}`);
    const ps = d.mean(1).reshape([2, 7, 9]);
    close(ps.reshape([2, -1]).amax(1), get(`sc.image${k}`), `image score k=${k}`);
    const maps = anomalyMaps(ps, [50, 60], 4);
    close(maps, get(`sc.maps${k}`), `maps k=${k}`);
    torch.dispose([d, ps, maps]);
  }
  // Reflection wraps several times when the map is smaller than the kernel radius (16).
  const b = gaussianFilter2d(get('sc.small'), 4);
  close(b, get('sc.small_blur'), 'small map blur');
  b.dispose();
});
