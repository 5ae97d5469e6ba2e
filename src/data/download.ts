/**
 * Resumable HTTP(S) download with checksum verification, on node built-ins only.
 *
 * The body goes to `<dest>.part`; an interrupted transfer resumes from the part file's size with
 * an HTTP Range request (a server that ignores Range answers 200 and the file restarts from zero).
 * After the checksum passes, the part file is renamed onto `dest`, so `dest` only ever holds a
 * complete, verified file. A checksum mismatch deletes the part file.
 */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rename, stat, unlink } from 'node:fs/promises';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { dirname } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { DatasetError } from './dataset-error.js';

export interface DownloadProgress {
  readonly url: string;
  /** Bytes on disk so far, including a resumed prefix. */
  readonly received: number;
  /** Total size when the server says it. */
  readonly total: number | undefined;
}

export interface DownloadOptions {
  /** Expected SHA-256, hex. */
  sha256?: string;
  /** Expected MD5, hex (what torchvision and the CIFAR page publish). */
  md5?: string;
  onProgress?: (progress: DownloadProgress) => void;
  /** Redirects followed before giving up. Default 10. */
  maxRedirects?: number;
  /** Automatic resumes after a dropped connection or a stalled socket. Default 3. */
  retries?: number;
  /** A socket idle for this long is treated as dropped. Default 60000 ms. */
  idleTimeoutMs?: number;
}

export interface DownloadResult {
  readonly path: string;
  readonly bytes: number;
  /** True when `dest` already existed (and matched the checksum, if one was given). */
  readonly skipped: boolean;
  /** Byte offset the transfer resumed from at its last attempt (0 = from scratch). */
  readonly resumedFrom: number;
}

/** A failure worth resuming after: dropped connection, short body, idle socket. */
class TransientError extends Error {}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const TRANSIENT_CODES = new Set(['ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ECONNABORTED', 'ERR_STREAM_PREMATURE_CLOSE']);

async function sizeOf(path: string): Promise<number | undefined> {
  try {
    const s = await stat(path);
    return s.isFile() ? s.size : undefined;
  } catch {
    return undefined;
  }
}

/** Hex digest of a file. */
export async function hashFile(path: string, algorithm: 'sha256' | 'md5'): Promise<string> {
  const h = createHash(algorithm);
  await pipeline(createReadStream(path), h);
  return h.digest('hex');
}

function expectedDigests(opts: DownloadOptions): Array<['sha256' | 'md5', string]> {
  const out: Array<['sha256' | 'md5', string]> = [];
  for (const [algo, len] of [['sha256', 64], ['md5', 32]] as const) {
    const v = opts[algo];
    if (v === undefined) continue;
    if (!new RegExp(`^[0-9a-fA-F]{${len}}$`).test(v)) {
      throw new DatasetError('bad-option', `${algo} must be ${len} hex digits, got '${v}'`);
    }
    out.push([algo, v.toLowerCase()]);
  }
  return out;
}

/** First checksum that does not match, or undefined when all match. */
async function checksumMismatch(path: string, digests: Array<['sha256' | 'md5', string]>): Promise<string | undefined> {
  for (const [algo, want] of digests) {
    const got = await hashFile(path, algo);
    if (got !== want) return `${algo} is ${got}, expected ${want}`;
  }
  return undefined;
}

/** GET `url` following redirects; resolves with the first non-redirect response. */
function get(url: URL, headers: Record<string, string>, opts: DownloadOptions, redirectsLeft: number, original: string): Promise<{ res: IncomingMessage; url: URL }> {
  return new Promise((resolvePromise, reject) => {
    const send = url.protocol === 'https:' ? httpsRequest : url.protocol === 'http:' ? httpRequest : undefined;
    if (send === undefined) {
      reject(new DatasetError('download', `cannot download ${url.href}: only http and https are supported${url.href !== original ? ` (redirected from ${original})` : ''}`));
      return;
    }
    const req = send(url, { method: 'GET', headers: { 'user-agent': 'vigil-dataset-download', ...headers } }, (res) => {
      const status = res.statusCode ?? 0;
      const location = res.headers.location;
      if (REDIRECTS.has(status) && location !== undefined) {
        res.resume();
        if (redirectsLeft <= 0) {
          reject(new DatasetError('download', `too many redirects downloading ${original} (last: ${url.href})`));
          return;
        }
        get(new URL(location, url), headers, opts, redirectsLeft - 1, original).then(resolvePromise, reject);
        return;
      }
      resolvePromise({ res, url });
    });
    const idle = opts.idleTimeoutMs ?? 60000;
    req.setTimeout(idle, () => req.destroy(new TransientError(`no data for ${idle} ms from ${url.href}`)));
    req.on('error', (e: NodeJS.ErrnoException) => {
      if (e instanceof TransientError || (e.code !== undefined && TRANSIENT_CODES.has(e.code))) reject(new TransientError(e.message));
      else reject(new DatasetError('download', `cannot download ${url.href}: ${e.message}`, undefined, { cause: e }));
    });
    req.end();
  });
}

/** One attempt: appends to (or restarts) the part file until the body ends. */
async function attempt(url: string, part: string, opts: DownloadOptions): Promise<number> {
  const offset = (await sizeOf(part)) ?? 0;
  const headers: Record<string, string> = offset > 0 ? { range: `bytes=${offset}-` } : {};
  const { res, url: finalUrl } = await get(new URL(url), headers, opts, opts.maxRedirects ?? 10, url);
  const status = res.statusCode ?? 0;
  let start: number;
  let total: number | undefined;
  if (status === 206) {
    const m = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(res.headers['content-range'] ?? '');
    if (m === null || Number(m[1]) !== offset) {
      res.resume();
      throw new DatasetError('download', `${finalUrl.href} answered a Range request for byte ${offset} with Content-Range '${res.headers['content-range'] ?? ''}'; delete ${part} and retry`, part);
    }
    start = offset;
    total = m[3] === '*' ? undefined : Number(m[3]);
  } else if (status === 200) {
    start = 0; // a server without Range support sends everything again
    const len = res.headers['content-length'];
    total = len === undefined ? undefined : Number(len);
  } else if (status === 416 && offset > 0) {
    res.resume();
    const m = /\/(\d+)$/.exec(res.headers['content-range'] ?? '');
    if (m !== null && Number(m[1]) === offset) return offset; // the part file is already complete
    await unlink(part);
    throw new TransientError(`${finalUrl.href} rejected the resume range; restarting from zero`);
  } else {
    res.resume();
    throw new DatasetError('download', `cannot download ${url}: the server answered HTTP ${status} ${res.statusMessage ?? ''}`.trim());
  }

  let received = start;
  res.on('data', (chunk: Buffer) => {
    received += chunk.length;
    opts.onProgress?.({ url, received, total });
  });
  try {
    await pipeline(res, createWriteStream(part, { flags: start === 0 ? 'w' : 'a' }));
  } catch (e) {
    if (e instanceof DatasetError) throw e;
    throw new TransientError(`connection to ${finalUrl.href} dropped at byte ${received}${total !== undefined ? ` of ${total}` : ''}: ${(e as Error).message}`);
  }
  if (total !== undefined && received !== total) {
    throw new TransientError(`${finalUrl.href} ended after ${received} of ${total} bytes`);
  }
  return start;
}

/**
 * Downloads `url` to `dest` (folders are created). Resumes a previous `<dest>.part`.
 *
 * @example
 * await download('https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz', 'data/cifar-10-binary.tar.gz',
 *   { md5: 'c32a1d4ab5d03f1284b67883e8d87530', onProgress: (p) => console.log(p.received, p.total) });
 */
export async function download(url: string, dest: string, opts: DownloadOptions = {}): Promise<DownloadResult> {
  const digests = expectedDigests(opts);
  try {
    new URL(url);
  } catch {
    throw new DatasetError('bad-option', `not a URL: '${url}'`);
  }
  const existing = await sizeOf(dest);
  if (existing !== undefined) {
    const bad = await checksumMismatch(dest, digests);
    if (bad !== undefined) {
      throw new DatasetError('checksum', `${dest} already exists but its ${bad}; delete it to download again`, dest);
    }
    return { path: dest, bytes: existing, skipped: true, resumedFrom: 0 };
  }
  await mkdir(dirname(dest), { recursive: true });
  const part = `${dest}.part`;
  const retries = opts.retries ?? 3;
  let resumedFrom = 0;
  for (let tries = 0; ; tries++) {
    try {
      resumedFrom = await attempt(url, part, opts);
      break;
    } catch (e) {
      if (!(e instanceof TransientError)) throw e;
      if (tries >= retries) {
        const have = (await sizeOf(part)) ?? 0;
        throw new DatasetError(
          'download',
          `download of ${url} failed after ${tries + 1} attempt(s): ${e.message}. ${have} bytes are kept in ${part}; run again to resume`,
          part,
          { cause: e },
        );
      }
    }
  }
  const bad = await checksumMismatch(part, digests);
  if (bad !== undefined) {
    await unlink(part);
    throw new DatasetError('checksum', `checksum mismatch for ${url}: the downloaded file's ${bad}. The file was deleted; the source may have changed or the transfer was corrupted`, dest);
  }
  await rename(part, dest);
  return { path: dest, bytes: (await sizeOf(dest)) ?? 0, skipped: false, resumedFrom };
}
