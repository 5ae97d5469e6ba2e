// Shared by the server tests: a small trained model, images, raw HTTP, and child `vigil serve`
// processes observed through their log lines (never a fixed sleep).
import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { request } from 'node:http';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MAIN, vigil } from '../cli/helpers.js';

export { MAIN, vigil };

export function tempDir(prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  process.on('exit', () => rmSync(d, { recursive: true, force: true }));
  return d;
}

/** A pixelstats run on the synthetic 'woven' set (seconds) and its test images. */
export function trainFixture(dir: string, name = 'run'): { run: string; good: string[]; defect: string[] } {
  const synth = join(dir, 'synth');
  const g = vigil(['datasets', 'synth', synth, '--categories', 'woven', '--size', '96', '--train', '16', '--test-good', '4', '--test-defect', '2']);
  assert.equal(g.code, 0, g.stderr);
  const run = join(dir, name);
  const r = vigil(['train', '--method', 'pixelstats', '--data', `synth:${join(synth, 'woven')}`, '--set', 'preprocess.size=64', '--set', 'threshold.holdout=0.25', '--set', 'output.images=2', '--out', run, '--quiet']);
  assert.equal(r.code, 0, r.stderr);
  const test = join(synth, 'woven', 'test');
  const good = readdirSync(join(test, 'good')).sort().map((f) => join(test, 'good', f));
  const defect = readdirSync(test).filter((d) => d !== 'good').sort().flatMap((d) => readdirSync(join(test, d)).sort().map((f) => join(test, d, f)));
  return { run, good, defect };
}

/** One multipart/form-data body, built by hand so the test controls every byte. */
export function multipart(parts: Array<{ name: string; filename?: string; type?: string; data: Uint8Array | string }>): { body: Buffer; type: string } {
  const boundary = `----vigil${Math.random().toString(16).slice(2)}`;
  const chunks: Buffer[] = [];
  for (const p of parts) {
    let h = `--${boundary}\r\nContent-Disposition: form-data; name="${p.name}"${p.filename !== undefined ? `; filename="${p.filename}"` : ''}\r\n`;
    if (p.type) h += `Content-Type: ${p.type}\r\n`;
    chunks.push(Buffer.from(h + '\r\n'), Buffer.from(p.data), Buffer.from('\r\n'));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return { body: Buffer.concat(chunks), type: `multipart/form-data; boundary=${boundary}` };
}

export interface RawResponse { status: number; headers: Record<string, string | string[] | undefined>; body: Buffer; text: string; json: () => any }

/** A request with the path sent exactly as given (fetch would normalise `..`). */
export function raw(url: string, o: { method?: string; path?: string; headers?: Record<string, string>; body?: Uint8Array | string } = {}): Promise<RawResponse> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request({ host: u.hostname, port: u.port, method: o.method ?? 'GET', path: o.path ?? u.pathname + u.search, headers: { ...(o.body !== undefined ? { 'Content-Length': String(Buffer.byteLength(o.body)) } : {}), ...o.headers }, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const body = Buffer.concat(chunks);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body, text: body.toString('utf8'), json: () => JSON.parse(body.toString('utf8')) });
      });
    });
    req.on('error', reject);
    if (o.body !== undefined) req.write(o.body);
    req.end();
  });
}

/** A child `vigil serve` whose stderr is watched line by line. */
export class ServeChild {
  readonly proc: ChildProcessWithoutNullStreams;
  log = '';
  #waiters: Array<{ re: RegExp; resolve: (m: RegExpMatchArray) => void }> = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(args: string[], env: Record<string, string> = {}) {
    this.proc = spawn(process.execPath, [MAIN, 'serve', ...args], { env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
    this.proc.stderr.setEncoding('utf8');
    this.proc.stdout.setEncoding('utf8');
    const onText = (t: string): void => {
      this.log += t;
      this.#waiters = this.#waiters.filter((w) => {
        const m = this.log.match(w.re);
        if (m) w.resolve(m);
        return !m;
      });
    };
    this.proc.stderr.on('data', onText);
    this.proc.stdout.on('data', onText);
    this.exited = new Promise((r) => this.proc.on('exit', (code, signal) => r({ code, signal })));
  }

  /** Resolves with the first match of `re` in the log so far or to come; rejects if the process exits first. */
  waitFor(re: RegExp): Promise<RegExpMatchArray> {
    const m = this.log.match(re);
    if (m) return Promise.resolve(m);
    return new Promise((resolve, reject) => {
      this.#waiters.push({ re, resolve });
      void this.exited.then((e) => reject(new Error(`vigil serve exited (${e.code ?? e.signal}) before logging ${re}:\n${this.log}`)));
    });
  }

  async url(): Promise<string> {
    return (await this.waitFor(/listening on (http:\/\/\S+)/))[1]!;
  }

  kill(sig: NodeJS.Signals): void {
    if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill(sig);
  }
}

// Test code reads many JSON bodies; typed `any` here only (fetch's json() is Promise<unknown>).
declare global {
  interface Response { json(): Promise<any> }
}
