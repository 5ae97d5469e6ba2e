// `vigil serve` as a child process: graceful SIGTERM (in-flight requests finish, new ones are
// refused), and kill -9 in the middle of writes (no corrupt database, no lost committed row).
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import sharp from 'sharp';
import { multipart, raw, ServeChild, tempDir, trainFixture, vigil } from './helpers.js';

let dir: string;
let fx: ReturnType<typeof trainFixture>;
let big: Buffer;

before(async () => {
  dir = tempDir('vigil-signals-');
  fx = trainFixture(dir);
  big = await sharp({ create: { width: 1400, height: 1400, channels: 3, background: '#000', noise: { type: 'gaussian', mean: 128, sigma: 40 } } }).png().toBuffer();
});

function checkDb(path: string): { ids: Set<number>; files: string[] } {
  const db = new Database(path);
  try {
    assert.equal(db.pragma('integrity_check', { simple: true }), 'ok');
    assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
    const rows = db.prepare('SELECT id, image_file FROM inspections').all() as Array<{ id: number; image_file: string }>;
    return { ids: new Set(rows.map((r) => r.id)), files: rows.map((r) => r.image_file) };
  } finally {
    db.close();
  }
}

test('SIGTERM: requests in flight finish with 200, a new connection is refused, exit 0', async () => {
  const history = join(dir, 'h-term');
  const s = new ServeChild([`woven=${fx.run}`, '--port', '0', '--history', history, '--workers', '1', '--threads', '1', '--max-batch', '1']);
  const url = await s.url();
  const body = multipart([0, 1].map((k) => ({ name: 'image', filename: `${k}.png`, type: 'image/png', data: big })));
  const pending = Array.from({ length: 6 }, () => raw(`${url}/v1/models/woven/predict?images=none`, { method: 'POST', body: body.body, headers: { 'Content-Type': body.type } }));
  await Promise.race(pending);
  s.kill('SIGTERM');
  const m = await s.waitFor(/draining: (\d+) images queued or running, (\d+) requests? open/);
  assert.ok(Number(m[1]) > 0, `work was still in flight when the signal came: ${m[0]}`);
  await assert.rejects(raw(`${url}/healthz`), /ECONNREFUSED/, 'the listener is closed once draining starts');
  const done = await Promise.all(pending);
  assert.deepEqual(done.map((r) => r.status), [200, 200, 200, 200, 200, 200], done.map((r) => r.text).join('\n'));
  const exit = await s.exited;
  assert.equal(exit.code, 0, s.log);
  assert.match(s.log, /serve: stopped/);
  const { ids } = checkDb(join(history, 'history.sqlite'));
  assert.equal(ids.size, 12, 'every finished request is in the history');
});

test('kill -9 during writes: the database is intact and every answered inspection is in it', async () => {
  const history = join(dir, 'h-kill');
  const s = new ServeChild([`woven=${fx.run}`, '--port', '0', '--history', history, '--workers', '1', '--threads', '1']);
  const url = await s.url();
  const answered: number[] = [];
  const images = [...fx.good, ...fx.defect].map((f) => readFileSync(f));
  let stop = false;
  let k = 0;
  const client = async (): Promise<void> => {
    while (!stop) {
      const img = images[k++ % images.length]!;
      try {
        const r = await raw(`${url}/v1/models/woven/predict?images=none`, { method: 'POST', body: img, headers: { 'Content-Type': 'image/png', 'X-Image-Name': `p${k}.png` } });
        if (r.status === 200) answered.push(r.json().results[0].id);
      } catch {
        return; // the server is gone
      }
    }
  };
  let killedAt = -1;
  const clients = Array.from({ length: 4 }, client);
  await new Promise<void>((resolve) => {
    const poll = setInterval(() => {
      if (answered.length >= 40) { clearInterval(poll); killedAt = answered.length; s.kill('SIGKILL'); resolve(); }
    }, 1);
  });
  const exit = await s.exited;
  stop = true;
  await Promise.all(clients);
  assert.equal(exit.signal, 'SIGKILL');
  const { ids, files } = checkDb(join(history, 'history.sqlite'));
  for (const id of answered) assert.ok(ids.has(id), `inspection ${id} was answered 200 but is not in the database`);
  assert.ok(answered.length >= killedAt);
  for (const f of new Set(files)) assert.ok(existsSync(join(history, f)), `row names ${f}, which is missing`);
  // The next server opens the same history and serves it.
  const again = new ServeChild([`woven=${fx.run}`, '--port', '0', '--history', history, '--workers', '1', '--threads', '1']);
  const url2 = await again.url();
  const list = (await raw(`${url2}/v1/inspections?limit=1`)).json();
  assert.equal(list.total, ids.size);
  again.kill('SIGTERM');
  assert.equal((await again.exited).code, 0);
});

test('kill -9 of a process writing as fast as it can: no corrupt database, no lost commit', async () => {
  const writer = fileURLToPath(new URL('./fixtures/history-writer.js', import.meta.url));
  for (const sync of ['normal', 'full']) {
    const history = join(dir, `h-writer-${sync}`);
    const child = spawn(process.execPath, [writer, history, sync], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stderr.on('data', (c: Buffer) => { err += c.toString(); });
    const exited = new Promise<NodeJS.Signals | null>((r) => child.on('exit', (_c, sig) => r(sig)));
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (c: Buffer) => {
        out += c.toString();
        if (out.split('\n').length > 600 && child.exitCode === null && !child.killed) { child.kill('SIGKILL'); resolve(); }
      });
      void exited.then(() => reject(new Error(`writer exited early: ${err}`)));
    });
    assert.equal(await exited, 'SIGKILL');
    const committed = out.split('\n').filter((l) => l.startsWith('committed ')).flatMap((l) => l.slice(10).split(' ').map(Number));
    assert.ok(committed.length > 500, `${committed.length} commits seen`);
    const { ids } = checkDb(join(history, 'history.sqlite'));
    for (const id of committed) assert.ok(ids.has(id), `committed id ${id} lost (sync=${sync})`);
    assert.ok(ids.size >= committed.length);
  }
});

test('CLI: no run directory, or a public host without a token, exits 1 naming the fix', () => {
  let r = vigil(['serve']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /give at least one run directory/);
  r = vigil(['serve', fx.run, '--host', '0.0.0.0', '--port', '0', '--history', join(dir, 'h-cli')]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /give a token \(--token or VIGIL_TOKEN/);
  r = vigil(['serve', fx.run, '--history-sync', 'sometimes']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /--history-sync must be normal or full/);
  r = vigil(['serve', '--help']);
  assert.equal(r.code, 0);
  assert.match(r.stdout, /--queue-limit/);
});

test('CLI: VIGIL_TOKEN guards a server bound to 0.0.0.0', async () => {
  const token = 'env-token-0123456789abcdef';
  const s = new ServeChild([`woven=${fx.run}`, '--host', '0.0.0.0', '--port', '0', '--history', join(dir, 'h-env'), '--workers', '1', '--threads', '1'], { VIGIL_TOKEN: token });
  const port = new URL(await s.url()).port;
  const base = `http://127.0.0.1:${port}`;
  assert.equal((await raw(`${base}/v1/models`)).status, 401);
  assert.equal((await raw(`${base}/v1/models`, { headers: { Authorization: `Bearer ${token}` } })).status, 200);
  s.kill('SIGINT');
  assert.equal((await s.exited).code, 0);
});
