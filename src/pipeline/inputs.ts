// What `vigil predict` scores: files, folders (searched recursively for images) and globs.
import { existsSync, statSync } from 'node:fs';
import { extname, resolve } from 'node:path';
import { globSync, isDynamicPattern } from 'tinyglobby';
import { DEFAULT_IMAGE_EXTENSIONS } from '../data/datasets.js';
import { UserError } from './errors.js';

const byPath = (a: string, b: string): number => a.localeCompare(b);

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
    if (!existsSync(abs)) throw new UserError(`${inp}: no such file or folder`, { code: 'INPUT_NOT_FOUND' });
    if (!statSync(abs).isDirectory()) { out.push(abs); continue; }
    const imgs = globSync('**/*', { cwd: abs, absolute: true, onlyFiles: true }).filter((f) => exts.has(extname(f).toLowerCase())).sort(byPath);
    if (imgs.length === 0) throw new UserError(`${inp}: folder has no images (${[...exts].join(', ')})`, { code: 'INPUT_NOT_FOUND' });
    out.push(...imgs);
  }
  return [...new Set(out)];
}
