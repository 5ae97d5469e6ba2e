// End to end on the synthetic MVTec-style set: fit + score with image AUROC, pixel AUROC and AUPRO,
// state round trip (fp32 and fp16 banks), and a backbone loaded from a .pth path.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { before, test } from 'node:test';
import * as torch from '../../../src/torch/index.js';
import { generateSynthDataset } from '../../../src/data/synth/index.js';
import { loadMvtec, type MvtecDataset } from '../../../src/data/mvtec.js';
import { auroc, pixelMetrics } from '../../../src/eval/index.js';
import { ResNet } from '../../../src/models/backbones/index.js';
import { PatchCoreDetector, patchcore, patchcoreTransforms, resolvePatchCoreConfig, type PatchCoreConfig } from '../../../src/methods/patchcore/index.js';
import { tempDir } from '../../helpers/python.js';
import { quietContext, scoreAll, trainData } from './helpers.js';

const dir = tempDir('vigil-pc-e2e-');
const SIZE = 64;
let ds: MvtecDataset;
const base: PatchCoreConfig = resolvePatchCoreConfig({
  backbone: { name: 'resnet18', weights: 'random', randomSeed: 3 },
  imageSize: 72, cropSize: SIZE, pretrainEmbedDim: 256, embedDim: 256, batchSize: 4,
  coreset: { method: 'approx_greedy', ratio: 0.25, projectionDim: 32, startingPoints: 10 },
});
const shape: [number, number, number] = [3, SIZE, SIZE];

before(async () => {
  process.removeAllListeners('warning');
  await generateSynthDataset(dir, { categories: ['grainy'], size: 72, trainCount: 12, testGoodCount: 6, testDefectCount: 2, seed: 5 });
  ds = await loadMvtec(dir, 'grainy');
});

test('fit + score on synthetic data: image AUROC, pixel AUROC, AUPRO; state round trip', async () => {
  const tf = patchcoreTransforms(base);
  const det = patchcore.create(base, shape);
  const progress: Array<[string, number, number]> = [];
  await det.fit(trainData(ds.train, tf, shape), quietContext(1, progress));
  assert.ok(progress.some(([s, d, t]) => s === 'features' && d === t && t === 12));
  assert.ok(progress.some(([s, d, t]) => s === 'coreset' && d === t));
  const bank = (det as PatchCoreDetector).memoryBank!;
  // 12 images × 8×8 patches (layer2 is 1/8 of 64 px) × ratio 0.25.
  assert.equal(bank.shape[0], Math.floor(12 * 8 * 8 * 0.25));
  const r = await scoreAll((x) => det.score(x), ds.test, tf, SIZE);
  const imageAuroc = auroc(r.scores, r.labels);
  const px = pixelMetrics(r.maps, r.masks, { width: SIZE, height: SIZE, aupro: true });
  console.log(`synthetic grainy, resnet18 random weights: image AUROC ${imageAuroc.toFixed(3)}, pixel AUROC ${px.auroc.toFixed(3)}, AUPRO ${px.aupro!.toFixed(3)}`);
  assert.ok(imageAuroc > 0.6, `image AUROC ${imageAuroc}`);
  assert.ok(px.auroc > 0.6, `pixel AUROC ${px.auroc}`);
  assert.ok(px.aupro! > 0.1, `AUPRO ${px.aupro}`);
  const st = det.state();
  const path = join(dir, 'model.safetensors');
  torch.saveSafetensors(path, st.tensors, { meta: JSON.stringify(st.meta) });
  torch.dispose([...st.tensors.values()]);
  const loaded = torch.loadSafetensors(path);
  const det2 = patchcore.load(base, shape, { tensors: loaded.tensors, meta: JSON.parse(loaded.metadata['meta']!) as Record<string, unknown> });
  const r2 = await scoreAll((x) => det2.score(x), ds.test, tf, SIZE);
  assert.deepEqual(r2.scores, r.scores);
  assert.deepEqual(r2.maps[3], r.maps[3]);
  // Shape mismatch names the key and the config field.
  const wrong = new Map([['memory_bank', torch.zeros([5, 99])]]);
  assert.throws(() => patchcore.load(base, shape, { tensors: wrong, meta: {} }), /memory_bank.*embedDim/);
  assert.throws(() => patchcore.load(base, shape, { tensors: new Map(), meta: {} }), /no 'memory_bank'/);
  torch.dispose([...loaded.tensors.values(), ...wrong.values()]);
  det.dispose();
  det2.dispose();
});

test('fp16 memory bank: saved as float16, scores within fp16 rounding of fp32', async () => {
  const tf = patchcoreTransforms(base);
  const cfg16 = resolvePatchCoreConfig({ ...base, memoryBank: { dtype: 'float16' } });
  const a = patchcore.create(base, shape);
  const b = patchcore.create(cfg16, shape);
  await a.fit(trainData(ds.train, tf, shape), quietContext(2));
  await b.fit(trainData(ds.train, tf, shape), quietContext(2));
  const st = b.state();
  assert.equal(st.tensors.get('memory_bank')!.dtype, 'float16');
  const x = torch.randn([2, 3, SIZE, SIZE]);
  const sa = a.score(x).scores, sb = b.score(x).scores;
  for (let i = 0; i < 2; i++) assert.ok(Math.abs(sa[i]! - sb[i]!) <= 2e-3 * Math.abs(sa[i]!), `${sa[i]} vs ${sb[i]}`);
  torch.dispose([x, ...st.tensors.values()]);
  a.dispose();
  b.dispose();
});

test('a backbone given as a .pth path is loaded (and a wrong file is named)', () => {
  torch.manualSeed(11);
  const m = new ResNet('resnet18');
  const p = join(dir, 'r18.pth');
  const sd = m.stateDict();
  torch.savePth(p, sd);
  torch.dispose([...sd.values()]);
  const det = new PatchCoreDetector(resolvePatchCoreConfig({ ...base, backbone: { name: 'resnet18', weights: p, randomSeed: 0 } }), shape);
  assert.equal(det.weightsSource, p);
  const x = torch.randn([1, 3, SIZE, SIZE]);
  m.fuse();
  const ours = m.forwardFeatures(x, ['layer2']).get('layer2')!;
  const theirs = det.backbone.forwardFeatures(x, ['layer2']).get('layer2')!;
  assert.ok(torch.tidy(() => ours.sub(theirs).abs().max().item()) === 0);
  assert.throws(() => new PatchCoreDetector(resolvePatchCoreConfig({ ...base, backbone: { name: 'resnet50', weights: p, randomSeed: 0 } }), shape), /r18\.pth: not resnet50 weights/);
  torch.dispose([x, ours, theirs]);
  det.dispose();
  m.dispose();
});

test('config errors name every bad field at once', () => {
  let msg = '';
  try {
    resolvePatchCoreConfig({ layers: ['layer9'], coreset: { ratio: 0 }, knn: { k: 0, prune: 'yes' }, backbone: { name: 'vgg16' } });
  } catch (e) { msg = (e as Error).message; }
  assert.match(msg, /✖ patchcore\.layers\[0\]: must be one of "layer1", "layer2", "layer3", "layer4", got "layer9"/);
  assert.match(msg, /✖ patchcore\.coreset\.ratio: must be > 0, got 0/);
  assert.match(msg, /✖ patchcore\.knn\.k: must be >= 1, got 0/);
  assert.match(msg, /✖ patchcore\.knn\.prune: expected true or false, got "yes"/);
  assert.match(msg, /✖ patchcore\.backbone\.name: must be one of "resnet18", /);
  assert.throws(() => resolvePatchCoreConfig({ layers: [] }), /patchcore\.layers: must be a list of length >= 1/);
});
