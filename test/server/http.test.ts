// The HTTP helpers without a server: multipart parsing, route templates, path containment,
// image sniffing and header probing, Prometheus rendering.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { HttpError, parseMultipart, Router, hostName, isLoopback } from '../../src/server/http.js';
import { probeImage, sniffFormat, describeBytes, ProbeError } from '../../src/server/images.js';
import { Counter, Histogram, Registry } from '../../src/server/metrics.js';
import { resolveInside, sendFile } from '../../src/server/static.js';
import { createServer, request } from 'node:http';
import { multipart, tempDir } from './helpers.js';

test('multipart: files with their names and types, fields, binary data with CRLFs inside', () => {
  const bin = Buffer.from([0x0d, 0x0a, 0x2d, 0x2d, 0x00, 0xff, 0x0d, 0x0a]);
  const m = multipart([{ name: 'note', data: 'hi' }, { name: 'image', filename: 'a b.png', type: 'image/png', data: bin }, { name: 'image', filename: '', data: 'x' }]);
  const parts = parseMultipart(m.body, m.type);
  assert.deepEqual(parts.map((p) => [p.name, p.filename, p.type]), [['note', null, null], ['image', 'a b.png', 'image/png'], ['image', '', null]]);
  assert.ok(parts[1]!.data.equals(bin));
  assert.equal(parts[0]!.data.toString(), 'hi');
  assert.throws(() => parseMultipart(m.body, 'multipart/form-data'), (e: HttpError) => e.status === 400 && /boundary/.test(e.message));
  assert.throws(() => parseMultipart(m.body.subarray(0, m.body.length - 20), m.type), /closing boundary/);
  assert.throws(() => parseMultipart(Buffer.from('nothing here'), m.type), /does not contain its boundary/);
  const quoted = parseMultipart(m.body, m.type.replace(/boundary=(.*)$/, 'boundary="$1"'));
  assert.equal(quoted.length, 3);
});

test('router: {param} and {rest*} templates, 405 lists the allowed methods, HEAD uses GET', () => {
  const r = new Router().add('GET', '/v1/models/{name}', () => undefined).add('POST', '/v1/models/{name}/predict', () => undefined).add('GET', '/ui/{path*}', () => undefined);
  const hit = r.match('GET', '/v1/models/a.b');
  assert.ok(hit && 'route' in hit);
  assert.deepEqual(hit.params, { name: 'a.b' });
  assert.equal(hit.route.template, '/v1/models/{name}');
  const head = r.match('HEAD', '/v1/models/x');
  assert.ok(head && 'route' in head);
  assert.deepEqual(r.match('GET', '/v1/models/a/predict'), { allowed: ['POST'] });
  assert.equal(r.match('GET', '/v1/models/a/b/c'), null);
  const ui = r.match('GET', '/ui/a/b.js');
  assert.ok(ui && 'route' in ui);
  assert.equal(ui.params.path, 'a/b.js');
});

test('resolveInside: only regular files inside the root, whatever the encoding', () => {
  const d = tempDir('vigil-static-');
  const root = join(d, 'root');
  mkdirSync(join(root, 'sub'), { recursive: true });
  writeFileSync(join(root, 'sub', 'a.js'), '1');
  writeFileSync(join(d, 'secret.txt'), 'no');
  symlinkSync(join(d, 'secret.txt'), join(root, 'link.txt'));
  symlinkSync(join(root, 'sub', 'a.js'), join(root, 'inner-link.js'));
  assert.equal(resolveInside(root, 'sub/a.js'), join(root, 'sub', 'a.js'));
  assert.equal(resolveInside(root, 'sub%2Fa.js'), join(root, 'sub', 'a.js'));
  assert.equal(resolveInside(root, 'inner-link.js'), join(root, 'sub', 'a.js'), 'a link that stays inside is fine');
  for (const p of ['../secret.txt', '..%2Fsecret.txt', '%2e%2e/secret.txt', 'sub/../../secret.txt', '..%5Csecret.txt', 'link.txt', 'sub', '', '%00', 'a%ZZ', `/${d}/secret.txt`, 'sub/a.js%00.png']) {
    assert.equal(resolveInside(root, p), null, p);
  }
});

test('image formats by their bytes; sizes from headers only', async () => {
  const png = await sharp({ create: { width: 7, height: 5, channels: 3, background: '#123' } }).png().toBuffer();
  const jpeg = await sharp(png).jpeg().toBuffer();
  const progressive = await sharp(png).jpeg({ progressive: true }).toBuffer();
  const webp = await sharp(png).webp().toBuffer();
  const tiff = await sharp(png).tiff().toBuffer();
  for (const [b, f] of [[png, 'png'], [jpeg, 'jpeg'], [progressive, 'jpeg'], [webp, 'webp'], [tiff, 'tiff']] as const) {
    assert.equal(sniffFormat(b), f);
    assert.deepEqual(await probeImage(b, f), { format: f, width: 7, height: 5 }, f);
  }
  const bmp = Buffer.alloc(60);
  bmp.write('BM', 0); bmp.writeUInt32LE(40, 14); bmp.writeInt32LE(9000, 18); bmp.writeInt32LE(-8000, 22);
  assert.equal(sniffFormat(bmp), 'bmp');
  assert.deepEqual(await probeImage(bmp, 'bmp'), { format: 'bmp', width: 9000, height: 8000 }, 'top-down BMP: negative height');
  assert.equal(sniffFormat(Buffer.from('GIF89a')), null);
  assert.match(describeBytes(Buffer.from('GIF89a')), /GIF/);
  assert.match(describeBytes(Buffer.from('  <svg>')), /SVG/);
  assert.match(describeBytes(Buffer.from('{"a":1}')), /JSON/);
  assert.match(describeBytes(Buffer.from([1, 2, 3, 4, 5])), /01020304/);
  await assert.rejects(probeImage(jpeg.subarray(0, 4), 'jpeg'), ProbeError);
  await assert.rejects(probeImage(png.subarray(0, 16), 'png'), ProbeError);
});

test('Prometheus text: labels escaped, cumulative buckets, +Inf, sum and count', () => {
  const r = new Registry();
  const c = r.add(new Counter('c_total', 'help'));
  c.inc({ path: 'a"b\\c\nd' });
  c.inc({ path: 'a"b\\c\nd' }, 2);
  const h = r.add(new Histogram('h_seconds', 'help', [0.1, 1]));
  for (const v of [0.05, 0.5, 5]) h.observe(v, { r: 'x' });
  assert.equal(r.render(), [
    '# HELP c_total help', '# TYPE c_total counter', 'c_total{path="a\\"b\\\\c\\nd"} 3',
    '# HELP h_seconds help', '# TYPE h_seconds histogram',
    'h_seconds_bucket{r="x",le="0.1"} 1', 'h_seconds_bucket{r="x",le="1"} 2', 'h_seconds_bucket{r="x",le="+Inf"} 3', 'h_seconds_sum{r="x"} 5.55', 'h_seconds_count{r="x"} 3',
  ].join('\n') + '\n');
});

test('loopback detection and Host parsing', () => {
  for (const h of ['127.0.0.1', '127.5.0.1', '::1', 'localhost']) assert.ok(isLoopback(h), h);
  for (const h of ['0.0.0.0', '192.168.1.2', '::', 'example.com', '128.0.0.1']) assert.ok(!isLoopback(h), h);
  assert.equal(hostName('127.0.0.1:8080'), '127.0.0.1');
  assert.equal(hostName('[::1]:8080'), '::1');
  assert.equal(hostName('LocalHost'), 'localhost');
});

test('sendFile: a file that fails to read after the headers ends that response early; the server keeps answering', async () => {
  const dir = tempDir('vigil-send-');
  writeFileSync(join(dir, 'ok.txt'), 'fine');
  // A directory stats fine but fails on read (EISDIR), as a file removed between stat and open would.
  mkdirSync(join(dir, 'unreadable'));
  const server = createServer((req, res) => sendFile(res, join(dir, req.url === '/bad' ? 'unreadable' : 'ok.txt'), req.method ?? 'GET'));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  const get = (path: string): Promise<{ status?: number; body: string; complete: boolean }> => new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => { body += c.toString(); });
      res.on('end', () => resolve({ status: res.statusCode, body, complete: res.complete }));
      res.on('error', () => resolve({ status: res.statusCode, body, complete: false }));
      res.on('aborted', () => resolve({ status: res.statusCode, body, complete: false }));
    });
    req.on('error', () => resolve({ body: '', complete: false }));
    req.end();
  });
  try {
    const bad = await get('/bad');
    assert.equal(bad.complete, false, 'the broken response is cut, not passed off as complete');
    const ok = await get('/ok');
    assert.deepEqual([ok.status, ok.body, ok.complete], [200, 'fine', true]);
  } finally {
    server.close();
  }
});
