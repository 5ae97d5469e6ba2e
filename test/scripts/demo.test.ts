// `npm run demo`'s script (scripts/demo.mjs, after setup) as a user runs it, with an empty torch hub
// cache so it takes the random-init path on every machine: it ends with exit 0, its summary is what
// the run directory says, and its new images are judged as the files it points to say.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseCsv } from '../cli/helpers.js';

const ROOT = resolve(fileURLToPath(new URL('../../..', import.meta.url)));
const dir = mkdtempSync(join(tmpdir(), 'vigil-demo-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('the demo runs to its summary, and the summary and predictions match the files it names', () => {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
  assert.match(pkg.scripts.demo!, /node scripts\/demo\.mjs$/, 'npm run demo runs this script');
  const out = join(dir, 'demo');
  const r = spawnSync(process.execPath, [join(ROOT, 'scripts', 'demo.mjs')], {
    cwd: dir, encoding: 'utf8', env: { ...process.env, VIGIL_DEMO_DIR: out, TORCH_HOME: join(dir, 'no-torch-home') },
  });
  assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
  const text = r.stdout + r.stderr;
  assert.match(text, /RANDOMLY INITIALISED ResNet-18/, 'says the backbone is random without ImageNet weights');
  const run = join(out, 'runs', 'patchcore-grainy');
  const m = JSON.parse(readFileSync(join(run, 'metrics.json'), 'utf8'));
  const c = m.confusion;
  assert.ok(text.includes(`PatchCore on grainy:   ${c.tp} of ${c.tp + c.fn} defects NG, ${c.fp} of ${c.fp + c.tn} good parts NG; image AUROC ${m.image.auroc.toFixed(3)}, pixel AUROC ${m.pixel.auroc.toFixed(3)}`), text);
  for (const f of ['report.html', 'scores.csv', 'model/manifest.json']) assert.ok(existsSync(join(run, f)), f);
  const thr = JSON.parse(readFileSync(join(run, 'model', 'manifest.json'), 'utf8')).threshold.image.value;
  const preds = parseCsv(readFileSync(join(out, 'predictions', 'predictions.csv'), 'utf8'));
  assert.equal(preds.length, 3 + 5, 'three new good images and one of each defect type');
  for (const p of preds) {
    assert.equal(p.verdict, Number(p.score) >= thr ? 'anomalous' : 'normal', p.path);
    // What the demo shows: the new defects NG, the new good parts OK.
    assert.equal(p.verdict, p.path!.includes('/good/') ? 'normal' : 'anomalous', `${p.path}: score ${p.score}, threshold ${thr}`);
    assert.ok(existsSync(join(out, 'predictions', p.heatmap!)) && existsSync(join(out, 'predictions', p.mask!)), `${p.path}: heatmap and mask`);
  }
  assert.match(text, /Done in \d+ s\. Where to look:/);
});
