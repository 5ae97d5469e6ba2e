// The assembled PatchCore detector against the authors' whole method (detector_ref.py: PatchCore.fit
// + predict as patchcore-inspection runs them), on the same seeded random ResNet-18 (.pth written by
// PyTorch) and the same PNG files: fit() + score() in process, and `vigil train` end to end. The
// coreset is the only random step; both sides use the projection and starting points Vigil draws
// from its seed (randomProjection / sampleWithoutReplacement), so they must select the same rows.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import * as torch from '../../../src/torch/index.js';
import type { Tensor } from '../../../src/torch/index.js';
import { ImageLoader } from '../../../src/data/loader/index.js';
import { loadMvtec, type MvtecDataset } from '../../../src/data/mvtec.js';
import { generateSynthDataset } from '../../../src/data/synth/index.js';
import { patchcore, patchcoreTransforms, randomProjection, resolvePatchCoreConfig, sampleWithoutReplacement, type PatchCoreConfig, type PatchCoreDetector } from '../../../src/methods/patchcore/index.js';
import { parseCsv, vigil } from '../../cli/helpers.js';
import { runPython, tempDir } from '../../helpers/python.js';
import { quietContext, scoreAll, trainData } from './helpers.js';

const dir = tempDir('vigil-pc-ref-');
const SIZE = 64;
const SEED = 7;
const shape: [number, number, number] = [3, SIZE, SIZE];
let ds: MvtecDataset;
let ref: Map<string, Tensor>;

interface Case {
  name: string;
  config: PatchCoreConfig;
}

const weights = join(dir, 'resnet18.pth');
const cfg = (o: Record<string, unknown>): PatchCoreConfig => resolvePatchCoreConfig({
  backbone: { name: 'resnet18', weights, randomSeed: 0 }, imageSize: SIZE, cropSize: SIZE, batchSize: 3, ...o,
});
// A: the authors' defaults (layer2+3, 3×3 patches, 1024-d, approximate greedy 10 %, k = 1, σ = 4).
// B: exact greedy, 5×5 patches with stride 2, other dims, k = 3, σ = 2.
const cases: Case[] = [
  { name: 'A', config: cfg({}) },
  {
    name: 'B',
    config: cfg({ patchSize: 5, patchStride: 2, pretrainEmbedDim: 200, embedDim: 150, knn: { k: 3, prune: true }, smoothing: 2, coreset: { method: 'greedy', ratio: 0.25, projectionDim: 48, startingPoints: 10 } }),
  },
];

/** Patches per image: the layer2 map (1/8 of the input for a ResNet) unfolded with the patch size and stride. */
function patchesPerImage(c: PatchCoreConfig): number {
  const f = SIZE / 8;
  const pad = Math.floor((c.patchSize - 1) / 2);
  const g = Math.floor((f + 2 * pad - (c.patchSize - 1) - 1) / c.patchStride + 1);
  return g * g;
}

function get(k: string): Tensor {
  const t = ref.get(k);
  assert.ok(t, `reference has no ${k}`);
  return t;
}

/** max|a−b| ≤ tol·max|b|, on arrays. */
function close(a: ArrayLike<number>, b: ArrayLike<number>, what: string, tol = 1e-4): void {
  assert.equal(a.length, b.length, `${what}: length`);
  let err = 0, scale = 0;
  for (let i = 0; i < b.length; i++) { err = Math.max(err, Math.abs(a[i]! - b[i]!)); scale = Math.max(scale, Math.abs(b[i]!)); }
  assert.ok(scale > 0, `${what}: reference is all zeros`);
  assert.ok(err <= tol * scale, `${what}: max abs error ${err} > ${tol} × ${scale}`);
}

const values = (t: Tensor): Float32Array => t.to('float32').contiguous().toTypedArray() as Float32Array;

before(async () => {
  process.removeAllListeners('warning');
  await generateSynthDataset(join(dir, 'synth'), { categories: ['grainy'], size: SIZE, trainCount: 8, testGoodCount: 3, testDefectCount: 1, seed: 2 });
  ds = await loadMvtec(join(dir, 'synth'), 'grainy');
  const given: Record<string, Tensor> = {};
  for (const c of cases) {
    const { embedDim } = c.config;
    const { projectionDim, startingPoints } = c.config.coreset;
    assert.notEqual(projectionDim, embedDim, 'each case projects (the reference expects a matrix)');
    given[`${c.name}.projection`] = randomProjection(embedDim, projectionDim, SEED);
    given[`${c.name}.starts`] = torch.tensor(sampleWithoutReplacement(ds.train.length * patchesPerImage(c.config), startingPoints, SEED), { dtype: 'int64' });
  }
  torch.savePth(join(dir, 'coreset.pth'), given);
  torch.dispose(Object.values(given));
  const spec = {
    train: ds.train.map((s) => s.path),
    test: ds.test.map((s) => s.path),
    cases: cases.map(({ name, config: c }) => ({
      name, layers: c.layers, patchSize: c.patchSize, patchStride: c.patchStride, pretrainEmbedDim: c.pretrainEmbedDim, embedDim: c.embedDim,
      k: c.knn.k, smoothing: c.smoothing, coreset: c.coreset.method, ratio: c.coreset.ratio, batchSize: c.batchSize,
    })),
  };
  writeFileSync(join(dir, 'spec.json'), JSON.stringify(spec));
  runPython(readFileSync(fileURLToPath(new URL('../../../../test/methods/patchcore/detector_ref.py', import.meta.url)), 'utf8'), dir);
  ref = torch.loadPth(join(dir, 'ref.pth'));
});

test('inputs: the loader\'s resize → crop → normalise (identity resize here) equals ToTensor + Normalize on the same files', async () => {
  const loader = new ImageLoader(ds.test.map((s) => ({ path: s.path })), { batchSize: ds.test.length, transforms: patchcoreTransforms(cases[0]!.config), workers: 0, masks: false });
  for await (const b of loader.epoch(0)) close(b.images, values(get('x.test')), 'test images', 1e-6);
  await loader.close();
});

for (const c of cases) {
  test(`case ${c.name}: fit() builds the authors' memory bank; score() gives their image scores and maps (rel 1e-4)`, async () => {
    const tf = patchcoreTransforms(c.config);
    const det = patchcore.create(c.config, shape) as PatchCoreDetector;
    await det.fit(trainData(ds.train, tf, shape), quietContext(SEED));
    const bank = det.memoryBank!;
    const want = get(`${c.name}.bank`);
    assert.deepEqual(bank.shape, want.shape, 'memory bank size: int(N·ratio) rows of embedDim');
    // Row by row in selection order: a different coreset shows here first.
    close(values(bank), values(want), 'memory bank (rows in selection order)');
    const r = await scoreAll((x) => det.score(x), ds.test, tf, SIZE, 4);
    const scores = values(get(`${c.name}.scores`));
    for (let i = 0; i < scores.length; i++) {
      assert.ok(Math.abs(r.scores[i]! - scores[i]!) <= 1e-4 * Math.abs(scores[i]!), `${ds.test[i]!.path}: image score ${r.scores[i]} vs the authors' ${scores[i]}`);
    }
    const maps = values(get(`${c.name}.maps`));
    r.maps.forEach((m, i) => close(m, maps.subarray(i * SIZE * SIZE, (i + 1) * SIZE * SIZE), `${ds.test[i]!.path}: map`));
    det.dispose();
  });
}

test('vigil train (case A, every normal image fitted) writes the authors\' scores to scores.csv and their memory bank to the model', () => {
  const run = join(dir, 'run');
  const r = vigil([
    'train', '--method', 'patchcore', '--data', `synth:${join(dir, 'synth', 'grainy')}`, '--seed', String(SEED), '--out', run, '--quiet',
    '--set', 'model.backbone.name=resnet18', '--set', `model.backbone.weights=${weights}`, '--set', `model.imageSize=${SIZE}`, '--set', `model.cropSize=${SIZE}`,
    '--set', 'model.pretrainEmbedDim=1024', '--set', 'model.embedDim=1024', '--set', 'threshold.holdout=0', '--set', 'train.workers=0',
  ]);
  assert.equal(r.code, 0, r.stderr);
  const rows = parseCsv(readFileSync(join(run, 'scores.csv'), 'utf8'));
  assert.equal(rows.length, ds.test.length);
  const scores = values(get('A.scores'));
  ds.test.forEach((s, i) => {
    const row = rows.find((x) => x.id === s.path);
    assert.ok(row, `${s.path} missing from scores.csv`);
    assert.ok(Math.abs(Number(row.score) - scores[i]!) <= 1e-4 * scores[i]!, `${s.path}: ${row.score} vs the authors' ${scores[i]}`);
  });
  const saved = torch.loadSafetensors(join(run, 'model', 'model.safetensors'));
  const bank = saved.tensors.get('memory_bank')!;
  assert.deepEqual(bank.shape, get('A.bank').shape);
  close(values(bank), values(get('A.bank')), 'saved memory bank');
  torch.dispose([...saved.tensors.values()]);
});
