/**
 * Archive extraction for the dataset downloads: .tar, .tar.gz/.tgz (own tar reader + node:zlib),
 * plain .gz (node:zlib), and .tar.xz through the system `tar` command (node has no xz decoder).
 * Files are written to a temporary name and renamed, so a crash never leaves half a file
 * under its final name.
 */
import { spawn } from 'node:child_process';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve, sep } from 'node:path';
import { pipeline as pipeStreams, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { DatasetError } from './dataset-error.js';

const BLOCK = 512;

/** Pulls exact byte counts out of an async byte stream. */
class ByteReader {
  private buf: Buffer = Buffer.alloc(0);
  private readonly it: AsyncIterator<Uint8Array>;
  constructor(source: AsyncIterable<Uint8Array>) {
    this.it = source[Symbol.asyncIterator]();
  }

  private async fill(n: number): Promise<boolean> {
    while (this.buf.length < n) {
      const next = await this.it.next();
      if (next.done === true) return false;
      this.buf = this.buf.length === 0 ? Buffer.from(next.value) : Buffer.concat([this.buf, next.value]);
    }
    return true;
  }

  /** Exactly n bytes, or undefined at a clean end of stream. */
  async read(n: number, what: string): Promise<Buffer | undefined> {
    if (!(await this.fill(n))) {
      if (this.buf.length === 0) return undefined;
      throw new DatasetError('extract', `archive is truncated (${what})`);
    }
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    return out;
  }

  /** Exactly n bytes (entry bodies); the stream must not end before. */
  async take(n: number, what: string): Promise<Buffer> {
    const chunks: Buffer[] = [];
    let left = n;
    while (left > 0) {
      if (this.buf.length === 0 && !(await this.fill(1))) throw new DatasetError('extract', `archive is truncated inside ${what}`);
      const piece = this.buf.subarray(0, Math.min(left, this.buf.length));
      chunks.push(piece);
      this.buf = this.buf.subarray(piece.length);
      left -= piece.length;
    }
    return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
  }
}

function cString(b: Buffer, start: number, len: number): string {
  const field = b.subarray(start, start + len);
  const end = field.indexOf(0);
  return field.subarray(0, end < 0 ? field.length : end).toString('utf8');
}

function octal(b: Buffer, start: number, len: number): number {
  // GNU base-256 for sizes ≥ 8 GiB: high bit set, big-endian binary.
  if ((b[start]! & 0x80) !== 0) {
    let v = b[start]! & 0x7f;
    for (let i = 1; i < len; i++) v = v * 256 + b[start + i]!;
    return v;
  }
  const s = cString(b, start, len).trim();
  return s === '' ? 0 : parseInt(s, 8);
}

function checksumOk(h: Buffer): boolean {
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 32 : h[i]!;
  return sum === octal(h, 148, 8);
}

function parsePax(body: Buffer): Map<string, string> {
  const out = new Map<string, string>();
  let at = 0;
  while (at < body.length) {
    const space = body.indexOf(0x20, at);
    if (space < 0) break;
    const len = Number(body.subarray(at, space).toString('ascii'));
    if (!Number.isInteger(len) || len <= 0) break;
    const record = body.subarray(space + 1, at + len - 1).toString('utf8');
    const eq = record.indexOf('=');
    if (eq > 0) out.set(record.slice(0, eq), record.slice(eq + 1));
    at += len;
  }
  return out;
}

/** Resolves an entry name under `dest`, refusing absolute paths and '..' escapes. */
function safeTarget(dest: string, name: string): string | undefined {
  const clean = name.replace(/^(\.\/)+/, '');
  if (clean === '' || clean === '.') return undefined;
  if (clean.startsWith('/') || clean.split('/').includes('..')) {
    throw new DatasetError('extract', `archive entry '${name}' points outside the extraction folder; refusing to extract`);
  }
  const target = resolve(dest, clean);
  if (target !== resolve(dest) && !target.startsWith(resolve(dest) + sep)) {
    throw new DatasetError('extract', `archive entry '${name}' points outside the extraction folder; refusing to extract`);
  }
  return target;
}

async function writeAtomic(path: string, data: Uint8Array): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  await writeFile(tmp, data);
  await rename(tmp, path);
}

export interface ExtractResult {
  /** Regular files written, relative to the destination, in archive order (empty for .tar.xz, which the system `tar` unpacks). */
  readonly files: string[];
  /** Entries not extracted (links, devices), by name. */
  readonly skipped: string[];
}

/**
 * Extracts a tar stream (ustar, GNU long names, pax headers) into `dest`. Symbolic and hard
 * links and special files are skipped and reported, not created.
 */
export async function extractTarStream(source: AsyncIterable<Uint8Array>, dest: string): Promise<ExtractResult> {
  const reader = new ByteReader(source);
  const files: string[] = [];
  const skipped: string[] = [];
  let longName: string | undefined;
  let pax = new Map<string, string>();
  await mkdir(dest, { recursive: true });
  for (;;) {
    const h = await reader.read(BLOCK, 'header');
    if (h === undefined || h.every((v) => v === 0)) break;
    if (!checksumOk(h)) throw new DatasetError('extract', 'not a tar archive, or a corrupt header (checksum mismatch)');
    const type = String.fromCharCode(h[156]!);
    const ustar = h.subarray(257, 262).toString('ascii') === 'ustar';
    const prefix = ustar ? cString(h, 345, 155) : '';
    let name = longName ?? pax.get('path') ?? (prefix !== '' ? `${prefix}/${cString(h, 0, 100)}` : cString(h, 0, 100));
    const size = pax.has('size') ? Number(pax.get('size')) : octal(h, 124, 12);
    const body = await reader.take(size, `entry '${name}'`);
    const pad = (BLOCK - (size % BLOCK)) % BLOCK;
    if (pad > 0) await reader.take(pad, `padding of '${name}'`);
    if (type === 'L') {
      longName = cString(body, 0, body.length);
      continue;
    }
    if (type === 'x') {
      pax = parsePax(body);
      continue;
    }
    longName = undefined;
    pax = new Map();
    if (type === 'g' || type === 'K') continue;
    if (type === '5') {
      const target = safeTarget(dest, name);
      if (target !== undefined) await mkdir(target, { recursive: true });
      continue;
    }
    if (type === '0' || type === '\0' || type === '7') {
      const target = safeTarget(dest, name);
      if (target === undefined) continue;
      await writeAtomic(target, body);
      name = name.replace(/^(\.\/)+/, '');
      files.push(name);
      continue;
    }
    skipped.push(name);
  }
  return { files, skipped };
}

/** Runs a command, resolving with its exit code; rejects with 'missing-dependency' when it does not exist. */
function run(cmd: string, args: string[]): Promise<{ code: number; stderr: string }> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') reject(new DatasetError('missing-dependency', `the '${cmd}' command is needed to extract .tar.xz archives; install it (Debian: apt-get install tar xz-utils)`));
      else reject(e);
    });
    child.on('close', (code) => resolvePromise({ code: code ?? 1, stderr }));
  });
}

/**
 * A file's bytes (inflated if `gunzip`) as a stream whose errors reach its reader however early
 * they happen. A stream's async iterator attaches its listeners on the first read, which comes
 * after an await: until then a missing file or a corrupt gzip header would be an 'error' event
 * with no listener, which kills the process. Here the error is kept on the stream (`errored`) and
 * the iterator raises it when it starts.
 */
function openBytes(path: string, gunzip: boolean): Readable {
  const file = createReadStream(path);
  if (!gunzip) return file.on('error', () => {});
  const inflate = createGunzip();
  // pipeline destroys both streams with the first error, which is where the reader sees it.
  pipeStreams(file, inflate, () => {});
  return inflate;
}

/**
 * Extracts `archive` into `dest` by its extension: .tar, .tar.gz/.tgz, .tar.xz/.txz (system `tar`),
 * or .gz (a single file, written as `dest/<name without .gz>`).
 */
export async function extractArchive(archive: string, dest: string): Promise<ExtractResult> {
  const lower = archive.toLowerCase();
  try {
    const gz = lower.endsWith('.tar.gz') || lower.endsWith('.tgz');
    if (gz || lower.endsWith('.tar')) {
      const bytes = openBytes(archive, gz);
      try {
        return await extractTarStream(bytes, dest);
      } finally {
        bytes.destroy();
      }
    }
    if (lower.endsWith('.tar.xz') || lower.endsWith('.txz')) {
      await mkdir(dest, { recursive: true });
      const { code, stderr } = await run('tar', ['-xJf', archive, '-C', dest, '--no-same-owner']);
      if (code !== 0) throw new DatasetError('extract', `tar failed on ${archive} (exit ${code}): ${stderr.trim()}`, archive);
      return { files: [], skipped: [] };
    }
    if (lower.endsWith('.gz')) {
      const target = join(dest, basename(archive).slice(0, -3));
      await mkdir(dest, { recursive: true });
      const tmp = `${target}.${process.pid}.tmp`;
      await pipeline(createReadStream(archive), createGunzip(), createWriteStream(tmp));
      await rename(tmp, target);
      return { files: [basename(target)], skipped: [] };
    }
  } catch (e) {
    if (e instanceof DatasetError) {
      if (e.path !== undefined) throw e;
      throw new DatasetError(e.code, `${archive}: ${e.message}`, archive, { cause: e });
    }
    throw new DatasetError('extract', `cannot extract ${archive}: ${(e as Error).message}`, archive, { cause: e });
  }
  throw new DatasetError('bad-option', `cannot extract ${archive}: unknown archive type (supported: .tar, .tar.gz, .tgz, .tar.xz, .txz, .gz)`, archive);
}
