// The config reference is generated from the schemas: docs/config.md is current, and every key the
// reference lists exists with the default that parsing an empty config gives.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { listMethods, getMethod } from '../../src/pipeline/registry.js';
import { methodInfo, pipelineKeys } from '../../src/pipeline/info.js';
import { rootSchema, modelSchemaOf } from '../../src/pipeline/config.js';
import { z } from 'zod';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const at = (o: unknown, key: string): unknown => key.split('.').reduce<unknown>((v, k) => (v as Record<string, unknown> | undefined)?.[k], o);

test('docs/config.md is what scripts/config-reference.mjs generates from the schemas', () => {
  const r = spawnSync(process.execPath, ['scripts/config-reference.mjs', '--check'], { cwd: root, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
});

test("every method's listed keys are its defaults' leaves, with the same values", async () => {
  for (const { name } of await listMethods()) {
    const m = await methodInfo(name);
    const defaults = (await getMethod(name)).defaults as Record<string, unknown>;
    const leaves = (o: unknown, p: string): string[] => (o && typeof o === 'object' && !Array.isArray(o)
      ? Object.entries(o).flatMap(([k, v]) => leaves(v, p ? `${p}.${k}` : k)) : [p]);
    assert.deepEqual(m.keys.map((k) => k.key).sort(), leaves(defaults, 'model').sort(), name);
    for (const k of m.keys) assert.deepEqual(k.default, at({ model: defaults }, k.key), `${name}: ${k.key}`);
    // And the schema accepts each default back (a listed key is a real key).
    const schema = modelSchemaOf(await getMethod(name));
    assert.ok(schema.safeParse(defaults).success, name);
  }
});

test('pipeline keys: defaults as parsing a config with only a method gives; unknown keys are not listed', () => {
  const parsed = rootSchema(z.strictObject({})).parse({ method: 'x', model: {} });
  const keys = pipelineKeys();
  assert.ok(keys.some((k) => k.key === 'threshold.targetFpr' && k.default === 0.05 && /\(0, 1\)/.test(k.accepts)));
  for (const k of keys) assert.deepEqual(k.default, at(parsed, k.key), k.key);
});

test('vigil methods <name> prints the keys; an unknown name exits 1', () => {
  const cli = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
  const r = spawnSync(process.execPath, [cli, 'methods', 'patchcore'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /model\.backbone\.name\s+/);
  assert.match(r.stdout, /presets \(configs\/patchcore\/.*\): .*mvtec/);
  const bad = spawnSync(process.execPath, [cli, 'methods', 'nosuch'], { encoding: 'utf8' });
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /unknown method 'nosuch'/);
});
