// Shared by the reliability tests: the CLI as a child process, waiting for markers (never a fixed
// sleep), and the assertion that a run failed as a user error.
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { vigil, type Run } from '../../cli/helpers.js';

export { vigil, vigilAsync, parseCsv, type Run } from '../../cli/helpers.js';

export const SLEEPY = fileURLToPath(new URL('./fixtures/sleepy.js', import.meta.url));
export const SLEEPY_ENV = { VIGIL_PLUGINS: SLEEPY };

/** Exit 1, "vigil: error: ", no stack trace, and every needle in stderr. */
export function userError(r: Run, ...needles: string[]): void {
  assert.equal(r.code, 1, `exit code 1 expected, got ${r.code}\n${r.stderr}`);
  assert.match(r.stderr, /(^|\n)vigil: error: /);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  for (const n of needles) assert.ok(r.stderr.includes(n), `stderr should mention '${n}':\n${r.stderr}`);
}

/** A child's stdout, stderr and exit, collected. */
export function watch(child: ChildProcess): { out: () => string; err: () => string; exited: Promise<number | null> } {
  let out = '';
  let err = '';
  child.stdout?.on('data', (d) => { out += d; });
  child.stderr?.on('data', (d) => { err += d; });
  const exited = new Promise<number | null>((r) => child.once('exit', (code, sig) => r(code ?? (sig ? -1 : null))));
  return { out: () => out, err: () => err, exited };
}

/** Resolves once `test()` holds (checked every 20 ms); rejects if the child exits first. */
export function until(child: ChildProcess, test: () => boolean, what: string, stderr: () => string = () => ''): Promise<void> {
  return new Promise((resolve, reject) => {
    const t = setInterval(() => { if (test()) { clearInterval(t); resolve(); } }, 20);
    child.once('exit', (code) => { clearInterval(t); if (!test()) reject(new Error(`the process exited (${code}) before ${what}:\n${stderr()}`)); });
  });
}

export const fileHas = (path: string, re: RegExp) => (): boolean => existsSync(path) && re.test(readFileSync(path, 'utf8'));

/** Generates the seeded synthetic set: one category, tiny images. */
export function synth(dir: string, category = 'object', train = 12, size = 32): void {
  const r = vigil(['datasets', 'synth', dir, '--categories', category, '--size', String(size), '--train', String(train), '--test-good', '3', '--test-defect', '2']);
  assert.equal(r.code, 0, r.stderr);
}


/** A run folder that failed on its input keeps only log.txt, ending with the error (or is gone). */
export function onlyFailureLog(dir: string, error = ''): void {
  if (!existsSync(dir)) return;
  assert.deepEqual(readdirSync(dir).filter((n) => !n.startsWith('.')), ['log.txt'], `${dir} holds only log.txt`);
  const last = readFileSync(join(dir, 'log.txt'), 'utf8').trim().split('\n').pop()!;
  assert.match(last, / error: /, `the last line of log.txt says why: ${last}`);
  assert.ok(last.includes(error), `${last} mentions ${error}`);
}
