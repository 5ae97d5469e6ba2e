// The DRAEM presets (configs/draem) resolved as `vigil train --config <file>` resolves them, against
// the values the README states: mvtec/folder = the authors' settings, lite = the CPU preset whose
// synthetic-set results the README reports. No training here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CONFIGS_DIR, modelSchemaOf, resolveConfig, type VigilConfig } from '../../../src/pipeline/config.js';
import { buildNetworks, draem, milestoneEpochs, scoreWindowOf, type DraemConfig } from '../../../src/methods/draem/index.js';

const resolveYaml = (name: string, data: string): VigilConfig =>
  resolveConfig({ method: 'draem', modelSchema: modelSchemaOf(draem), configFile: join(CONFIGS_DIR, 'draem', `${name}.yaml`), data }).config;
const readme = readFileSync(new URL('../../../../src/methods/draem/README.md', import.meta.url), 'utf8');

test('mvtec and folder presets are the authors\' train_DRAEM.py settings (256², 128/64, 700 epochs of 8, lr 1e-4, ×0.2 at 560 and 630)', () => {
  for (const [name, data] of [['mvtec', 'mvtec:/data/mvtec/bottle'], ['folder', 'folder:/data/parts']] as const) {
    const m = resolveYaml(name, data).model as DraemConfig;
    assert.deepEqual([m.imageSize, m.reconstructiveWidth, m.discriminativeWidth], [256, 128, 64], name);
    assert.deepEqual(m.train, { epochs: 700, batchSize: 8, lr: 1e-4, milestones: [0.8, 0.9], gamma: 0.2, precision: 'float32' }, name);
    assert.deepEqual(milestoneEpochs(m.train.epochs, m.train.milestones), { milestones: [560, 630], unreachable: [] }, name);
    assert.equal(scoreWindowOf(m), 21, `${name}: the authors' 21×21 pooling`);
  }
  assert.equal((resolveYaml('mvtec', 'mvtec:/data/mvtec/bottle').model as DraemConfig).anomalySource, './datasets/dtd/images');
  assert.equal((resolveYaml('folder', 'folder:/data/parts').model as DraemConfig).anomalySource, 'procedural');
});

test('lite preset: 128², widths 16/16, 150 epochs of 8, lr 1e-3, ×0.2 at epochs 120 and 135, as its README row says', () => {
  const c = resolveYaml('lite', 'synth:/tmp/synth/woven');
  const m = c.model as DraemConfig;
  assert.deepEqual([m.imageSize, m.reconstructiveWidth, m.discriminativeWidth, m.anomalySource, m.initFrom, m.channelsLast], [128, 16, 16, 'procedural', null, false]);
  assert.deepEqual(m.train, { epochs: 150, batchSize: 8, lr: 1e-3, milestones: [0.8, 0.9], gamma: 0.2, precision: 'float32' });
  assert.deepEqual(milestoneEpochs(m.train.epochs, m.train.milestones), { milestones: [120, 135], unreachable: [] }, 'both lr drops are reached');
  assert.equal(scoreWindowOf(m), 11, 'the 21×21 window scaled to 128²');
  assert.equal(c.dataset.spec, 'synth:/tmp/synth/woven');
  // The README's preset table states the same numbers.
  const row = readme.split('\n').find((l) => l.startsWith('| `lite` |'));
  assert.ok(row, 'README has a `lite` row in its preset table');
  for (const s of ['128²', '16 / 16', '150', '1e-3', '120, 135']) assert.ok(row.includes(s), `README lite row mentions ${s}: ${row}`);
  // And its parameter counts, from the authors' constructors at these widths.
  const nets = buildNetworks({ reconstructiveWidth: m.reconstructiveWidth, discriminativeWidth: m.discriminativeWidth, channelsLast: false });
  try {
    const counts = [nets.reconstructive.numParameters(), nets.discriminative.numParameters()];
    for (const n of counts) assert.ok(row.includes(n.toLocaleString('en-US')), `README lite row gives ${n.toLocaleString('en-US')} parameters: ${row}`);
  } finally {
    nets.reconstructive.dispose();
    nets.discriminative.dispose();
  }
});

test('synth preset (picked for --data synth:…) is the lite preset', () => {
  const synth = resolveConfig({ method: 'draem', modelSchema: modelSchemaOf(draem), data: 'synth:/tmp/synth/woven' }).config;
  const lite = resolveYaml('lite', 'synth:/tmp/synth/woven');
  assert.deepEqual(synth.model, lite.model);
  assert.deepEqual(synth.train, lite.train);
});
