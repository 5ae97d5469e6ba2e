// `vigil serve`: an inspection station on top of the pipeline's Predictor. One process serves the
// /v1 API, the web UI and the metrics; inference runs in a pool of worker threads; every
// prediction lands in the SQLite history. Stateless apart from that history folder, so replicas
// can run behind a load balancer (each with its own history).
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { availableParallelism } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { UserError } from '../pipeline/errors.js';
import { readRun, slug } from '../pipeline/run-dir.js';
import { checkDevice } from '../pipeline/runtime.js';
import type { RunMetrics } from '../pipeline/types.js';
import { buildRouter, modelKey, type Limits, type ServedModel } from './api.js';
import { HistoryStore } from './history.js';
import { bearerOk, hostName, HttpError, isLoopback, sendError, type Ctx } from './http.js';
import { serverMetrics } from './metrics.js';
import { InferencePool } from './pool.js';

export interface ServeOptions {
  /** Run directories, each optionally named: { name: 'bottle', dir: 'runs/x' }; default name = folder name. */
  models: ReadonlyArray<{ name?: string; dir: string }>;
  host?: string;
  /** 0 = any free port (the result says which). */
  port?: number;
  /** Bearer token for every /v1 route and /metrics; required when host is not loopback. */
  token?: string;
  /** History folder (SQLite + stored images); default ./vigil-history. */
  history?: string;
  historySync?: 'normal' | 'full';
  retentionDays?: number;
  retentionRows?: number;
  /** Inference worker threads, each with every model loaded (default: one per core, at most 8). */
  workers?: number;
  /** libtorch threads in all (default every core), split between the workers. */
  threads?: number;
  device?: string;
  /** Images waiting for a worker beyond which requests get 503 (default 64). */
  queueLimit?: number;
  /** Images per worker call (default 8). */
  maxBatch?: number;
  /** Per-request deadline in ms (default 30 000). */
  timeoutMs?: number;
  maxBodyBytes?: number;
  maxPixels?: number;
  /** Images per request (default 32; at most queueLimit). */
  maxImages?: number;
  /** Origins allowed to call the API from a browser (CORS); none by default; '*' = any. */
  corsOrigins?: readonly string[];
  /** How long a graceful stop waits for in-flight work (default 30 000 ms). */
  drainTimeoutMs?: number;
  onLog?: (m: string) => void;
}

export interface RunningServer {
  url: string;
  host: string;
  port: number;
  models: ReadonlyMap<string, ServedModel>;
  /** The settings in effect, defaults resolved. */
  config: { workers: number; threadsPerWorker: number; queueLimit: number; maxBatch: number; device: string } & Limits;
  store: HistoryStore;
  pool: InferencePool;
  /** Stops taking requests, finishes those in flight, then closes the workers and the history. */
  close(): Promise<void>;
}

const posInt = (v: number | undefined, flag: string, dflt: number): number => {
  const n = v ?? dflt;
  if (!Number.isInteger(n) || n < 1) throw new UserError(`${flag} must be a positive integer, got ${v}`, { code: 'CONFIG_INVALID' });
  return n;
};

function loadModels(specs: ServeOptions['models'], store: HistoryStore, log: (m: string) => void): Map<string, ServedModel> {
  if (specs.length === 0) throw new UserError('serve: give at least one run directory: vigil serve <run-dir>… (name one with name=<run-dir>)');
  const models = new Map<string, ServedModel>();
  for (const s of specs) {
    const run = readRun(s.dir);
    const name = s.name ?? slug(basename(run.dir));
    if (!/^[A-Za-z0-9._-]+$/.test(name)) throw new UserError(`serve: model name '${name}' may only hold letters, digits, '.', '_' and '-' (it is part of URLs)`, { code: 'CONFIG_INVALID' });
    const prev = models.get(name);
    if (prev) throw new UserError(`serve: two run directories are both named '${name}' (${prev.run.dir} and ${run.dir}); name them: vigil serve a=${prev.run.dir} b=${run.dir}`, { code: 'CONFIG_INVALID' });
    const metricsFile = join(run.dir, 'metrics.json');
    const metrics = existsSync(metricsFile) ? JSON.parse(readFileSync(metricsFile, 'utf8')) as RunMetrics : null;
    const key = modelKey(name, run.dir);
    const trained = run.manifest.threshold.image.value;
    const saved = store.threshold(name);
    let threshold = trained;
    let override: ServedModel['override'] = null;
    if (saved && saved.modelKey === key) {
      threshold = saved.value;
      override = { ts: saved.ts, actor: saved.actor };
      log(`serve: '${name}' uses the operator threshold ${saved.value} set ${new Date(saved.ts).toISOString()} (trained: ${trained})`);
    } else if (saved) {
      log(`serve: '${name}' was retrained since its operator threshold ${saved.value} was set; using the trained threshold ${trained}`);
    }
    models.set(name, { name, run, key, trainedThreshold: trained, threshold, override, metrics });
  }
  return models;
}

export async function serve(o: ServeOptions): Promise<RunningServer> {
  const log = o.onLog ?? ((m: string) => process.stderr.write(`${m}\n`));
  const host = o.host ?? '127.0.0.1';
  const port = o.port ?? 8080;
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UserError(`--port must be an integer in 0..65535, got ${o.port}`, { code: 'CONFIG_INVALID' });
  const loopback = isLoopback(host);
  if (o.token !== undefined && o.token.length < 16) throw new UserError('--token must be at least 16 characters (make one with: openssl rand -hex 16)', { code: 'CONFIG_INVALID' });
  if (!loopback && !o.token) throw new UserError(`serve: binding ${host} exposes the server beyond this machine; give a token (--token or VIGIL_TOKEN; make one with: openssl rand -hex 16), which clients send as Authorization: Bearer <token>`, { code: 'CONFIG_INVALID' });
  const threads = posInt(o.threads, '--threads', availableParallelism());
  // One libtorch thread per worker scales best for per-image requests (no OpenMP barriers, which
  // cost most on shared cores); past 8 workers, threads go to the workers instead of more copies
  // of the models.
  const workers = posInt(o.workers, '--workers', Math.min(8, threads));
  const queueLimit = posInt(o.queueLimit, '--queue-limit', 64);
  const maxImages = posInt(o.maxImages, '--max-images', Math.min(32, queueLimit));
  if (maxImages > queueLimit) throw new UserError(`--max-images (${maxImages}) cannot exceed --queue-limit (${queueLimit}): such a request could never be queued`, { code: 'CONFIG_INVALID' });
  const limits: Limits = {
    maxBodyBytes: posInt(o.maxBodyBytes, '--max-body-mb', 64 * 1024 * 1024),
    maxPixels: posInt(o.maxPixels, '--max-pixels', 40_000_000),
    maxImages,
    timeoutMs: posInt(o.timeoutMs, '--timeout', 30_000),
  };
  const device = checkDevice(o.device ?? 'cpu');

  const store = HistoryStore.open(resolve(o.history ?? 'vigil-history'), {
    ...(o.historySync ? { sync: o.historySync } : {}),
    ...(o.retentionDays !== undefined ? { retentionDays: o.retentionDays } : {}),
    ...(o.retentionRows !== undefined ? { retentionRows: o.retentionRows } : {}),
  });
  let pool: InferencePool | null = null;
  try {
    const models = loadModels(o.models, store, log);
    const swept = store.sweepTemp();
    if (swept) log(`serve: removed ${swept} temporary files left by an interrupted write`);
    const pruned = await store.prune();
    if (pruned.rows) log(`serve: retention removed ${pruned.rows} inspections and ${pruned.files} files`);

    const config = { workers, threadsPerWorker: Math.max(1, Math.floor(threads / workers)), queueLimit, maxBatch: posInt(o.maxBatch, '--max-batch', 8), device, ...limits };
    pool = new InferencePool([...models.values()].map((m) => ({ name: m.name, dir: m.run.dir })), { ...config, onLog: log });
    const t0 = performance.now();
    await pool.start();
    log(`serve: ${models.size} model${models.size === 1 ? '' : 's'} loaded in ${workers} worker${workers === 1 ? '' : 's'} × ${config.threadsPerWorker} thread${config.threadsPerWorker === 1 ? '' : 's'} in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    return await listen(o, { host, port, loopback, models, pool, store, limits, log, config });
  } catch (e) {
    await pool?.close().catch(() => undefined);
    store.close();
    throw e;
  }
}

interface Parts {
  host: string; port: number; loopback: boolean; models: Map<string, ServedModel>; pool: InferencePool; store: HistoryStore;
  limits: Limits; log: (m: string) => void; config: RunningServer['config'];
}

async function listen(o: ServeOptions, p: Parts): Promise<RunningServer> {
  const { pool, store, models, log } = p;
  let draining = false;
  const metrics = serverMetrics({
    queueDepth: () => pool.queueDepth, inFlight: () => pool.inFlight, queueLimit: p.config.queueLimit, workers: () => pool.liveWorkers,
    models: () => [...models.values()].map((m) => ({ name: m.name, loaded: pool.ready, loadSeconds: pool.loadSeconds.get(m.name) ?? null, threshold: m.threshold })),
  });
  const router = buildRouter({ models, pool, store, metrics, limits: p.limits, draining: () => draining, log });
  const cors = new Set(o.corsOrigins ?? []);
  const active = new Set<ServerResponse>();
  let activeWaiter: (() => void) | null = null;

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const t0 = performance.now();
    const method = req.method ?? 'GET';
    let route = 'unmatched';
    active.add(res);
    res.on('close', () => {
      active.delete(res);
      metrics.requests.inc({ method, route, status: String(res.statusCode) });
      metrics.latency.observe((performance.now() - t0) / 1000, { route });
      if (active.size === 0) activeWaiter?.();
    });
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Referrer-Policy', 'no-referrer');
    try {
      const url = new URL(req.url ?? '/', 'http://vigil.invalid');
      const hostHeader = req.headers.host ?? '';
      // DNS rebinding: a page from another site that resolves its name to 127.0.0.1 sends its own Host.
      if (p.loopback && !o.token && !isLoopback(hostName(hostHeader))) {
        throw new HttpError(403, 'HOST_FORBIDDEN', `Host '${hostHeader}' is not this server's: on loopback without a token only localhost, 127.0.0.1 and [::1] are accepted`);
      }
      const origin = req.headers.origin;
      if (origin !== undefined) {
        const same = origin === `http://${hostHeader}`;
        const allowed = cors.has('*') || cors.has(origin);
        if (!same && !allowed) throw new HttpError(403, 'ORIGIN_FORBIDDEN', `cross-origin request from '${origin}' refused: CORS is off unless the server is started with --cors <origin>`);
        if (!same) {
          res.setHeader('Access-Control-Allow-Origin', cors.has('*') ? '*' : origin);
          res.setHeader('Vary', 'Origin');
          res.setHeader('Access-Control-Expose-Headers', 'Retry-After');
          if (method === 'OPTIONS') {
            route = 'preflight';
            res.writeHead(204, {
              'Access-Control-Allow-Methods': 'GET, POST, PATCH, OPTIONS',
              'Access-Control-Allow-Headers': 'Authorization, Content-Type, X-Image-Name',
              'Access-Control-Max-Age': '600',
            });
            res.end();
            return;
          }
        }
      }
      const m = router.match(method, url.pathname);
      if (!m) throw new HttpError(404, 'NOT_FOUND', `no route ${method} ${url.pathname}; the API is under /v1 (see docs/api.md)`);
      if ('allowed' in m) throw new HttpError(405, 'METHOD_NOT_ALLOWED', `${method} is not allowed on ${url.pathname} (allowed: ${m.allowed.join(', ')})`, { Allow: m.allowed.join(', ') });
      route = m.route.template;
      if (draining && route !== '/healthz' && route !== '/readyz') throw new HttpError(503, 'SHUTTING_DOWN', 'the server is shutting down and takes no new requests', { Connection: 'close' });
      if (o.token && !m.route.public && !bearerOk(req, o.token)) {
        throw new HttpError(401, 'UNAUTHORIZED', req.headers.authorization ? 'the bearer token is wrong' : 'this server needs a token: send Authorization: Bearer <token>', { 'WWW-Authenticate': 'Bearer realm="vigil"' });
      }
      const c: Ctx = { req, res, url, params: m.params, method };
      await m.route.handler(c);
    } catch (e) {
      if (e instanceof HttpError) { sendError(res, e); return; }
      log(`serve: internal error on ${method} ${req.url}: ${e instanceof Error ? e.stack ?? e.message : String(e)}`);
      sendError(res, new HttpError(500, 'INTERNAL', `internal error (please report it): ${e instanceof Error ? e.message : String(e)}`));
    }
  };

  const server: Server = createServer({ requestTimeout: p.limits.timeoutMs + 30_000, headersTimeout: 30_000, keepAliveTimeout: 5_000 }, (req, res) => { void handle(req, res); });
  await new Promise<void>((resolveListen, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) => reject(e.code === 'EADDRINUSE' ? new UserError(`port ${p.port} on ${p.host} is in use; pick another with --port (0 = any free port)`, { code: 'CONFIG_INVALID' }) : e));
    server.listen(p.port, p.host, () => resolveListen());
  });
  const addr = server.address() as AddressInfo;
  const hostInUrl = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  const url = `http://${hostInUrl}:${addr.port}`;

  const retention = setInterval(() => {
    void store.prune().then((r) => { if (r.rows) log(`serve: retention removed ${r.rows} inspections and ${r.files} files`); }, (e: Error) => log(`serve: retention failed: ${e.message}`));
  }, 10 * 60_000);
  retention.unref();

  let closing: Promise<void> | null = null;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      draining = true;
      pool.stopAccepting();
      clearInterval(retention);
      // Stop listening first: a connection attempted after the 'draining' line is refused.
      const closed = new Promise<void>((r) => server.close(() => r()));
      server.closeIdleConnections();
      const n = active.size;
      log(`serve: draining: ${pool.queueDepth + pool.inFlight} images queued or running, ${n} request${n === 1 ? '' : 's'} open`);
      const drained = (async () => {
        await pool.idle();
        if (active.size > 0) await new Promise<void>((r) => { activeWaiter = r; });
      })();
      const limit = o.drainTimeoutMs ?? 30_000;
      let timer: NodeJS.Timeout | undefined;
      const timedOut = await Promise.race([drained.then(() => false), new Promise<boolean>((r) => { timer = setTimeout(() => r(true), limit); })]);
      clearTimeout(timer);
      if (timedOut) log(`serve: drain took longer than ${limit / 1000} s; closing anyway`);
      server.closeAllConnections();
      await closed;
      await pool.close();
      store.close();
      log('serve: stopped');
    })();
    return closing;
  };
  log(`serve: listening on ${url} (models: ${[...models.keys()].join(', ')}; history ${store.dir}${o.token ? '; token required' : ''})`);
  return { url, host: addr.address, port: addr.port, models, config: p.config, store, pool, close };
}
