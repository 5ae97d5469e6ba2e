// The /v1 API over real HTTP on 127.0.0.1: every endpoint and every error status, against the
// same numbers `vigil predict` gives for the same images.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import YAML from 'yaml';
import { buildRouter } from '../../src/server/api.js';
import { serve, type RunningServer } from '../../src/server/index.js';
import { parseCsv } from '../cli/helpers.js';
import { multipart, raw, tempDir, trainFixture, vigil } from './helpers.js';

let dir: string;
let fx: ReturnType<typeof trainFixture>;
let srv: RunningServer;
let expected: Map<string, { score: number; verdict: string }>;
let heatmaps: Map<string, string>;
const expectedHeatmap = (file: string): string => heatmaps.get(file)!;

/** A valid PNG header (signature + IHDR with its CRC) claiming w×h pixels, and nothing else. */
function pngHeader(w: number, h: number): Buffer {
  const crcTable = Array.from({ length: 256 }, (_, n) => { let c = n; for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1; return c >>> 0; });
  const crc = (b: Buffer): number => { let c = 0xffffffff; for (const x of b) c = crcTable[(c ^ x) & 0xff]! ^ (c >>> 8); return (c ^ 0xffffffff) >>> 0; };
  const ihdr = Buffer.alloc(17);
  ihdr.write('IHDR', 0); ihdr.writeUInt32BE(w, 4); ihdr.writeUInt32BE(h, 8); ihdr.set([8, 2, 0, 0, 0], 12);
  const len = Buffer.alloc(4); len.writeUInt32BE(13);
  const c = Buffer.alloc(4); c.writeUInt32BE(crc(ihdr));
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), len, ihdr, c]);
}

before(async () => {
  dir = tempDir('vigil-api-');
  fx = trainFixture(dir);
  const p = vigil(['predict', fx.run, ...fx.good, ...fx.defect, '--out', join(dir, 'pred'), '--json', '--quiet']);
  assert.equal(p.code, 0, p.stderr);
  const preds = JSON.parse(p.stdout).predictions as Array<{ path: string; score: number; verdict: string; heatmap: string }>;
  expected = new Map(preds.map((x) => [x.path, x]));
  heatmaps = new Map(preds.map((x) => [x.path, x.heatmap]));
  srv = await serve({ models: [{ name: 'woven', dir: fx.run }], port: 0, history: join(dir, 'history'), workers: 1, threads: 1, onLog: () => undefined });
});
after(async () => { await srv?.close(); });

const post = (path: string, body: Uint8Array | string, type: string, headers: Record<string, string> = {}) =>
  fetch(`${srv.url}${path}`, { method: 'POST', body, headers: { 'Content-Type': type, ...headers } });

test('GET /healthz, /readyz and /v1/models describe the served model', async () => {
  assert.equal((await fetch(`${srv.url}/healthz`)).status, 200);
  const ready = await (await fetch(`${srv.url}/readyz`)).json();
  assert.deepEqual([ready.ready, ready.models], [true, ['woven']]);
  const { models } = await (await fetch(`${srv.url}/v1/models`)).json();
  assert.equal(models.length, 1);
  const m = models[0];
  const manifest = JSON.parse(readFileSync(join(fx.run, 'model', 'manifest.json'), 'utf8'));
  const metrics = JSON.parse(readFileSync(join(fx.run, 'metrics.json'), 'utf8'));
  assert.equal(m.name, 'woven');
  assert.equal(m.method, 'pixelstats');
  assert.equal(m.dataset, 'synth:woven');
  assert.deepEqual(m.input, { channels: 3, height: 64, width: 64, mode: 'rgb' });
  assert.equal(m.threshold.value, manifest.threshold.image.value);
  assert.equal(m.threshold.overridden, false);
  assert.deepEqual(m.training.image, metrics.image);
  assert.equal(m.report, '/v1/models/woven/report');
  const one = await (await fetch(`${srv.url}/v1/models/woven`)).json();
  assert.deepEqual(one, m);
});

test('POST predict with raw bytes gives vigil predict\'s score and verdict, and stores the inspection', async () => {
  const file = fx.defect[0]!;
  const res = await post('/v1/models/woven/predict', readFileSync(file), 'image/png', { 'X-Image-Name': 'part-1.png' });
  assert.equal(res.status, 200);
  const j = await res.json();
  assert.equal(j.count, 1);
  const r = j.results[0];
  assert.equal(r.name, 'part-1.png');
  assert.equal(r.score, expected.get(file)!.score, 'same float as the CLI');
  assert.equal(r.verdict, expected.get(file)!.verdict);
  assert.ok(r.normalised >= 0 && r.normalised <= 1);
  for (const k of ['queueMs', 'decodeMs', 'inferMs', 'renderMs', 'totalMs']) assert.ok(r.timing[k] >= 0, k);
  assert.equal(r.timing.batch, 1);
  assert.deepEqual([r.width, r.height], [96, 96]);
  assert.equal(r.heatmap, `/v1/inspections/${r.id}/heatmap`);
  const heat = await fetch(`${srv.url}${r.heatmap}`);
  assert.equal(heat.headers.get('content-type'), 'image/png');
  const meta = await sharp(Buffer.from(await heat.arrayBuffer())).metadata();
  assert.deepEqual([meta.width, meta.height], [96, 96], 'overlay at the original size');
  // Same Predictor.render path as the CLI: byte-identical overlay PNG.
  const heatBytes = Buffer.from(await (await fetch(`${srv.url}${r.heatmap}`)).arrayBuffer());
  const cliHeat = readFileSync(join(dir, 'pred', expectedHeatmap(file)));
  assert.ok(heatBytes.equals(cliHeat), 'the heatmap equals vigil predict\'s');
  const mask = await fetch(`${srv.url}/v1/inspections/${r.id}/mask`);
  assert.equal(mask.status, 200);
  const img = Buffer.from(await (await fetch(`${srv.url}/v1/inspections/${r.id}/image`)).arrayBuffer());
  assert.ok(img.equals(readFileSync(file)), 'the stored image is the uploaded bytes');
  const ins = await (await fetch(`${srv.url}/v1/inspections/${r.id}`)).json();
  assert.equal(ins.score, r.score);
  assert.equal(ins.verdict, r.verdict);
  assert.equal(ins.threshold, r.threshold);
  assert.equal(ins.model, 'woven');
  assert.equal(ins.sha256, r.sha256);
  assert.equal(ins.label, null);
});

test('POST predict with multipart scores many images in one batch; inline PNGs on request', async () => {
  const files = [fx.good[0]!, fx.good[1]!, fx.defect[1]!];
  const { body, type } = multipart([
    { name: 'note', data: 'a text field is ignored' },
    ...files.map((f, k) => ({ name: 'image', filename: `f${k}.png`, type: 'image/png', data: readFileSync(f) })),
  ]);
  const res = await post('/v1/models/woven/predict?images=inline', body, type);
  assert.equal(res.status, 200);
  const j = await res.json();
  assert.equal(j.count, 3);
  j.results.forEach((r: any, k: number) => {
    assert.equal(r.name, `f${k}.png`);
    assert.equal(r.score, expected.get(files[k]!)!.score);
    assert.equal(r.timing.batch, 3, 'one worker call for the three');
    assert.match(r.heatmap, /^data:image\/png;base64,/);
    assert.match(r.mask, /^data:image\/png;base64,/);
  });
  const none = await (await post('/v1/models/woven/predict?images=none', body, type)).json();
  assert.equal(none.results[0].heatmap, undefined);
  assert.equal((await post('/v1/models/woven/predict?images=big', body, type)).status, 400);
});

test('JPEG, BMP and octet-stream bodies are accepted by their bytes', async () => {
  const src = readFileSync(fx.good[0]!);
  const jpeg = await sharp(src).jpeg({ quality: 95 }).toBuffer();
  const bmp = (() => { // 24-bit BMP by hand (sharp writes none)
    const w = 8, h = 8, row = w * 3, size = 54 + row * h;
    const b = Buffer.alloc(size);
    b.write('BM', 0); b.writeUInt32LE(size, 2); b.writeUInt32LE(54, 10); b.writeUInt32LE(40, 14);
    b.writeInt32LE(w, 18); b.writeInt32LE(h, 22); b.writeUInt16LE(1, 26); b.writeUInt16LE(24, 28);
    for (let i = 54; i < size; i++) b[i] = (i * 37) & 255;
    return b;
  })();
  for (const [body, type, fmt] of [[jpeg, 'image/jpeg', 'jpeg'], [bmp, 'image/bmp', 'bmp'], [src, 'application/octet-stream', 'png']] as const) {
    const res = await post('/v1/models/woven/predict', body, type);
    assert.equal(res.status, 200, `${type}: ${await res.clone().text()}`);
    const r = (await res.json()).results[0];
    assert.equal((await (await fetch(`${srv.url}/v1/inspections/${r.id}`)).json()).format, fmt);
    if (fmt === 'bmp') assert.match(r.warnings?.[0] ?? '', /^'image' is 8×8, the model was trained on 96×96 images/, 'the pipeline\'s size warning comes through');
    else assert.equal(r.warnings, undefined);
  }
});

test('errors: 415 for non-images, 400 for corrupt data, each naming the problem', async () => {
  const png = readFileSync(fx.good[0]!);
  let res = await post('/v1/models/woven/predict', 'hello', 'text/plain');
  assert.equal(res.status, 415);
  assert.match((await res.json()).error.message, /Content-Type 'text\/plain' is not accepted/);
  res = await fetch(`${srv.url}/v1/models/woven/predict`, { method: 'POST', body: new Uint8Array(png) });
  assert.equal(res.status, 415, 'no Content-Type');
  res = await post('/v1/models/woven/predict', '<svg xmlns="http://www.w3.org/2000/svg"/>', 'application/octet-stream');
  assert.equal(res.status, 415);
  assert.match((await res.json()).error.message, /SVG/);
  res = await post('/v1/models/woven/predict', Buffer.from('GIF89a......'), 'image/png');
  assert.equal(res.status, 415, 'the bytes decide, not the declared type');
  assert.match((await res.json()).error.message, /looks like GIF/);
  const mp = multipart([{ name: 'image', filename: 'a.png', type: 'image/png', data: png }, { name: 'image', filename: 'notes.pdf', type: 'application/pdf', data: '%PDF' }]);
  res = await post('/v1/models/woven/predict', mp.body, mp.type);
  assert.equal(res.status, 415);
  assert.match((await res.json()).error.message, /part 2 \('notes.pdf'\) has Content-Type 'application\/pdf'/);
  // Truncated after the header: the header probe passes, the decoder in the worker fails.
  res = await post('/v1/models/woven/predict', png.subarray(0, 200), 'image/png', { 'X-Image-Name': 'cut.png' });
  assert.equal(res.status, 400);
  let e = (await res.json()).error;
  assert.equal(e.code, 'UNREADABLE_IMAGE');
  assert.match(e.message, /cut\.png is not a readable image/);
  res = await post('/v1/models/woven/predict', png.subarray(0, 20), 'image/png');
  assert.equal(res.status, 400);
  assert.match((await res.json()).error.message, /PNG whose header cannot be read/);
  const two = multipart([{ name: 'image', filename: 'ok.png', type: 'image/png', data: png }, { name: 'image', filename: 'bad.png', type: 'image/png', data: png.subarray(0, 300) }]);
  res = await post('/v1/models/woven/predict', two.body, two.type);
  assert.equal(res.status, 400);
  e = (await res.json()).error;
  assert.equal(e.index, 1);
  assert.match(e.message, /^image 2 of 2: bad\.png/);
  const noFile = multipart([{ name: 'x', data: 'no file' }]);
  res = await post('/v1/models/woven/predict', noFile.body, noFile.type);
  assert.equal(res.status, 400);
  assert.match((await res.json()).error.message, /no file part/);
  res = await post('/v1/models/woven/predict', Buffer.alloc(0), 'image/png');
  assert.equal(res.status, 400);
  assert.match((await res.json()).error.message, /empty/);
  res = await post('/v1/models/woven/predict', 'x', 'multipart/form-data');
  assert.equal(res.status, 400);
  assert.match((await res.json()).error.message, /boundary/);
});

test('errors: 404 unknown model / route / inspection, 405 wrong method with Allow', async () => {
  let res = await post('/v1/models/nope/predict', readFileSync(fx.good[0]!), 'image/png');
  assert.equal(res.status, 404);
  assert.match((await res.json()).error.message, /no model named 'nope' is served \(served: woven\)/);
  assert.equal((await fetch(`${srv.url}/v2/models`)).status, 404);
  assert.equal((await fetch(`${srv.url}/v1/inspections/999999`)).status, 404);
  assert.equal((await fetch(`${srv.url}/v1/inspections/abc`)).status, 404);
  res = await fetch(`${srv.url}/v1/models`, { method: 'DELETE' });
  assert.equal(res.status, 405);
  assert.equal(res.headers.get('allow'), 'GET');
  res = await fetch(`${srv.url}/v1/models/woven/predict`);
  assert.equal(res.status, 405);
  assert.equal(res.headers.get('allow'), 'POST');
});

test('errors: 413 for a body over the limit, too many images, and a decompression bomb', async () => {
  const small = await serve({ models: [{ name: 'woven', dir: fx.run }], port: 0, history: join(dir, 'history-small'), workers: 1, threads: 1, maxBodyBytes: 50_000, maxImages: 2, queueLimit: 4, maxPixels: 100 * 100, onLog: () => undefined });
  try {
    const big = Buffer.alloc(200_000, 1);
    let res = await raw(`${small.url}/v1/models/woven/predict`, { method: 'POST', body: big, headers: { 'Content-Type': 'image/png' } });
    assert.equal(res.status, 413);
    assert.equal(res.json().error.code, 'PAYLOAD_TOO_LARGE');
    assert.match(res.json().error.message, /larger than the limit of 50000 bytes/);
    // Without Content-Length (chunked), the limit is found while streaming.
    const chunked = await fetch(`${small.url}/v1/models/woven/predict`, {
      method: 'POST', headers: { 'Content-Type': 'image/png' }, duplex: 'half',
      body: new ReadableStream({ start(c) { for (let i = 0; i < 10; i++) c.enqueue(new Uint8Array(20_000)); c.close(); } }),
    } as RequestInit);
    assert.equal(chunked.status, 413);
    const png = readFileSync(fx.good[0]!);
    const three = multipart([0, 1, 2].map((k) => ({ name: 'image', filename: `${k}.png`, type: 'image/png', data: png })));
    res = await raw(`${small.url}/v1/models/woven/predict`, { method: 'POST', body: three.body, headers: { 'Content-Type': three.type } });
    assert.equal(res.status, 413);
    assert.equal(res.json().error.code, 'TOO_MANY_IMAGES');
    const bomb = await sharp({ create: { width: 101, height: 100, channels: 3, background: '#888' } }).png().toBuffer();
    res = await raw(`${small.url}/v1/models/woven/predict`, { method: 'POST', body: bomb, headers: { 'Content-Type': 'image/png' } });
    assert.equal(res.status, 413);
    assert.equal(res.json().error.code, 'IMAGE_TOO_LARGE');
    assert.match(res.json().error.message, /101×100 = 10100 pixels, over the limit of 10000/);
    // A header claiming 50000×50000 (2.5 gigapixels) in 33 bytes: refused from the header alone.
    res = await raw(`${small.url}/v1/models/woven/predict`, { method: 'POST', body: pngHeader(50_000, 50_000), headers: { 'Content-Type': 'image/png' } });
    assert.equal(res.status, 413);
    assert.match(res.json().error.message, /50000×50000 = 2500000000 pixels/);
    assert.equal(small.store.count(), 0, 'nothing refused reached the history');
  } finally {
    await small.close();
  }
});

test('PATCH threshold: the verdict follows it, it is persisted, audited and survives a restart', async () => {
  const file = fx.good[0]!;
  const score = expected.get(file)!.score;
  const patch = (body: unknown, type = 'application/json') => fetch(`${srv.url}/v1/models/woven/threshold`, { method: 'PATCH', headers: { 'Content-Type': type }, body: typeof body === 'string' ? body : JSON.stringify(body) });
  assert.equal((await patch({ threshold: 'high' })).status, 400);
  assert.equal((await patch('{not json')).status, 400);
  assert.equal((await patch({ threshold: 1 }, 'text/plain')).status, 415);
  let res = await patch({ threshold: score - 1e-6, actor: 'qe-anna', note: 'tighter after line 3 audit' });
  assert.equal(res.status, 200);
  const m = await res.json();
  assert.equal(m.threshold.value, score - 1e-6);
  assert.equal(m.threshold.overridden, true);
  assert.equal(m.threshold.overriddenBy, 'qe-anna');
  let r = (await (await post('/v1/models/woven/predict', readFileSync(file), 'image/png')).json()).results[0];
  assert.equal(r.verdict, 'anomalous', 'score ≥ the new threshold');
  assert.equal(r.threshold, score - 1e-6);
  const audit = (await (await fetch(`${srv.url}/v1/audit?model=woven`)).json()).items;
  assert.equal(audit[0].action, 'threshold');
  assert.equal(audit[0].actor, 'qe-anna');
  assert.equal(audit[0].note, 'tighter after line 3 audit');
  assert.equal(Number(audit[0].newValue), score - 1e-6);
  // A second server on the same history starts with the override.
  const again = await serve({ models: [{ name: 'woven', dir: fx.run }], port: 0, history: join(dir, 'history'), workers: 1, threads: 1, onLog: () => undefined });
  try {
    const m2 = await (await fetch(`${again.url}/v1/models/woven`)).json();
    assert.equal(m2.threshold.value, score - 1e-6);
  } finally {
    await again.close();
  }
  res = await patch({ threshold: null, actor: 'qe-anna' });
  assert.equal((await res.json()).threshold.overridden, false);
  r = (await (await post('/v1/models/woven/predict', readFileSync(file), 'image/png')).json()).results[0];
  assert.equal(r.verdict, expected.get(file)!.verdict, 'back to the trained threshold');
  const audit2 = (await (await fetch(`${srv.url}/v1/audit?model=woven`)).json()).items;
  assert.equal(audit2[0].newValue, 'trained');
});

test('history: list with filters, scores, operator labels (audited), CSV export', async () => {
  const files = [...fx.good, ...fx.defect];
  const { body, type } = multipart(files.map((f, k) => ({ name: 'image', filename: `h${k}.png`, type: 'image/png', data: readFileSync(f) })));
  const ids = (await (await post('/v1/models/woven/predict?images=none', body, type)).json()).results.map((r: any) => r.id);
  const all = await (await fetch(`${srv.url}/v1/inspections?model=woven&limit=1000`)).json();
  assert.ok(all.total >= files.length);
  assert.deepEqual(all.items.slice(0, files.length).map((i: any) => i.id), [...ids].reverse(), 'newest first');
  const page = await (await fetch(`${srv.url}/v1/inspections?limit=2&offset=1`)).json();
  assert.deepEqual([page.items.length, page.limit, page.offset, page.items[0].id], [2, 2, 1, all.items[1].id]);
  const anomalous = await (await fetch(`${srv.url}/v1/inspections?verdict=anomalous&limit=1000`)).json();
  assert.ok(anomalous.items.every((i: any) => i.verdict === 'anomalous'));
  assert.equal(anomalous.total + (await (await fetch(`${srv.url}/v1/inspections?verdict=normal`)).json()).total, all.total);
  assert.equal((await fetch(`${srv.url}/v1/inspections?verdict=bad`)).status, 400);
  assert.equal((await fetch(`${srv.url}/v1/inspections?from=yesterday`)).status, 400);
  const future = await (await fetch(`${srv.url}/v1/inspections?from=${Date.now() + 86_400_000}`)).json();
  assert.equal(future.total, 0);
  const today = new Date().toISOString().slice(0, 10);
  assert.equal((await (await fetch(`${srv.url}/v1/inspections?from=${today}`)).json()).total, all.total);

  const label = (id: number, b: unknown) => fetch(`${srv.url}/v1/inspections/${id}/label`, { method: 'PATCH', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(b) });
  assert.equal((await label(ids[0], { label: 'maybe' })).status, 400);
  let res = await label(ids[0], { label: 'NG', actor: 'op-7' });
  assert.equal(res.status, 200);
  assert.deepEqual([(await res.json()).label], ['NG']);
  await label(ids[1], { label: 'OK' });
  await label(ids[1], { label: null });
  const ng = await (await fetch(`${srv.url}/v1/inspections?label=NG`)).json();
  assert.deepEqual(ng.items.map((i: any) => [i.id, i.labelActor]), [[ids[0], 'op-7']]);
  const audit = (await (await fetch(`${srv.url}/v1/audit?model=woven&limit=3`)).json()).items;
  assert.deepEqual(audit.map((a: any) => [a.action, a.inspectionId, a.oldValue, a.newValue]), [['label', ids[1], 'OK', null], ['label', ids[1], null, 'OK'], ['label', ids[0], null, 'NG']]);

  const sc = await (await fetch(`${srv.url}/v1/models/woven/scores`)).json();
  assert.deepEqual(sc.columns, ['id', 'score', 'verdict', 'label']);
  const byId = new Map(sc.items.map((r: any[]) => [r[0], r]));
  assert.equal((byId.get(ids[0]) as any[])[3], 'NG');
  assert.equal(sc.items.length, all.total);

  const csvRes = await fetch(`${srv.url}/v1/inspections.csv?model=woven`);
  assert.equal(csvRes.headers.get('content-type'), 'text/csv; charset=utf-8');
  assert.match(csvRes.headers.get('content-disposition')!, /attachment; filename="vigil-history-\d{4}-\d\d-\d\d\.csv"/);
  const rows = parseCsv(await csvRes.text());
  assert.equal(rows.length, all.total);
  const row = rows.find((r) => Number(r.id) === ids[0])!;
  assert.equal(row.label, 'NG');
  assert.equal(row.label_actor, 'op-7');
  assert.equal(Number(row.score), all.items.find((i: any) => i.id === ids[0]).score, 'full precision in the CSV');
  assert.equal(row.name, 'h0.png');
});

test('GET /metrics: Prometheus text with requests by status, latency histogram, queue depth, model load', async () => {
  await fetch(`${srv.url}/v1/models/nope`);
  const res = await fetch(`${srv.url}/metrics`);
  assert.match(res.headers.get('content-type')!, /^text\/plain; version=0\.0\.4/);
  const t = await res.text();
  assert.match(t, /^vigil_http_requests_total\{method="POST",route="\/v1\/models\/\{name\}\/predict",status="200"\} \d+$/m);
  assert.match(t, /^vigil_http_requests_total\{method="GET",route="\/v1\/models\/\{name\}",status="404"\} [1-9]\d*$/m);
  assert.match(t, /^vigil_http_request_duration_seconds_bucket\{route="\/v1\/models\/\{name\}\/predict",le="\+Inf"\} \d+$/m);
  assert.match(t, /^vigil_inference_queue_depth 0$/m);
  assert.match(t, /^vigil_inference_queue_limit 64$/m);
  assert.match(t, /^vigil_model_loaded\{model="woven"\} 1$/m);
  assert.match(t, /^vigil_model_load_seconds\{model="woven"\} \d/m);
  assert.match(t, /^vigil_predictions_total\{model="woven",verdict="(normal|anomalous)"\} [1-9]/m);
  assert.match(t, /^process_resident_memory_bytes \d+$/m);
  for (const line of t.trim().split('\n')) assert.match(line, /^(# (HELP|TYPE) \w+ .+|\w+(\{(\w+="([^"\\]|\\.)*",?)+\})? [-+0-9.eInfNa]+)$/, `malformed line: ${line}`);
});

test('the run report and the UI are served; static paths cannot leave their folder', async () => {
  const rep = await fetch(`${srv.url}/v1/models/woven/report`);
  assert.equal(rep.status, 200);
  assert.match(rep.headers.get('content-type')!, /^text\/html/);
  assert.equal(await rep.text(), readFileSync(join(fx.run, 'report.html'), 'utf8'));
  const ui = await fetch(`${srv.url}/`);
  assert.equal(ui.status, 200);
  assert.match(ui.headers.get('content-security-policy')!, /script-src 'self'/);
  assert.match(await ui.text(), /<script type="module" src="\/ui\/app.js">/);
  for (const f of ['app.js', 'style.css', 'favicon.svg']) assert.equal((await fetch(`${srv.url}/ui/${f}`)).status, 200, f);
  for (const path of ['/ui/../package.json', '/ui/../../../package.json', '/ui/..%2f..%2f..%2fpackage.json', '/ui/%2e%2e/%2e%2e/%2e%2e/package.json', '/ui/..%5c..%5cpackage.json', '/ui/%00index.html', '/ui/', '/ui/%E0%A4%A', '/ui//etc/passwd']) {
    const res = await raw(srv.url, { path });
    assert.equal(res.status, 404, `${path} → ${res.status}`);
    assert.doesNotMatch(res.text, /"name": "vigil"|root:/);
  }
  // A symlink inside the folder pointing out of it is refused too.
  const uiDir = new URL('../../../src/server/ui/', import.meta.url).pathname;
  const link = join(uiDir, 'escape-test-link.json');
  try {
    symlinkSync(new URL('../../../package.json', import.meta.url).pathname, link);
    assert.equal((await raw(srv.url, { path: '/ui/escape-test-link.json' })).status, 404);
  } finally {
    if (existsSync(link)) (await import('node:fs')).rmSync(link);
  }
});

test('browser guards: foreign Origin and Host refused; CORS only for configured origins', async () => {
  let res = await raw(`${srv.url}/v1/models`, { headers: { Origin: 'http://evil.example' } });
  assert.equal(res.status, 403);
  assert.equal(res.headers['access-control-allow-origin'], undefined, 'CORS off by default');
  res = await raw(`${srv.url}/v1/models`, { headers: { Host: 'evil.example' } });
  assert.equal(res.status, 403, 'DNS-rebinding Host refused on loopback');
  const host = new URL(srv.url).host;
  res = await raw(`${srv.url}/v1/models`, { headers: { Origin: `http://${host}` } });
  assert.equal(res.status, 200, 'same origin');
  const c = await serve({ models: [{ name: 'woven', dir: fx.run }], port: 0, history: join(dir, 'history-cors'), workers: 1, threads: 1, corsOrigins: ['https://line.example'], onLog: () => undefined });
  try {
    res = await raw(`${c.url}/v1/models/woven/predict`, { method: 'OPTIONS', headers: { Origin: 'https://line.example', 'Access-Control-Request-Method': 'POST' } });
    assert.equal(res.status, 204);
    assert.equal(res.headers['access-control-allow-origin'], 'https://line.example');
    assert.match(String(res.headers['access-control-allow-headers']), /Authorization/);
    res = await raw(`${c.url}/v1/models`, { headers: { Origin: 'https://line.example' } });
    assert.equal(res.status, 200);
    assert.equal(res.headers['access-control-allow-origin'], 'https://line.example');
    assert.equal((await raw(`${c.url}/v1/models`, { headers: { Origin: 'https://other.example' } })).status, 403);
  } finally {
    await c.close();
  }
});

test('token: required on every API route when set, health probes and UI assets stay open', async () => {
  const token = 'test-token-0123456789abcdef';
  const t = await serve({ models: [{ name: 'woven', dir: fx.run }], host: '0.0.0.0', port: 0, token, history: join(dir, 'history-token'), workers: 1, threads: 1, onLog: () => undefined });
  const url = `http://127.0.0.1:${t.port}`;
  try {
    for (const [method, path] of [['GET', '/v1/models'], ['GET', '/metrics'], ['POST', '/v1/models/woven/predict'], ['PATCH', '/v1/models/woven/threshold'], ['GET', '/v1/inspections'], ['GET', '/v1/inspections.csv'], ['GET', '/v1/models/woven/report']] as const) {
      const res = await fetch(`${url}${path}`, { method });
      assert.equal(res.status, 401, `${method} ${path}`);
      assert.equal(res.headers.get('www-authenticate'), 'Bearer realm="vigil"');
      const wrong = await fetch(`${url}${path}`, { method, headers: { Authorization: 'Bearer nope' } });
      assert.equal(wrong.status, 401);
      assert.match((await wrong.json()).error.message, /wrong/);
    }
    const ok = await fetch(`${url}/v1/models`, { headers: { Authorization: `Bearer ${token}` } });
    assert.equal(ok.status, 200);
    const pred = await fetch(`${url}/v1/models/woven/predict`, { method: 'POST', headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'image/png' }, body: readFileSync(fx.good[0]!) });
    assert.equal(pred.status, 200);
    for (const path of ['/healthz', '/readyz', '/', '/ui/app.js']) assert.equal((await fetch(`${url}${path}`)).status, 200, path);
  } finally {
    await t.close();
  }
  await assert.rejects(serve({ models: [{ dir: fx.run }], host: '0.0.0.0', port: 0, history: join(dir, 'history-token2'), onLog: () => undefined }), /exposes the server beyond this machine; give a token/);
  await assert.rejects(serve({ models: [{ dir: fx.run }], port: 0, token: 'short', history: join(dir, 'history-token3'), onLog: () => undefined }), /at least 16 characters/);
});

test('a full queue answers 503 with Retry-After; a request past its deadline gets 504', async () => {
  // Large images keep the single worker busy while the other requests arrive.
  const big = await sharp({ create: { width: 1400, height: 1400, channels: 3, background: '#000', noise: { type: 'gaussian', mean: 128, sigma: 40 } } }).png().toBuffer();
  writeFileSync(join(dir, 'big.png'), big);
  const q = await serve({ models: [{ name: 'woven', dir: fx.run }], port: 0, history: join(dir, 'history-queue'), workers: 1, threads: 1, maxBatch: 1, queueLimit: 4, maxImages: 4, onLog: () => undefined });
  try {
    const four = multipart([0, 1, 2, 3].map((k) => ({ name: 'image', filename: `${k}.png`, type: 'image/png', data: big })));
    const all = await Promise.all(Array.from({ length: 8 }, () => fetch(`${q.url}/v1/models/woven/predict?images=none`, { method: 'POST', body: four.body, headers: { 'Content-Type': four.type } })));
    const statuses = all.map((r) => r.status);
    assert.ok(statuses.every((s) => s === 200 || s === 503), statuses.join(','));
    assert.ok(statuses.includes(200), statuses.join(','));
    const refused = all.filter((r) => r.status === 503);
    assert.ok(refused.length >= 1, `a 4-image queue cannot take 8 × 4 images at once: ${statuses.join(',')}`);
    const e = await refused[0]!.json();
    assert.equal(e.error.code, 'QUEUE_FULL');
    assert.ok(Number(refused[0]!.headers.get('retry-after')) >= 1);
    const m = await (await fetch(`${q.url}/metrics`)).text();
    assert.match(m, new RegExp(`^vigil_queue_rejections_total ${refused.length}$`, 'm'));
  } finally {
    await q.close();
  }
  const slow = await serve({ models: [{ name: 'woven', dir: fx.run }], port: 0, history: join(dir, 'history-timeout'), workers: 1, threads: 1, timeoutMs: 1, onLog: () => undefined });
  try {
    const res = await fetch(`${slow.url}/v1/models/woven/predict`, { method: 'POST', body: big, headers: { 'Content-Type': 'image/png' } });
    assert.equal(res.status, 504);
    assert.equal((await res.json()).error.code, 'TIMEOUT');
    await slow.pool.idle();
    assert.equal(slow.store.count(), 0, 'a timed-out request leaves no history row');
  } finally {
    await slow.close();
  }
});

test('serve refuses bad model specs with messages naming the fix', async () => {
  await assert.rejects(serve({ models: [], port: 0, history: join(dir, 'h-x'), onLog: () => undefined }), /give at least one run directory/);
  await assert.rejects(serve({ models: [{ dir: fx.run }, { dir: fx.run }], port: 0, history: join(dir, 'h-x'), onLog: () => undefined }), /both named 'run'.*name them/);
  await assert.rejects(serve({ models: [{ dir: join(dir, 'missing') }], port: 0, history: join(dir, 'h-x'), onLog: () => undefined }), /does not exist/);
  await assert.rejects(serve({ models: [{ name: 'a b', dir: fx.run }], port: 0, history: join(dir, 'h-x'), onLog: () => undefined }), /may only hold letters/);
  await assert.rejects(serve({ models: [{ dir: fx.run }], port: 0, history: join(dir, 'h-x'), maxImages: 10, queueLimit: 5, onLog: () => undefined }), /cannot exceed --queue-limit/);
  await assert.rejects(serve({ models: [{ dir: fx.run }], port: srv.port, history: join(dir, 'h-x'), onLog: () => undefined }), /is in use/);
});

test('docs/openapi.yaml describes exactly the routes the server has', () => {
  const spec = YAML.parse(readFileSync(new URL('../../../docs/openapi.yaml', import.meta.url), 'utf8'));
  const documented = Object.entries(spec.paths as Record<string, Record<string, unknown>>).flatMap(([path, ops]) => Object.keys(ops).filter((k) => k !== 'parameters').map((m) => `${m.toUpperCase()} ${path}`)).sort();
  const router = buildRouter({ models: new Map(), pool: srv.pool, store: srv.store, metrics: undefined as never, limits: srv.config, draining: () => false, log: () => undefined });
  const served = router.routes().filter(([, t]) => t !== '/' && !t.startsWith('/ui/')).map(([m, t]) => `${m} ${t}`).sort();
  assert.deepEqual(documented, served);
});
