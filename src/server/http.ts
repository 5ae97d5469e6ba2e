// HTTP plumbing: errors with a status and a stable code, a route table with {param} templates
// (the templates are also the metrics' route labels), bounded body reading, multipart/form-data,
// bearer tokens, and the browser-facing guards (Host on loopback, Origin, CORS).
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

export class HttpError extends Error {
  constructor(readonly status: number, readonly code: string, message: string, readonly headers: Record<string, string> = {}, readonly details: Record<string, unknown> = {}) {
    super(message);
    this.name = 'HttpError';
  }
}

export interface Ctx {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  params: Record<string, string>;
  method: string;
}

export type Handler = (c: Ctx) => Promise<void> | void;

interface Route { method: string; template: string; re: RegExp; keys: string[]; handler: Handler; public: boolean }

export class Router {
  #routes: Route[] = [];

  /** `template` segments like {name} match one path segment; a final {path*} matches the rest. */
  add(method: string, template: string, handler: Handler, o: { public?: boolean } = {}): this {
    const keys: string[] = [];
    const re = new RegExp('^' + template.replace(/[.+?^$()|[\]\\]/g, '\\$&').replace(/\{(\w+)(\*?)\}/g, (_m, k: string, rest: string) => {
      keys.push(k);
      return rest ? '(.*)' : '([^/]+)';
    }) + '$');
    this.#routes.push({ method, template, re, keys, handler, public: o.public ?? false });
    return this;
  }

  /** [method, template] of every route, in the order added. */
  routes(): Array<[string, string]> {
    return this.#routes.map((r) => [r.method, r.template]);
  }

  match(method: string, path: string): { route: Route; params: Record<string, string> } | { allowed: string[] } | null {
    const allowed: string[] = [];
    for (const r of this.#routes) {
      const m = r.re.exec(path);
      if (!m) continue;
      if (r.method === method || (method === 'HEAD' && r.method === 'GET')) {
        const params: Record<string, string> = {};
        r.keys.forEach((k, i) => { params[k] = m[i + 1]!; });
        return { route: r, params };
      }
      allowed.push(r.method);
    }
    return allowed.length ? { allowed: [...new Set(allowed)] } : null;
  }
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': String(Buffer.byteLength(text)), 'Cache-Control': 'no-store', ...headers });
  res.end(text);
}

export function sendError(res: ServerResponse, e: HttpError): void {
  if (res.headersSent) { res.destroy(); return; }
  sendJson(res, e.status, { error: { code: e.code, message: e.message, ...e.details } }, e.headers);
}

/**
 * Reads the whole body, refusing (413) past `limit` bytes: from Content-Length before reading,
 * or as soon as the stream passes it. What a refused client still sends is read and dropped up
 * to a bound, so that it sees the 413 rather than a reset.
 */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const tooLarge = (n: string): HttpError => new HttpError(413, 'PAYLOAD_TOO_LARGE', `the request body (${n}) is larger than the limit of ${limit} bytes; send fewer or smaller images (the server's --max-body-mb sets the limit)`, { Connection: 'close' });
  const drain = (): void => {
    let dropped = 0;
    req.on('data', (c: Buffer) => { dropped += c.length; if (dropped > 4 * limit + (1 << 20)) req.destroy(); });
    req.resume();
  };
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) { drain(); return Promise.reject(tooLarge(`${declared} bytes`)); }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let n = 0;
    let failed = false;
    const onData = (c: Buffer): void => {
      if (failed) return;
      n += c.length;
      if (n > limit) {
        failed = true;
        req.off('data', onData);
        drain();
        reject(tooLarge(`over ${limit} bytes`));
        return;
      }
      chunks.push(c);
    };
    req.on('data', onData);
    req.on('end', () => { if (!failed) resolve(Buffer.concat(chunks, n)); });
    req.on('error', (e) => { if (!failed) { failed = true; reject(e); } });
  });
}

export async function readJson(req: IncomingMessage, limit = 64 * 1024): Promise<Record<string, unknown>> {
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/json') throw new HttpError(415, 'UNSUPPORTED_MEDIA_TYPE', `send a JSON body with Content-Type: application/json (got ${type ? `'${type}'` : 'no Content-Type'})`);
  const body = await readBody(req, limit);
  let v: unknown;
  try {
    v = JSON.parse(body.toString('utf8'));
  } catch (e) {
    throw new HttpError(400, 'BAD_JSON', `the body is not valid JSON: ${(e as Error).message}`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new HttpError(400, 'BAD_JSON', 'the body must be a JSON object');
  return v as Record<string, unknown>;
}

export interface Part { name: string | null; filename: string | null; type: string | null; data: Buffer }

/** multipart/form-data (RFC 7578) from a buffered body. */
export function parseMultipart(body: Buffer, contentType: string): Part[] {
  const m = /boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType);
  const boundary = m?.[1] ?? m?.[2];
  if (!boundary) throw new HttpError(400, 'BAD_MULTIPART', 'multipart/form-data without a boundary parameter in Content-Type');
  const delim = Buffer.from(`--${boundary}`);
  const parts: Part[] = [];
  let pos = body.indexOf(delim);
  if (pos < 0) throw new HttpError(400, 'BAD_MULTIPART', `the multipart body does not contain its boundary '${boundary}'`);
  for (;;) {
    pos += delim.length;
    if (body[pos] === 0x2d && body[pos + 1] === 0x2d) break; // closing --boundary--
    if (body[pos] === 0x0d && body[pos + 1] === 0x0a) pos += 2;
    const headEnd = body.indexOf('\r\n\r\n', pos);
    if (headEnd < 0) throw new HttpError(400, 'BAD_MULTIPART', 'a multipart part has no end of headers');
    const headers = body.subarray(pos, headEnd).toString('utf8').split('\r\n');
    const next = body.indexOf(Buffer.concat([Buffer.from('\r\n'), delim]), headEnd + 4);
    if (next < 0) throw new HttpError(400, 'BAD_MULTIPART', `the multipart body ends without its closing boundary '--${boundary}--'`);
    let name: string | null = null, filename: string | null = null, type: string | null = null;
    for (const h of headers) {
      const i = h.indexOf(':');
      if (i < 0) continue;
      const k = h.slice(0, i).trim().toLowerCase();
      const v = h.slice(i + 1).trim();
      if (k === 'content-disposition') {
        name = /\bname="([^"]*)"/i.exec(v)?.[1] ?? null;
        filename = /\bfilename="([^"]*)"/i.exec(v)?.[1] ?? null;
      } else if (k === 'content-type') type = v.split(';')[0]!.trim().toLowerCase();
    }
    parts.push({ name, filename, type, data: body.subarray(headEnd + 4, next) });
    pos = next + 2;
  }
  return parts;
}

/** Constant-time comparison of `Authorization: Bearer <token>` with the server's token. */
export function bearerOk(req: IncomingMessage, token: string): boolean {
  const h = req.headers.authorization ?? '';
  const m = /^Bearer\s+(.+)$/i.exec(h);
  if (!m) return false;
  const a = createHash('sha256').update(m[1]!.trim()).digest();
  const b = createHash('sha256').update(token).digest();
  return timingSafeEqual(a, b);
}

export const isLoopback = (host: string): boolean => host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);

/** The host name of a Host header (no port, IPv6 brackets removed). */
export function hostName(hostHeader: string): string {
  const h = hostHeader.trim().toLowerCase();
  if (h.startsWith('[')) return h.slice(1, h.indexOf(']'));
  return h.replace(/:\d+$/, '');
}
