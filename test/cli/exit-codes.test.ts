// Exit codes as the CLI promises them: 2 with "internal error (please report it)" and a stack trace
// for a bug (a method's score() throwing a plain Error), 1 with one line and no stack for what the
// user can fix (the same plugin refusing the data with a MethodInputError; a corrupt weights file).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { vigil } from './helpers.js';

const BROKEN = fileURLToPath(new URL('./fixtures/broken.js', import.meta.url));
let dir: string;
const train = (out: string): string[] => ['train', '--method', 'broken', '--data', `synth:${join(dir, 'synth', 'woven')}`, '--set', 'preprocess.size=16', '--set', 'train.workers=0', '--out', out];

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'vigil-exit-'));
  const g = vigil(['datasets', 'synth', join(dir, 'synth'), '--categories', 'woven', '--size', '32', '--train', '4', '--test-good', '1', '--test-defect', '1']);
  assert.equal(g.code, 0, g.stderr);
});
after(() => rmSync(dir, { recursive: true, force: true }));

test('a plain Error thrown by a method exits 2, says "internal error (please report it)" and shows the stack', () => {
  const out = join(dir, 'score');
  const r = vigil(train(out), { VIGIL_PLUGINS: BROKEN, BROKEN_AT: 'score' });
  assert.equal(r.code, 2, `exit code 2 expected, got ${r.code}\n${r.stderr}`);
  assert.match(r.stderr, /(^|\n)vigil: internal error \(please report it\): Error: broken\.score: deliberate failure/);
  assert.match(r.stderr, /\n\s+at .*broken\.js/, 'the stack trace points into the method');
  assert.doesNotMatch(r.stderr, /vigil: error: /);
  assert.ok(!existsSync(join(out, 'model', 'manifest.json')), 'no model is saved');
});

test('the same plugin refusing the data with a MethodInputError exits 1 with one line', () => {
  const r = vigil(train(join(dir, 'create')), { VIGIL_PLUGINS: BROKEN, BROKEN_AT: 'create' });
  assert.equal(r.code, 1, `exit code 1 expected, got ${r.code}\n${r.stderr}`);
  assert.match(r.stderr, /(^|\n)vigil: error: broken: these images do not suit the method/);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  assert.doesNotMatch(r.stderr, /internal error/);
});

test('without a failure the plugin trains (the fixture itself is sound)', () => {
  const r = vigil([...train(join(dir, 'ok')), '--quiet'], { VIGIL_PLUGINS: BROKEN, BROKEN_AT: '' });
  assert.equal(r.code, 0, r.stderr);
});
