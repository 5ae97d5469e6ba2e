// The SQLite history on a real file: schema, filters, labels and thresholds with their audit
// trail, retention (shared content-addressed files stay while a row uses them), CSV.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { HistoryStore, type InspectionInput } from '../../src/server/history.js';
import { parseCsv } from '../cli/helpers.js';
import { tempDir } from './helpers.js';

const DAY = 86_400_000;

function row(over: Partial<InspectionInput>): InspectionInput {
  return {
    ts: Date.now(), model: 'a', modelKey: 'a-1', name: 'x.png', sha256: 'ab'.repeat(32), format: 'png', width: 4, height: 3, bytes: 10,
    imageFile: 'images/ab/x.png', heatmapFile: null, maskFile: null, score: 1, normalised: 0.5, verdict: 'normal', threshold: 2, latencyMs: 3, ...over,
  };
}

test('rows round-trip; filters by model, verdict, label and time; newest first', () => {
  const s = HistoryStore.open(join(tempDir('vigil-hist-'), 'h'));
  try {
    assert.equal(s.db.pragma('journal_mode', { simple: true }), 'wal');
    assert.equal(s.db.pragma('synchronous', { simple: true }), 1, 'NORMAL');
    const t0 = Date.UTC(2026, 0, 10, 12);
    const ids = s.insert([
      row({ ts: t0, model: 'a', score: 0.5, verdict: 'normal' }),
      row({ ts: t0 + DAY, model: 'a', score: 3.5, verdict: 'anomalous', name: 'with,comma "q".png' }),
      row({ ts: t0 + 2 * DAY, model: 'b', score: 9, verdict: 'anomalous' }),
    ]);
    assert.deepEqual(ids, [1, 2, 3]);
    const got = s.get(2)!;
    assert.deepEqual({ ...got, id: undefined, label: undefined, labelTs: undefined, labelActor: undefined }, { ...row({ ts: t0 + DAY, model: 'a', score: 3.5, verdict: 'anomalous', name: 'with,comma "q".png' }), id: undefined, label: undefined, labelTs: undefined, labelActor: undefined });
    const page = { limit: 10, offset: 0 };
    assert.deepEqual(s.list({}, page).items.map((i) => i.id), [3, 2, 1]);
    assert.deepEqual(s.list({ model: 'a' }, page).items.map((i) => i.id), [2, 1]);
    assert.deepEqual(s.list({ verdict: 'anomalous' }, page).items.map((i) => i.id), [3, 2]);
    assert.deepEqual(s.list({ from: t0 + DAY }, page).items.map((i) => i.id), [3, 2]);
    assert.deepEqual(s.list({ from: t0, to: t0 + DAY }, page).items.map((i) => i.id), [1], 'to is exclusive');
    assert.deepEqual(s.list({}, { limit: 1, offset: 1 }), { total: 3, items: [s.get(2)!] });
    s.setLabel(1, 'NG', 'op');
    assert.deepEqual(s.list({ label: 'NG' }, page).items.map((i) => i.id), [1]);
    assert.deepEqual(s.list({ label: 'none' }, page).items.map((i) => i.id), [3, 2]);
    assert.deepEqual(s.scores({ model: 'a' }, 10), [[2, 3.5, 'anomalous', null], [1, 0.5, 'normal', 'NG']]);
    assert.equal(s.setLabel(99, 'OK', null), null);
    const csv = parseCsv(s.csv({ model: 'a' }));
    assert.deepEqual(csv.map((r) => [r.id, r.name, r.label, r.time]), [['2', 'with,comma "q".png', '', new Date(t0 + DAY).toISOString()], ['1', 'x.png', 'NG', new Date(t0).toISOString()]]);
    assert.throws(() => s.insert([row({ verdict: 'maybe' as never })]), /CHECK constraint/);
    assert.equal(s.count(), 3, 'a failed transaction inserts nothing');
  } finally {
    s.close();
  }
});

test('thresholds persist per model version; every change is audited', () => {
  const dir = join(tempDir('vigil-hist-'), 'h');
  let s = HistoryStore.open(dir, { sync: 'full' });
  assert.equal(s.db.pragma('synchronous', { simple: true }), 2, 'FULL');
  s.setThreshold('a', 'a-1', 4.5, 2, 'qe', 'after audit', 1000);
  s.setThreshold('a', 'a-1', 5, 4.5, null, null, 2000);
  s.setLabel(s.insert([row({})])[0]!, 'OK', 'op', 3000);
  s.close();
  s = HistoryStore.open(dir);
  try {
    assert.deepEqual(s.threshold('a'), { modelKey: 'a-1', value: 5, ts: 2000, actor: null });
    assert.equal(s.threshold('b'), null);
    s.setThreshold('a', 'a-1', null, 5, 'qe', null, 4000);
    assert.equal(s.threshold('a'), null);
    assert.deepEqual(s.auditLog({ limit: 10 }).map((e) => [e.action, e.model, e.inspectionId, e.oldValue, e.newValue, e.actor, e.note, e.ts]), [
      ['threshold', 'a', null, '5', 'trained', 'qe', null, 4000],
      ['label', 'a', 1, null, 'OK', 'op', null, 3000],
      ['threshold', 'a', null, '4.5', '5', null, null, 2000],
      ['threshold', 'a', null, '2', '4.5', 'qe', 'after audit', 1000],
    ]);
    assert.equal(s.auditLog({ model: 'b', limit: 10 }).length, 0);
  } finally {
    s.close();
  }
});

test('retention by age and by count deletes rows and the files no remaining row uses', async () => {
  const dir = join(tempDir('vigil-hist-'), 'h');
  const s = HistoryStore.open(dir, { retentionDays: 30, retentionRows: 3 });
  try {
    const now = Date.UTC(2026, 5, 1);
    const shared = await s.storeImage('aa'.repeat(32), 'png', Buffer.from('shared'));
    const own = await Promise.all([1, 2, 3, 4].map((k) => s.storeImage(String(k).repeat(64), 'png', Buffer.from(`own ${k}`))));
    const heat = await s.storeResult('a-1', 'aa'.repeat(32), 'heatmap', Buffer.from('png'));
    assert.equal(await s.storeImage('aa'.repeat(32), 'png', Buffer.from('other bytes')), shared, 'content-addressed: written once');
    s.insert([
      row({ ts: now - 40 * DAY, imageFile: shared, heatmapFile: heat }), // too old
      row({ ts: now - 20 * DAY, imageFile: own[0]! }), // beyond the newest 3
      row({ ts: now - 10 * DAY, imageFile: own[1]! }),
      row({ ts: now - 5 * DAY, imageFile: own[2]! }),
      row({ ts: now - 1 * DAY, imageFile: shared, heatmapFile: heat }),
    ]);
    const r = await s.prune(now);
    assert.deepEqual(r, { rows: 2, files: 1 });
    assert.deepEqual(s.list({}, { limit: 10, offset: 0 }).items.map((i) => i.id), [5, 4, 3]);
    assert.ok(existsSync(join(dir, shared)), 'still used by row 5');
    assert.ok(existsSync(join(dir, heat)));
    assert.ok(!existsSync(join(dir, own[0]!)));
    assert.ok(existsSync(join(dir, own[3]!)), 'a file no row ever named is left alone');
    assert.deepEqual(await s.prune(now), { rows: 0, files: 0 });
    assert.deepEqual(await s.prune(now + 100 * DAY), { rows: 3, files: 4 });
  } finally {
    s.close();
  }
  assert.throws(() => HistoryStore.open(dir, { retentionDays: 0 }), /retentionDays must be a positive number/);
});

test('stored-file paths stay inside the history folder; temp files of a crash are swept', () => {
  const dir = join(tempDir('vigil-hist-'), 'h');
  const s = HistoryStore.open(dir);
  try {
    assert.equal(s.filePath('images/ab/x.png'), join(dir, 'images/ab/x.png'));
    assert.equal(s.filePath('../history.sqlite'), null);
    assert.equal(s.filePath('/etc/passwd'), null);
    assert.equal(s.filePath(''), null);
    mkdirSync(join(dir, 'images', 'cd'), { recursive: true });
    writeFileSync(join(dir, 'images', 'cd', 'y.png.123.0.tmp'), 'half');
    writeFileSync(join(dir, 'images', 'cd', 'y.png'), 'whole');
    assert.equal(s.sweepTemp(), 1);
    assert.ok(existsSync(join(dir, 'images', 'cd', 'y.png')));
  } finally {
    s.close();
  }
});
