// The YAML presets (configs/dsvdd, configs/dcae) are the single source of the published settings:
// each is resolved the way `vigil train --config <file>` resolves it and checked against the
// papers' and authors' values written out here; the DCAE preset of a name is the pretraining
// stage of the Deep SVDD preset of that name.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { CONFIGS_DIR, modelSchemaOf, resolveConfig, type VigilConfig } from '../../../src/pipeline/config.js';
import { DSVDD_MIN_MAX } from '../../../src/data/dsvdd-preprocess.js';
import { dcae, dsvdd, type DcaeConfig, type DsvddConfig } from '../../../src/methods/dsvdd/index.js';

function resolveYaml(method: 'dsvdd' | 'dcae', name: string, data: string): VigilConfig {
  return resolveConfig({ method, modelSchema: modelSchemaOf(method === 'dsvdd' ? dsvdd : dcae), configFile: join(CONFIGS_DIR, method, `${name}.yaml`), data }).config;
}

const NAMES = readdirSync(join(CONFIGS_DIR, 'dsvdd')).map((f) => f.replace(/\.yaml$/, '')).sort();
const DATA: Record<string, string> = { fmnist: 'fmnist:0', 'fmnist-short': 'fmnist:0', mnist: 'mnist:0', cifar10: 'cifar10:0', 'cifar10-3-openood': 'cifar10:3' };
const stage = (epochs: number, milestones: number[], weightDecay: number, batchSize: number) => ({ epochs, lr: 1e-4, milestones, gamma: 0.1, weightDecay, batchSize, amsgrad: false });

test('every Deep SVDD preset has a DCAE twin whose training is its pretraining stage', () => {
  assert.deepEqual(readdirSync(join(CONFIGS_DIR, 'dcae')).map((f) => f.replace(/\.yaml$/, '')).sort(), NAMES);
  for (const name of NAMES) {
    const s = resolveYaml('dsvdd', name, DATA[name]!);
    const a = resolveYaml('dcae', name, DATA[name]!);
    const sm = s.model as DsvddConfig;
    const am = a.model as DcaeConfig;
    const { loss, ...pre } = sm.pretrain;
    assert.deepEqual({ ...pre, loss }, { ...am.train, loss: am.loss }, `${name}: dsvdd.pretrain = dcae.train`);
    assert.equal(sm.network, am.network, `${name}: network`);
    assert.deepEqual(s.preprocess, a.preprocess, `${name}: preprocessing`);
    assert.deepEqual([s.dataset.limitTrain, s.dataset.limitTest], [a.dataset.limitTrain, a.dataset.limitTest], `${name}: data limits`);
    // The published protocols train on every normal training image; the demo's short preset holds 10 % out.
    const holdout = name.endsWith('-short') ? 0.1 : 0;
    assert.equal(s.threshold.holdout, holdout, `${name}: dsvdd holdout`);
    assert.equal(a.threshold.holdout, holdout, `${name}: dcae holdout`);
  }
});

test('paper settings: F-MNIST = Deep SAD, MNIST/CIFAR-10 = Deep SVDD README, OpenOOD cat with the correct constants', () => {
  const f = resolveYaml('dsvdd', 'fmnist', 'fmnist:0');
  assert.deepEqual([f.preprocess.gcn, f.preprocess.minMax], ['none', 'none'], 'Deep SAD: pixels / 255 only');
  const fm = f.model as DsvddConfig;
  assert.deepEqual({ ...fm.pretrain, loss: undefined }, { ...stage(150, [50], 0.5e-3, 128), loss: undefined });
  assert.equal(fm.pretrain.loss, 'mean', 'Deep SAD AETrainer: MSELoss (element mean)');
  assert.deepEqual(fm.train, stage(150, [50], 0.5e-6, 128));
  assert.deepEqual([fm.network, fm.objective], ['fmnist', 'one-class']);
  for (const name of ['mnist', 'cifar10'] as const) {
    const c = resolveYaml('dsvdd', name, `${name}:0`);
    assert.deepEqual([c.preprocess.gcn, c.preprocess.minMax], ['l1', 'dsvdd'], `${name}: GCN-L1 + min-max`);
    const m = c.model as DsvddConfig;
    assert.equal(m.pretrain.loss, 'sum', `${name}: Deep SVDD's AETrainer sums per image`);
    assert.deepEqual(m.train, stage(150, [50], 0.5e-6, 200));
  }
  const { loss: _l1, ...mnistPre } = (resolveYaml('dsvdd', 'mnist', 'mnist:0').model as DsvddConfig).pretrain;
  assert.deepEqual(mnistPre, stage(150, [50], 0.5e-3, 200));
  const { loss: _l2, ...cifarPre } = (resolveYaml('dsvdd', 'cifar10', 'cifar10:0').model as DsvddConfig).pretrain;
  assert.deepEqual(cifarPre, stage(350, [250], 0.5e-6, 200));
  const oo = resolveYaml('dsvdd', 'cifar10-3-openood', 'cifar10:3');
  assert.equal(oo.dataset.spec, 'cifar10:3');
  const om = oo.model as DsvddConfig;
  const { loss: _l3, ...ooPre } = om.pretrain;
  for (const s of [ooPre, om.train]) assert.deepEqual(s, { ...stage(150, [50], 5e-7, 200) });
  // Normalize(mean = min, std = max − min) with class 3's constants, not OpenOOD's 3·min.
  const mm = DSVDD_MIN_MAX.cifar10[3]!;
  assert.ok(Math.abs(mm.min - -10.599173) < 1e-6 && Math.abs(mm.max - mm.min - 21.692361) < 1e-6, JSON.stringify(mm));
  assert.deepEqual([oo.preprocess.gcn, oo.preprocess.minMax], ['l1', 'dsvdd']);
});
