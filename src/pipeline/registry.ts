// Method registry: name → MethodDefinition. Built-in methods are loaded on first use (the deep
// methods pull in model code that a `vigil --help` does not need); other packages register theirs
// with registerMethod() or, for the CLI, with VIGIL_PLUGINS=<module>[:<module>…] (every exported
// MethodDefinition of such a module is registered).
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { resolve } from 'node:path';
import type { MethodDefinition } from '../methods/types.js';
import { pixelstats } from '../methods/pixelstats/index.js';
import { UserError } from './errors.js';

export type AnyMethod = MethodDefinition<Record<string, unknown>>;

const methods = new Map<string, AnyMethod>();
let builtinsLoaded = false;

function isDefinition(v: unknown): v is AnyMethod {
  return typeof v === 'object' && v !== null && typeof (v as MethodDefinition).name === 'string'
    && typeof (v as MethodDefinition).create === 'function' && typeof (v as MethodDefinition).load === 'function'
    && typeof (v as MethodDefinition).defaults === 'object';
}

export function registerMethod<C extends object>(definition: MethodDefinition<C>): void {
  if (!isDefinition(definition)) throw new Error('registerMethod: expected a MethodDefinition { name, description, defaults, create, load }');
  methods.set(definition.name, definition as unknown as AnyMethod);
}

registerMethod(pixelstats);

// Built-in methods that live in their own folders; a folder not yet built is skipped.
const BUILTIN_MODULES = ['../methods/dsvdd/index.js', '../methods/patchcore/index.js', '../methods/kdad/index.js', '../methods/draem/index.js'];

async function registerModule(url: string): Promise<void> {
  const mod = (await import(url)) as Record<string, unknown>;
  for (const v of Object.values(mod)) if (isDefinition(v) && !methods.has(v.name)) registerMethod(v);
}

/** Loads the built-in methods and VIGIL_PLUGINS modules (once). */
export async function loadMethods(): Promise<void> {
  if (builtinsLoaded) return;
  builtinsLoaded = true;
  for (const path of BUILTIN_MODULES) {
    const url = new URL(path, import.meta.url);
    if (existsSync(fileURLToPath(url))) await registerModule(url.href);
  }
  for (const p of (process.env.VIGIL_PLUGINS ?? '').split(':').filter(Boolean)) {
    const file = resolve(p);
    if (!existsSync(file)) throw new UserError(`VIGIL_PLUGINS: module ${file} does not exist`);
    await registerModule(pathToFileURL(file).href);
  }
}

export async function getMethod(name: string): Promise<AnyMethod> {
  await loadMethods();
  const m = methods.get(name);
  if (!m) throw new UserError(`unknown method '${name}' (available: ${[...methods.keys()].sort().join(', ')})`, { code: 'METHOD_UNKNOWN' });
  return m;
}

export async function listMethods(): Promise<Array<{ name: string; description: string }>> {
  await loadMethods();
  return [...methods.values()].map((m) => ({ name: m.name, description: m.description })).sort((a, b) => a.name.localeCompare(b.name));
}
