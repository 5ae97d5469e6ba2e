// Runs one Python script per test file to produce PyTorch/sklearn reference outputs.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const PYTHON = process.env.VIGIL_PYTHON ?? '/usr/bin/python3';

/** A fresh temp directory, removed at process exit. */
export function tempDir(prefix = 'vigil-test-'): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  process.on('exit', () => rmSync(d, { recursive: true, force: true }));
  return d;
}

/** Runs `code` with argv[1] = dir; throws with Python's stderr if it fails. */
export function runPython(code: string, dir: string): string {
  const script = join(dir, 'ref.py');
  writeFileSync(script, code);
  const r = spawnSync(PYTHON, [script, dir], { encoding: 'utf8', maxBuffer: 1 << 28, env: { ...process.env, OMP_NUM_THREADS: '1' } });
  if (r.status !== 0) throw new Error(`python reference failed (${r.status}):\n${r.stderr}\n${r.stdout}`);
  return r.stdout;
}
