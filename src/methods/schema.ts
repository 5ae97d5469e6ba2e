// Config schemas (zod) and their errors in words, for the methods' `model` schemas and the
// pipeline's root schema: every issue with its dotted key path, what was expected (from the
// schema: 'an integer >= 1', 'one of "a", "b"') and, for unknown keys, the valid ones.
import { z } from 'zod';

export interface SchemaIssue {
  /** Dotted key path, e.g. 'model.train.epochs'. */
  path: string;
  message: string;
}

export const isPlain = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export function show(v: unknown): string {
  const t = v === null ? 'null' : Array.isArray(v) ? 'list' : typeof v;
  const s = JSON.stringify(v) ?? String(v);
  return `${s.length > 60 ? s.slice(0, 57) + '…' : s} (${t})`;
}

const dotted = (path: readonly PropertyKey[]): string => path.map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i > 0 ? '.' : ''}${String(p)}`)).join('');

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let v = root;
  for (const p of path) v = isPlain(v) || Array.isArray(v) ? (v as Record<PropertyKey, unknown>)[p as string] : undefined;
  return v;
}

interface ZodDef { type: string; innerType?: z.ZodType; in?: z.ZodType; element?: z.ZodType; defaultValue?: unknown; shape?: Record<string, z.ZodType> }
const defOf = (x: z.ZodType): ZodDef => (x as unknown as { def: ZodDef }).def;

/** Strips defaults, optionals, nullables and pipes; says whether null was allowed on the way and the outermost default. */
function unwrap(x: z.ZodType, nullable = false, dflt?: unknown): { schema: z.ZodType; nullable: boolean; default: unknown } {
  const d = defOf(x);
  const next = dflt === undefined && d.type === 'default' ? d.defaultValue : dflt;
  if (d.innerType) return unwrap(d.innerType, nullable || d.type === 'nullable', next);
  if (d.type === 'pipe' && d.in) return unwrap(d.in, nullable, next);
  return { schema: x, nullable, default: next };
}

/** The schema reached by following `path` (object keys and list indices), or null. */
function schemaAt(schema: z.ZodType, path: readonly PropertyKey[]): z.ZodType | null {
  let s: z.ZodType | undefined = schema;
  for (const p of path) {
    if (!s) return null;
    const u = unwrap(s).schema;
    const d = defOf(u);
    if (typeof p === 'number' && d.type === 'array') s = d.element;
    else s = (u as unknown as { shape?: Record<string, z.ZodType> }).shape?.[p as string];
  }
  return s ?? null;
}

export function shapeAt(schema: z.ZodType, path: readonly PropertyKey[]): Record<string, z.ZodType> | null {
  const s = schemaAt(schema, path);
  return s ? (unwrap(s).schema as unknown as { shape?: Record<string, z.ZodType> }).shape ?? null : null;
}

/** What a value of this schema looks like, in words: 'a number in [0, 1]', 'one of "a", "b"'. */
export function describeSchema(x: z.ZodType): string {
  const { schema, nullable } = unwrap(x);
  const d = defOf(schema);
  let what: string;
  if (d.type === 'number') {
    const n = schema as unknown as { isInt: boolean; def: { checks?: Array<{ _zod: { def: { check: string; value: number; inclusive: boolean } } }> } };
    let lo: { value: number; inclusive: boolean } | null = null;
    let hi: { value: number; inclusive: boolean } | null = null;
    for (const c of n.def.checks ?? []) {
      const { check, value, inclusive } = c._zod.def;
      if (check === 'greater_than') lo = { value, inclusive };
      if (check === 'less_than') hi = { value, inclusive };
    }
    const range = lo && hi
      ? ` in ${lo.inclusive ? '[' : '('}${lo.value}, ${hi.value}${hi.inclusive ? ']' : ')'}`
      : lo ? ` ${lo.inclusive ? '>=' : '>'} ${lo.value}` : hi ? ` ${hi.inclusive ? '<=' : '<'} ${hi.value}` : '';
    what = (n.isInt ? 'an integer' : 'a number') + range;
  } else if (d.type === 'enum') {
    what = `one of ${(schema as unknown as { options: unknown[] }).options.map((v) => JSON.stringify(v)).join(', ')}`;
  } else {
    what = { string: 'a string', boolean: 'true or false', array: 'a list', tuple: 'a list', object: 'a mapping', record: 'a mapping', union: 'one of its allowed forms', unknown: 'any value' }[d.type] ?? d.type;
  }
  return what + (nullable ? ' or null' : '');
}

/** One readable line per zod issue: the key path, what was expected, what was given. */
function describeIssues(err: z.ZodError, input: unknown, schema: z.ZodType): SchemaIssue[] {
  const out: SchemaIssue[] = [];
  for (const i of err.issues) {
    const got = valueAt(input, i.path);
    if (i.code === 'unrecognized_keys') {
      const valid = Object.keys(shapeAt(schema, i.path) ?? {});
      for (const k of i.keys) out.push({ path: dotted([...i.path, k]), message: `unknown key${valid.length ? ` (valid keys${i.path.length ? ` in '${dotted(i.path)}'` : ''}: ${valid.join(', ')})` : ''}` });
    } else if (i.code === 'invalid_type') {
      const at = schemaAt(schema, i.path);
      const expected = at ? describeSchema(at) : i.expected;
      out.push({ path: dotted(i.path), message: got === undefined ? `missing (expected ${expected})` : `expected ${expected}, got ${show(got)}` });
    } else if (i.code === 'invalid_value') {
      out.push({ path: dotted(i.path), message: `must be one of ${i.values.map((v) => JSON.stringify(v)).join(', ')}, got ${show(got)}` });
    } else if (i.code === 'too_small' || i.code === 'too_big') {
      const bound = i.code === 'too_small' ? `${i.inclusive ? '>=' : '>'} ${String(i.minimum)}` : `${i.inclusive ? '<=' : '<'} ${String(i.maximum)}`;
      out.push({ path: dotted(i.path), message: `must be ${i.origin === 'array' ? `a list of length ${bound}` : bound}, got ${show(got)}` });
    } else {
      out.push({ path: dotted(i.path), message: `${i.message}${got !== undefined ? `, got ${show(got)}` : ''}` });
    }
  }
  return out;
}

/** Parses with defaults filled in, or returns every issue in words. */
export function checkConfig<T>(schema: z.ZodType<T>, value: unknown): { ok: true; value: T } | { ok: false; issues: SchemaIssue[] } {
  const r = schema.safeParse(value);
  return r.success ? { ok: true, value: r.data } : { ok: false, issues: describeIssues(r.error, value, schema) };
}

/** For a method's own resolve function: parse or throw one Error listing the issues under `prefix`. */
export function parseOrThrow<T>(schema: z.ZodType<T>, value: unknown, prefix: string, make: (m: string) => Error = (m) => new Error(m)): T {
  const r = checkConfig(schema, value);
  if (r.ok) return r.value;
  throw make(`${prefix} config:\n${r.issues.map((i) => `  ✖ ${i.path ? `${prefix}.${i.path}` : prefix}: ${i.message}`).join('\n')}`);
}

/** One leaf key of a config schema: its dotted path, what it accepts (in words) and its default. */
export interface SchemaKey { key: string; accepts: string; default: unknown }

/** Every leaf key of an object schema, in declaration order (the config reference, `vigil methods <name>`). */
export function schemaKeys(x: z.ZodType, prefix = ''): SchemaKey[] {
  const u = unwrap(x);
  const shape = defOf(u.schema).type === 'object' ? defOf(u.schema).shape : undefined;
  if (shape) return Object.entries(shape).flatMap(([k, v]) => schemaKeys(v, prefix ? `${prefix}.${k}` : k));
  return [{ key: prefix, accepts: describeSchema(x), default: u.default }];
}
