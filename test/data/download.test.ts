import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createServer, type Server, type IncomingMessage, type ServerResponse } from 'node:http';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { download, hashFile } from '../../src/data/download.js';
import { DatasetError } from '../../src/data/dataset-error.js';
import { mulberry32 } from '../../src/data/random.js';

const rand = mulberry32(42);
const BODY = Buffer.from(Uint8Array.from({ length: 200_000 }, () => Math.floor(rand.next() * 256)));
const SHA256 = createHash('sha256').update(BODY).digest('hex');
const MD5 = createHash('md5').update(BODY).digest('hex');

let server: Server;
let base: string;
let dir: string;
const seen: Array<{ path: string; range: string | undefined }> = [];
const hits = new Map<string, number>();

function sendRange(req: IncomingMessage, res: ServerResponse): void {
  const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
  if (m === null) {
    res.writeHead(200, { 'content-length': BODY.length, 'accept-ranges': 'bytes' });
    res.end(BODY);
    return;
  }
  const from = Number(m[1]);
  if (from >= BODY.length) {
    res.writeHead(416, { 'content-range': `bytes */${BODY.length}` });
    res.end();
    return;
  }
  res.writeHead(206, { 'content-length': BODY.length - from, 'content-range': `bytes ${from}-${BODY.length - 1}/${BODY.length}` });
  res.end(BODY.subarray(from));
}

/** Sends headers for the whole remaining body, then half of it, then kills the socket. */
function sendHalfAndDrop(req: IncomingMessage, res: ServerResponse): void {
  const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
  const from = m === null ? 0 : Number(m[1]);
  const rest = BODY.subarray(from);
  res.writeHead(m === null ? 200 : 206, {
    'content-length': rest.length,
    ...(m === null ? {} : { 'content-range': `bytes ${from}-${BODY.length - 1}/${BODY.length}` }),
  });
  res.write(rest.subarray(0, Math.floor(rest.length / 2)), () => setTimeout(() => res.socket?.destroy(), 20));
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vigil-dl-'));
  server = createServer((req, res) => {
    const path = req.url ?? '';
    seen.push({ path, range: req.headers.range });
    const n = (hits.get(path) ?? 0) + 1;
    hits.set(path, n);
    if (path === '/file') return sendRange(req, res);
    if (path === '/norange') {
      res.writeHead(200, { 'content-length': BODY.length });
      res.end(BODY);
      return;
    }
    if (path === '/drop-once' || path === '/drop-once-auto') return n === 1 ? sendHalfAndDrop(req, res) : sendRange(req, res);
    if (path === '/norange-drop-once') {
      if (n === 1) return sendHalfAndDrop({ headers: {} } as IncomingMessage, res);
      res.writeHead(200, { 'content-length': BODY.length });
      res.end(BODY);
      return;
    }
    if (path === '/always-drop') return sendHalfAndDrop(req, res);
    if (path === '/redirect') {
      res.writeHead(302, { location: '/hop' });
      res.end();
      return;
    }
    if (path === '/hop') {
      res.writeHead(301, { location: `${base}/file` });
      res.end();
      return;
    }
    if (path === '/loop') {
      res.writeHead(307, { location: '/loop' });
      res.end();
      return;
    }
    if (path === '/to-ftp') {
      res.writeHead(302, { location: 'ftp://127.0.0.1/x' });
      res.end();
      return;
    }
    res.writeHead(404);
    res.end('not here');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(async () => {
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
  await rm(dir, { recursive: true, force: true });
});

const exists = async (p: string): Promise<boolean> => stat(p).then(() => true, () => false);

test('full download with sha256 and md5, progress reported, second call skips', async () => {
  const dest = join(dir, 'full', 'file.bin');
  const progress: number[] = [];
  const r = await download(`${base}/file`, dest, { sha256: SHA256, md5: MD5.toUpperCase(), onProgress: (p) => progress.push(p.received) });
  assert.equal(r.skipped, false);
  assert.equal(r.bytes, BODY.length);
  assert.ok((await readFile(dest)).equals(BODY));
  assert.equal(await exists(`${dest}.part`), false);
  assert.equal(progress.at(-1), BODY.length);
  assert.ok(progress.every((v, i) => i === 0 || v >= progress[i - 1]!));
  const again = await download(`${base}/file`, dest, { sha256: SHA256 });
  assert.equal(again.skipped, true);
  await assert.rejects(download(`${base}/file`, dest, { md5: '0'.repeat(32) }), /already exists but its md5 is/);
});

test('checksum mismatch: error, and no file left behind', async () => {
  const dest = join(dir, 'bad', 'file.bin');
  await assert.rejects(download(`${base}/file`, dest, { sha256: 'ab'.repeat(32) }), (e: unknown) =>
    e instanceof DatasetError && e.code === 'checksum' && e.message.includes(SHA256) && e.message.includes('ab'.repeat(32)));
  assert.deepEqual(await readdir(join(dir, 'bad')), []);
});

test('interrupted download keeps the part file; the next call resumes with Range', async () => {
  const dest = join(dir, 'resume', 'file.bin');
  await assert.rejects(download(`${base}/drop-once`, dest, { retries: 0, sha256: SHA256 }), (e: unknown) =>
    e instanceof DatasetError && e.code === 'download' && e.message.includes('run again to resume'));
  assert.equal(await exists(dest), false);
  const partial = (await stat(`${dest}.part`)).size;
  assert.ok(partial > 0 && partial < BODY.length, `partial ${partial}`);
  const r = await download(`${base}/drop-once`, dest, { sha256: SHA256 });
  assert.equal(r.resumedFrom, partial);
  assert.ok((await readFile(dest)).equals(BODY));
  assert.deepEqual(seen.filter((s) => s.path === '/drop-once').map((s) => s.range), [undefined, `bytes=${partial}-`]);
  assert.equal(await exists(`${dest}.part`), false);
});

test('a dropped connection is resumed automatically within one call', async () => {
  const dest = join(dir, 'auto', 'file.bin');
  const r = await download(`${base}/drop-once-auto`, dest, { md5: MD5 });
  assert.ok(r.resumedFrom > 0);
  assert.equal(await hashFile(dest, 'md5'), MD5);
  const dest2 = join(dir, 'auto', 'never.bin');
  await assert.rejects(download(`${base}/always-drop`, dest2, { retries: 2 }), /failed after 3 attempt\(s\)/);
  assert.equal(seen.filter((s) => s.path === '/always-drop').length, 3);
});

test('server without Range support: the part file restarts from zero', async () => {
  const dest = join(dir, 'norange', 'file.bin');
  await mkdir(join(dir, 'norange'));
  await writeFile(`${dest}.part`, Buffer.from('garbage that is not the start of the file'));
  const r = await download(`${base}/norange`, dest, { sha256: SHA256 });
  assert.equal(r.resumedFrom, 0);
  assert.ok((await readFile(dest)).equals(BODY));
  assert.ok(seen.some((s) => s.path === '/norange' && s.range !== undefined));

  const dest2 = join(dir, 'norange', 'dropped.bin');
  const r2 = await download(`${base}/norange-drop-once`, dest2, { sha256: SHA256 });
  assert.equal(r2.resumedFrom, 0);
  assert.ok((await readFile(dest2)).equals(BODY));
});

test('redirects (relative and absolute) are followed; loops, bad schemes and HTTP errors are clear errors', async () => {
  const dest = join(dir, 'redir', 'file.bin');
  await download(`${base}/redirect`, dest, { sha256: SHA256 });
  assert.ok((await readFile(dest)).equals(BODY));
  await assert.rejects(download(`${base}/loop`, join(dir, 'redir', 'loop.bin'), { maxRedirects: 3 }), /too many redirects downloading .*\/loop/);
  await assert.rejects(download(`${base}/to-ftp`, join(dir, 'redir', 'ftp.bin')), /only http and https are supported \(redirected from .*\/to-ftp\)/);
  await assert.rejects(download(`${base}/missing`, join(dir, 'redir', 'missing.bin')), /HTTP 404/);
  await assert.rejects(download('not a url', join(dir, 'x')), /not a URL/);
  await assert.rejects(download(`${base}/file`, join(dir, 'x'), { sha256: 'xyz' }), /sha256 must be 64 hex digits/);
  assert.equal(await exists(join(dir, 'redir', 'missing.bin')), false);
  assert.equal(await exists(join(dir, 'redir', 'missing.bin.part')), false);
});
