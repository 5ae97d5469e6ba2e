// The /v1 JSON API and the health, metrics, report and UI routes (docs/api.md, docs/openapi.yaml).
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Run } from '../pipeline/run-dir.js';
import type { RunMetrics } from '../pipeline/types.js';
import type { HistoryFilter, HistoryStore, Inspection, InspectionInput, Label } from './history.js';
import { HttpError, parseMultipart, readBody, readJson, Router, sendJson, type Ctx } from './http.js';
import { ACCEPTED_TYPES, describeBytes, IMAGE_TYPES, probeImage, ProbeError, sniffFormat, type ImageFormat } from './images.js';
import type { ServerMetrics } from './metrics.js';
import { PoolClosedError, QueueFullError, type InferencePool, type PoolResult } from './pool.js';
import { resolveInside, sendFile, uiRoot } from './static.js';

export interface ServedModel {
  name: string;
  run: Run;
  /** Hash of manifest.json: a retrained run under the same name is another model version. */
  key: string;
  trainedThreshold: number;
  threshold: number;
  override: { ts: number; actor: string | null } | null;
  metrics: RunMetrics | null;
}

export interface Limits {
  maxBodyBytes: number;
  maxPixels: number;
  maxImages: number;
  timeoutMs: number;
}

export interface ApiState {
  models: Map<string, ServedModel>;
  pool: InferencePool;
  store: HistoryStore;
  metrics: ServerMetrics;
  limits: Limits;
  draining: () => boolean;
  log: (m: string) => void;
}

export function modelKey(name: string, runDir: string): string {
  const h = createHash('sha256').update(readFileSync(join(runDir, 'model', 'manifest.json'))).digest('hex').slice(0, 12);
  return `${name}-${h}`;
}

function modelJson(m: ServedModel): Record<string, unknown> {
  const man = m.run.manifest;
  const [channels, height, width] = man.imageShape;
  const t = m.metrics;
  return {
    name: m.name,
    method: man.method,
    dataset: man.dataset,
    created: man.created,
    vigilVersion: man.vigil_version,
    input: { channels, height, width, mode: man.preprocessing.mode },
    localises: man.normalisation.pixel !== null,
    threshold: {
      value: m.threshold,
      trained: m.trainedThreshold,
      rule: man.threshold.image.rule,
      overridden: m.override !== null,
      ...(m.override ? { overriddenAt: new Date(m.override.ts).toISOString(), overriddenBy: m.override.actor } : {}),
    },
    normalisation: man.normalisation.image,
    training: t ? { image: t.image, pixel: t.pixel, confusion: t.confusion, counts: t.counts, inferMsPerImage: t.timing.infer_ms_per_image } : null,
    report: existsSync(join(m.run.dir, 'report.html')) ? `/v1/models/${encodeURIComponent(m.name)}/report` : null,
  };
}

export function inspectionJson(i: Inspection): Record<string, unknown> {
  const base = `/v1/inspections/${i.id}`;
  return {
    id: i.id, time: new Date(i.ts).toISOString(), model: i.model, name: i.name, sha256: i.sha256, format: i.format,
    width: i.width, height: i.height, bytes: i.bytes, score: i.score, normalised: i.normalised, verdict: i.verdict,
    threshold: i.threshold, latencyMs: i.latencyMs, label: i.label,
    labelTime: i.labelTs ? new Date(i.labelTs).toISOString() : null, labelActor: i.labelActor,
    image: `${base}/image`, heatmap: i.heatmapFile ? `${base}/heatmap` : null, mask: i.maskFile ? `${base}/mask` : null,
  };
}

/** CSP hashes ('sha256-…') of the inline <script> elements of a run's report.html. */
export function reportScriptHashes(runDir: string): string[] {
  const p = join(runDir, 'report.html');
  if (!existsSync(p)) return [];
  const html = readFileSync(p, 'utf8');
  return [...html.matchAll(/<script>([\s\S]*?)<\/script>/g)].map((m) => `sha256-${createHash('sha256').update(m[1]!, 'utf8').digest('base64')}`);
}

const EXT: Record<ImageFormat, string> = { png: 'png', jpeg: 'jpg', bmp: 'bmp', tiff: 'tif', webp: 'webp' };

interface Upload { name: string; bytes: Buffer; format: ImageFormat; width: number; height: number; sha256: string }

/** The images of a predict request, checked before any work is queued. */
async function uploads(c: Ctx, limits: Limits): Promise<Upload[]> {
  const type = (c.req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (!type) throw new HttpError(415, 'UNSUPPORTED_MEDIA_TYPE', 'the request has no Content-Type: send image bytes (image/png, image/jpeg, image/bmp, image/tiff, image/webp or application/octet-stream) or multipart/form-data');
  const isMultipart = type === 'multipart/form-data';
  if (!isMultipart && !ACCEPTED_TYPES.has(type)) {
    throw new HttpError(415, 'UNSUPPORTED_MEDIA_TYPE', `Content-Type '${type}' is not accepted: send image bytes (image/png, image/jpeg, image/bmp, image/tiff, image/webp or application/octet-stream) or multipart/form-data with image files`);
  }
  const body = await readBody(c.req, limits.maxBodyBytes);
  let raw: Array<{ name: string; data: Buffer }>;
  if (isMultipart) {
    const parts = parseMultipart(body, c.req.headers['content-type']!);
    const files = parts.filter((p) => p.filename !== null || (p.type !== null && p.type !== 'text/plain'));
    for (const [k, p] of files.entries()) {
      if (p.type && !ACCEPTED_TYPES.has(p.type)) throw new HttpError(415, 'UNSUPPORTED_MEDIA_TYPE', `part ${k + 1} ('${p.filename ?? p.name ?? ''}') has Content-Type '${p.type}': only PNG, JPEG, BMP, TIFF and WebP images are accepted`);
    }
    raw = files.map((p, k) => ({ name: (p.filename || p.name || `image-${k + 1}`).slice(0, 255), data: p.data }));
    if (raw.length === 0) throw new HttpError(400, 'NO_IMAGE', `the multipart body has no file part (${parts.length} part${parts.length === 1 ? '' : 's'} without a filename); send images as file fields, e.g. curl -F image=@part.png`);
  } else {
    const hdr = c.req.headers['x-image-name'];
    raw = [{ name: ((typeof hdr === 'string' && hdr) || c.url.searchParams.get('name') || 'image').slice(0, 255), data: body }];
  }
  if (raw.length > limits.maxImages) throw new HttpError(413, 'TOO_MANY_IMAGES', `${raw.length} images in one request; the limit is ${limits.maxImages} (the server's --max-images)`);
  const out: Upload[] = [];
  for (const [k, r] of raw.entries()) {
    const which = raw.length > 1 ? `image ${k + 1} ('${r.name}')` : `the image ('${r.name}')`;
    if (r.data.length === 0) throw new HttpError(400, 'NO_IMAGE', `${which} is empty`);
    const format = sniffFormat(r.data);
    if (!format) throw new HttpError(415, 'UNSUPPORTED_MEDIA_TYPE', `${which} is not a PNG, JPEG, BMP, TIFF or WebP image: it looks like ${describeBytes(r.data)}`);
    let dims: { width: number; height: number };
    try {
      dims = await probeImage(r.data, format);
    } catch (e) {
      if (!(e instanceof ProbeError)) throw e;
      throw new HttpError(400, 'UNREADABLE_IMAGE', `${which} is a ${format.toUpperCase()} whose header cannot be read (${e.message})`);
    }
    const px = dims.width * dims.height;
    if (px > limits.maxPixels) throw new HttpError(413, 'IMAGE_TOO_LARGE', `${which} is ${dims.width}×${dims.height} = ${px} pixels, over the limit of ${limits.maxPixels} (a guard against decompression bombs; the server's --max-pixels sets it)`);
    out.push({ name: r.name, bytes: r.data, format, ...dims, sha256: createHash('sha256').update(r.data).digest('hex') });
  }
  return out;
}

function parseTime(v: string | null, what: string): number | undefined {
  if (v === null || v === '') return undefined;
  const t = /^\d+$/.test(v) ? Number(v) : Date.parse(v);
  if (!Number.isFinite(t)) throw new HttpError(400, 'BAD_QUERY', `${what}='${v}' is not a time: give an ISO 8601 date or time (2026-01-31, 2026-01-31T08:00:00Z) or Unix milliseconds`);
  return t;
}

function parseInt0(v: string | null, what: string, dflt: number, max: number): number {
  if (v === null || v === '') return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new HttpError(400, 'BAD_QUERY', `${what}='${v}' must be a non-negative integer`);
  return Math.min(n, max);
}

function historyFilter(q: URLSearchParams): HistoryFilter {
  const f: HistoryFilter = {};
  const model = q.get('model');
  if (model) f.model = model;
  const verdict = q.get('verdict');
  if (verdict) {
    if (verdict !== 'anomalous' && verdict !== 'normal') throw new HttpError(400, 'BAD_QUERY', `verdict='${verdict}' must be 'anomalous' or 'normal'`);
    f.verdict = verdict;
  }
  const label = q.get('label');
  if (label) {
    if (label !== 'OK' && label !== 'NG' && label !== 'none') throw new HttpError(400, 'BAD_QUERY', `label='${label}' must be OK, NG or none`);
    f.label = label;
  }
  const from = parseTime(q.get('from'), 'from');
  const to = parseTime(q.get('to'), 'to');
  if (from !== undefined) f.from = from;
  if (to !== undefined) f.to = to;
  return f;
}

function actorOf(body: Record<string, unknown>): string | null {
  const a = body.actor;
  if (a === undefined || a === null) return null;
  if (typeof a !== 'string' || a.length > 100) throw new HttpError(400, 'BAD_FIELD', "'actor' must be a string of at most 100 characters");
  return a;
}

export function buildRouter(s: ApiState): Router {
  const r = new Router();
  const model = (c: Ctx): ServedModel => {
    const name = decodeURIComponent(c.params.name!);
    const m = s.models.get(name);
    if (!m) throw new HttpError(404, 'MODEL_NOT_FOUND', `no model named '${name}' is served (served: ${[...s.models.keys()].join(', ')})`);
    return m;
  };
  const inspection = (c: Ctx): Inspection => {
    const id = Number(c.params.id);
    const i = Number.isInteger(id) ? s.store.get(id) : null;
    if (!i) throw new HttpError(404, 'INSPECTION_NOT_FOUND', `no inspection with id '${c.params.id}'`);
    return i;
  };

  r.add('GET', '/healthz', (c) => sendJson(c.res, 200, { status: 'ok', uptimeSeconds: process.uptime() }), { public: true });
  r.add('GET', '/readyz', (c) => {
    const ready = s.pool.ready && !s.draining();
    const reason = s.draining() ? 'shutting down' : ready ? null : 'loading models';
    sendJson(c.res, ready ? 200 : 503, { ready, ...(reason ? { reason } : {}), workers: s.pool.liveWorkers, models: [...s.models.keys()] });
  }, { public: true });
  r.add('GET', '/metrics', (c) => {
    const text = s.metrics.registry.render();
    c.res.writeHead(200, { 'Content-Type': 'text/plain; version=0.0.4; charset=utf-8', 'Content-Length': String(Buffer.byteLength(text)), 'Cache-Control': 'no-store' });
    c.res.end(text);
  });

  r.add('GET', '/v1/models', (c) => sendJson(c.res, 200, { models: [...s.models.values()].map(modelJson) }));
  r.add('GET', '/v1/models/{name}', (c) => sendJson(c.res, 200, modelJson(model(c))));
  // The reports' inline scripts, allowed by hash: in the UI the report is shown from a blob:
  // URL, which inherits the UI page's policy.
  const reportScripts = [...new Set([...s.models.values()].flatMap((m) => reportScriptHashes(m.run.dir)))].map((h) => `'${h}'`).join(' ');
  r.add('GET', '/v1/models/{name}/report', (c) => {
    const m = model(c);
    const p = resolveInside(m.run.dir, 'report.html');
    if (!p) throw new HttpError(404, 'REPORT_NOT_FOUND', `the run of '${m.name}' has no report.html (${m.run.dir})`);
    // Self-contained: inline styles, SVG, data: images and its own script; it fetches nothing.
    sendFile(c.res, p, c.method, { headers: { 'Content-Security-Policy': `default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src ${reportScripts || "'none'"}` } });
  });

  r.add('PATCH', '/v1/models/{name}/threshold', async (c) => {
    const m = model(c);
    const body = await readJson(c.req);
    const v = body.threshold;
    if (v !== null && (typeof v !== 'number' || !Number.isFinite(v))) throw new HttpError(400, 'BAD_FIELD', "'threshold' must be a finite number (raw image score: score ≥ threshold → anomalous) or null to return to the trained threshold");
    const note = body.note;
    if (note !== undefined && (typeof note !== 'string' || note.length > 500)) throw new HttpError(400, 'BAD_FIELD', "'note' must be a string of at most 500 characters");
    const actor = actorOf(body);
    const old = m.threshold;
    s.store.setThreshold(m.name, m.key, v as number | null, old, actor, (note as string | undefined) ?? null);
    m.threshold = v === null ? m.trainedThreshold : v as number;
    m.override = v === null ? null : { ts: Date.now(), actor };
    s.log(`serve: threshold of '${m.name}' ${old} → ${m.threshold}${actor ? ` by ${actor}` : ''}`);
    sendJson(c.res, 200, modelJson(m));
  });

  r.add('GET', '/v1/models/{name}/scores', (c) => {
    const m = model(c);
    const f = { ...historyFilter(c.url.searchParams), model: m.name };
    const limit = parseInt0(c.url.searchParams.get('limit'), 'limit', 100_000, 1_000_000);
    sendJson(c.res, 200, { model: m.name, threshold: m.threshold, trainedThreshold: m.trainedThreshold, columns: ['id', 'score', 'verdict', 'label'], items: s.store.scores(f, limit) });
  });

  r.add('POST', '/v1/models/{name}/predict', async (c) => {
    const t0 = performance.now();
    const m = model(c);
    const imagesMode = c.url.searchParams.get('images') ?? 'url';
    if (!['url', 'inline', 'none'].includes(imagesMode)) throw new HttpError(400, 'BAD_QUERY', `images='${imagesMode}' must be url, inline or none`);
    // A full queue refuses before the body is read (Node discards the rest of it).
    if (s.pool.queueDepth >= s.pool.o.queueLimit) {
      s.metrics.rejected.inc();
      const after = s.pool.retryAfterSeconds();
      throw new HttpError(503, 'QUEUE_FULL', `the inference queue is full (${s.pool.queueDepth} of ${s.pool.o.queueLimit} images waiting); retry after ${after} s`, { 'Retry-After': String(after) }, { retryAfterSeconds: after });
    }
    const ups = await uploads(c, s.limits);
    const localises = m.run.manifest.normalisation.pixel !== null;
    let job: ReturnType<InferencePool['submit']>;
    try {
      job = s.pool.submit(m.name, ups.map((u) => ({ bytes: u.bytes, name: u.name })), () => m.threshold, localises);
    } catch (e) {
      if (e instanceof QueueFullError) {
        s.metrics.rejected.inc();
        throw new HttpError(503, 'QUEUE_FULL', e.message, { 'Retry-After': String(e.retryAfterS) }, { retryAfterSeconds: e.retryAfterS });
      }
      if (e instanceof PoolClosedError) throw new HttpError(503, 'SHUTTING_DOWN', e.message, { Connection: 'close' });
      throw e;
    }
    // A client that goes away leaves the queue; so does a request past its deadline.
    const onClose = (): void => { if (!c.res.writableEnded) job.cancel(); };
    c.res.on('close', onClose);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        job.cancel();
        s.metrics.timeouts.inc();
        reject(new HttpError(504, 'TIMEOUT', `the prediction did not finish within ${s.limits.timeoutMs / 1000} s (the server's --timeout); the server is overloaded or the images are very large`));
      }, Math.max(1, s.limits.timeoutMs - (performance.now() - t0)));
    });
    let results: PoolResult[];
    try {
      results = await Promise.race([job.done, timeout]);
    } finally {
      clearTimeout(timer);
      c.res.off('close', onClose);
    }
    const bad = results.findIndex((x) => !x.ok);
    if (bad >= 0) {
      const x = results[bad]! as Extract<PoolResult, { ok: false }>;
      // The worker's message names the file already.
      throw new HttpError(400, x.code, `${ups.length > 1 ? `image ${bad + 1} of ${ups.length}: ` : ''}${x.message}`, {}, { index: bad });
    }
    // Files before rows: a crash in between leaves an unreferenced file, never a dangling row.
    const now = Date.now();
    const rows: InspectionInput[] = [];
    const files: Array<{ heatmap?: Uint8Array; mask?: Uint8Array }> = [];
    for (const [k, u] of ups.entries()) {
      const x = results[k]! as Extract<PoolResult, { ok: true }>;
      const imageFile = await s.store.storeImage(u.sha256, EXT[u.format], u.bytes);
      const heatmapFile = x.heatmap ? await s.store.storeResult(m.key, u.sha256, 'heatmap', x.heatmap) : null;
      const maskFile = x.mask ? await s.store.storeResult(m.key, u.sha256, 'mask', x.mask) : null;
      files.push({ ...(x.heatmap ? { heatmap: x.heatmap } : {}), ...(x.mask ? { mask: x.mask } : {}) });
      rows.push({
        ts: now, model: m.name, modelKey: m.key, name: u.name, sha256: u.sha256, format: u.format, width: u.width, height: u.height,
        bytes: u.bytes.length, imageFile, heatmapFile, maskFile, score: x.score, normalised: x.normalised, verdict: x.verdict,
        threshold: x.threshold, latencyMs: performance.now() - t0,
      });
    }
    const ids = s.store.insert(rows);
    const totalMs = performance.now() - t0;
    const out = ups.map((u, k) => {
      const x = results[k]! as Extract<PoolResult, { ok: true }>;
      s.metrics.predictions.inc({ model: m.name, verdict: x.verdict });
      const id = ids[k]!;
      const img = (kind: 'heatmap' | 'mask'): Record<string, string> => {
        const png = files[k]![kind];
        if (!png || imagesMode === 'none') return {};
        return { [kind]: imagesMode === 'inline' ? `data:image/png;base64,${Buffer.from(png).toString('base64')}` : `/v1/inspections/${id}/${kind}` };
      };
      return {
        id, name: u.name, sha256: u.sha256, width: u.width, height: u.height,
        score: x.score, normalised: x.normalised, verdict: x.verdict, threshold: x.threshold,
        timing: { queueMs: x.queueMs, decodeMs: x.decodeMs, inferMs: x.inferMs, batch: x.batch, renderMs: x.renderMs, totalMs },
        // e.g. a size or aspect ratio unlike the training images' (the pipeline's wording).
        ...(x.warnings ? { warnings: x.warnings.map((w) => w.replace(/^image \d+/, `'${u.name}'`)) } : {}),
        ...img('heatmap'), ...img('mask'),
        ...(imagesMode === 'url' ? { image: `/v1/inspections/${id}/image` } : {}),
      };
    });
    sendJson(c.res, 200, { model: m.name, count: out.length, results: out });
  });

  r.add('GET', '/v1/inspections', (c) => {
    const q = c.url.searchParams;
    const f = historyFilter(q);
    const limit = parseInt0(q.get('limit'), 'limit', 50, 1000);
    const offset = parseInt0(q.get('offset'), 'offset', 0, Number.MAX_SAFE_INTEGER);
    const page = s.store.list(f, { limit, offset });
    sendJson(c.res, 200, { total: page.total, limit, offset, items: page.items.map(inspectionJson) });
  });
  r.add('GET', '/v1/inspections.csv', (c) => {
    const text = s.store.csv(historyFilter(c.url.searchParams));
    const day = new Date().toISOString().slice(0, 10);
    c.res.writeHead(200, { 'Content-Type': 'text/csv; charset=utf-8', 'Content-Disposition': `attachment; filename="vigil-history-${day}.csv"`, 'Content-Length': String(Buffer.byteLength(text)), 'Cache-Control': 'no-store' });
    c.res.end(text);
  });
  r.add('GET', '/v1/inspections/{id}', (c) => sendJson(c.res, 200, inspectionJson(inspection(c))));
  for (const kind of ['image', 'heatmap', 'mask'] as const) {
    r.add('GET', `/v1/inspections/{id}/${kind}`, (c) => {
      const i = inspection(c);
      const rel = kind === 'image' ? i.imageFile : kind === 'heatmap' ? i.heatmapFile : i.maskFile;
      const p = rel ? s.store.filePath(rel) : null;
      if (!p || !existsSync(p)) throw new HttpError(404, 'FILE_NOT_FOUND', kind === 'image' ? `the stored image of inspection ${i.id} is gone (retention)` : `inspection ${i.id} has no ${kind} (the model gives no anomaly maps)`);
      sendFile(c.res, p, c.method, { cacheSeconds: 3600, headers: kind === 'image' ? { 'Content-Type': IMAGE_TYPES[i.format as ImageFormat] ?? 'application/octet-stream' } : {} });
    });
  }
  r.add('PATCH', '/v1/inspections/{id}/label', async (c) => {
    const i = inspection(c);
    const body = await readJson(c.req);
    const label = body.label;
    if (label !== null && label !== 'OK' && label !== 'NG') throw new HttpError(400, 'BAD_FIELD', "'label' must be \"OK\" (a good part), \"NG\" (a defective part) or null (clear)");
    const updated = s.store.setLabel(i.id, label as Label | null, actorOf(body))!;
    sendJson(c.res, 200, inspectionJson(updated));
  });
  r.add('GET', '/v1/audit', (c) => {
    const q = c.url.searchParams;
    const limit = parseInt0(q.get('limit'), 'limit', 100, 1000);
    const m = q.get('model');
    sendJson(c.res, 200, { items: s.store.auditLog({ ...(m ? { model: m } : {}), limit }).map((e) => ({ ...e, time: new Date(e.ts).toISOString() })) });
  });

  // The web UI: static assets, open without a token (they hold no data; the API calls need it).
  const ui = uiRoot();
  const uiHeaders = { 'Content-Security-Policy': `default-src 'self'; img-src 'self' blob: data:; style-src 'self' 'unsafe-inline'; script-src 'self' ${reportScripts}; connect-src 'self'; frame-src 'self' blob:; object-src 'none'; base-uri 'none'; form-action 'self'`.replace(' ;', ';'), 'X-Frame-Options': 'SAMEORIGIN' };
  r.add('GET', '/', (c) => sendFile(c.res, join(ui, 'index.html'), c.method, { headers: uiHeaders }), { public: true });
  r.add('GET', '/ui/{path*}', (c) => {
    const p = resolveInside(ui, c.params.path!);
    if (!p) throw new HttpError(404, 'NOT_FOUND', `no UI file '${c.params.path}'`);
    sendFile(c.res, p, c.method, { headers: uiHeaders });
  }, { public: true });
  return r;
}
