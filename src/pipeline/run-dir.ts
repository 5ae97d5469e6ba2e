// The run directory on disk: its layout, its log, the model files and the training checkpoint.
//   <run>/config.yaml  log.txt  metrics.json  scores.csv  report.html  images/
//   <run>/model/manifest.json + model.safetensors      <run>/checkpoint/state.safetensors
import { appendFileSync, existsSync, mkdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import * as torch from '../torch/index.js';
import { readSafetensors } from '../torch/io/index.js';
import type { Detector, TrainingState } from '../methods/types.js';
import { readYamlFile, type VigilConfig } from './config.js';
import { UserError } from './errors.js';
import { writeJson } from './fsutil.js';
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
    if (this.path) appendFileSync(this.path, `${new Date().toISOString()} ${message}\n`);
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
  let m: ModelManifest;
  try {
    m = JSON.parse(readFileSync(path, 'utf8')) as ModelManifest;
  } catch (e) {
    throw new UserError(`${path} is not valid JSON: ${(e as Error).message}`, { code: 'RUN_INVALID' });
  }
  if (m.format !== MODEL_FORMAT) throw new UserError(`${path}: unsupported model format '${String(m.format)}' (this vigil reads ${MODEL_FORMAT})`, { code: 'RUN_INVALID' });
  for (const k of ['method', 'preprocessing', 'imageShape', 'threshold', 'normalisation', 'config'] as const) {
    if (m[k] === undefined) throw new UserError(`${path}: field '${k}' is missing`, { code: 'RUN_INVALID' });
  }
  return m;
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

/** Rebuilds the fitted detector of a run on `device`. */
export async function loadDetector(run: Run, device = 'cpu'): Promise<{ det: Detector; method: AnyMethod }> {
  const m = run.manifest;
  const method = await getMethod(m.method).catch((e: unknown) => {
    throw new UserError(`${manifestPath(run.dir)}: ${(e as Error).message}`, { code: 'RUN_INVALID' });
  });
  const file = modelPath(run.dir);
  if (!existsSync(file)) throw new UserError(`${file} is missing; the run directory is incomplete`, { code: 'RUN_INVALID' });
  const { tensors, metadata } = torch.loadSafetensors(file, device);
  if (metadata.method && metadata.method !== m.method) {
    torch.dispose(tensors);
    throw new UserError(`${file} holds a '${metadata.method}' model but manifest.json says '${m.method}'; the run directory was mixed up`, { code: 'RUN_INVALID' });
  }
  try {
    const config = resolveModelConfig(method, m.config);
    return { det: method.load(config, m.imageShape, { tensors, meta: m.state_meta ?? {} }, { device }), method };
  } catch (e) {
    throw new UserError(`cannot load the ${m.method} model from ${file}: ${(e as Error).message}`, { code: 'RUN_INVALID', cause: e });
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
  mkdirSync(join(runDir, 'model'), { recursive: true });
  // state() may hand out the detector's own tensors: they are not disposed here.
  torch.saveSafetensors(modelPath(runDir), state.tensors, { method: manifest.method, format: MODEL_FORMAT });
  writeJson(manifestPath(runDir), full);
  rmSync(join(runDir, 'checkpoint'), { recursive: true, force: true });
  return full;
}

export function writeCheckpoint(runDir: string, method: string, state: TrainingState): void {
  mkdirSync(join(runDir, 'checkpoint'), { recursive: true });
  torch.saveSafetensors(checkpointPath(runDir), state.tensors, { meta: JSON.stringify(state.meta), method });
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
  if (!existsSync(checkpointPath(runDir))) return null;
  const { tensors, metadata } = torch.loadSafetensors(checkpointPath(runDir));
  for (const t of tensors.values()) torch.keep(t);
  return { tensors, meta: JSON.parse(metadata.meta ?? '{}') as TrainingState['meta'] };
}

export type { VigilConfig };
