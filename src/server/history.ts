// The inspection history: one SQLite database (WAL) plus content-addressed files beside it.
//   <dir>/history.sqlite   inspections, thresholds (operator overrides), audit (who changed what)
//   <dir>/images/ab/<sha256>.<ext>               the uploaded bytes, once per distinct image
//   <dir>/results/<model-key>/ab/<sha256>.{heatmap,mask}.png   per model version and image
// Files are written (temp + rename) before the row that names them is committed, so a crash
// leaves at worst an unreferenced file, never a row without its file. WAL with synchronous=NORMAL
// loses no committed transaction when the process dies (kill -9); 'full' also survives power loss.
import { mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { rename, stat, unlink, writeFile } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';
import Database from 'better-sqlite3';
import { csv } from '../pipeline/fsutil.js';

export type Label = 'OK' | 'NG';
export type Verdict = 'anomalous' | 'normal';

export interface InspectionInput {
  ts: number;
  model: string;
  modelKey: string;
  name: string | null;
  sha256: string;
  format: string;
  width: number;
  height: number;
  bytes: number;
  imageFile: string;
  heatmapFile: string | null;
  maskFile: string | null;
  score: number;
  normalised: number;
  verdict: Verdict;
  threshold: number;
  latencyMs: number;
}

export interface Inspection extends InspectionInput {
  id: number;
  label: Label | null;
  labelTs: number | null;
  labelActor: string | null;
}

export interface HistoryFilter {
  model?: string;
  verdict?: Verdict;
  /** 'none' = not labelled by an operator. */
  label?: Label | 'none';
  /** Unix ms, inclusive. */
  from?: number;
  /** Unix ms, exclusive. */
  to?: number;
}

export interface AuditEvent {
  id: number;
  ts: number;
  model: string | null;
  action: 'threshold' | 'label';
  inspectionId: number | null;
  oldValue: string | null;
  newValue: string | null;
  actor: string | null;
  note: string | null;
}

export interface HistoryOptions {
  /** 'normal' (default): durable across process crashes; 'full': fsync per commit, also power loss. */
  sync?: 'normal' | 'full';
  /** Delete inspections older than this many days (and their files no other row uses). */
  retentionDays?: number;
  /** Keep at most this many inspections (the oldest go first). */
  retentionRows?: number;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS inspections (
  id INTEGER PRIMARY KEY,
  ts INTEGER NOT NULL,
  model TEXT NOT NULL,
  model_key TEXT NOT NULL,
  name TEXT,
  sha256 TEXT NOT NULL,
  format TEXT NOT NULL,
  width INTEGER NOT NULL,
  height INTEGER NOT NULL,
  bytes INTEGER NOT NULL,
  image_file TEXT NOT NULL,
  heatmap_file TEXT,
  mask_file TEXT,
  score REAL NOT NULL,
  normalised REAL NOT NULL,
  verdict TEXT NOT NULL CHECK (verdict IN ('anomalous', 'normal')),
  threshold REAL NOT NULL,
  latency_ms REAL NOT NULL,
  label TEXT CHECK (label IN ('OK', 'NG')),
  label_ts INTEGER,
  label_actor TEXT
);
CREATE INDEX IF NOT EXISTS inspections_model_ts ON inspections (model, ts);
CREATE INDEX IF NOT EXISTS inspections_ts ON inspections (ts);
CREATE INDEX IF NOT EXISTS inspections_image ON inspections (image_file);
CREATE INDEX IF NOT EXISTS inspections_heatmap ON inspections (heatmap_file);
CREATE INDEX IF NOT EXISTS inspections_mask ON inspections (mask_file);
CREATE TABLE IF NOT EXISTS thresholds (
  model TEXT PRIMARY KEY,
  model_key TEXT NOT NULL,
  value REAL NOT NULL,
  ts INTEGER NOT NULL,
  actor TEXT
);
CREATE TABLE IF NOT EXISTS audit (
  id INTEGER PRIMARY KEY,
  ts INTEGER NOT NULL,
  model TEXT,
  action TEXT NOT NULL,
  inspection_id INTEGER,
  old_value TEXT,
  new_value TEXT,
  actor TEXT,
  note TEXT
);
`;

interface Row {
  id: number; ts: number; model: string; model_key: string; name: string | null; sha256: string; format: string;
  width: number; height: number; bytes: number; image_file: string; heatmap_file: string | null; mask_file: string | null;
  score: number; normalised: number; verdict: Verdict; threshold: number; latency_ms: number;
  label: Label | null; label_ts: number | null; label_actor: string | null;
}

const fromRow = (r: Row): Inspection => ({
  id: r.id, ts: r.ts, model: r.model, modelKey: r.model_key, name: r.name, sha256: r.sha256, format: r.format,
  width: r.width, height: r.height, bytes: r.bytes, imageFile: r.image_file, heatmapFile: r.heatmap_file, maskFile: r.mask_file,
  score: r.score, normalised: r.normalised, verdict: r.verdict, threshold: r.threshold, latencyMs: r.latency_ms,
  label: r.label, labelTs: r.label_ts, labelActor: r.label_actor,
});

function where(f: HistoryFilter): { sql: string; args: Array<string | number> } {
  const c: string[] = [];
  const args: Array<string | number> = [];
  if (f.model !== undefined) { c.push('model = ?'); args.push(f.model); }
  if (f.verdict !== undefined) { c.push('verdict = ?'); args.push(f.verdict); }
  if (f.label === 'none') c.push('label IS NULL');
  else if (f.label !== undefined) { c.push('label = ?'); args.push(f.label); }
  if (f.from !== undefined) { c.push('ts >= ?'); args.push(f.from); }
  if (f.to !== undefined) { c.push('ts < ?'); args.push(f.to); }
  return { sql: c.length ? `WHERE ${c.join(' AND ')}` : '', args };
}

let tmpCounter = 0;

export class HistoryStore {
  readonly db: Database.Database;
  readonly dbPath: string;
  #insert: Database.Statement;
  #insertMany: (rows: InspectionInput[]) => number[];

  private constructor(readonly dir: string, readonly o: HistoryOptions) {
    mkdirSync(dir, { recursive: true });
    this.dbPath = join(dir, 'history.sqlite');
    this.db = new Database(this.dbPath);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma(`synchronous = ${o.sync === 'full' ? 'FULL' : 'NORMAL'}`);
    this.db.pragma('busy_timeout = 5000');
    this.db.exec(SCHEMA);
    this.db.pragma('user_version = 1');
    this.#insert = this.db.prepare(`INSERT INTO inspections (ts, model, model_key, name, sha256, format, width, height, bytes, image_file, heatmap_file, mask_file, score, normalised, verdict, threshold, latency_ms)
      VALUES (@ts, @model, @modelKey, @name, @sha256, @format, @width, @height, @bytes, @imageFile, @heatmapFile, @maskFile, @score, @normalised, @verdict, @threshold, @latencyMs)`);
    this.#insertMany = this.db.transaction((rows: InspectionInput[]) => rows.map((r) => Number(this.#insert.run(r).lastInsertRowid)));
  }

  static open(dir: string, o: HistoryOptions = {}): HistoryStore {
    for (const [k, v] of [['retentionDays', o.retentionDays], ['retentionRows', o.retentionRows]] as const) {
      if (v !== undefined && !(Number.isFinite(v) && v > 0)) throw new Error(`history: ${k} must be a positive number, got ${v}`);
    }
    return new HistoryStore(resolve(dir), o);
  }

  /** Absolute path of a stored file; null when `rel` would leave the history folder. */
  filePath(rel: string): string | null {
    const p = resolve(this.dir, rel);
    return p.startsWith(this.dir + sep) ? p : null;
  }

  async #writeOnce(rel: string, bytes: Uint8Array): Promise<string> {
    const abs = join(this.dir, rel);
    if (await stat(abs).then(() => true, () => false)) return rel;
    mkdirSync(dirname(abs), { recursive: true });
    const tmp = `${abs}.${process.pid}.${tmpCounter++}.tmp`;
    await writeFile(tmp, bytes);
    await rename(tmp, abs);
    return rel;
  }

  /** Stores the uploaded bytes under their hash; returns the relative path. */
  storeImage(sha256: string, ext: string, bytes: Uint8Array): Promise<string> {
    return this.#writeOnce(join('images', sha256.slice(0, 2), `${sha256}.${ext}`), bytes);
  }

  storeResult(modelKey: string, sha256: string, kind: 'heatmap' | 'mask', png: Uint8Array): Promise<string> {
    return this.#writeOnce(join('results', modelKey, sha256.slice(0, 2), `${sha256}.${kind}.png`), png);
  }

  /** Inserts the rows in one transaction; returns their ids. */
  insert(rows: InspectionInput[]): number[] {
    return this.#insertMany(rows);
  }

  get(id: number): Inspection | null {
    const r = this.db.prepare('SELECT * FROM inspections WHERE id = ?').get(id) as Row | undefined;
    return r ? fromRow(r) : null;
  }

  list(f: HistoryFilter, page: { limit: number; offset: number }): { total: number; items: Inspection[] } {
    const w = where(f);
    const total = (this.db.prepare(`SELECT COUNT(*) AS n FROM inspections ${w.sql}`).get(...w.args) as { n: number }).n;
    const rows = this.db.prepare(`SELECT * FROM inspections ${w.sql} ORDER BY id DESC LIMIT ? OFFSET ?`).all(...w.args, page.limit, page.offset) as Row[];
    return { total, items: rows.map(fromRow) };
  }

  /** Compact [id, score, verdict, label] rows for re-labelling the history at another threshold. */
  scores(f: HistoryFilter, limit: number): Array<[number, number, Verdict, Label | null]> {
    const w = where(f);
    return (this.db.prepare(`SELECT id, score, verdict, label FROM inspections ${w.sql} ORDER BY id DESC LIMIT ?`).raw().all(...w.args, limit)) as Array<[number, number, Verdict, Label | null]>;
  }

  /** Sets or clears the operator's label; audited. Null when the inspection does not exist. */
  setLabel(id: number, label: Label | null, actor: string | null, now = Date.now()): Inspection | null {
    return this.db.transaction(() => {
      const cur = this.get(id);
      if (!cur) return null;
      this.db.prepare('UPDATE inspections SET label = ?, label_ts = ?, label_actor = ? WHERE id = ?').run(label, label ? now : null, label ? actor : null, id);
      this.#audit(now, cur.model, 'label', id, cur.label, label, actor, null);
      return this.get(id);
    })();
  }

  /** The persisted operator threshold of a model (only for the model version it was set on). */
  threshold(model: string): { modelKey: string; value: number; ts: number; actor: string | null } | null {
    const r = this.db.prepare('SELECT model_key, value, ts, actor FROM thresholds WHERE model = ?').get(model) as { model_key: string; value: number; ts: number; actor: string | null } | undefined;
    return r ? { modelKey: r.model_key, value: r.value, ts: r.ts, actor: r.actor } : null;
  }

  /** Persists (or with null, removes) an override and audits the change from `old`. */
  setThreshold(model: string, modelKey: string, value: number | null, old: number, actor: string | null, note: string | null, now = Date.now()): void {
    this.db.transaction(() => {
      if (value === null) this.db.prepare('DELETE FROM thresholds WHERE model = ?').run(model);
      else this.db.prepare('INSERT INTO thresholds (model, model_key, value, ts, actor) VALUES (?, ?, ?, ?, ?) ON CONFLICT (model) DO UPDATE SET model_key = excluded.model_key, value = excluded.value, ts = excluded.ts, actor = excluded.actor').run(model, modelKey, value, now, actor);
      this.#audit(now, model, 'threshold', null, String(old), value === null ? 'trained' : String(value), actor, note);
    })();
  }

  #audit(ts: number, model: string | null, action: AuditEvent['action'], inspectionId: number | null, oldV: string | null, newV: string | null, actor: string | null, note: string | null): void {
    this.db.prepare('INSERT INTO audit (ts, model, action, inspection_id, old_value, new_value, actor, note) VALUES (?, ?, ?, ?, ?, ?, ?, ?)').run(ts, model, action, inspectionId, oldV, newV, actor, note);
  }

  auditLog(f: { model?: string; limit: number }): AuditEvent[] {
    const rows = (f.model === undefined
      ? this.db.prepare('SELECT * FROM audit ORDER BY id DESC LIMIT ?').all(f.limit)
      : this.db.prepare('SELECT * FROM audit WHERE model = ? ORDER BY id DESC LIMIT ?').all(f.model, f.limit)) as Array<Record<string, unknown>>;
    return rows.map((r) => ({
      id: r.id as number, ts: r.ts as number, model: r.model as string | null, action: r.action as AuditEvent['action'],
      inspectionId: r.inspection_id as number | null, oldValue: r.old_value as string | null, newValue: r.new_value as string | null,
      actor: r.actor as string | null, note: r.note as string | null,
    }));
  }

  /** The filtered history as CSV (newest first). */
  csv(f: HistoryFilter): string {
    const w = where(f);
    const rows = (this.db.prepare(`SELECT * FROM inspections ${w.sql} ORDER BY id DESC`).all(...w.args) as Row[]).map((r) => [
      r.id, new Date(r.ts).toISOString(), r.model, r.name ?? '', r.sha256, r.width, r.height, r.score, r.normalised, r.verdict, r.threshold,
      r.label ?? '', r.label_ts ? new Date(r.label_ts).toISOString() : '', r.label_actor ?? '', r.latency_ms, r.image_file, r.heatmap_file ?? '',
    ]);
    return csv(['id', 'time', 'model', 'name', 'sha256', 'width', 'height', 'score', 'normalised_score', 'verdict', 'threshold', 'label', 'label_time', 'label_actor', 'latency_ms', 'image_file', 'heatmap_file'], rows);
  }

  count(): number {
    return (this.db.prepare('SELECT COUNT(*) AS n FROM inspections').get() as { n: number }).n;
  }

  /** Applies the retention settings; returns what went. */
  async prune(now = Date.now()): Promise<{ rows: number; files: number }> {
    const doomed: Array<{ id: number; image_file: string; heatmap_file: string | null; mask_file: string | null }> = [];
    const take = this.db.transaction(() => {
      const sel = (sql: string, ...a: number[]) => this.db.prepare(`SELECT id, image_file, heatmap_file, mask_file FROM inspections ${sql}`).all(...a) as typeof doomed;
      if (this.o.retentionDays !== undefined) doomed.push(...sel('WHERE ts < ?', now - this.o.retentionDays * 86_400_000));
      if (this.o.retentionRows !== undefined) {
        const seen = new Set(doomed.map((d) => d.id));
        const excess = sel('ORDER BY id DESC LIMIT -1 OFFSET ?', this.o.retentionRows).filter((d) => !seen.has(d.id));
        doomed.push(...excess);
      }
      const del = this.db.prepare('DELETE FROM inspections WHERE id = ?');
      for (const d of doomed) del.run(d.id);
    });
    take();
    if (doomed.length === 0) return { rows: 0, files: 0 };
    // Content-addressed files may be shared: delete one only when no remaining row names it.
    const used = (col: 'image_file' | 'heatmap_file' | 'mask_file', rel: string): boolean => this.db.prepare(`SELECT 1 FROM inspections WHERE ${col} = ? LIMIT 1`).get(rel) !== undefined;
    let files = 0;
    const candidates = new Map<string, 'image_file' | 'heatmap_file' | 'mask_file'>();
    for (const d of doomed) {
      candidates.set(d.image_file, 'image_file');
      if (d.heatmap_file) candidates.set(d.heatmap_file, 'heatmap_file');
      if (d.mask_file) candidates.set(d.mask_file, 'mask_file');
    }
    for (const [rel, col] of candidates) {
      if (used(col, rel)) continue;
      const abs = this.filePath(rel);
      if (abs && await unlink(abs).then(() => true, () => false)) files++;
    }
    return { rows: doomed.length, files };
  }

  /** Temp files left by a crash between write and rename. */
  sweepTemp(): number {
    let n = 0;
    const walk = (d: string): void => {
      let names: string[];
      try { names = readdirSync(d); } catch { return; }
      for (const name of names) {
        const p = join(d, name);
        if (statSync(p).isDirectory()) walk(p);
        else if (name.endsWith('.tmp')) { rmSync(p, { force: true }); n++; }
      }
    };
    walk(join(this.dir, 'images'));
    walk(join(this.dir, 'results'));
    return n;
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}
