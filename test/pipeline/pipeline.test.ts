// Unit tests of the config layering/schema, thresholds/normalisation and heatmap projection.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultConfig, configSchema, deepMerge, parseSet, validate } from '../../src/pipeline/config.js';
import { chooseThreshold, normalise, quantile } from '../../src/pipeline/threshold.js';
import { mapToOriginal } from '../../src/pipeline/visual.js';
import { parseDataSpec } from '../../src/pipeline/data.js';

test('deepMerge merges mappings and replaces lists; parseSet reads YAML scalars', () => {
  assert.deepEqual(deepMerge({ a: { b: 1, c: [1, 2] }, d: 1 }, { a: { c: [3] }, e: 2 }), { a: { b: 1, c: [3] }, d: 1, e: 2 });
  assert.deepEqual(parseSet('train.batch_size=64'), { train: { batch_size: 64 } });
  assert.deepEqual(parseSet('threshold.value=null'), { threshold: { value: null } });
  assert.deepEqual(parseSet('model.layers=[layer2, layer3]'), { model: { layers: ['layer2', 'layer3'] } });
  assert.deepEqual(parseSet('dataset.spec=folder:/a=b'), { dataset: { spec: 'folder:/a=b' } });
  assert.throws(() => parseSet('novalue'), /key\.path=value/);
});

test('schema: defaults validate; unknown keys and wrong types are named', () => {
  const model = { k: 3, name: 'x', nested: { on: true } };
  const cfg = { ...defaultConfig('m', model), dataset: { ...defaultConfig('m', model).dataset, spec: 'fmnist:0' } };
  validate(cfg, configSchema(model));
  assert.throws(() => validate(deepMerge(cfg, { model: { nested: { of: 1 } } }), configSchema(model)), /unknown key 'model\.nested\.of' \(valid keys in 'model\.nested': on\)/);
  assert.throws(() => validate(deepMerge(cfg, { model: { k: 'three' } }), configSchema(model)), /'model\.k' must be a number, got "three" \(string\)/);
  assert.throws(() => validate(deepMerge(cfg, { threshold: { rule: 'best' } }), configSchema(model)), /'threshold\.rule' must be one of auto, f1, quantile, manual/);
});

test('quantile interpolates linearly (numpy default); thresholds by rule', () => {
  assert.equal(quantile([1, 2, 3, 4, 5], 0.5), 3);
  assert.equal(quantile([1, 2, 3, 4], 0.5), 2.5);
  assert.ok(Math.abs(quantile([0, 10], 0.99) - 9.9) < 1e-12);
  const q = chooseThreshold('auto', 0.5, null, { normal: Float32Array.of(1, 2, 3) });
  assert.deepEqual([q.rule, q.value], ['quantile', 2]);
  // Labelled validation: the F1-optimal cut between the classes.
  const f = chooseThreshold('auto', 0.99, null, { normal: Float32Array.of(1), val: { scores: Float32Array.of(0.1, 0.2, 0.8, 0.9), labels: Uint8Array.of(0, 0, 1, 1) } });
  assert.deepEqual([f.rule, Math.fround(f.value)], ['f1', Math.fround(0.8)]);
  assert.throws(() => chooseThreshold('f1', 0.99, null, { normal: Float32Array.of(1) }), /labelled validation split/);
});

test('normalisation maps the threshold to 0.5 and clamps', () => {
  const n = { threshold: 4, min: 2, max: 6 };
  assert.equal(normalise(4, n), 0.5);
  assert.equal(normalise(5, n), 0.75);
  assert.equal(normalise(100, n), 1);
  assert.equal(normalise(-100, n), 0);
});

test('maps are projected back through resize and centre crop', () => {
  // Original 200×100 (H×W) → resize 50 (short side: 100×50) → centre crop 50×50: rows 25..74 of the resized image.
  const spec = [{ op: 'resize' as const, size: 50 }, { op: 'centerCrop' as const, size: 50 }];
  const map = new Float32Array(50 * 50);
  map[10 * 50 + 20] = 1; // model pixel (y 10, x 20) → resized (35, 20) → original ≈ (70.5, 40.5)
  const full = mapToOriginal(map, 50, 50, spec, 200, 100, -1);
  let best = 0, at = -1;
  full.forEach((v, i) => { if (v > best) { best = v; at = i; } });
  const y = Math.floor(at / 100), x = at % 100;
  assert.ok(Math.abs(y - 70.5) <= 1 && Math.abs(x - 40.5) <= 1, `peak at (${y}, ${x})`);
  assert.equal(full[0], -1, 'outside the crop window');
  assert.equal(full[199 * 100], -1);
  assert.equal(full[100 * 100 + 50], 0, 'inside the window');
});

test('data specs', () => {
  assert.deepEqual(parseDataSpec('fmnist:3'), { kind: 'oneclass', dataset: 'fashion-mnist', normalClass: 3 });
  assert.deepEqual(parseDataSpec('synth:/tmp/x/object'), { kind: 'synth', root: '/tmp/x', category: 'object' });
  assert.deepEqual(parseDataSpec('synth:/tmp/x', 'grainy'), { kind: 'synth', root: '/tmp/x', category: 'grainy' });
  assert.throws(() => parseDataSpec('cifar10:x'), /0\.\.9/);
});
