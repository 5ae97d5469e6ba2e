// `vigil weights list|fetch` and `vigil datasets list|download` as child processes, fetching from a
// loopback HTTP server through --mirror. The official files cannot be served here (their SHA-256
// prefix and MD5s are fixed), so a fetch ends at the checksum: the tests check what the verbs ask
// for, that nothing unverified is left under a final name, and that the failure is the user's (exit
// 1, naming the file). Successful fetches, resume and extraction are tested at the library level
// (test/methods/patchcore/weights.test.ts, test/data/download.test.ts, test/data/extract.test.ts).
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { DATASET_SOURCES } from '../../src/data/sources.js';
import { KNOWN_WEIGHTS } from '../../src/models/backbones/index.js';
import { tempDir } from '../helpers/python.js';
import { vigil, type Run } from './helpers.js';

const dir = tempDir('vigil-dl-cli-');
let server: Server;
let base = '';
const requests: Array<{ url: string; range: string | undefined }> = [];

before(async () => {
  server = createServer((req, res) => {
    requests.push({ url: req.url ?? '', range: req.headers.range });
    if ((req.url ?? '').includes('missing')) { res.writeHead(404); res.end('not here'); return; }
    const body = Buffer.from(`not the real ${req.url}`);
    const m = /bytes=(\d+)-/.exec(req.headers.range ?? '');
    const from = m ? Math.min(Number(m[1]), body.length) : 0;
    res.writeHead(m ? 206 : 200, { 'content-length': body.length - from, ...(m ? { 'content-range': `bytes ${from}-${body.length - 1}/${body.length}` } : {}) });
    res.end(body.subarray(from));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => { server.close(); });

/** vigil in a child process while this process keeps serving: spawnSync would block the server. */
async function vigilServed(args: string[]): Promise<Run> {
  const { spawn } = await import('node:child_process');
  const { MAIN } = await import('./helpers.js');
  return new Promise((resolve) => {
    const c = spawn(process.execPath, [MAIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '', stderr = '';
    c.stdout.on('data', (d) => { stdout += d; });
    c.stderr.on('data', (d) => { stderr += d; });
    c.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

function userError(r: Run, ...needles: RegExp[]): void {
  assert.equal(r.code, 1, `exit code 1 expected, got ${r.code}\n${r.stderr}`);
  assert.match(r.stderr, /(^|\n)vigil: error: /);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  for (const n of needles) assert.match(r.stderr, n);
}

test('weights list: every known file, present or missing, in the given cache (human and JSON)', () => {
  const d = join(dir, 'cache-list');
  mkdirSync(d, { recursive: true });
  writeFileSync(join(d, 'resnet18-f37072fd.pth'), 'x');
  const j = vigil(['weights', 'list', '--dir', d, '--json']);
  assert.equal(j.code, 0, j.stderr);
  const out = JSON.parse(j.stdout) as { dir: string; weights: Array<{ name: string; file: string; present: boolean; path: string }> };
  assert.equal(out.dir, d);
  assert.deepEqual(out.weights.map((w) => w.name), KNOWN_WEIGHTS);
  for (const w of out.weights) {
    assert.equal(w.present, w.name === 'resnet18', w.name);
    assert.equal(w.path, join(d, w.file));
  }
  const h = vigil(['weights', 'list', '--dir', d]);
  assert.equal(h.code, 0, h.stderr);
  assert.match(h.stdout, new RegExp(`^cache: ${d}$`, 'm'));
  assert.match(h.stdout, /^resnet18 +resnet18-f37072fd\.pth +present$/m);
  assert.match(h.stdout, /^wide_resnet50_2 +wide_resnet50_2-95faca4d\.pth +missing \(vigil weights fetch wide_resnet50_2\)$/m);
});

test('weights fetch: asks the mirror for the official file name; a body that fails the SHA-256 prefix is refused and removed (exit 1)', async () => {
  const d = join(dir, 'cache-fetch');
  requests.length = 0;
  const r = await vigilServed(['weights', 'fetch', 'resnet18', '--dir', d, '--mirror', `${base}/models/`]);
  userError(r, /resnet18-f37072fd\.pth(\.unverified)?: SHA-256 [0-9a-f]{16}… does not start with f37072fd/, /fetch again/);
  assert.deepEqual(requests.map((q) => q.url), ['/models/resnet18-f37072fd.pth']);
  assert.deepEqual(readdirSync(d), [], 'nothing left: no final file, no .unverified, no .part');
  // A file already under the official name is verified, not trusted.
  writeFileSync(join(d, 'resnet18-f37072fd.pth'), 'stale');
  requests.length = 0;
  userError(await vigilServed(['weights', 'fetch', 'resnet18', '--dir', d, '--mirror', base]), /corrupt or not the official one/, new RegExp(`delete ${join(d, 'resnet18-f37072fd.pth').replace(/[.]/g, '\\.')}`));
  assert.equal(requests.length, 0, 'no download when the file is there');
  // An unreachable file names the URL.
  userError(await vigilServed(['weights', 'fetch', 'vgg16', '--dir', d, '--mirror', `${base}/missing`]), /\/missing\/vgg16-397923af\.pth/, /404/);
});

test('datasets list: every source with its title, license and layout (human and JSON)', () => {
  const j = vigil(['datasets', 'list', '--json']);
  assert.equal(j.code, 0, j.stderr);
  const out = JSON.parse(j.stdout) as Record<string, { title: string; files: Array<{ filename: string; urls: string[] }> }>;
  assert.deepEqual(Object.keys(out), Object.keys(DATASET_SOURCES));
  assert.deepEqual(out['mnist']!.files.map((f) => f.filename), ['train-images-idx3-ubyte.gz', 'train-labels-idx1-ubyte.gz', 't10k-images-idx3-ubyte.gz', 't10k-labels-idx1-ubyte.gz']);
  const h = vigil(['datasets', 'list']);
  assert.equal(h.code, 0, h.stderr);
  for (const [id, s] of Object.entries(DATASET_SOURCES)) assert.ok(h.stdout.includes(`${id.padEnd(16)} ${s.title} — ${s.license}`), `${id} missing:\n${h.stdout}`);
});

test('datasets download: fetches <mirror>/<file name>; a body with the wrong MD5 is refused, named and removed (exit 1)', async () => {
  const dest = join(dir, 'fmnist');
  requests.length = 0;
  const r = await vigilServed(['datasets', 'download', 'fashion-mnist', dest, '--mirror', `${base}/fm/`]);
  userError(r, /Fashion-MNIST: could not download train-images-idx3-ubyte\.gz/, /md5 is [0-9a-f]{32}, expected 8d4fb7e6c68d591d4c3dfef9ec88bf0d/);
  assert.deepEqual(requests.map((q) => q.url), ['/fm/train-images-idx3-ubyte.gz'], 'the first file, from the mirror only');
  assert.ok(existsSync(dest), 'the destination folder is created');
  assert.deepEqual(readdirSync(dest), [], 'no unverified file or .part is left');
  userError(await vigilServed(['datasets', 'download', 'nosuch', dest, '--mirror', base]), /unknown dataset 'nosuch'; known: mvtec-ad, (.+, )?cifar10-binary/);
  userError(vigil(['datasets', 'download', 'mnist']), /give a dataset id and a destination folder/);
});
