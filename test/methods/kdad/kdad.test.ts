// KDAD in-process: the schema's defaults (the authors' config.yaml), the presets, the networks'
// sizes and tap shapes, the teacher-weight errors, the input adapter, the saved state, and no
// leaked tensors across scoring calls.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import * as torch from '../../../src/torch/index.js';
import { CONFIGS_DIR, modelSchemaOf, resolveConfig } from '../../../src/pipeline/config.js';
import { isUserError } from '../../../src/pipeline/errors.js';
import { arrayTrainData } from '../../../src/methods/array-data.js';
import { MethodInputError, type FitContext } from '../../../src/methods/types.js';
import { createBackbone } from '../../../src/models/backbones/index.js';
import {
  buildCloner, InputAdapter, KDAD_DEFAULTS, kdad, kdadSchema, kdadTransforms, loadTeacher, LOSS_OUTPUTS, tapShapes, teacherTaps,
  type KdadConfig, type KdadDetector,
} from '../../../src/methods/kdad/index.js';
import { tempDir } from '../../helpers/python.js';

process.removeAllListeners('warning');
const dir = tempDir('vigil-kdad-unit-');
const quiet: FitContext = { seed: 0, log: () => {}, progress: () => {} };
const tiny = (over: Record<string, unknown> = {}): KdadConfig => kdadSchema.parse({ teacher: { weights: 'random' }, imageSize: 32, train: { epochs: 1, batchSize: 4 }, ...over });

test('defaults are the authors\' configs/config.yaml (and MVTec-style inputs)', () => {
  assert.deepEqual(KDAD_DEFAULTS.train, { epochs: 201, batchSize: 64, lr: 1e-3 });
  assert.equal(KDAD_DEFAULTS.lamda, 0.01);
  assert.equal(KDAD_DEFAULTS.student, 'B');
  assert.equal(KDAD_DEFAULTS.directionOnly, false);
  assert.equal(KDAD_DEFAULTS.localization, 'gbp');
  assert.deepEqual(KDAD_DEFAULTS.smoothGrad, { samples: 50, sigma: 0.05 });
  assert.equal(KDAD_DEFAULTS.smoothing, 4);
  assert.deepEqual(KDAD_DEFAULTS.teacher, { name: 'vgg16', weights: null, randomSeed: 0 });
  assert.deepEqual(kdadTransforms(KDAD_DEFAULTS), [{ op: 'resize', size: [128, 128], interpolation: 'bilinear' }]);
  assert.throws(() => kdadSchema.parse({ student: 'C' }));
  assert.throws(() => kdadSchema.parse({ train: { batchSize: 1 } }));
  assert.throws(() => kdadSchema.parse({ featurecache: 'memory' }));
  assert.throws(() => kdad.create({ ...KDAD_DEFAULTS, train: { epochs: 0, batchSize: 64, lr: 1e-3 }, featureCache: 'ram' } as never, [3, 128, 128]), (e: unknown) => {
    assert.ok(e instanceof MethodInputError);
    assert.match((e as Error).message, /kdad\.train\.epochs: must be >= 1/);
    assert.match((e as Error).message, /kdad\.featureCache: must be one of "auto", "memory", "disk", "off"/);
    return true;
  });
});

function preset(name: string, data?: string): KdadConfig {
  const c = resolveConfig({ method: 'kdad', modelSchema: modelSchemaOf(kdad), configFile: join(CONFIGS_DIR, 'kdad', `${name}.yaml`), ...(data ? { data } : {}) }).config;
  return c.model as KdadConfig;
}

test('presets: the authors\' per-dataset settings', () => {
  for (const [name, data] of [['fmnist', 'fmnist:0'], ['mnist', 'mnist:0']] as const) {
    const m = preset(name, data);
    assert.deepEqual([m.imageSize, m.cropSize, m.normalize, m.lamda, m.train.epochs, m.train.batchSize, m.train.lr], [32, null, 'none', 0.01, 51, 64, 1e-3], name);
  }
  const c = preset('cifar10', 'cifar10:3');
  assert.deepEqual([c.imageSize, c.interpolation, c.cropSize, c.normalize, c.lamda, c.train.epochs], [256, 'lanczos', 224, 'imagenet', 0.01, 201]);
  const mv = preset('mvtec', 'mvtec:/tmp');
  assert.deepEqual([mv.imageSize, mv.cropSize, mv.normalize, mv.lamda, mv.train.epochs, mv.localization, mv.smoothing], [128, null, 'none', 0.5, 601, 'gbp', 4]);
  const f = preset('folder', 'folder:/tmp');
  assert.deepEqual([f.imageSize, f.lamda, f.train.epochs], [128, 0.5, 601]);
  // OpenOOD's setting, layered over the cifar10 preset as `vigil train --config` does.
  const o = resolveConfig({ method: 'kdad', modelSchema: modelSchemaOf(kdad), configFile: join(CONFIGS_DIR, 'kdad', 'cifar10-3-openood.yaml') }).config;
  assert.equal(o.dataset.spec, 'cifar10:3');
  const om = o.model as KdadConfig;
  assert.deepEqual([om.imageSize, om.interpolation, om.cropSize, om.normalize, om.preprocessIn, om.train.batchSize, om.train.epochs], [32, 'bilinear', null, 'cifar10', 'method', 16, 201]);
  assert.deepEqual(om.augment, { hflip: true, cropPadding: 4 });
  assert.ok(kdad.inputs!(om).trainAugment, 'the augmentation runs in the loader workers');
  assert.equal(kdad.inputs!(c).trainAugment, undefined);
});

test('networks: cloner B has 343,984 parameters, A 14,715,968, the VGG16 teacher 14,714,688; taps at 32 px as openood-ad.md §3.1', () => {
  const b = buildCloner('B');
  const a = buildCloner('A');
  const t = createBackbone('vgg16');
  assert.equal(b.numParameters(), 343_984);
  assert.equal(a.numParameters(), 14_715_968);
  assert.equal(t.numParameters(), 14_714_688);
  assert.deepEqual(tapShapes(t, teacherTaps(LOSS_OUTPUTS), 32), [[128, 8, 8], [256, 4, 4], [512, 2, 2], [512, 1, 1]]);
  // The cloner's 13 outputs have the teacher's spatial sizes (A: its shapes), and B its channels at the loss taps.
  const x = torch.rand([2, 3, 32, 32]);
  for (const net of [a, b]) {
    const s = [...net.forward(x, ['2', '5', '8', '11', '14', '17', '20', '23', '26', '29', '32', '35', '38']).values()];
    const r = [...t.forward(x, ['1', '4', '6', '9', '11', '13', '16', '18', '20', '23', '25', '27', '30']).values()];
    assert.deepEqual(s.map((v) => v.shape.slice(2)), r.map((v) => v.shape.slice(2)));
    const same = net === a ? s.map((_, k) => k) : [...LOSS_OUTPUTS];
    assert.deepEqual(same.map((k) => s[k]!.shape), same.map((k) => r[k]!.shape));
    torch.dispose([...s, ...r]);
  }
  // No biases, BN exactly where the next entry is not a pool.
  const sd = b.stateDict();
  const biases = [...sd.keys()].filter((k) => k.endsWith('.bias')).map((k) => k.replace('.bias', ''));
  assert.ok(biases.every((m) => sd.has(`${m}.running_mean`)), `only BatchNorms have biases: ${biases.join(', ')}`);
  assert.deepEqual([...sd.keys()].filter((k) => k.endsWith('.running_mean')).map((k) => Number(k.split('.')[1])), [1, 7, 13, 16, 22, 25, 31, 34]);
  torch.dispose([x, ...sd.values()]);
  for (const m of [a, b, t]) m.dispose();
});

test('teacher weights: missing → the fetch message naming model.teacher.weights; bad path or architecture → a user error naming the key', () => {
  const old = process.env['TORCH_HOME'];
  process.env['TORCH_HOME'] = join(dir, 'empty-torch-home');
  try {
    assert.throws(() => kdad.create(kdadSchema.parse({}), [3, 128, 128]), (e: unknown) => {
      const m = (e as Error).message;
      assert.equal((e as Error).name, 'MissingWeightsError');
      assert.ok(isUserError(e));
      assert.match(m, /vgg16-397923af\.pth is not in .*empty-torch-home/);
      assert.match(m, /vigil weights fetch vgg16/);
      assert.match(m, /https:\/\/download\.pytorch\.org\/models\/vgg16-397923af\.pth/);
      assert.match(m, /model\.teacher\.weights/);
      return true;
    });
  } finally {
    if (old === undefined) delete process.env['TORCH_HOME']; else process.env['TORCH_HOME'] = old;
  }
  assert.throws(() => loadTeacher({ name: 'vgg16', weights: join(dir, 'nope.pth'), randomSeed: 0 }), (e: unknown) => e instanceof MethodInputError && /nope\.pth does not exist \(model\.teacher\.weights\)/.test((e as Error).message));
  const r18 = createBackbone('resnet18');
  const bad = join(dir, 'resnet18.pth');
  torch.tidy(() => torch.savePth(bad, r18.stateDict()));
  r18.dispose();
  assert.throws(() => loadTeacher({ name: 'vgg16', weights: bad, randomSeed: 0 }), (e: unknown) => {
    assert.ok(e instanceof MethodInputError, String(e));
    assert.match((e as Error).message, /not vgg16 weights \(model\.teacher\.weights\).*features\.0\.weight/);
    return true;
  });
});

test('input adapter: files must arrive transformed; arrays are transformed by the method and maps come back at their size', () => {
  assert.throws(() => new InputAdapter(tiny({ preprocessIn: 'pipeline' }), [1, 28, 28]), /model\.preprocessIn=method/);
  const a = new InputAdapter(tiny(), [3, 32, 32]);
  assert.equal(a.mode, 'pipeline');
  const m = new InputAdapter(tiny(), [1, 28, 28]);
  assert.equal(m.mode, 'method');
  const x = m.prepare(torch.rand([2, 1, 28, 28]), 'float32');
  assert.deepEqual(x.shape, [2, 3, 32, 32]);
  assert.deepEqual(m.mapsToImages(torch.rand([2, 32, 32])).shape, [2, 28, 28]);
  assert.throws(() => m.prepare(torch.rand([2, 3, 28, 28]), 'float32'), /expected images N×1×28×28/);
});

test('fit → state → load: same scores and maps; mismatched cloner or input size named; no state before fit', async () => {
  torch.manualSeed(3);
  const imgs = torch.rand([8, 1, 28, 28]);
  const data = arrayTrainData(imgs.toTypedArray() as Float32Array, [8, 1, 28, 28]);
  const cfg = tiny({ localization: 'gbp' });
  const d = kdad.create(cfg, [1, 28, 28]) as KdadDetector;
  assert.throws(() => d.state(), /not fitted/);
  await d.fit(data, quiet);
  const test = torch.rand([3, 1, 28, 28]);
  const r = d.score(test);
  assert.equal(r.maps!.length, 3 * 28 * 28);
  const st = d.state();
  assert.equal(st.meta['student'], 'B');
  assert.ok(st.tensors.has('features.0.weight') && st.tensors.has('features.1.running_var'));
  const path = join(dir, 'kdad.safetensors');
  torch.saveSafetensors(path, st.tensors);
  const loaded = torch.loadSafetensors(path).tensors;
  const d2 = kdad.load(cfg, [1, 28, 28], { tensors: loaded, meta: st.meta });
  const r2 = d2.score(test);
  assert.deepEqual(r2.scores, r.scores);
  assert.deepEqual(r2.maps, r.maps);
  assert.throws(() => kdad.load({ ...cfg, student: 'A' }, [1, 28, 28], { tensors: loaded, meta: st.meta }), /cloner 'B'.*model\.student/);
  assert.throws(() => kdad.load({ ...cfg, imageSize: 64 }, [1, 28, 28], { tensors: loaded, meta: st.meta }), /32-pixel inputs.*model\.imageSize/);
  assert.throws(() => kdad.load(cfg, [1, 28, 28], { tensors: new Map(), meta: {} }), /no cloner weights/);
  torch.dispose([imgs, test, ...st.tensors.values(), ...loaded.values()]);
  d.dispose();
  d2.dispose();
  data.dispose();
});

test('scoring with maps leaks no tensors', async () => {
  const d = kdad.create(tiny({ localization: 'smoothgrad', smoothGrad: { samples: 2, sigma: 0.05 } }), [3, 32, 32]) as KdadDetector;
  const data = arrayTrainData(new Float32Array(4 * 3 * 32 * 32).fill(0.5), [4, 3, 32, 32]);
  await d.fit(data, quiet);
  const x = torch.keep(torch.rand([2, 3, 32, 32]));
  const once = (): void => { torch.tidy(() => torch.noGrad(() => d.score(x))); };
  once();
  const before = torch.memory().numTensors;
  for (let i = 0; i < 5; i++) once();
  const st = d.state();
  for (const loc of ['gradients', 'gbp'] as const) {
    const e = kdad.load({ ...d.config, localization: loc }, [3, 32, 32], st);
    const n0 = torch.memory().numTensors;
    for (let i = 0; i < 3; i++) torch.tidy(() => torch.noGrad(() => e.score(x)));
    assert.equal(torch.memory().numTensors, n0, `${loc}: tensors after scoring`);
    e.dispose();
  }
  torch.dispose([...st.tensors.values()]);
  assert.equal(torch.memory().numTensors, before);
  x.dispose();
  d.dispose();
  data.dispose();
});
