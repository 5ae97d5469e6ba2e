// Method registry: name → MethodDefinition. Built-in methods are loaded on first use (the deep
// methods pull in model code that a `vigil --help` does not need); other packages register theirs
// with registerMethod() or, for the CLI, with VIGIL_PLUGINS=<module>[:<module>…].
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { resolve } from 'node:path';
import type { MethodDefinition } from '../methods/types.js';
import type { TransformSpec } from '../data/transforms/index.js';
import { pixelstats } from '../methods/pixelstats/index.js';
import { UserError } from './errors.js';

export interface MethodEntry {
  readonly definition: MethodDefinition<Record<string, unknown>>;
  /** Eval-time transforms for image files, from the method's `model` config (e.g. PatchCore's resize/crop/ImageNet normalisation). */
  readonly transforms?: (model: Record<string, unknown>) => TransformSpec[];
  /** Colour mode the method expects for image files, when it cares. */
  readonly mode?: 'rgb' | 'gray';
}

const methods = new Map<string, MethodEntry>();
let builtinsLoaded = false;

export function registerMethod<C extends object>(definition: MethodDefinition<C>, extra: Omit<MethodEntry, 'definition'> = {}): void {
  if (!definition || typeof definition.name !== 'string' || typeof definition.create !== 'function' || typeof definition.load !== 'function') {
    throw new Error('registerMethod: expected a MethodDefinition { name, description, defaults, create, load }');
  }
  methods.set(definition.name, { definition: definition as unknown as MethodDefinition<Record<string, unknown>>, ...extra });
}

registerMethod(pixelstats);

// Built-in methods that live in their own folders; a folder not yet built is skipped.
const BUILTIN_MODULES: Array<{ path: string; transforms?: string; mode?: 'rgb' | 'gray' }> = [
  { path: '../methods/dsvdd/index.js' },
  { path: '../methods/patchcore/index.js', transforms: 'patchcoreTransforms', mode: 'rgb' },
];

function isDefinition(v: unknown): v is MethodDefinition<Record<string, unknown>> {
  return typeof v === 'object' && v !== null && typeof (v as MethodDefinition).name === 'string'
    && typeof (v as MethodDefinition).create === 'function' && typeof (v as MethodDefinition).load === 'function'
    && typeof (v as MethodDefinition).defaults === 'object';
}

async function registerModule(url: string, transforms?: string, mode?: 'rgb' | 'gray'): Promise<void> {
  const mod = (await import(url)) as Record<string, unknown>;
  const t = transforms ? mod[transforms] : undefined;
  for (const v of Object.values(mod)) {
    if (!isDefinition(v) || methods.has(v.name)) continue;
    registerMethod(v, {
      ...(typeof t === 'function' ? { transforms: t as (m: Record<string, unknown>) => TransformSpec[] } : {}),
      ...(mode ? { mode } : {}),
    });
  }
}

/** Loads the built-in methods and VIGIL_PLUGINS modules (once). */
export async function loadMethods(): Promise<void> {
  if (builtinsLoaded) return;
  builtinsLoaded = true;
  for (const m of BUILTIN_MODULES) {
    const url = new URL(m.path, import.meta.url);
    if (!existsSync(fileURLToPath(url))) continue;
    await registerModule(url.href, m.transforms, m.mode);
  }
  for (const p of (process.env.VIGIL_PLUGINS ?? '').split(':').filter(Boolean)) {
    const file = resolve(p);
    if (!existsSync(file)) throw new UserError(`VIGIL_PLUGINS: module ${file} does not exist`);
    await registerModule(pathToFileURL(file).href);
  }
}

export async function getMethod(name: string): Promise<MethodEntry> {
  await loadMethods();
  const m = methods.get(name);
  if (!m) throw new UserError(`unknown method '${name}' (available: ${[...methods.keys()].sort().join(', ')})`);
  return m;
}

export async function listMethods(): Promise<Array<{ name: string; description: string }>> {
  await loadMethods();
  return [...methods.values()].map((m) => ({ name: m.definition.name, description: m.definition.description })).sort((a, b) => a.name.localeCompare(b.name));
}
