// Which config keys a run actually uses. The resolved config.yaml keeps only those (a folder run
// shows no synth: section), and a key the user sets that the verb or the data would ignore is an
// error naming it and what to use instead (`vigil test --set threshold.value=30` used to be
// recorded and ignored).
import type { MethodInputs } from '../methods/types.js';
import { datasetKind, type VigilConfig } from './config.js';
import type { Preprocessing } from './data.js';
import { UserError } from './errors.js';

type Plain = Record<string, unknown>;
const isPlain = (v: unknown): v is Plain => typeof v === 'object' && v !== null && !Array.isArray(v);

/** preprocess.size is used: no explicit transforms and the method brings none. */
export function resizeUsed(config: VigilConfig, inputs: MethodInputs): boolean {
  return config.preprocess.transforms === null && inputs.transforms === undefined;
}

/** The same, read back from a model's preprocessing. */
export function resizeUsedBy(p: Preprocessing, size: number): boolean {
  return p.kind === 'files' && p.transforms.length === 1 && p.transforms[0]!.op === 'resize' && JSON.stringify(p.transforms[0]!.size) === JSON.stringify([size, size]);
}

/** Keys (dotted) that do not apply to this run, with the reason. */
function unused(config: VigilConfig, resizes: boolean): Map<string, string> {
  const kind = datasetKind(config.dataset.spec);
  const files = kind === 'folder' || kind === 'mvtec' || kind === 'synth';
  const out = new Map<string, string>();
  const not = (key: string, why: string): void => { out.set(key, why); };
  if (kind !== 'folder') not('dataset.folder', `it is for folder: datasets, and this one is ${kind}:`);
  if (kind !== 'synth') { not('dataset.synth', `it is for synth: datasets, and this one is ${kind}:`); not('dataset.category', 'it names a synth: category'); }
  if (files) {
    not('dataset.pollution', 'it applies to the one-class benchmarks (fmnist, mnist, cifar10)');
    not('preprocess.gcn', 'it applies to the one-class benchmarks'); not('preprocess.minMax', 'it applies to the one-class benchmarks');
    if (!resizes) not('preprocess.size', config.preprocess.transforms ? 'preprocess.transforms replaces it' : `${config.method} brings its own transforms (see its model.* keys, e.g. model.imageSize)`);
  } else {
    not('dataset.skipUnreadable', 'the one-class benchmarks have no image files');
    not('preprocess.size', 'the one-class benchmarks keep their native size'); not('preprocess.transforms', 'the one-class benchmarks keep their native size'); not('preprocess.mode', 'the one-class benchmarks keep their colour mode');
  }
  const rule = config.threshold.rule;
  const tol = rule === 'auto' || rule === 'tolerance';
  if (!tol) { not('threshold.targetFpr', `threshold.rule is ${rule}`); not('threshold.confidence', `threshold.rule is ${rule}`); }
  if (rule !== 'quantile') not('threshold.quantile', `threshold.rule is ${rule}, not quantile`);
  if (rule !== 'manual') not('threshold.value', `threshold.rule is ${rule}; set threshold.rule=manual to give a value`);
  return out;
}

function drop(obj: Plain, path: string[]): void {
  let cur: unknown = obj;
  for (const p of path.slice(0, -1)) cur = isPlain(cur) ? cur[p] : undefined;
  if (isPlain(cur)) delete cur[path[path.length - 1]!];
}

/** The config with the keys that do not apply to this run removed (for config.yaml and the report). */
export function applicableConfig(config: VigilConfig, resizes: boolean): Plain {
  const out = structuredClone(config) as unknown as Plain;
  for (const key of unused(config, resizes).keys()) drop(out, key.split('.'));
  return out;
}

const camel = (k: string): string => k.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());

function leaves(v: unknown, prefix: string[] = []): string[][] {
  if (!isPlain(v)) return [prefix];
  return Object.entries(v).flatMap(([k, x]) => leaves(x, [...prefix, camel(k)]));
}

/** Rejects keys set by the user (--config file, --set) that this run would not use. */
export function rejectUnusedKeys(config: VigilConfig, inputs: MethodInputs, layers: ReadonlyArray<Plain | undefined>): void {
  const why = unused(config, resizeUsed(config, inputs));
  const issues: string[] = [];
  for (const layer of layers) {
    if (!layer) continue;
    for (const path of leaves(layer)) {
      for (let i = path.length; i > 0; i--) {
        const key = path.slice(0, i).join('.');
        if (why.has(key)) { issues.push(`${path.join('.')} is not used: ${why.get(key)}`); break; }
      }
    }
  }
  if (issues.length > 0) throw new UserError(`${[...new Set(issues)].join('; ')}; remove ${issues.length === 1 ? 'it' : 'them'}`, { code: 'CONFIG_INVALID' });
}

/** What `vigil test --set` may change: how the test data is read, not the model or its threshold. */
const TEST_KEYS: Record<string, string | null> = {
  dataset: null, seed: null, 'train.batchSize': null, 'train.workers': null, 'output.images': null,
  threshold: 'the threshold is the model\'s; re-threshold with --threshold <score> or --target-fpr <rate>',
  model: 'the model is already trained; retrain to change it',
  preprocess: 'preprocessing is the model\'s (as it was trained); retrain to change it',
  'train.checkpoint': 'test does not train',
  method: 'the method is the model\'s',
  device: 'use --device',
  'output.dir': 'use --out',
};

/** Rejects `--set` keys a verb ignores (test: model, preprocessing, threshold, …). */
export function rejectIgnoredKeys(verb: 'test', sets: readonly string[]): void {
  const issues: string[] = [];
  for (const s of sets) {
    const key = s.slice(0, Math.max(0, s.indexOf('='))).trim().split('.').map(camel);
    let ok = false;
    for (let i = key.length; i > 0; i--) {
      const k = key.slice(0, i).join('.');
      if (k in TEST_KEYS) {
        const why = TEST_KEYS[k];
        if (why === null) ok = true;
        else issues.push(`--set ${key.join('.')}: ${verb} ignores it (${why})`);
        break;
      }
    }
    if (!ok && !issues.some((m) => m.startsWith(`--set ${key.join('.')}:`))) issues.push(`--set ${key.join('.')}: ${verb} ignores it (${verb} --set takes dataset.*, seed, train.batchSize, train.workers, output.images)`);
  }
  if (issues.length > 0) throw new UserError(issues.join('; '), { code: 'CONFIG_INVALID' });
}
