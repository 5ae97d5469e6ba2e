// Weight files: hub-cache resolution, the missing-weights message, and fetch with SHA-256-prefix
// verification against a loopback HTTP server (resume and corrupt-file cases).
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { BACKBONE_NAMES, fetchWeights, KNOWN_WEIGHTS, MissingWeightsError, resolveWeights, torchHubCheckpointsDir, weightsInfo } from '../../../src/models/backbones/index.js';
import { PATCHCORE_DEFAULTS, patchcore } from '../../../src/methods/patchcore/index.js';
import { tempDir } from '../../helpers/python.js';
import { vigil } from '../../cli/helpers.js';

const dir = tempDir('vigil-weights-');
let server: Server;
let base = '';
let body = Buffer.alloc(0);
let requests = 0;

before(async () => {
  server = createServer((req, res) => {
    requests++;
    const range = /bytes=(\d+)-/.exec(req.headers.range ?? '');
    const start = range ? Number(range[1]) : 0;
    res.writeHead(range ? 206 : 200, { 'content-length': body.length - start, ...(range ? { 'content-range': `bytes ${start}-${body.length - 1}/${body.length}` } : {}) });
    res.end(body.subarray(start));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/models/`;
});
after(() => { server.close(); });

test('official names carry the SHA-256 prefix; the hub cache follows TORCH_HOME / XDG_CACHE_HOME', () => {
  const w = weightsInfo('wide_resnet50_2');
  assert.equal(w.file, 'wide_resnet50_2-95faca4d.pth');
  assert.equal(w.sha256Prefix, '95faca4d');
  assert.equal(w.url, 'https://download.pytorch.org/models/wide_resnet50_2-95faca4d.pth');
  assert.equal(torchHubCheckpointsDir({ TORCH_HOME: '/x/th' }), '/x/th/hub/checkpoints');
  assert.equal(torchHubCheckpointsDir({ XDG_CACHE_HOME: '/c' }), '/c/torch/hub/checkpoints');
  assert.throws(() => weightsInfo('vgg99'), /no known torchvision weights for 'vgg99'/);
});

test('missing weights: the error says how to get them', () => {
  const empty = join(dir, 'empty');
  mkdirSync(empty);
  assert.throws(() => resolveWeights('wide_resnet50_2', { dirs: [empty] }), (e: unknown) => {
    assert.ok(e instanceof MissingWeightsError);
    assert.match(e.message, /vigil weights fetch wide_resnet50_2/);
    assert.match(e.message, /wide_resnet50_2-95faca4d\.pth/);
    assert.ok(e.message.includes(empty));
    return true;
  });
  assert.throws(() => resolveWeights('resnet18', { path: join(dir, 'nope.pth') }), /nope\.pth does not exist.*vigil weights fetch resnet18/);
  // The method fails the same way when the cache is empty.
  const old = process.env['TORCH_HOME'];
  process.env['TORCH_HOME'] = join(dir, 'no-torch-home');
  try {
    assert.throws(() => patchcore.create({ ...PATCHCORE_DEFAULTS, backbone: { name: 'resnet18', weights: null, randomSeed: 0 } }, [3, 64, 64]), /vigil weights fetch resnet18/);
  } finally {
    if (old === undefined) delete process.env['TORCH_HOME']; else process.env['TORCH_HOME'] = old;
  }
});

test('fetchWeights refuses a body whose SHA-256 does not match the official name', async () => {
  body = Buffer.from('not the real weights');
  const d1 = join(dir, 'cache1');
  await assert.rejects(fetchWeights('resnet18', { dir: d1, baseUrl: base }), /does not start with f37072fd.*fetch again/);
  assert.equal(existsSync(join(d1, 'resnet18-f37072fd.pth')), false, 'nothing under the final name');
  assert.equal(existsSync(join(d1, 'resnet18-f37072fd.pth.unverified')), false);
  // An existing file under the official name is verified too, not silently used.
  writeFileSync(join(d1, 'resnet18-f37072fd.pth'), 'junk');
  await assert.rejects(fetchWeights('resnet18', { dir: d1, baseUrl: base }), /corrupt or not the official one/);
});

test('fetchWeights downloads, resumes a partial file with Range, verifies and keeps a verified file', async () => {
  body = Buffer.alloc(100_000);
  for (let i = 0; i < body.length; i++) body[i] = (i * 7919) & 255;
  const prefix = createHash('sha256').update(body).digest('hex').slice(0, 8);
  const info = { ...weightsInfo('resnet18'), file: `tiny-${prefix}.pth`, sha256Prefix: prefix };
  const d2 = join(dir, 'cache2');
  mkdirSync(d2, { recursive: true });
  writeFileSync(join(d2, `${info.file}.unverified.part`), body.subarray(0, 30_000));
  let ranged = false;
  server.once('request', (req) => { ranged = /bytes=30000-/.test(req.headers.range ?? ''); });
  const r = await fetchWeights(info, { dir: d2, baseUrl: base });
  assert.equal(r.skipped, false);
  assert.ok(ranged, 'resumed with a Range request');
  assert.deepEqual(readFileSync(join(d2, info.file)), body);
  requests = 0;
  const again = await fetchWeights(info, { dir: d2, baseUrl: base });
  assert.equal(again.skipped, true);
  assert.equal(requests, 0);
});

test('the VGG files are torchvision\'s IMAGENET1K_V1 names, and every registry backbone has one', () => {
  const expected: Record<string, string> = {
    vgg11: 'vgg11-8a719046.pth', vgg11_bn: 'vgg11_bn-6002323d.pth', vgg13: 'vgg13-19584684.pth', vgg13_bn: 'vgg13_bn-abd245e5.pth',
    vgg16: 'vgg16-397923af.pth', vgg16_bn: 'vgg16_bn-6c64b313.pth', vgg19: 'vgg19-dcbb9e9d.pth', vgg19_bn: 'vgg19_bn-c79401a0.pth',
  };
  for (const [name, file] of Object.entries(expected)) {
    const w = weightsInfo(name);
    assert.equal(w.file, file);
    assert.equal(w.url, `https://download.pytorch.org/models/${file}`);
    assert.equal(w.sha256Prefix, /-([a-f0-9]+)\.pth$/.exec(file)![1]);
    assert.equal(w.weights, 'IMAGENET1K_V1');
  }
  assert.deepEqual([...KNOWN_WEIGHTS].sort(), [...BACKBONE_NAMES].sort());
});

test('vgg16: found in the cache by its official name, named in the missing-weights message, verified on fetch', async () => {
  const d = join(dir, 'cache-vgg');
  mkdirSync(d, { recursive: true });
  assert.throws(() => resolveWeights('vgg16', { dirs: [d] }), /vgg16-397923af\.pth is not in .*vigil weights fetch vgg16/s);
  body = Buffer.from('not vgg16');
  await assert.rejects(fetchWeights('vgg16', { dir: d, baseUrl: base }), /does not start with 397923af/);
  assert.equal(existsSync(join(d, 'vgg16-397923af.pth')), false);
  writeFileSync(join(d, 'vgg16-397923af.pth'), 'placeholder');
  assert.equal(resolveWeights('vgg16', { dirs: [d] }), join(d, 'vgg16-397923af.pth'));
});

test('vigil weights list shows the VGG files; fetch knows the names', () => {
  const d = join(dir, 'cache-cli');
  mkdirSync(d, { recursive: true });
  writeFileSync(join(d, 'vgg16_bn-6c64b313.pth'), '');
  const r = vigil(['weights', 'list', '--dir', d, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const rows = (JSON.parse(r.stdout) as { weights: { name: string; file: string; present: boolean }[] }).weights;
  const byName = new Map(rows.map((x) => [x.name, x]));
  assert.equal(byName.get('vgg16')?.file, 'vgg16-397923af.pth');
  assert.equal(byName.get('vgg19_bn')?.file, 'vgg19_bn-c79401a0.pth');
  assert.equal(byName.get('vgg16_bn')?.present, true);
  assert.equal(byName.get('vgg16')?.present, false);
  const bad = vigil(['weights', 'fetch', 'vgg17', '--dir', d]);
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /unknown weights 'vgg17' \(known: .*vgg16, vgg16_bn, vgg19, vgg19_bn\)/);
});
