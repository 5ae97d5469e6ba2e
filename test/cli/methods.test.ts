// `vigil methods`: the built-in methods with their descriptions, plus those of VIGIL_PLUGINS modules.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { vigil } from './helpers.js';

const BROKEN = fileURLToPath(new URL('./fixtures/broken.js', import.meta.url));

test('methods lists the built-ins (human and JSON) and a plugin\'s methods', () => {
  const j = vigil(['methods', '--json']);
  assert.equal(j.code, 0, j.stderr);
  const list = JSON.parse(j.stdout) as Array<{ name: string; description: string }>;
  const names = list.map((m) => m.name);
  assert.deepEqual(names, [...names].sort(), 'sorted by name');
  for (const m of ['dcae', 'dsvdd', 'patchcore', 'pixelstats']) assert.ok(names.includes(m), `${m} in ${names.join(', ')}`);
  assert.match(list.find((m) => m.name === 'patchcore')!.description, /^PatchCore \(Roth et al\., CVPR 2022\)/);
  const h = vigil(['methods']);
  assert.equal(h.code, 0, h.stderr);
  for (const m of list) assert.ok(h.stdout.includes(`${m.name.padEnd(12)} ${m.description}`), `${m.name} row:\n${h.stdout}`);
  const p = vigil(['methods', '--json'], { VIGIL_PLUGINS: BROKEN });
  assert.equal(p.code, 0, p.stderr);
  assert.deepEqual((JSON.parse(p.stdout) as Array<{ name: string }>).map((m) => m.name), [...names, 'broken'].sort(), 'the plugin joins the list');
  const missing = vigil(['methods'], { VIGIL_PLUGINS: '/nonexistent/plugin.js' });
  assert.equal(missing.code, 1, missing.stderr);
  assert.match(missing.stderr, /vigil: error: VIGIL_PLUGINS: module \/nonexistent\/plugin\.js does not exist/);
});
