/**
 * File-list datasets (MVTec AD, Folder) produce sample lists, not pixels: decoding and
 * transforms happen later in the loader.
 */
import { readdir, stat } from 'node:fs/promises';
import { extname, join, relative } from 'node:path';
import { DatasetError } from './dataset-error.js';

export interface AnomalySample {
  /** Image file. */
  readonly path: string;
  /** 0 = normal, 1 = anomalous. */
  readonly label: 0 | 1;
  /** Defect type: 'good' for normal images, the folder name (MVTec) or 'abnormal' (Folder) otherwise. */
  readonly defect: string;
  /** Ground-truth mask, when one exists (anomalous images only). */
  readonly maskPath?: string;
}

/** Image extensions accepted by default (what the image decoder reads). Compared case-insensitively. */
export const DEFAULT_IMAGE_EXTENSIONS: readonly string[] = ['.png', '.jpg', '.jpeg', '.bmp', '.tif', '.tiff', '.webp'];

export async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}

export async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

/** Lowercases and adds the leading dot, so '.PNG', 'png' and '.png' all mean the same. */
export function normalizeExtensions(extensions: readonly string[]): Set<string> {
  if (extensions.length === 0) throw new DatasetError('bad-option', 'extensions must not be empty');
  return new Set(extensions.map((e) => (e.startsWith('.') ? e : `.${e}`).toLowerCase()));
}

/**
 * Image files under `dir` with one of `extensions`, sorted by path (code-unit order, so the
 * result does not depend on the locale). Hidden files (".name") are skipped.
 */
export async function listImages(dir: string, extensions: Set<string>, recursive: boolean): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string): Promise<void> => {
    const entries = await readdir(d, { withFileTypes: true });
    for (const e of entries) {
      if (e.name.startsWith('.')) continue;
      const p = join(d, e.name);
      if (e.isDirectory()) {
        if (recursive) await walk(p);
      } else if ((e.isFile() || e.isSymbolicLink()) && extensions.has(extname(e.name).toLowerCase())) {
        out.push(p);
      }
    }
  };
  await walk(dir);
  return out.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/** Path of `file` relative to `dir` without its extension, with '/' separators: the key masks are matched on. */
export function stemKey(dir: string, file: string): string {
  const rel = relative(dir, file).split(/[\\/]/).join('/');
  const ext = extname(rel);
  return ext === '' ? rel : rel.slice(0, -ext.length);
}
