// Run configuration: OpenOOD-style sections, layered as
//   schema defaults ← configs/<method>/<dataset>.yaml ← --config file ← --set a.b=c ← CLI flags,
// then parsed by one zod schema: the root sections below plus the method's own `model` schema.
// The schema is the single source of the keys, their types, their defaults and the TS types.
// Keys are camelCase everywhere; the snake_case spellings of Vigil ≤ 0.1 (val_from_test,
// batch_size, …) still work and are reported as deprecated.
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';
import { z } from 'zod';
import { checkConfig, isPlain, shapeAt, show } from '../methods/schema.js';
import { ConfigError, UserError } from './errors.js';

const nullableString = z.string().nullable();

const folderSchema = z.strictObject({
  /** Folder of the good images, relative to the --data folder. */
  normalDir: nullableString.default('good'),
  /** Folder(s) of defect images; null = every sibling folder of normalDir (see data/folder.ts). */
  abnormalDir: nullableString.default(null),
  /** Ground-truth masks: <maskDir>/<stem>_mask.png (or same name). */
  maskDir: nullableString.default(null),
  /** Good test images kept apart from training; null = a share of normalDir (normalSplitRatio). */
  normalTestDir: nullableString.default(null),
  extensions: z.array(z.string()).default([]),
  normalSplitRatio: z.number().min(0).max(0.99).default(0.2),
});

const datasetSchema = z.strictObject({
  /** fmnist:3, mnist:0, cifar10:3, mvtec:<root>/<category>, folder:<dir>, synth:<dir>[/<category>]. */
  spec: z.string().default(''),
  /** Folder of the one-class datasets (fmnist defaults to Debian's copy). */
  root: nullableString.default(null),
  /** synth: category used when the spec names none. */
  category: z.string().default('woven'),
  /** one-class: anomalies mixed into the training set (Deep SAD definition). */
  pollution: z.number().min(0).max(0.99).default(0),
  /** Share of the test set moved (stratified, seeded) to a labelled validation split for the threshold. */
  valFromTest: z.number().min(0).max(0.9).default(0),
  /** Use at most this many training / test images (seeded subset); 0 = all. */
  limitTrain: z.int().min(0).default(0),
  limitTest: z.int().min(0).default(0),
  skipUnreadable: z.boolean().default(false),
  folder: folderSchema.prefault({}),
  synth: z.strictObject({
    size: z.int().min(32).max(4096).default(128),
    trainCount: z.int().min(1).default(40),
    testGoodCount: z.int().min(0).default(10),
    testDefectCount: z.int().min(0).default(4),
  }).prefault({}),
});

const preprocessSchema = z.strictObject({
  /** Colour mode for image files; auto = what the method asks for (rgb by default). */
  mode: z.enum(['auto', 'rgb', 'gray']).default('auto'),
  /** Square resize of image files when `transforms` is not given and the method brings none. */
  size: z.int().min(8).max(4096).default(256),
  /** Explicit transform pipeline for image files (replaces size and the method's transforms). */
  transforms: z.array(z.unknown()).nullable().default(null),
  /** Deep SVDD preprocessing of one-class arrays: global contrast normalisation. */
  gcn: z.enum(['none', 'l1', 'l2']).default('none'),
  /** Min-max scaling after GCN: 'dsvdd' = the published per-class constants, 'computed' = from the training set. */
  minMax: z.enum(['none', 'dsvdd', 'computed']).default('none'),
});

const trainSchema = z.strictObject({
  /** Images per batch when scoring (calibration, test); a method's own batch sizes are under model. */
  batchSize: z.int().min(1).default(32),
  /** Image decoding threads; null = from the thread count (at most 4); 0 = the main thread. */
  workers: z.int().min(0).max(64).nullable().default(null),
  /** Write checkpoint/ each epoch so `vigil train --resume` can continue. */
  checkpoint: z.boolean().default(true),
});

const thresholdSchema = z.strictObject({
  /**
   * auto = tolerance. tolerance: from normal images the model never saw, so that at most
   * targetFpr of good parts are rejected with the given confidence (see pipeline/threshold.ts);
   * f1: F1-optimal on a labelled validation split (dataset.valFromTest), mid-gap; quantile: the
   * `quantile` of held-out normal scores; manual: `value`.
   */
  rule: z.enum(['auto', 'tolerance', 'f1', 'quantile', 'manual']).default('auto'),
  /**
   * The share of good parts you accept to reject (false-reject rate), rule tolerance. 5 %: with
   * the ~10 calibration images of a small folder, a 1 % promise puts the threshold far above the
   * good parts (vigil test/predict --target-fpr 0.01 re-thresholds once there are more).
   */
  targetFpr: z.number().gt(0).lt(1).default(0.05),
  /** Confidence that the false-reject rate is at most targetFpr, rule tolerance. */
  confidence: z.number().gt(0).lt(1).default(0.9),
  /** Quantile of held-out normal scores (rule quantile). */
  quantile: z.number().min(0).max(1).default(0.99),
  /** Share of the normal training images held out (not fitted on) to calibrate the threshold. */
  holdout: z.number().min(0).max(0.9).default(0.1),
  /** At least this many normal images are held out (at most half of them), whatever the share. */
  holdoutMin: z.int().min(0).default(10),
  /** rule manual: the raw score threshold. */
  value: z.number().nullable().default(null),
});

const outputSchema = z.strictObject({
  /** Run directory; default runs/<method>-<dataset>-<time>. */
  dir: nullableString.default(null),
  /** Most and least anomalous test images drawn (each). */
  images: z.int().min(0).max(100).default(6),
});

/** The root schema with a method's `model` schema in place. */
export function rootSchema<M extends z.ZodType>(model: M) {
  return z.strictObject({
    method: z.string(),
    seed: z.int().min(0).default(0),
    /** 'cpu', 'cuda', 'cuda:<n>'. */
    device: z.string().regex(/^(cpu|cuda(:\d+)?)$/, 'must be cpu, cuda or cuda:<index>').default('cpu'),
    dataset: datasetSchema.prefault({}),
    preprocess: preprocessSchema.prefault({}),
    model,
    train: trainSchema.prefault({}),
    threshold: thresholdSchema.prefault({}),
    output: outputSchema.prefault({}),
  });
}

export type VigilConfig = Omit<z.infer<ReturnType<typeof rootSchema<z.ZodType<Record<string, unknown>>>>>, 'model'> & { model: Record<string, unknown> };

/**
 * A `model` schema for a method that brings none (a plugin with only `defaults`): the type of each
 * default value, defaults filled in, unknown keys rejected. null defaults accept anything.
 */
export function schemaFromDefaults(value: unknown): z.ZodType {
  if (value === null || value === undefined) return z.unknown().default(null);
  if (typeof value === 'number') return z.number().default(value);
  if (typeof value === 'string') return z.string().default(value);
  if (typeof value === 'boolean') return z.boolean().default(value);
  if (Array.isArray(value)) return z.array(z.unknown()).default(structuredClone(value));
  if (typeof value === 'object') {
    const shape = Object.fromEntries(Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, schemaFromDefaults(v)]));
    return z.strictObject(shape).prefault({});
  }
  return z.unknown();
}

/** The schema of a method's `model` section: its own, or one inferred from its defaults. */
export function modelSchemaOf(method: { schema?: z.ZodType; defaults: object }): z.ZodType {
  return method.schema ?? schemaFromDefaults(method.defaults);
}

/** Parses `value` with `schema` (defaults filled in); throws a ConfigError listing every issue. */
export function parseWith<T>(schema: z.ZodType<T>, value: unknown, what = 'configuration'): T {
  const r = checkConfig(schema, value);
  if (!r.ok) throw new ConfigError(r.issues, what);
  return r.value;
}

type Plain = Record<string, unknown>;

// ---- deprecated spellings -------------------------------------------------------------------
const camel = (k: string): string => k.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());

/**
 * snake_case keys whose camelCase form is the schema's key at that place (and the snake form is
 * not) → camelCase; returns the dotted paths that were renamed, so the log can say so. Keys of
 * list items (transform specs) and of methods that really use snake_case are left alone.
 */
export function renameDeprecatedKeys(v: unknown, schema: z.ZodType, path: string[] = [], renamed: string[] = []): { value: unknown; renamed: string[] } {
  if (!isPlain(v)) return { value: v, renamed };
  const shape = shapeAt(schema, path);
  if (!shape) return { value: v, renamed };
  const out: Plain = {};
  for (const [k, x] of Object.entries(v)) {
    const nk = /_[a-z0-9]/.test(k) && !(k in shape) && camel(k) in shape ? camel(k) : k;
    if (nk !== k) renamed.push([...path, k].join('.'));
    out[nk] = renameDeprecatedKeys(x, schema, [...path, nk], renamed).value;
  }
  return { value: out, renamed };
}

// ---- layering -------------------------------------------------------------------------------
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
    throw new UserError(`${what} ${path} is not valid YAML: ${(e as Error).message.split('\n')[0]}`, { code: 'CONFIG_INVALID' });
  }
  if (doc === null || doc === undefined) return {};
  if (!isPlain(doc)) throw new UserError(`${what} ${path} must be a YAML mapping (sections dataset:, model:, …), got ${show(doc)}`, { code: 'CONFIG_INVALID' });
  return doc;
}

/** `a.b=c` → { a: { b: c } } with c parsed as a YAML scalar (or flow list/map). */
export function parseSet(assignment: string): Plain {
  const eq = assignment.indexOf('=');
  if (eq <= 0) throw new UserError(`--set ${assignment}: expected key.path=value, e.g. --set train.batchSize=64`, { code: 'CONFIG_INVALID' });
  const path = assignment.slice(0, eq).trim().split('.');
  if (path.some((p) => p === '')) throw new UserError(`--set ${assignment}: empty key in '${assignment.slice(0, eq)}'`, { code: 'CONFIG_INVALID' });
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
  /** The method's `model` schema (modelSchemaOf(definition)). */
  modelSchema: z.ZodType;
  /** Data spec from --data (overrides the files). */
  data?: string;
  /** --config file. */
  configFile?: string;
  /** Parsed --config contents (when the caller already read it). */
  fileLayer?: Plain;
  set?: readonly string[];
  /** Flags that map to config keys (--seed, --data-root, --out, --device). */
  flags?: Plain;
}

export interface ResolvedConfig {
  config: VigilConfig;
  /** The layers used, for the log. */
  sources: string[];
  /** Deprecation notices (old key spellings). */
  warnings: string[];
}

/** Builds and validates the resolved config. */
export function resolveConfig(l: ConfigLayers): ResolvedConfig {
  const sources = ['defaults'];
  const warnings: string[] = [];
  const schema = rootSchema(l.modelSchema);
  const modern = (layer: Plain | undefined, name: string): Plain | undefined => {
    if (!layer) return layer;
    const r = renameDeprecatedKeys(layer, schema);
    if (r.renamed.length) warnings.push(`${name}: deprecated key spelling ${r.renamed.map((k) => `'${k}'`).join(', ')}; keys are camelCase now (e.g. ${camel(r.renamed[0]!.split('.').pop()!)})`);
    return r.value as Plain;
  };
  const fileLayer = modern(l.fileLayer ?? (l.configFile ? readYamlFile(l.configFile, 'config file') : undefined), l.configFile ?? 'config');
  const sets = (l.set ?? []).map((s) => modern(parseSet(s), `--set ${s}`)!);
  const overlay = [fileLayer, ...sets, l.flags].reduce<Plain>((a, b) => deepMerge(a, b ?? {}), {});
  const spec = l.data ?? ((overlay.dataset as Plain | undefined)?.spec as string | undefined) ?? '';
  let cfg: Plain = {};
  const preset = spec ? presetPath(l.method, spec) : null;
  if (preset) {
    cfg = deepMerge(cfg, modern(readYamlFile(preset, 'preset'), preset));
    sources.push(preset);
  }
  if (fileLayer) { cfg = deepMerge(cfg, fileLayer); sources.push(l.configFile ?? 'config'); }
  for (const [i, s] of sets.entries()) { cfg = deepMerge(cfg, s); sources.push(`--set ${l.set![i]}`); }
  if (l.flags) cfg = deepMerge(cfg, l.flags);
  if (l.data) cfg = deepMerge(cfg, { dataset: { spec: l.data } });
  cfg.method = l.method;
  if (cfg.model === undefined) cfg.model = {};
  const config = parseWith(schema, cfg) as VigilConfig;
  if (!config.dataset.spec) throw new UserError('no dataset: pass --data <spec> (e.g. --data synth:./synth, fmnist:0, mvtec:<root>/bottle, folder:<dir>) or set dataset.spec in the config', { code: 'CONFIG_INVALID' });
  if (config.threshold.rule === 'manual' && config.threshold.value === null) throw new UserError("threshold.rule is 'manual' but threshold.value is null; set --set threshold.value=<score>", { code: 'CONFIG_INVALID' });
  return { config, sources, warnings };
}

/** Re-validates a saved config (config.yaml of a run), old spellings included. */
export function parseSavedConfig(raw: Plain, modelSchema: z.ZodType, file: string): VigilConfig {
  const schema = rootSchema(modelSchema);
  return parseWith(schema, renameDeprecatedKeys(raw, schema).value, file) as VigilConfig;
}

export function configToYaml(config: VigilConfig | Record<string, unknown>): string {
  return YAML.stringify(config, { lineWidth: 0 });
}
