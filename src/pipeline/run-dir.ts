// The run directory on disk: its layout, its log, the model files, the training checkpoint, the
// lock and the fingerprint of the data (docs/run-directory.md).
//   <run>/config.yaml  log.txt  dataset.json  metrics.json  scores.csv  report.html  images/
//   <run>/model/manifest.json + model.safetensors      <run>/checkpoint/state.safetensors
//   <run>/.vigil-lock while a process writes it
import { createHash } from 'node:crypto';
import { appendFileSync, existsSync, linkSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { z } from 'zod';
import * as torch from '../torch/index.js';
import { readSafetensors } from '../torch/io/index.js';
import type { Detector, TrainingState } from '../methods/types.js';
import { modelSchemaOf, parseWith, readYamlFile, type VigilConfig } from './config.js';
import { ConfigError, UserError } from './errors.js';
import { isErrnoError, writeJson } from './fsutil.js';
import { manifestSchema } from './manifest.js';
import { getMethod, type AnyMethod } from './registry.js';
import type { ModelManifest } from './types.js';
import { MODEL_FORMAT } from './version.js';

export const slug = (s: string): string => s.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^-+|-+$/g, '') || 'data';

/** The last path component of a data spec, for folder names: synth:/x/woven → woven. */
export const specSlug = (spec: string): string => slug(spec.replace(/^.*[\\/]/, '') || spec);

function timestamp(): string {
  return new Date().toISOString().replace(/[-:]/g, '').replace(/\..*$/, '').replace('T', '-');
}

/** runs/<method>-<dataset>-<time> under the working directory. */
export function defaultRunDir(method: string, spec: string): string {
  return resolve(join('runs', `${method}-${specSlug(spec)}-${timestamp()}`));
}

export const manifestPath = (runDir: string): string => join(runDir, 'model', 'manifest.json');
export const modelPath = (runDir: string): string => join(runDir, 'model', 'model.safetensors');
export const checkpointPath = (runDir: string): string => join(runDir, 'checkpoint', 'state.safetensors');

/** True when the folder already holds (the start of) a Vigil run. */
export function holdsRun(runDir: string): boolean {
  return existsSync(manifestPath(runDir)) || existsSync(join(runDir, 'config.yaml'));
}

/** Appends timestamped lines to <dir>/log.txt and passes each message to the hook. */
export class RunLog {
  constructor(readonly path: string | null, readonly hook?: (m: string) => void) {}
  log = (message: string): void => {
    if (this.path) withPath(this.path, () => appendFileSync(this.path!, `${new Date().toISOString()} ${message}\n`));
    this.hook?.(message);
  };
}

export function readManifest(runDir: string): ModelManifest {
  const dir = resolve(runDir);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new UserError(`run directory ${dir} does not exist`, { code: 'RUN_NOT_FOUND' });
  const path = manifestPath(dir);
  if (!existsSync(path)) {
    const hint = existsSync(checkpointPath(dir)) ? ` (training was interrupted: finish it with vigil train --resume ${runDir})` : existsSync(join(dir, 'config.yaml')) ? ' (its training did not finish)' : '';
    throw new UserError(`${dir} is not a finished vigil run directory: ${join('model', 'manifest.json')} is missing${hint}`, { code: 'RUN_NOT_FOUND' });
  }
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    if (isErrnoError(e)) throw e;
    throw new UserError(`${path} is not valid JSON (${(e as Error).message}); the file is damaged: restore it or retrain`, { code: 'RUN_INVALID' });
  }
  const format = (raw as { format?: unknown } | null)?.format;
  if (typeof raw === 'object' && raw !== null && format !== MODEL_FORMAT) {
    throw new UserError(`${path}: ${format === undefined ? "field 'format' is missing" : `unsupported model format ${JSON.stringify(format)} in field 'format'`} (this vigil reads ${MODEL_FORMAT}); restore the file, or retrain`, { code: 'RUN_INVALID' });
  }
  try {
    return parseWith(manifestSchema, raw, path) as unknown as ModelManifest;
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    throw new UserError(`${e.message}\n  (the file was changed after training: restore it, or retrain)`, { code: 'RUN_INVALID', cause: e });
  }
}

/** A finished run: its manifest and its resolved config.yaml (as written, not re-validated). */
export interface Run {
  dir: string;
  manifest: ModelManifest;
  config: Record<string, unknown>;
}

export function readRun(runDir: string): Run {
  const dir = resolve(runDir);
  const manifest = readManifest(dir);
  const cfg = join(dir, 'config.yaml');
  return { dir, manifest, config: existsSync(cfg) ? readYamlFile(cfg, 'run config') : {} };
}

/** Throws naming the file and the tensor when a floating-point tensor holds NaN or ±Inf. */
export function checkFinite(tensors: ReadonlyMap<string, torch.Tensor>, file: string, when: 'load' | 'save'): void {
  for (const [name, t] of tensors) {
    if (!t.isFloatingPoint || t.numel() === 0) continue;
    const ok = torch.tidy(() => t.isfinite().all().item()) !== 0;
    if (ok) continue;
    if (when === 'load') throw new UserError(`${file}: tensor '${name}' holds NaN or infinite values; the model file is damaged: restore it, or retrain`, { code: 'RUN_INVALID' });
    throw new UserError(`training produced NaN or infinite values in '${name}', so no model is saved (${file}): the training diverged; lower the learning rate (model.*.lr) or check the data for constant or extreme images`, { code: 'MODEL_NONFINITE' });
  }
}

/** Rebuilds the fitted detector of a run on `device`. Every file is checked first; a bad one is a UserError naming it. */
export async function loadDetector(run: Run, device = 'cpu'): Promise<{ det: Detector; method: AnyMethod }> {
  const m = run.manifest;
  const mpath = manifestPath(run.dir);
  const method = await getMethod(m.method).catch((e: unknown) => {
    throw new UserError(`${mpath}: field 'method': ${(e as Error).message}`, { code: 'RUN_INVALID' });
  });
  const file = modelPath(run.dir);
  if (!existsSync(file)) throw new UserError(`${file} is missing; the run directory is incomplete: restore the file, or retrain`, { code: 'RUN_INVALID' });
  let loaded: { tensors: Map<string, torch.Tensor>; metadata: Record<string, string> };
  try {
    loaded = torch.loadSafetensors(file, device);
  } catch (e) {
    if (isErrnoError(e)) throw e;
    const why = (e as Error).message.replace(`${file}: `, '');
    throw new UserError(`${file} is damaged or truncated (${why}); restore it, or retrain`, { code: 'RUN_INVALID', cause: e });
  }
  const { tensors, metadata } = loaded;
  try {
    if (metadata.method && metadata.method !== m.method) {
      throw new UserError(`${file} holds a '${metadata.method}' model but ${mpath} says '${m.method}' (field 'method'); the run directory was mixed up`, { code: 'RUN_INVALID' });
    }
    // The saved `model` section over the method's defaults, through the method's schema.
    const config = (() => {
      try {
        return parseWith(z.object({ config: modelSchemaOf(method) }), { config: resolveModelConfig(method, m.config) }, mpath).config as Record<string, unknown>;
      } catch (e) {
        if (!(e instanceof ConfigError)) throw e;
        throw new UserError(`${e.message}\n  (the file was changed after training: restore it, or retrain)`, { code: 'RUN_INVALID', cause: e });
      }
    })();
    checkFinite(tensors, file, 'load');
    try {
      return { det: method.load(config, m.imageShape, { tensors, meta: m.state_meta ?? {} }, { device }), method };
    } catch (e) {
      if (e instanceof UserError) throw e;
      throw new UserError(`cannot load the ${m.method} model from ${file}: ${(e as Error).message}; the file, or the fields 'imageShape' ${JSON.stringify(m.imageShape)}, 'config' or 'state_meta' of ${mpath}, were changed after training: restore them, or retrain`, { code: 'RUN_INVALID', cause: e });
    }
  } finally {
    for (const t of tensors.values()) if (!t.isDisposed && !t.kept) t.dispose();
  }
}

/** The saved `model` section over the method's defaults (a model saved by an older Vigil lacks newer keys). */
export function resolveModelConfig(method: AnyMethod, saved: Record<string, unknown>): Record<string, unknown> {
  return deepMergeModel(method.defaults, saved);
}

function deepMergeModel(base: unknown, over: unknown): Record<string, unknown> {
  const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
  if (!isObj(base) || !isObj(over)) return (over ?? base) as Record<string, unknown>;
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) out[k] = k in out && isObj(out[k]) && isObj(v) ? deepMergeModel(out[k], v) : v;
  return out;
}

/** Writes model/ (safetensors + manifest) and drops the training checkpoint. */
export function writeModel(runDir: string, det: Detector, manifest: Omit<ModelManifest, 'state_meta'>): ModelManifest {
  const state = det.state();
  const full: ModelManifest = { ...manifest, state_meta: state.meta };
  // state() may hand out the detector's own tensors: they are not disposed here.
  checkFinite(state.tensors, modelPath(runDir), 'save');
  // A manifest that this vigil would refuse to load is a bug: catch it before it is written.
  manifestSchema.parse(full);
  mkdirSync(join(runDir, 'model'), { recursive: true });
  withPath(modelPath(runDir), () => torch.saveSafetensors(modelPath(runDir), state.tensors, { method: manifest.method, format: MODEL_FORMAT }));
  writeJson(manifestPath(runDir), full);
  rmSync(join(runDir, 'checkpoint'), { recursive: true, force: true });
  return full;
}

/** Runs a write; an errno error names `path` (not the temporary file it was writing). */
function withPath<T>(path: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (isErrnoError(e)) throw Object.assign(e, { path });
    throw e;
  }
}

export function writeCheckpoint(runDir: string, method: string, state: TrainingState): void {
  mkdirSync(join(runDir, 'checkpoint'), { recursive: true });
  withPath(checkpointPath(runDir), () => torch.saveSafetensors(checkpointPath(runDir), state.tensors, { meta: JSON.stringify(state.meta), method }));
}

/** The stage and epoch of the last checkpoint, without loading its tensors. */
export function readCheckpointMeta(runDir: string): { stage: string; epoch: number } | null {
  if (!existsSync(checkpointPath(runDir))) return null;
  try {
    const meta = JSON.parse(readSafetensors(checkpointPath(runDir)).metadata.meta ?? '{}') as { stage?: unknown; epoch?: unknown };
    return { stage: String(meta.stage), epoch: Number(meta.epoch) };
  } catch {
    return null;
  }
}

/** The last checkpoint, or null; its tensors are kept (the caller disposes them). */
export function readCheckpoint(runDir: string): TrainingState | null {
  const file = checkpointPath(runDir);
  if (!existsSync(file)) return null;
  let loaded: { tensors: Map<string, torch.Tensor>; metadata: Record<string, string> };
  let meta: TrainingState['meta'];
  try {
    loaded = torch.loadSafetensors(file);
  } catch (e) {
    if (isErrnoError(e)) throw e;
    throw new UserError(`${file} is damaged or truncated (${(e as Error).message.replace(`${file}: `, '')}); delete ${join(runDir, 'checkpoint')} to train from the start`, { code: 'RUN_INVALID', cause: e });
  }
  try {
    meta = JSON.parse(loaded.metadata.meta ?? '{}') as TrainingState['meta'];
    if (typeof meta.stage !== 'string' || !Number.isInteger(meta.epoch)) throw new Error('no stage and epoch');
    checkFinite(loaded.tensors, file, 'load');
  } catch (e) {
    torch.dispose([...loaded.tensors.values()]);
    if (e instanceof UserError) throw new UserError(`${e.message.replace('; the model file is damaged: restore it, or retrain', '')}; delete ${join(runDir, 'checkpoint')} to train from the start`, { code: 'RUN_INVALID' });
    throw new UserError(`${file}: its metadata is damaged (${(e as Error).message}); delete ${join(runDir, 'checkpoint')} to train from the start`, { code: 'RUN_INVALID', cause: e });
  }
  for (const t of loaded.tensors.values()) torch.keep(t);
  return { tensors: loaded.tensors, meta };
}

export type { VigilConfig };

// ---- the lock ---------------------------------------------------------------------------------
export const lockPath = (dir: string): string => join(dir, '.vigil-lock');

interface LockInfo { pid: number; host: string; command: string; started: string }

function readLock(path: string): LockInfo | null {
  try {
    const v = JSON.parse(readFileSync(path, 'utf8')) as Partial<LockInfo>;
    return typeof v.pid === 'number' && typeof v.host === 'string' ? { pid: v.pid, host: v.host, command: String(v.command ?? ''), started: String(v.started ?? '') } : null;
  } catch {
    return null;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * An exclusive lock on a run directory: <dir>/.vigil-lock holds the owner's pid and host. A lock
 * whose process is gone (killed, crashed) on this host is stale and taken over; one held by a
 * live process, or by another host (a shared disk: its pids mean nothing here), is refused.
 */
export class RunLock {
  readonly path: string;
  /** The stale lock that was taken over, for the log. */
  readonly replaced: LockInfo | null;
  #onExit = (): void => this.release();

  private constructor(path: string, replaced: LockInfo | null) {
    this.path = path;
    this.replaced = replaced;
    // A second Ctrl-C ends the process with process.exit(): the lock must go with it.
    process.on('exit', this.#onExit);
  }

  static acquire(dir: string, command: string): RunLock {
    const path = lockPath(dir);
    const info: LockInfo = { pid: process.pid, host: hostname(), command, started: new Date().toISOString() };
    // Written whole to a private name, then linked: a reader never sees a half-written lock.
    const tmp = `${path}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(info) + '\n');
    let replaced: LockInfo | null = null;
    try {
      for (let attempt = 0; ; attempt++) {
        try {
          linkSync(tmp, path);
          return new RunLock(path, replaced);
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || attempt >= 3) throw e;
        }
        const holder = readLock(path);
        if (holder && (holder.host !== info.host || alive(holder.pid))) {
          const where = holder.host !== info.host ? ` on host ${holder.host}` : '';
          throw new UserError(`${dir} is in use by vigil process ${holder.pid}${where} (${holder.command || 'vigil'}, since ${holder.started}); wait for it to finish or stop it${where ? `; if no vigil runs there any more, delete ${path}` : ''}`, { code: 'RUN_LOCKED' });
        }
        // Stale (its process is gone) or unreadable: take it over.
        replaced = holder;
        rmSync(path, { force: true });
      }
    } finally {
      rmSync(tmp, { force: true });
    }
  }

  release(): void {
    process.off('exit', this.#onExit);
    if (readLock(this.path)?.pid === process.pid) rmSync(this.path, { force: true });
  }
}

// ---- the dataset fingerprint --------------------------------------------------------------------
export const fingerprintPath = (runDir: string): string => join(runDir, 'dataset.json');

/** What a run was trained on: the items of each split (id, label, file size), hashed, and their counts. */
export interface DataFingerprint {
  spec: string;
  sha256: string;
  counts: Record<string, number>;
}

export function dataFingerprint(spec: string, splits: Record<string, { ids: readonly string[]; labels: ArrayLike<number> } | null>): DataFingerprint {
  const hash = createHash('sha256');
  const counts: Record<string, number> = {};
  for (const [name, s] of Object.entries(splits)) {
    counts[name] = s?.ids.length ?? 0;
    s?.ids.forEach((id, i) => {
      let size = '-';
      if (isAbsolute(id)) {
        try { size = String(statSync(id).size); } catch { size = 'missing'; }
      }
      hash.update(`${name}\t${id}\t${s.labels[i]}\t${size}\n`);
    });
  }
  return { spec, sha256: hash.digest('hex'), counts };
}

export function writeFingerprint(runDir: string, f: DataFingerprint): void {
  writeJson(fingerprintPath(runDir), f);
}

export function readFingerprint(runDir: string): DataFingerprint | null {
  try {
    const v = JSON.parse(readFileSync(fingerprintPath(runDir), 'utf8')) as DataFingerprint;
    return typeof v.sha256 === 'string' && typeof v.counts === 'object' ? v : null;
  } catch {
    return null;
  }
}

/** Why `now` is not the data `then` was computed on, in words; null when they match. */
export function fingerprintChange(then: DataFingerprint, now: DataFingerprint): string | null {
  if (then.sha256 === now.sha256) return null;
  const names = [...new Set([...Object.keys(then.counts), ...Object.keys(now.counts)])];
  const diff = names.filter((n) => then.counts[n] !== now.counts[n]).map((n) => `${n} ${then.counts[n] ?? 0} → ${now.counts[n] ?? 0}`);
  return diff.length > 0 ? `${diff.join(', ')} images` : 'the same number of images, but files were renamed, replaced or changed size';
}
