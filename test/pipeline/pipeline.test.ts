// Unit tests of the config layering/schema, thresholds/normalisation and heatmap projection.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { deepMerge, parseSet, parseWith, renameDeprecatedKeys, resolveConfig, rootSchema, schemaFromDefaults } from '../../src/pipeline/config.js';
import { ConfigError } from '../../src/pipeline/errors.js';
import { chooseThreshold, normalise, quantile } from '../../src/pipeline/threshold.js';
import { mapToOriginal } from '../../src/pipeline/visual.js';
import { parseDataSpec } from '../../src/pipeline/data.js';

test('deepMerge merges mappings and replaces lists; parseSet reads YAML scalars', () => {
  assert.deepEqual(deepMerge({ a: { b: 1, c: [1, 2] }, d: 1 }, { a: { c: [3] }, e: 2 }), { a: { b: 1, c: [3] }, d: 1, e: 2 });
  assert.deepEqual(parseSet('train.batchSize=64'), { train: { batchSize: 64 } });
  assert.deepEqual(parseSet('threshold.value=null'), { threshold: { value: null } });
  assert.deepEqual(parseSet('model.layers=[layer2, layer3]'), { model: { layers: ['layer2', 'layer3'] } });
  assert.deepEqual(parseSet('dataset.spec=folder:/a=b'), { dataset: { spec: 'folder:/a=b' } });
  assert.throws(() => parseSet('novalue'), /key\.path=value/);
});

test('schema: defaults fill in; every violation is reported at once with its key path', () => {
  const model = schemaFromDefaults({ k: 3, name: 'x', nested: { on: true } });
  const schema = rootSchema(model);
  const ok = parseWith(schema, { method: 'm', model: {}, dataset: { spec: 'fmnist:0' } });
  assert.equal(ok.threshold.quantile, 0.99);
  assert.equal(ok.train.batchSize, 32);
  assert.deepEqual(ok.model, { k: 3, name: 'x', nested: { on: true } });
  let err: unknown;
  try {
    parseWith(schema, {
      method: 'm',
      seed: 1.5,
      dataset: { spec: 'fmnist:0', valFromTest: 2 },
      model: { k: 'three', nested: { of: 1 } },
      threshold: { rule: 'best' },
      output: { colour: 'red' },
    });
  } catch (e) { err = e; }
  assert.ok(err instanceof ConfigError, String(err));
  const byPath = new Map(err.issues.map((i) => [i.path, i.message]));
  assert.deepEqual([...byPath.keys()].sort(), ['dataset.valFromTest', 'model.k', 'model.nested.of', 'output.colour', 'seed', 'threshold.rule']);
  assert.match(byPath.get('model.k')!, /expected a number, got "three" \(string\)/);
  assert.match(byPath.get('model.nested.of')!, /unknown key \(valid keys in 'model\.nested': on\)/);
  assert.match(byPath.get('output.colour')!, /valid keys in 'output': dir, images/);
  assert.match(byPath.get('threshold.rule')!, /one of "auto", "tolerance", "f1", "quantile", "manual", got "best"/);
  assert.match(byPath.get('seed')!, /expected an integer >= 0, got 1\.5/);
  assert.match(byPath.get('dataset.valFromTest')!, /<= 0\.9, got 2/);
  assert.match(err.message, /✖ model\.k: /);
});

test('config: snake_case spellings of keys still work, reported as deprecated; schema-less plugins keep theirs', () => {
  const r = resolveConfig({ method: 'pixelstats', modelSchema: schemaFromDefaults({ min_std: 0.1 }), data: 'fmnist:0', set: ['dataset.val_from_test=0.2', 'train.batch_size=7', 'model.min_std=0.5'] });
  assert.equal(r.config.dataset.valFromTest, 0.2);
  assert.equal(r.config.train.batchSize, 7);
  assert.deepEqual(r.config.model, { min_std: 0.5 }, 'a snake key the method itself uses is not renamed');
  assert.equal(r.warnings.length, 2);
  assert.match(r.warnings.join('\n'), /deprecated key spelling 'dataset\.val_from_test'/);
  const schema = rootSchema(schemaFromDefaults({}));
  assert.deepEqual(renameDeprecatedKeys({ preprocess: { transforms: [{ op: 'resize', some_key: 1 }] } }, schema).renamed, [], 'list items are left alone');
});

test('quantile interpolates linearly (numpy default); thresholds by rule', () => {
  assert.equal(quantile([1, 2, 3, 4, 5], 0.5), 3);
  assert.equal(quantile([1, 2, 3, 4], 0.5), 2.5);
  assert.ok(Math.abs(quantile([0, 10], 0.99) - 9.9) < 1e-12);
  const t = { rule: 'quantile' as const, targetFpr: 0.01, confidence: 0.9, quantile: 0.5, value: null };
  const q = chooseThreshold(t, { normal: Float32Array.of(1, 2, 3) });
  assert.deepEqual([q.rule, q.value], ['quantile', 2]);
  // auto = tolerance, whether or not there is a labelled validation split.
  const a = chooseThreshold({ ...t, rule: 'auto' }, { normal: Float32Array.of(1, 2, 3), val: { scores: Float32Array.of(0.1, 3), labels: Uint8Array.of(0, 1) } });
  assert.equal(a.rule, 'tolerance');
  assert.ok(a.value > 3);
  // f1: the F1-optimal cut between the classes, moved to the middle of the gap (geometric for positive scores).
  const f = chooseThreshold({ ...t, rule: 'f1' }, { normal: Float32Array.of(1), val: { scores: Float32Array.of(0.1, 0.2, 0.8, 0.9), labels: Uint8Array.of(0, 0, 1, 1) } });
  assert.equal(f.rule, 'f1');
  assert.ok(Math.abs(f.value - Math.sqrt(Math.fround(0.2) * Math.fround(0.8))) < 1e-7, String(f.value));
  assert.throws(() => chooseThreshold({ ...t, rule: 'f1' }, { normal: Float32Array.of(1) }), /labelled validation split/);
});

test('normalisation: the lowest normal score → 0, the threshold → 0.5, strong and weak defects stay apart below 1', () => {
  const n = { threshold: 4, min: 2, max: 6 };
  assert.equal(normalise(2, n), 0);
  assert.equal(normalise(3, n), 0.25);
  assert.equal(normalise(4, n), 0.5);
  assert.ok(Math.abs(normalise(6, n) - 0.75) < 1e-12, 'one threshold-to-min distance above → 0.75');
  assert.ok(normalise(100, n) < normalise(1000, n) && normalise(1000, n) < 1);
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
