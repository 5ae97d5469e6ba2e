// Run configuration: OpenOOD-style sections, layered as
//   built-in defaults ← configs/<method>/<dataset>.yaml ← --config file ← --set a.b=c ← CLI flags,
// then validated against a schema. The `model` section's schema is the method's own defaults.
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';
import { UserError } from './errors.js';

export interface FolderConfig {
  normal_dir: string | null;
  abnormal_dir: string | null;
  mask_dir: string | null;
  normal_test_dir: string | null;
  extensions: string[];
  normal_split_ratio: number;
}

export interface VigilConfig {
  method: string;
  seed: number;
  /** 'cpu', 'cuda', 'cuda:<n>'. */
  device: string;
  dataset: {
    /** fmnist:3, mnist:0, cifar10:3, mvtec:<root>/<category>, folder:<dir>, synth:<dir>[/<category>]. */
    spec: string;
    /** Folder of the one-class datasets (fmnist defaults to Debian's copy). */
    root: string | null;
    /** synth: category used when the spec names none. */
    category: string;
    /** one-class: anomalies mixed into the training set (Deep SAD definition). */
    pollution: number;
    /** Share of the test set moved (stratified, seeded) to a labelled validation split for the threshold. */
    val_from_test: number;
    /** Use at most this many training / test images (seeded subset); 0 = all. */
    limit_train: number;
    limit_test: number;
    skip_unreadable: boolean;
    folder: FolderConfig;
    synth: { size: number; train_count: number; test_good_count: number; test_defect_count: number };
  };
  preprocess: {
    /** Colour mode for image files; auto = gray for MNIST-like data, else rgb. */
    mode: 'auto' | 'rgb' | 'gray';
    /** Square resize of image files when `transforms` is not given (and the method brings none). */
    size: number;
    /** Explicit transform pipeline for image files (replaces size and the method's transforms). */
    transforms: unknown[] | null;
    /** Deep SVDD preprocessing of one-class arrays: global contrast normalisation. */
    gcn: 'none' | 'l1' | 'l2';
    /** Min-max scaling after GCN: 'dsvdd' = the published per-class constants, 'computed' = from the training set. */
    min_max: 'none' | 'dsvdd' | 'computed';
  };
  model: Record<string, unknown>;
  train: {
    batch_size: number;
    /** Image decoding threads (0 = main thread). */
    workers: number;
    /** Write checkpoint/ each epoch so `vigil train --resume` can continue. */
    checkpoint: boolean;
  };
  threshold: {
    /** auto = f1 when a labelled validation split exists, else quantile. */
    rule: 'auto' | 'f1' | 'quantile' | 'manual';
    /** Quantile of held-out normal scores (rule quantile). */
    quantile: number;
    /** Share of the normal training images held out (not fitted on) to calibrate the threshold. */
    holdout: number;
    /** rule manual: the raw score threshold. */
    value: number | null;
  };
  output: {
    /** Run directory; default runs/<method>-<dataset>-<time>. */
    dir: string | null;
    /** Most and least anomalous test images drawn (each). */
    images: number;
  };
}

// ---- schema ---------------------------------------------------------------------------------
export type Schema =
  | { kind: 'object'; fields: Record<string, Schema>; doc?: string }
  | { kind: 'number'; int?: boolean; min?: number; max?: number; nullable?: boolean }
  | { kind: 'string'; values?: readonly string[]; nullable?: boolean }
  | { kind: 'boolean' }
  | { kind: 'array'; of: Schema | null; nullable?: boolean }
  | { kind: 'any' };

const num = (min?: number, max?: number, nullable = false): Schema => ({ kind: 'number', min, max, nullable });
const int = (min?: number, max?: number): Schema => ({ kind: 'number', int: true, min, max });
const str = (values?: readonly string[], nullable = false): Schema => ({ kind: 'string', values, nullable });
const obj = (fields: Record<string, Schema>): Schema => ({ kind: 'object', fields });

function baseSchema(model: Schema): Schema {
  return obj({
    method: str(),
    seed: int(0),
    device: str(),
    dataset: obj({
      spec: str(),
      root: str(undefined, true),
      category: str(),
      pollution: num(0, 0.99),
      val_from_test: num(0, 0.9),
      limit_train: int(0),
      limit_test: int(0),
      skip_unreadable: { kind: 'boolean' },
      folder: obj({
        normal_dir: str(undefined, true),
        abnormal_dir: str(undefined, true),
        mask_dir: str(undefined, true),
        normal_test_dir: str(undefined, true),
        extensions: { kind: 'array', of: str() },
        normal_split_ratio: num(0, 0.99),
      }),
      synth: obj({ size: int(32, 4096), train_count: int(1), test_good_count: int(0), test_defect_count: int(0) }),
    }),
    preprocess: obj({
      mode: str(['auto', 'rgb', 'gray']),
      size: int(8, 4096),
      transforms: { kind: 'array', of: null, nullable: true },
      gcn: str(['none', 'l1', 'l2']),
      min_max: str(['none', 'dsvdd', 'computed']),
    }),
    model,
    train: obj({ batch_size: int(1), workers: int(0, 64), checkpoint: { kind: 'boolean' } }),
    threshold: obj({
      rule: str(['auto', 'f1', 'quantile', 'manual']),
      quantile: num(0, 1),
      holdout: num(0, 0.9),
      value: num(undefined, undefined, true),
    }),
    output: obj({ dir: str(undefined, true), images: int(0, 100) }),
  });
}

export function defaultConfig(method: string, modelDefaults: Record<string, unknown>): VigilConfig {
  return {
    method,
    seed: 0,
    device: 'cpu',
    dataset: {
      spec: '',
      root: null,
      category: 'woven',
      pollution: 0,
      val_from_test: 0,
      limit_train: 0,
      limit_test: 0,
      skip_unreadable: false,
      folder: { normal_dir: 'good', abnormal_dir: null, mask_dir: null, normal_test_dir: null, extensions: [], normal_split_ratio: 0.2 },
      synth: { size: 128, train_count: 40, test_good_count: 10, test_defect_count: 4 },
    },
    preprocess: { mode: 'auto', size: 256, transforms: null, gcn: 'none', min_max: 'none' },
    model: structuredClone(modelDefaults),
    train: { batch_size: 32, workers: 2, checkpoint: true },
    threshold: { rule: 'auto', quantile: 0.99, holdout: 0.1, value: null },
    output: { dir: null, images: 6 },
  };
}

/** Schema of a method's `model` section, inferred from its defaults (types of the default values). */
export function schemaFromDefaults(value: unknown): Schema {
  if (value === null || value === undefined) return { kind: 'any' };
  if (typeof value === 'number') return { kind: 'number', int: false };
  if (typeof value === 'string') return { kind: 'string' };
  if (typeof value === 'boolean') return { kind: 'boolean' };
  if (Array.isArray(value)) return { kind: 'array', of: null };
  if (typeof value === 'object') {
    return obj(Object.fromEntries(Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, schemaFromDefaults(v)])));
  }
  return { kind: 'any' };
}

export function configSchema(modelDefaults: Record<string, unknown>): Schema {
  return baseSchema(schemaFromDefaults(modelDefaults));
}

function describe(s: Schema): string {
  switch (s.kind) {
    case 'object': return 'a mapping';
    case 'number': {
      let d = s.int ? 'an integer' : 'a number';
      if (s.min !== undefined && s.max !== undefined) d += ` in [${s.min}, ${s.max}]`;
      else if (s.min !== undefined) d += ` >= ${s.min}`;
      return d + (s.nullable ? ' or null' : '');
    }
    case 'string': return (s.values ? `one of ${s.values.join(', ')}` : 'a string') + (s.nullable ? ' or null' : '');
    case 'boolean': return 'true or false';
    case 'array': return 'a list' + (s.nullable ? ' or null' : '');
    case 'any': return 'any value';
  }
}

function show(v: unknown): string {
  const t = v === null ? 'null' : Array.isArray(v) ? 'list' : typeof v;
  return `${JSON.stringify(v) ?? String(v)} (${t})`;
}

/** Checks `value` against `schema`; throws a UserError naming every bad key path. */
export function validate(value: unknown, schema: Schema, path = ''): void {
  const problems: string[] = [];
  check(value, schema, path, problems);
  if (problems.length > 0) throw new UserError(`invalid configuration:\n  ${problems.join('\n  ')}`);
}

function check(v: unknown, s: Schema, path: string, out: string[]): void {
  const name = path || '(root)';
  const bad = () => out.push(`'${name}' must be ${describe(s)}, got ${show(v)}`);
  switch (s.kind) {
    case 'any': return;
    case 'object': {
      if (typeof v !== 'object' || v === null || Array.isArray(v)) { bad(); return; }
      const valid = Object.keys(s.fields);
      for (const [k, x] of Object.entries(v)) {
        const p = path ? `${path}.${k}` : k;
        const f = s.fields[k];
        if (!f) out.push(`unknown key '${p}' (valid keys${path ? ` in '${path}'` : ''}: ${valid.join(', ')})`);
        else check(x, f, p, out);
      }
      for (const k of valid) if (!(k in v)) out.push(`missing key '${path ? `${path}.${k}` : k}'`);
      return;
    }
    case 'number':
      if (v === null && s.nullable) return;
      if (typeof v !== 'number' || !Number.isFinite(v) || (s.int && !Number.isInteger(v)) || (s.min !== undefined && v < s.min) || (s.max !== undefined && v > s.max)) bad();
      return;
    case 'string':
      if (v === null && s.nullable) return;
      if (typeof v !== 'string' || (s.values && !s.values.includes(v))) bad();
      return;
    case 'boolean':
      if (typeof v !== 'boolean') bad();
      return;
    case 'array':
      if (v === null && s.nullable) return;
      if (!Array.isArray(v)) { bad(); return; }
      if (s.of) v.forEach((x, i) => check(x, s.of!, `${path}[${i}]`, out));
      return;
  }
}

// ---- layering -------------------------------------------------------------------------------
type Plain = Record<string, unknown>;
const isPlain = (v: unknown): v is Plain => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Deep merge: mappings merge key by key; lists and scalars replace. */
export function deepMerge<T>(base: T, over: unknown): T {
  if (!isPlain(base) || !isPlain(over)) return (over === undefined ? base : structuredClone(over)) as T;
  const out: Plain = { ...base };
  for (const [k, v] of Object.entries(over)) out[k] = k in out ? deepMerge(out[k], v) : structuredClone(v);
  return out as T;
}

/** Folder holding the shipped presets (configs/ at the package root). */
export const CONFIGS_DIR = fileURLToPath(new URL('../../../configs/', import.meta.url));

/** The preset key of a data spec: fmnist:3 → fmnist, mvtec:/x/bottle → mvtec. */
export function datasetKind(spec: string): string {
  const i = spec.indexOf(':');
  return i < 0 ? spec : spec.slice(0, i);
}

export function presetPath(method: string, spec: string): string | null {
  const p = `${CONFIGS_DIR}${method}/${datasetKind(spec)}.yaml`;
  return existsSync(p) ? p : null;
}

export function readYamlFile(path: string, what: string): Plain {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new UserError(`cannot read ${what} ${path}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
  }
  let doc: unknown;
  try {
    doc = YAML.parse(text);
  } catch (e) {
    throw new UserError(`${what} ${path} is not valid YAML: ${(e as Error).message.split('\n')[0]}`);
  }
  if (doc === null || doc === undefined) return {};
  if (!isPlain(doc)) throw new UserError(`${what} ${path} must be a YAML mapping (sections dataset:, model:, …), got ${show(doc)}`);
  return doc;
}

/** `a.b=c` → { a: { b: c } } with c parsed as a YAML scalar (or flow list/map). */
export function parseSet(assignment: string): Plain {
  const eq = assignment.indexOf('=');
  if (eq <= 0) throw new UserError(`--set ${assignment}: expected key.path=value, e.g. --set train.batch_size=64`);
  const path = assignment.slice(0, eq).trim().split('.');
  if (path.some((p) => p === '')) throw new UserError(`--set ${assignment}: empty key in '${assignment.slice(0, eq)}'`);
  let value: unknown;
  const raw = assignment.slice(eq + 1);
  try {
    value = raw === '' ? '' : YAML.parse(raw);
  } catch {
    value = raw;
  }
  const out: Plain = {};
  let cur = out;
  path.forEach((k, i) => {
    if (i === path.length - 1) cur[k] = value;
    else cur = (cur[k] = {}) as Plain;
  });
  return out;
}

export interface ConfigLayers {
  method: string;
  modelDefaults: Record<string, unknown>;
  /** Data spec from --data (overrides the files). */
  data?: string;
  /** --config file. */
  configFile?: string;
  /** Parsed --config contents (when the caller already read it). */
  fileLayer?: Plain;
  set?: readonly string[];
  /** Flags that map to config keys (--seed, --data-root, --out). */
  flags?: Plain;
}

/** Builds and validates the resolved config; `sources` lists the layers used, for the log. */
export function resolveConfig(l: ConfigLayers): { config: VigilConfig; sources: string[] } {
  let cfg: unknown = defaultConfig(l.method, l.modelDefaults);
  const sources = ['defaults'];
  const fileLayer = l.fileLayer ?? (l.configFile ? readYamlFile(l.configFile, 'config file') : undefined);
  const sets = (l.set ?? []).map(parseSet);
  const overlay = [fileLayer, ...sets, l.flags].reduce<Plain>((a, b) => deepMerge(a, b ?? {}), {});
  const spec = l.data ?? ((overlay.dataset as Plain | undefined)?.spec as string | undefined) ?? '';
  const preset = spec ? presetPath(l.method, spec) : null;
  if (preset) {
    cfg = deepMerge(cfg, readYamlFile(preset, 'preset'));
    sources.push(preset);
  }
  if (fileLayer) { cfg = deepMerge(cfg, fileLayer); sources.push(l.configFile ?? 'config'); }
  for (const [i, s] of sets.entries()) { cfg = deepMerge(cfg, s); sources.push(`--set ${l.set![i]}`); }
  if (l.flags) cfg = deepMerge(cfg, l.flags);
  if (l.data) cfg = deepMerge(cfg, { dataset: { spec: l.data } });
  (cfg as Plain).method = l.method;
  validate(cfg, configSchema(l.modelDefaults));
  const config = cfg as VigilConfig;
  if (!config.dataset.spec) throw new UserError('no dataset: pass --data <spec> (e.g. --data synth:./synth, fmnist:0, mvtec:<root>/bottle, folder:<dir>) or set dataset.spec in the config');
  if (config.threshold.rule === 'manual' && config.threshold.value === null) throw new UserError("threshold.rule is 'manual' but threshold.value is null; set --set threshold.value=<score>");
  return { config, sources };
}

export function configToYaml(config: VigilConfig): string {
  return YAML.stringify(config, { lineWidth: 0 });
}
