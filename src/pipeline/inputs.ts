// What `vigil predict` scores: files, folders (searched recursively for images) and globs.
import { existsSync, lstatSync, readdirSync, readlinkSync, statSync } from 'node:fs';
import { extname, join, resolve } from 'node:path';
import { globSync, isDynamicPattern } from 'tinyglobby';
import { DEFAULT_IMAGE_EXTENSIONS } from '../data/datasets.js';
import { UserError } from './errors.js';
import { errnoWords } from './fsutil.js';

const byPath = (a: string, b: string): number => a.localeCompare(b);

/**
 * Image-named symbolic links below `dir` that lead nowhere (dangling, or a loop): the glob skips
 * them without a word, but the user named them, so they are scored and reported as unreadable.
 */
function unresolvedLinks(dir: string, exts: Set<string>): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.name.startsWith('.')) continue;
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isSymbolicLink() && exts.has(extname(e.name).toLowerCase()) && !existsSync(p)) out.push(p);
    }
  };
  walk(dir);
  return out;
}

/** Why an input that does not exist is missing: nothing there, a link loop, or a dangling link. */
function whyMissing(abs: string): string {
  try {
    lstatSync(abs);
  } catch {
    return 'no such file or folder';
  }
  try {
    statSync(abs);
    return 'cannot be read';
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ELOOP') return `${errnoWords('ELOOP')}; fix or remove the link`;
    return `it is a symbolic link to ${readlinkSync(abs)}, which does not exist; fix or remove the link`;
  }
}

/**
 * Files named by paths, folders (every image below them) and globs (`*`, `?`, `**`, `{a,b}`), in
 * the order given, each group sorted, duplicates removed. Hidden files and folders are skipped.
 */
export function expandInputs(inputs: readonly string[]): string[] {
  const exts = new Set(DEFAULT_IMAGE_EXTENSIONS);
  const out: string[] = [];
  for (const inp of inputs) {
    if (isDynamicPattern(inp)) {
      const hits = globSync(inp, { absolute: true, onlyFiles: true }).sort(byPath);
      if (hits.length === 0) throw new UserError(`${inp}: no file matches`, { code: 'INPUT_NOT_FOUND' });
      out.push(...hits);
      continue;
    }
    const abs = resolve(inp);
    if (!existsSync(abs)) throw new UserError(`${abs}: ${whyMissing(abs)}`, { code: 'INPUT_NOT_FOUND' });
    if (!statSync(abs).isDirectory()) { out.push(abs); continue; }
    const found = globSync('**/*', { cwd: abs, absolute: true, onlyFiles: true }).filter((f) => exts.has(extname(f).toLowerCase()));
    const imgs = [...found, ...unresolvedLinks(abs, exts)].sort(byPath);
    if (imgs.length === 0) throw new UserError(`${inp}: folder has no images (${[...exts].join(', ')})`, { code: 'INPUT_NOT_FOUND' });
    out.push(...imgs);
  }
  return [...new Set(out)];
}

/** One array-job task's share of the inputs: `index` counts from 0, `count` tasks in all. */
export interface Shard { index: number; count: number }

/** Parses `--shard i/n` (0 ≤ i < n), e.g. Kubernetes' JOB_COMPLETION_INDEX or a Slurm array's task id. */
export function parseShard(text: string): Shard {
  const m = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(text);
  const index = m ? Number(m[1]) : NaN, count = m ? Number(m[2]) : NaN;
  if (!m || count < 1 || index >= count) {
    throw new UserError(`--shard must be i/n with 0 ≤ i < n (the task's index counted from 0, then the number of tasks), got '${text}'`, { code: 'CONFIG_INVALID' });
  }
  return { index, count };
}

/**
 * The contiguous block [start, end) of `n` inputs that shard `index` of `count` scores: blocks differ
 * in size by at most one, and the shards' outputs concatenated in index order list the inputs as one
 * run would.
 */
export function shardRange(n: number, shard: Shard): [number, number] {
  return [Math.floor((shard.index * n) / shard.count), Math.floor(((shard.index + 1) * n) / shard.count)];
}
