// Static files: the web UI's assets (plain HTML/CSS/JS in src/server/ui, no build step, nothing
// from a CDN) and single files of a run or of the history. A request path is decoded once,
// resolved inside its root and checked again after symlinks, so `..`, encoded slashes,
// backslashes and links cannot reach a file outside the folder.
import { createReadStream, existsSync, realpathSync, statSync } from 'node:fs';
import { pipeline } from 'node:stream';
import type { ServerResponse } from 'node:http';
import { extname, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml', '.png': 'image/png', '.jpg': 'image/jpeg', '.jpeg': 'image/jpeg', '.bmp': 'image/bmp',
  '.tif': 'image/tiff', '.tiff': 'image/tiff', '.webp': 'image/webp', '.json': 'application/json', '.txt': 'text/plain; charset=utf-8',
  '.ico': 'image/x-icon',
};

export const contentType = (path: string): string => TYPES[extname(path).toLowerCase()] ?? 'application/octet-stream';

/** The UI folder: src/server/ui of the package (the compiled server lives in dist/src/server). */
export function uiRoot(): string {
  for (const rel of ['./ui/', '../../../src/server/ui/']) {
    const p = fileURLToPath(new URL(rel, import.meta.url));
    if (existsSync(resolve(p, 'index.html'))) return realpathSync(p);
  }
  throw new Error('serve: the web UI files (src/server/ui) are missing from this installation');
}

/**
 * The file `urlPath` (still percent-encoded, relative to the root) names inside `root`, or null
 * when it is not a regular file inside it.
 */
export function resolveInside(root: string, urlPath: string): string | null {
  let rel: string;
  try {
    rel = decodeURIComponent(urlPath);
  } catch {
    return null;
  }
  if (rel.includes('\0') || rel.includes('\\')) return null;
  const base = realpathSync(root);
  const p = resolve(base, '.' + (rel.startsWith('/') ? rel : `/${rel}`));
  if (p !== base && !p.startsWith(base + sep)) return null;
  let real: string;
  try {
    real = realpathSync(p);
  } catch {
    return null;
  }
  if (!real.startsWith(base + sep)) return null;
  return statSync(real).isFile() ? real : null;
}

export interface SendOptions { cacheSeconds?: number; headers?: Record<string, string> }

/** Streams a file with its content type; HEAD sends the headers only. */
export function sendFile(res: ServerResponse, path: string, method: string, o: SendOptions = {}): void {
  const st = statSync(path);
  res.writeHead(200, {
    'Content-Type': contentType(path),
    'Content-Length': String(st.size),
    'Cache-Control': o.cacheSeconds ? `private, max-age=${o.cacheSeconds}` : 'no-cache',
    'X-Content-Type-Options': 'nosniff',
    ...o.headers,
  });
  if (method === 'HEAD') { res.end(); return; }
  // The headers are out: a read error (the file removed or cut meanwhile) can only end the
  // response early; pipeline keeps it from being an unhandled 'error' that stops the server.
  pipeline(createReadStream(path), res, () => {});
}
