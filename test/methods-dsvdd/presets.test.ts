// The YAML presets (configs/dsvdd, configs/dcae) and DSVDD_PRESETS must say the same thing: each
// YAML is resolved the way `vigil train --config <file>` resolves it and compared with the TS preset.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { CONFIGS_DIR, modelSchemaOf, resolveConfig, type VigilConfig } from '../../src/pipeline/config.js';
import { DSVDD_MIN_MAX } from '../../src/data/dsvdd-preprocess.js';
import { dcae, dsvdd, DSVDD_PRESETS, resolveDcaeConfig, resolveDsvddConfig, type DsvddPreset } from '../../src/methods/dsvdd/index.js';

const SPEC_KIND = { 'fashion-mnist': 'fmnist', mnist: 'mnist', cifar10: 'cifar10' } as const;

function resolveYaml(method: 'dsvdd' | 'dcae', name: string, data?: string): VigilConfig {
  return resolveConfig({ method, modelSchema: modelSchemaOf(method === 'dsvdd' ? dsvdd : dcae), configFile: join(CONFIGS_DIR, method, `${name}.yaml`), ...(data ? { data } : {}) }).config;
}

const PREPROCESS: Record<DsvddPreset['preprocessing'], { gcn: string; minMax: string }> = {
  unit: { gcn: 'none', minMax: 'none' },
  'gcn-l1-minmax': { gcn: 'l1', minMax: 'dsvdd' },
};

test('every YAML preset equals its DSVDD_PRESETS entry (model, preprocessing, data)', () => {
  for (const [name, preset] of Object.entries(DSVDD_PRESETS) as Array<[string, DsvddPreset]>) {
    const spec = `${SPEC_KIND[preset.dataset]}:${preset.normalClass ?? 0}`;
    // Class-specific presets carry their data spec; the others get it from --data.
    const data = preset.normalClass === undefined ? spec : undefined;
    const s = resolveYaml('dsvdd', name, data);
    const a = resolveYaml('dcae', name, data);
    assert.equal(s.dataset.spec, spec, `${name}: dataset`);
    assert.equal(a.dataset.spec, spec, `${name}: dcae dataset`);
    assert.deepEqual(resolveDsvddConfig(s.model as never), resolveDsvddConfig(preset.dsvdd), `configs/dsvdd/${name}.yaml vs DSVDD_PRESETS['${name}'].dsvdd`);
    assert.deepEqual(resolveDcaeConfig(a.model as never), resolveDcaeConfig(preset.dcae), `configs/dcae/${name}.yaml vs DSVDD_PRESETS['${name}'].dcae`);
    for (const c of [s, a]) {
      assert.deepEqual({ gcn: c.preprocess.gcn, minMax: c.preprocess.minMax }, PREPROCESS[preset.preprocessing], `${name}: preprocessing`);
    }
    // The pretraining stage of the one-run form is the DCAE of the two-run form.
    const { loss, ...pre } = preset.dsvdd.pretrain;
    assert.deepEqual({ ...pre, loss }, { ...preset.dcae.train, loss: preset.dcae.loss }, `${name}: dsvdd.pretrain = dcae`);
    // The published protocols train on every normal training image.
    // The short preset (the demo's) holds 10 % out for a calibrated threshold.
    const holdout = name.endsWith('-short') ? 0.1 : 0;
    assert.equal(s.threshold.holdout, holdout, `${name}: dsvdd holdout`);
    assert.equal(a.threshold.holdout, holdout, `${name}: dcae holdout`);
  }
});

test('no YAML preset without a DSVDD_PRESETS entry', () => {
  for (const method of ['dsvdd', 'dcae']) {
    for (const f of readdirSync(join(CONFIGS_DIR, method))) {
      assert.ok(f.replace(/\.yaml$/, '') in DSVDD_PRESETS, `configs/${method}/${f} has no DSVDD_PRESETS entry`);
    }
  }
});

test('paper settings: F-MNIST = Deep SAD, MNIST/CIFAR-10 = Deep SVDD README, OpenOOD cat with the correct constants', () => {
  const f = DSVDD_PRESETS.fmnist;
  assert.equal(f.preprocessing, 'unit');
  assert.deepEqual(f.dcae.train, { epochs: 150, lr: 1e-4, milestones: [50], gamma: 0.1, weightDecay: 0.5e-3, batchSize: 128, amsgrad: false });
  assert.equal(f.dcae.loss, 'mean');
  assert.deepEqual(f.dsvdd.train, { epochs: 150, lr: 1e-4, milestones: [50], gamma: 0.1, weightDecay: 0.5e-6, batchSize: 128, amsgrad: false });
  for (const name of ['mnist', 'cifar10'] as const) {
    const p = DSVDD_PRESETS[name];
    assert.equal(p.preprocessing, 'gcn-l1-minmax');
    assert.equal(p.dcae.loss, 'sum', `${name}: Deep SVDD's AETrainer sums per image`);
    assert.deepEqual(p.dsvdd.train, { epochs: 150, lr: 1e-4, milestones: [50], gamma: 0.1, weightDecay: 0.5e-6, batchSize: 200, amsgrad: false });
  }
  assert.deepEqual(DSVDD_PRESETS.mnist.dcae.train, { epochs: 150, lr: 1e-4, milestones: [50], gamma: 0.1, weightDecay: 0.5e-3, batchSize: 200, amsgrad: false });
  assert.deepEqual(DSVDD_PRESETS.cifar10.dcae.train, { epochs: 350, lr: 1e-4, milestones: [250], gamma: 0.1, weightDecay: 0.5e-6, batchSize: 200, amsgrad: false });
  const oo = DSVDD_PRESETS['cifar10-3-openood'];
  assert.equal(oo.normalClass, 3);
  for (const s of [oo.dcae.train, oo.dsvdd.train]) assert.deepEqual(s, { epochs: 150, lr: 1e-4, milestones: [50], gamma: 0.1, weightDecay: 5e-7, batchSize: 200, amsgrad: false });
  // Normalize(mean = min, std = max − min) with class 3's constants, not OpenOOD's 3·min.
  const mm = DSVDD_MIN_MAX.cifar10[3]!;
  assert.ok(Math.abs(mm.min - -10.599173) < 1e-6 && Math.abs(mm.max - mm.min - 21.692361) < 1e-6, JSON.stringify(mm));
});
