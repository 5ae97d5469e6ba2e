// Tampered run files: every bad field of model/manifest.json, a damaged model file, NaN or zero
// values in the model, a diverged training: exit 1 with a message naming the file and the field,
// never exit 2, never a silently wrong verdict.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as torch from '../../../src/torch/index.js';
import { onlyFailureLog, SLEEPY_ENV, synth, userError, vigil } from './helpers.js';

let dir: string;
let run: string;
let img: string;
let n = 0;

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'vigil-files-'));
  synth(join(dir, 'synth'));
  img = join(dir, 'synth', 'object', 'test', 'good', '000.png');
  run = join(dir, 'run');
  const r = vigil(['train', '--method', 'pixelstats', '--data', `synth:${join(dir, 'synth', 'object')}`, '--set', 'preprocess.size=32', '--out', run, '--quiet']);
  assert.equal(r.code, 0, r.stderr);
});
after(() => rmSync(dir, { recursive: true, force: true }));

/** A copy of the run with its manifest edited by `edit`. */
function tampered(edit: (m: Record<string, any>) => void): string {
  const copy = join(dir, `t${n++}`);
  cpSync(run, copy, { recursive: true });
  const path = join(copy, 'model', 'manifest.json');
  const m = JSON.parse(readFileSync(path, 'utf8'));
  edit(m);
  writeFileSync(path, JSON.stringify(m));
  return copy;
}

const predict = (r: string) => vigil(['predict', r, img, '--out', join(r, 'p'), '--quiet']);

test('manifest fields of the wrong type or value: exit 1 naming manifest.json and the field', () => {
  const cases: Array<[(m: Record<string, any>) => void, string]> = [
    [(m) => { m.threshold.image.value = 'abc'; }, 'threshold.image.value'],
    [(m) => { m.normalisation = {}; }, 'normalisation.image'],
    [(m) => { m.normalisation.image.threshold = 0; }, 'normalisation.image.threshold'],
    [(m) => { m.normalisation.image.max = m.normalisation.image.min - 1; }, 'normalisation.image.max'],
    [(m) => { m.preprocessing.transforms = [{ op: 'blur', radius: 3 }]; }, 'preprocessing.transforms[0].op'],
    [(m) => { m.preprocessing.transforms = [{ op: 'resize', size: [100000, 100000] }]; }, 'preprocessing.transforms[0].size[0]'],
    [(m) => { m.preprocessing.transforms.push({ op: 'normalize', mean: [0.5, 0.5], std: [1, 1] }); }, 'preprocessing.transforms[1].mean'],
    [(m) => { m.preprocessing.mode = 'cmyk'; }, 'preprocessing.mode'],
    [(m) => { m.imageShape = [3, 32, 1e9]; }, 'imageShape[2]'],
    [(m) => { m.imageShape = [1, 32, 32]; }, 'imageShape'],
    [(m) => { m.config.minStd = 'x'; }, 'config.minStd'],
    [(m) => { delete m.threshold; }, 'threshold'],
    [(m) => { m.format = 'vigil-model/9'; }, "field 'format'"],
    [(m) => { m.method = 'nosuch'; }, "field 'method'"],
  ];
  for (const [edit, field] of cases) userError(predict(tampered(edit)), 'manifest.json', field);
});

test('a manifest that is not JSON, or not there', () => {
  const r = tampered(() => {});
  writeFileSync(join(r, 'model', 'manifest.json'), '{"format": "vigil-model/1", ');
  userError(predict(r), join(r, 'model', 'manifest.json'), 'not valid JSON');
  rmSync(join(r, 'model', 'manifest.json'));
  userError(predict(r), 'manifest.json is missing');
});

test('valid edits are honoured: a manual threshold in the manifest decides the verdicts', () => {
  const r = tampered((m) => { m.threshold.image.value = 1e9; m.normalisation.image.threshold = 1e9; m.normalisation.image.max = 1e9; });
  const out = predict(r);
  assert.equal(out.code, 0, out.stderr);
  const csv = readFileSync(join(r, 'p', 'predictions.csv'), 'utf8');
  assert.match(csv.split('\n')[1]!, /,normal,/, 'nothing reaches a threshold of 1e9');
});

/** A copy of the run whose model tensor 'std' is rewritten by `f`. */
function withStd(f: (std: Float32Array) => void): string {
  const copy = tampered(() => {});
  const file = join(copy, 'model', 'model.safetensors');
  const { tensors, metadata } = torch.loadSafetensors(file);
  const std = tensors.get('std')!;
  const a = std.toTypedArray() as Float32Array;
  f(a);
  const t = torch.fromTypedArray(a, std.shape);
  tensors.set('std', t);
  torch.saveSafetensors(file, tensors, metadata);
  torch.dispose([...tensors.values(), std]);
  return copy;
}

test('NaN, infinite or zero values in the model file: exit 1 naming the file and the tensor', () => {
  userError(predict(withStd((a) => { a[7] = Number.NaN; })), 'model.safetensors', "tensor 'std'", 'NaN');
  userError(predict(withStd((a) => { a[0] = Number.POSITIVE_INFINITY; })), 'model.safetensors', "tensor 'std'");
  userError(predict(withStd((a) => a.fill(0))), 'model.safetensors', "'std'", '<= 0');
  userError(vigil(['test', withStd((a) => { a[3] = Number.NaN; })]), 'model.safetensors', "tensor 'std'");
});

test('a truncated or garbled model file: exit 1, "damaged or truncated", for predict and test', () => {
  const size = statSync(join(run, 'model', 'model.safetensors')).size;
  for (const len of [0, 7, 40, Math.floor(size / 2), size - 1]) {
    const r = tampered(() => {});
    truncateSync(join(r, 'model', 'model.safetensors'), len);
    userError(predict(r), join(r, 'model', 'model.safetensors'), 'damaged or truncated');
  }
  const r = tampered(() => {});
  const bytes = readFileSync(join(r, 'model', 'model.safetensors'));
  bytes.fill(0x7b, 8, 40);
  writeFileSync(join(r, 'model', 'model.safetensors'), bytes);
  userError(vigil(['test', r]), 'model.safetensors', 'damaged or truncated');
});

test('a training that diverges to NaN is not saved: exit 1 naming the tensor; only log.txt is left', () => {
  const out = join(dir, 'diverged');
  const r = vigil(['train', '--method', 'sleepy', '--data', `synth:${join(dir, 'synth', 'object')}`, '--set', 'preprocess.size=32', '--set', 'model.poison=true', '--set', 'train.checkpoint=false', '--out', out], SLEEPY_ENV);
  userError(r, "NaN or infinite values in 'w'", 'diverged');
  onlyFailureLog(out, 'NaN or infinite values');
});

test('a damaged checkpoint: --resume exits 1 and says how to start over', () => {
  const out = join(dir, 'ck');
  const args = ['train', '--method', 'sleepy', '--data', `synth:${join(dir, 'synth', 'object')}`, '--set', 'preprocess.size=32', '--set', 'model.epochs=2', '--out', out, '--quiet'];
  assert.equal(vigil(args, SLEEPY_ENV).code, 0);
  // Make it an interrupted run again: no model, a half-written checkpoint.
  rmSync(join(out, 'model'), { recursive: true });
  const { tensors } = torch.loadSafetensors(join(run, 'model', 'model.safetensors'));
  mkdirSync(join(out, 'checkpoint'));
  torch.saveSafetensors(join(out, 'checkpoint', 'state.safetensors'), tensors, { meta: '{"stage":"train","epoch":1}' });
  torch.dispose([...tensors.values()]);
  truncateSync(join(out, 'checkpoint', 'state.safetensors'), 100);
  userError(vigil(['train', '--resume', out], SLEEPY_ENV), 'state.safetensors', 'damaged or truncated', `delete ${join(out, 'checkpoint')}`);
});
