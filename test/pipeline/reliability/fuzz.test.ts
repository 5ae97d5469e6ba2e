// Fuzzing the run directory: 200 random single-field mutations of a real run's manifest.json and
// 50 random truncations of its model file. Each run of predict (and of test, for one case in ten)
// either exits 0 with verdicts and normalised scores that agree with the score and the threshold
// the (valid) manifest holds, or exits 1 with a message naming the file and the field. None exits
// 2, none crashes. The cases run in one child process (fixtures/fuzz-driver.ts) calling main().
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { mulberry32 } from '../../../src/data/random.js';
import type { FuzzCase, FuzzResult } from './fixtures/fuzz-driver.js';
import { parseCsv, synth, vigil } from './helpers.js';

const DRIVER = fileURLToPath(new URL('./fixtures/fuzz-driver.js', import.meta.url));
let dir: string;
let run: string;

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'vigil-fuzz-'));
  synth(join(dir, 'synth'));
  run = join(dir, 'run');
  const r = vigil(['train', '--method', 'pixelstats', '--data', `synth:${join(dir, 'synth', 'object')}`, '--set', 'preprocess.size=32', '--out', run, '--quiet']);
  assert.equal(r.code, 0, r.stderr);
});
after(() => rmSync(dir, { recursive: true, force: true }));

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type Path = Array<string | number>;

/** Every node below the root, with its path (of a long list, its first and last items only). */
function nodes(v: Json, path: Path = []): Array<{ path: Path; value: Json }> {
  const out: Array<{ path: Path; value: Json }> = path.length ? [{ path, value: v }] : [];
  if (Array.isArray(v)) v.forEach((x, i) => { if (v.length <= 4 || i === 0 || i === v.length - 1) out.push(...nodes(x, [...path, i])); });
  else if (v !== null && typeof v === 'object') for (const [k, x] of Object.entries(v)) out.push(...nodes(x, [...path, k]));
  return out;
}

/** Values a careless edit, a script or a disk error might leave, and near misses of the original. */
function replacements(orig: Json): Json[] {
  const generic: Json[] = [null, true, false, 0, -1, 1, 0.5, 3, 1e308, -1e308, 9007199254740993, 'abc', '', [], {}, [1, 2], { x: 1 }];
  if (typeof orig === 'number') return [...generic, orig * 2, orig + 1, -orig, orig / 3, Math.round(orig), orig * 1e6, String(orig)];
  if (typeof orig === 'string') return [...generic, `${orig}x`, orig.toUpperCase(), orig.slice(0, -1)];
  if (Array.isArray(orig)) return [...generic, [...orig, ...orig], orig.slice(1), [orig]];
  return generic;
}

const dotted = (path: Path): string => path.map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i > 0 ? '.' : ''}${p}`)).join('');

function cases(manifest: Json, modelSize: number): FuzzCase[] {
  const rng = mulberry32(20261202);
  const pick = <T>(a: readonly T[]): T => a[Math.floor(rng.next() * a.length)]!;
  const all = nodes(manifest);
  const out: FuzzCase[] = [];
  for (let i = 0; i < 200; i++) {
    const n = pick(all);
    const r = rng.next();
    if (r < 0.2) out.push({ kind: 'manifest', path: n.path, op: 'delete' });
    else if (r < 0.3 && n.value !== null && typeof n.value === 'object' && !Array.isArray(n.value)) out.push({ kind: 'manifest', path: [...n.path, 'fuzzExtra'], op: 'set', value: 1 });
    else out.push({ kind: 'manifest', path: n.path, op: 'set', value: pick(replacements(n.value)) });
    if (i % 10 === 0) out[out.length - 1]!.test = true;
  }
  for (let i = 0; i < 50; i++) out.push({ kind: 'truncate', length: Math.floor(rng.next() * modelSize), test: i % 10 === 0 });
  return out;
}

/**
 * The normalised score and verdict the manifest's values imply (docs: linear from the lowest
 * normal calibration score, 0, to the threshold, 0.5; above it 1 − ½·d/(d + s − t), d = t − min).
 */
function implied(m: any, score: number): { normalised: number; verdict: string } {
  const t = m.threshold.image.value as number;
  const n = m.normalisation.image as { min: number; max: number };
  let d = t - n.min;
  if (!(d > 0)) d = n.max - n.min > 0 ? n.max - n.min : 1;
  const normalised = score >= t ? 1 - (0.5 * d) / (d + score - t) : Math.max(0, 0.5 - (0.5 * (t - score)) / d);
  return { normalised, verdict: score >= t ? 'anomalous' : 'normal' };
}

test('200 manifest mutations and 50 model truncations: exit 0 with consistent verdicts, or exit 1 naming the field', () => {
  const manifest = JSON.parse(readFileSync(join(run, 'model', 'manifest.json'), 'utf8')) as Json;
  const list = cases(manifest, statSync(join(run, 'model', 'model.safetensors')).size);
  const images = [join(dir, 'synth', 'object', 'test', 'good', '000.png'), join(dir, 'synth', 'object', 'test', 'hole', '000.png')];
  const spec = join(dir, 'fuzz.json');
  writeFileSync(spec, JSON.stringify({ pristine: run, work: join(dir, 'work'), images, cases: list }));
  const child = spawnSync(process.execPath, [DRIVER, spec], { encoding: 'utf8', maxBuffer: 1 << 28 });
  const lines = child.stdout.trim().split('\n').map((l) => JSON.parse(l) as FuzzResult & { start?: number; done?: number });
  const started = lines.filter((l) => l.start !== undefined).pop()?.start;
  assert.equal(child.status, 0, `the driver died (status ${child.status}, signal ${child.signal}) during case ${started}: ${JSON.stringify(list[started ?? 0])}\n${child.stderr}`);
  assert.equal(lines.pop()?.done, list.length);
  const results = lines.filter((l) => l.verb !== undefined);
  const tally = { ok: 0, refused: 0, named: 0 };
  for (const r of results) {
    const c = list[r.i]!;
    const what = `case ${r.i} (${c.kind === 'manifest' ? `${c.op} ${dotted(c.path!)}${c.op === 'set' ? ` = ${JSON.stringify(c.value)}` : ''}` : `truncate to ${c.length} bytes`}), vigil ${r.verb}`;
    assert.ok(r.code === 0 || r.code === 1, `${what}: exit ${r.code}\n${r.stderr}`);
    if (r.code === 1) {
      tally.refused++;
      assert.match(r.stderr, /^vigil: error: /, `${what}: ${r.stderr}`);
      assert.doesNotMatch(r.stderr, /\n\s+at /, `${what}: no stack trace`);
      if (c.kind === 'truncate') {
        assert.ok(r.stderr.includes('model.safetensors'), `${what}: names the model file\n${r.stderr}`);
        continue;
      }
      assert.ok(r.stderr.includes('manifest.json'), `${what}: names manifest.json\n${r.stderr}`);
      // The field, or the section it is in (a wrong `kind` makes the whole section wrong).
      const ancestors = c.path!.map((_, k) => dotted(c.path!.slice(0, k + 1))).filter((p) => !/^\[/.test(p));
      assert.ok(ancestors.some((p) => r.stderr.includes(p)), `${what}: names the field\n${r.stderr}`);
      if (r.stderr.includes(dotted(c.path!))) tally.named++;
      continue;
    }
    tally.ok++;
    assert.equal(c.kind, 'manifest', `${what}: a truncated model file cannot load`);
    assert.ok(r.csv, `${what}: exit 0 wrote its CSV`);
    const rows = parseCsv(r.csv!);
    assert.equal(rows.length, r.verb === 'predict' ? images.length : 13, `${what}: every image has a row`);
    for (const row of rows) {
      const score = Number(row.score);
      const want = implied(r.manifest, score);
      const got = Number(row.normalised_score);
      assert.ok(Number.isFinite(score), `${what}: finite score`);
      assert.equal(row.verdict, want.verdict, `${what}: verdict of score ${score}`);
      assert.ok(Math.abs(got - want.normalised) <= 1e-12, `${what}: normalised ${got}, the manifest implies ${want.normalised}`);
      if (got > 0.5) assert.equal(row.verdict, 'anomalous', `${what}: normalised ${got} above 0.5 but normal`);
      if (got < 0.5) assert.equal(row.verdict, 'normal', `${what}: normalised ${got} below 0.5 but anomalous`);
    }
  }
  assert.equal(results.filter((r) => r.verb === 'predict').length, 250);
  // Both outcomes occur: the fuzzing is neither all-harmless nor all-fatal.
  assert.ok(tally.ok > 10 && tally.refused > 100, JSON.stringify(tally));
  process.stdout.write(`# fuzz: ${tally.ok} runs exited 0 (consistent), ${tally.refused} exited 1 (${tally.named} naming the exact field)\n`);
});
