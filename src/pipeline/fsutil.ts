// Files of a run directory and of output folders. Every file is written to a temporary name and
// renamed into place, so a reader (or a run killed half-way) never sees a half-written file;
// whole output folders (predict, test) are built in a fresh sibling folder and swapped in. Errors
// of the file system (permissions, a full disk, a path through a file) become one-line user errors.
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, basename } from 'node:path';
import { UserError } from './errors.js';

let counter = 0;

export function writeAtomic(path: string, data: string | Uint8Array): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${counter++}.tmp`);
  try {
    writeFileSync(tmp, data);
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    // The temporary name means nothing to the user: report the file being written.
    if (isErrnoError(e)) throw Object.assign(e, { path });
    throw e;
  }
}

export function writeJson(path: string, value: unknown): void {
  writeAtomic(path, JSON.stringify(value, null, 2) + '\n');
}

/** CSV field: quoted when it holds a comma, quote or newline. */
export function csvField(v: string | number): string {
  const s = String(v);
  return /[",\n\r]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

export function csv(header: readonly string[], rows: ReadonlyArray<ReadonlyArray<string | number>>): string {
  return [header, ...rows].map((r) => r.map(csvField).join(',')).join('\n') + '\n';
}

// ---- environment errors ------------------------------------------------------------------------
/** What each errno means for the user, and what to do about it. */
const ERRNO: Record<string, { what: string; fix: string }> = {
  EACCES: { what: 'permission denied', fix: 'check the permissions of the folder, or choose another location' },
  EPERM: { what: 'operation not permitted', fix: 'check the permissions of the folder, or choose another location' },
  EROFS: { what: 'the file system is read-only', fix: 'choose a location on a writable disk' },
  ENOSPC: { what: 'no space left on the device', fix: 'free some disk space or choose another disk' },
  EDQUOT: { what: 'the disk quota is exhausted', fix: 'free some space or choose another disk' },
  EFBIG: { what: 'the file is too large for the file system or the process limit (ulimit -f)', fix: 'raise the limit or choose another disk' },
  EEXIST: { what: 'it already exists', fix: 'remove it or choose another name' },
  ENOTDIR: { what: 'a part of the path is a file, not a folder', fix: 'check the path, or choose another location' },
  EISDIR: { what: 'it is a folder, not a file', fix: 'give the path of a file' },
  ELOOP: { what: 'it is a symbolic link that loops back on itself (too many levels of symbolic links)', fix: 'fix or remove the link' },
  ENAMETOOLONG: { what: 'the path is too long', fix: 'choose a shorter path' },
  ENOENT: { what: 'no such file or folder', fix: 'check the path' },
  ENOTEMPTY: { what: 'the folder is not empty', fix: 'empty it or choose another folder' },
  EBUSY: { what: 'the file or folder is in use', fix: 'close the program using it and try again' },
  EMFILE: { what: 'too many open files', fix: 'raise the open-file limit (ulimit -n) or use fewer workers (--set train.workers=…)' },
  ENFILE: { what: 'too many open files on the system', fix: 'close other programs or raise the system limit' },
  EIO: { what: 'an input/output error of the disk', fix: 'check the disk' },
  ENXIO: { what: 'no such device', fix: 'check the path' },
};

export interface ErrnoError extends Error { code: string; path?: string; dest?: string; syscall?: string }

export function isErrnoError(e: unknown): e is ErrnoError {
  return e instanceof Error && typeof (e as ErrnoError).code === 'string' && (e as ErrnoError).code in ERRNO;
}

/** One line naming the path, what went wrong and the fix; null for other errors. */
export function environmentMessage(e: unknown): string | null {
  if (!isErrnoError(e)) return null;
  const info = ERRNO[e.code]!;
  const path = e.path ?? e.dest;
  const verb = e.syscall ? ({ open: 'open', mkdir: 'create', rename: 'write', write: 'write', unlink: 'remove', rmdir: 'remove', scandir: 'list', lstat: 'read', stat: 'read', read: 'read', copyfile: 'copy', symlink: 'link', link: 'link' } as Record<string, string>)[e.syscall] ?? e.syscall : 'use';
  return `cannot ${verb} ${path ?? '(unknown path)'}: ${info.what} (${e.code}); ${info.fix}`;
}

/** What an errno code means, in words, with the code: 'permission denied (EACCES)'. */
export function errnoWords(code: string): string {
  return ERRNO[code] ? `${ERRNO[code]!.what} (${code})` : code;
}

/** Rewrites Node's "ELOOP: too many symbolic links encountered, open '/x'" inside a message in words. */
export function explainErrnoText(message: string): string {
  return message.replace(/\b(E[A-Z]+): [^,]*, \w+ '[^']*'/g, (all, code: string) => (ERRNO[code] ? `${ERRNO[code]!.what} (${code})` : all));
}

// ---- output folders ----------------------------------------------------------------------------
/** True when the folder holds nothing, or nothing but hidden files. */
export function isEmptyFolder(dir: string): boolean {
  return readdirSync(dir).every((n) => n.startsWith('.'));
}

/** The first line of <dir>/log.txt, or ''. */
export function firstLogLine(dir: string): string {
  try {
    const text = readFileSync(join(dir, 'log.txt'), 'utf8');
    return text.slice(0, text.indexOf('\n') >>> 0);
  } catch {
    return '';
  }
}

/** A folder written by `vigil <verb>`: its log.txt starts "<time> vigil <version> <verb>:". */
export function isVigilOutput(dir: string, verb: string): boolean {
  return new RegExp(`^\\S+ vigil \\S+ ${verb}:`).test(firstLogLine(dir));
}

const PREDICTIONS_HEADER = 'path,score,normalised_score,verdict';

/** A folder written by `vigil predict`: its predictions.csv starts with predict's header. */
export function isPredictOutput(dir: string): boolean {
  try {
    return readFileSync(join(dir, 'predictions.csv'), 'utf8').startsWith(PREDICTIONS_HEADER);
  } catch {
    return false;
  }
}

/** Refuses an output path that is a file, or a non-empty folder `isOurs` does not recognise. */
export function checkOutputFolder(dir: string, flag: string, isOurs: (dir: string) => boolean, what: string): void {
  try {
    statSync(dir);
  } catch (e) {
    const code = (e as ErrnoError).code;
    if (code === 'ENOENT' && existsSync(dirname(dir)) && readdirSync(dirname(dir)).includes(basename(dir))) {
      throw new UserError(`${flag} ${dir} is a symbolic link to a folder that does not exist; fix or remove the link, or choose another ${flag}`, { code: 'OUTPUT_INVALID' });
    }
    if (code === 'ENOENT') return;
    throw e;
  }
  if (!statSync(dir).isDirectory()) throw new UserError(`${flag} ${dir} is a file, not a folder; choose another ${flag}`, { code: 'OUTPUT_INVALID' });
  if (!isEmptyFolder(dir) && !isOurs(dir)) {
    throw new UserError(`${flag} ${dir} is not empty and is not ${what}; vigil does not write into other folders: choose a new or empty folder for ${flag}`, { code: 'OUTPUT_NOT_OURS' });
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as ErrnoError).code === 'EPERM';
  }
}

/**
 * An output folder built in a fresh sibling folder (`.<name>.partial-<pid>`) and renamed into
 * place by commit(): a reader sees the old complete folder or the new complete one, never a mix,
 * and a killed run leaves the old one untouched. Partial folders of dead processes are removed.
 */
export class StagedFolder {
  readonly dir: string;
  #done = false;

  constructor(readonly target: string) {
    const parent = dirname(target);
    const prefix = `.${basename(target)}.partial-`;
    this.dir = join(parent, `${prefix}${process.pid}-${counter++}`);
    try {
      mkdirSync(parent, { recursive: true });
      for (const n of readdirSync(parent)) {
        const pid = n.startsWith(prefix) ? Number(n.slice(prefix.length).split('-')[0]) : NaN;
        if (Number.isInteger(pid) && pid !== process.pid && !pidAlive(pid)) rmSync(join(parent, n), { recursive: true, force: true });
      }
      mkdirSync(this.dir);
    } catch (e) {
      // The staging folder is an implementation detail: name the folder the user asked for.
      if (isErrnoError(e)) throw Object.assign(e, { path: target, syscall: 'mkdir' });
      throw e;
    }
  }

  /** Replaces the target with the staged folder. */
  commit(): void {
    if (this.#done) return;
    const old = `${this.dir}.old`;
    // Two commits may race for the same target: retry the swap a few times.
    for (let attempt = 0; ; attempt++) {
      try {
        if (existsSync(this.target)) renameSync(this.target, old);
        renameSync(this.dir, this.target);
        break;
      } catch (e) {
        const code = (e as ErrnoError).code;
        if (attempt >= 4 || (code !== 'ENOTEMPTY' && code !== 'EEXIST' && code !== 'ENOENT')) throw e;
      }
    }
    rmSync(old, { recursive: true, force: true });
    this.#done = true;
  }

  /** Removes the staged folder (the target is left as it was). */
  discard(): void {
    if (this.#done) return;
    rmSync(this.dir, { recursive: true, force: true });
    this.#done = true;
  }
}
