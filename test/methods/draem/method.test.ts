// DRAEM as a method: config validation, the loader-worker entry point (RGB in, BGR out, seeded by
// epoch position), the user errors (anomaly source, the authors' checkpoints), initFrom without
// training, and the state round trip.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as torch from '../../../src/torch/index.js';
import { deriveSeed, mulberry32 } from '../../../src/data/random.js';
import type { FitContext, TrainData } from '../../../src/methods/types.js';
import { MethodInputError } from '../../../src/methods/types.js';
import {
  buildNetworks, draem, milestoneEpochs, resolveDraemConfig, scoreDraem, scoreWindowOf, synthesize, type DraemDetector,
} from '../../../src/methods/draem/index.js';
import { drawSample } from '../../../src/methods/draem/synthesis.js';
import { proceduralTexture } from '../../../src/methods/draem/source.js';
import { tempDir } from '../../helpers/python.js';

const dir = tempDir('vigil-draem-method-');
const S = 64;
const tiny = { imageSize: S, reconstructiveWidth: 4, discriminativeWidth: 2 };
const cfg = (o: Record<string, unknown> = {}) => resolveDraemConfig({ ...tiny, ...o });
const shape = [3, S, S] as const;
const logs: string[] = [];
const ctx: FitContext = { seed: 0, log: (m) => logs.push(m), progress: () => {} };
const noData: TrainData = { size: 4, imageShape: shape, epoch: async function* () {} };

test('config: defaults are the authors\'; every bad field is named; milestones and score window', () => {
  const d = resolveDraemConfig({});
  assert.deepEqual([d.reconstructiveWidth, d.discriminativeWidth, d.imageSize, d.train.epochs, d.train.batchSize, d.train.lr, d.train.gamma], [128, 64, 256, 700, 8, 1e-4, 0.2]);
  assert.deepEqual(d.train.milestones, [0.8, 0.9]);
  assert.equal(d.anomalySource, 'procedural');
  assert.equal(resolveDraemConfig({ initFrom: '' }).initFrom, null);
  let msg = '';
  try { resolveDraemConfig({ imageSize: 100, train: { batchSize: 1, milestones: [1.5] }, reconstructiveWidth: 0, bogus: 1 }); } catch (e) { msg = (e as Error).message; assert.ok(e instanceof MethodInputError); }
  for (const k of ['draem.imageSize', 'draem.train.batchSize', 'draem.train.milestones[0]', 'draem.reconstructiveWidth', 'draem.bogus']) assert.match(msg, new RegExp(`✖ ${k.replace(/[.[\]]/g, '\\$&')}`), msg);
  assert.deepEqual(milestoneEpochs(700, [0.8, 0.9]), { milestones: [560, 630], unreachable: [] });
  assert.deepEqual(milestoneEpochs(25, [0.8, 0.9]), { milestones: [20], unreachable: [22.5] });
  assert.deepEqual([256, 128, 64].map((imageSize) => scoreWindowOf({ imageSize, scoreWindow: null })), [21, 11, 5]);
  assert.equal(scoreWindowOf({ imageSize: 64, scoreWindow: 21 }), 21);
});

test('synthesize: RGB batches in, BGR out; seeded by epoch position, not dataset index', async () => {
  const n = 6, hw = S * S;
  const tex = proceduralTexture(4, S, S);
  const images = new Float32Array(n * 3 * hw);
  for (let i = 0; i < n; i++) for (let p = 0; p < hw; p++) for (let c = 0; c < 3; c++) images[i * 3 * hw + c * hw + p] = tex[p * 3 + c]! / 255;
  const opts = { anomalySource: 'procedural' };
  const ctx0 = { seed: 3, epoch: 1, indices: [7, 7, 7, 7, 7, 7], positions: [0, 1, 2, 3, 4, 5] };
  const a = await synthesize({ images, shape: [n, 3, S, S] }, ctx0, opts);
  assert.deepEqual(a.augmented!.shape, [n, 3, S, S]);
  assert.deepEqual(a.mask!.shape, [n, 1, S, S]);
  assert.deepEqual(a.hasAnomaly!.shape, [n]);
  // The same image drawn six times in an epoch gets different anomalies.
  const one = (k: number): Float32Array => a.augmented!.data.subarray(k * 3 * hw, (k + 1) * 3 * hw);
  const distinct = new Set(Array.from({ length: n }, (_, k) => Buffer.from(one(k).buffer, one(k).byteOffset, one(k).byteLength).toString('base64')));
  assert.ok(distinct.size >= 3, `${distinct.size} distinct augmented images`);
  assert.ok(a.hasAnomaly!.data.some((v) => v === 1) && a.hasAnomaly!.data.some((v) => v === 0));
  // Other dataset indices, same positions: the same samples.
  const b = await synthesize({ images, shape: [n, 3, S, S] }, { ...ctx0, indices: [0, 1, 2, 3, 4, 5] }, opts);
  assert.deepEqual(b.augmented!.data, a.augmented!.data);
  // A sample drawn normal and unrotated is the input with its channels reversed.
  const plain = ctx0.positions.find((p) => { const d = drawSample(mulberry32(deriveSeed(3, 'draem', 1, p)), 1000); return !d.anomaly && d.inputRotation === null; });
  assert.ok(plain !== undefined, 'some position draws a plain sample');
  for (const c of [0, 1, 2]) {
    assert.deepEqual(a.image!.data.subarray(plain * 3 * hw + c * hw, plain * 3 * hw + (c + 1) * hw), images.subarray(plain * 3 * hw + (2 - c) * hw, plain * 3 * hw + (3 - c) * hw));
  }
  assert.ok(a.mask!.data.subarray(plain * hw, (plain + 1) * hw).every((v) => v === 0));
});

test('an anomaly source folder that is empty or holds no readable image fails fit() naming it', async () => {
  const empty = join(dir, 'empty');
  mkdirSync(join(empty, 'banded'), { recursive: true });
  const broken = join(dir, 'broken');
  mkdirSync(join(broken, 'banded'), { recursive: true });
  writeFileSync(join(broken, 'banded', 'banded_0001.jpg'), 'not a jpeg');
  for (const [folder, why] of [[empty, /holds no <category>\/\*\.jpg images/], [broken, /holds no readable image \(1 \.jpg files/], [join(dir, 'missing'), /cannot read the folder/]] as const) {
    const det = draem.create(cfg({ anomalySource: folder }), shape);
    await assert.rejects(det.fit(noData, ctx), (e: Error) => e instanceof MethodInputError && e.message.startsWith('model.anomalySource:') && e.message.includes(folder) && why.test(e.message));
    det.dispose();
  }
});

test("initFrom: the authors' .pckl pair loads (no training); a wrong architecture names the first mismatched key", async () => {
  torch.manualSeed(4);
  const ref = buildNetworks({ reconstructiveWidth: 4, discriminativeWidth: 2 });
  const base = join(dir, 'DRAEM_test_0.0001_700_bs8_woven_');
  torch.tidy(() => {
    torch.savePth(`${base}.pckl`, ref.reconstructive.stateDict());
    torch.savePth(`${base}_seg.pckl`, ref.discriminative.stateDict());
  });
  const det = draem.create(cfg({ initFrom: `${base}_seg.pckl` }), shape) as DraemDetector;
  logs.length = 0;
  await det.fit(noData, ctx);
  assert.match(logs.join('\n'), /loaded from the authors' checkpoints .*woven_\{,_seg\}\.pckl \(model\.initFrom\); no training/);
  assert.equal(det.state().meta.initFrom, base);
  ref.reconstructive.eval();
  ref.discriminative.eval();
  const x = torch.rand([2, 3, S, S]);
  const ours = det.score(x);
  const theirs = torch.tidy(() => scoreDraem(ref, x.flip([1]), 5));
  assert.deepEqual(ours.scores, theirs.scores);
  assert.deepEqual(ours.maps, theirs.maps);
  det.dispose();

  assert.throws(() => draem.create(cfg({ reconstructiveWidth: 8, initFrom: base }), shape),
    (e: Error) => e instanceof MethodInputError && e.message.includes(`${base}.pckl`) && e.message.includes("first mismatched key 'encoder.block1.0.weight' has shape [4, 3, 3, 3] in the file, [8, 3, 3, 3] in the network"));
  assert.throws(() => draem.create(cfg({ initFrom: join(dir, 'nope') }), shape), /model\.initFrom: .*nope\.pckl does not exist/);
  assert.throws(() => draem.create(cfg(), [3, 32, 32]), /draem takes 3×64×64 images \(model\.imageSize 64\), the data has 3×32×32/);
  torch.dispose([x]);
  ref.reconstructive.dispose();
  ref.discriminative.dispose();
});

test('state() → load() scores identically; a state of other widths is refused naming the network', () => {
  torch.manualSeed(5);
  const base = join(dir, 'rt_');
  const ref = buildNetworks({ reconstructiveWidth: 4, discriminativeWidth: 2 });
  torch.tidy(() => { torch.savePth(`${base}.pckl`, ref.reconstructive.stateDict()); torch.savePth(`${base}_seg.pckl`, ref.discriminative.stateDict()); });
  const a = draem.create(cfg({ initFrom: base }), shape);
  const st = a.state();
  assert.ok([...st.tensors.keys()].includes('reconstructive.encoder.block1.0.weight') && [...st.tensors.keys()].includes('discriminative.decoder_segment.fin_out.0.bias'));
  const b = draem.load(cfg(), shape, st);
  const x = torch.rand([1, 3, S, S]);
  assert.deepEqual(b.score(x).maps, a.score(x).maps);
  assert.throws(() => draem.load(cfg({ discriminativeWidth: 4 }), shape, st), /cannot load the saved DiscriminativeSubNetwork \('discriminative\.\*' tensors; .*model\.discriminativeWidth 4\)/);
  torch.dispose([x, ...st.tensors.values()]);
  for (const d of [a, b]) d.dispose();
  ref.reconstructive.dispose();
  ref.discriminative.dispose();
});
