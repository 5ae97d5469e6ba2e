import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Debian's Python, which has numpy, PIL, torch and torchvision (pyenv shims may not). */
export const PYTHON = '/usr/bin/python3';

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `vigil-${prefix}-`));
}

/** Runs one Python script (the single Python process of a test file); throws with its stderr. */
export function runPython(script: string, args: string[]): string {
  const r = spawnSync(PYTHON, ['-c', script, ...args], { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`python failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}

export function readU8(path: string): Uint8Array {
  const b = readFileSync(path);
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

export function readF32(path: string): Float32Array {
  const b = readFileSync(path);
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}

/** HWC uint8 → the CHW float layout of Image, for comparisons. */
export function hwcToChw(hwc: Uint8Array, h: number, w: number, c: number): Float32Array {
  const out = new Float32Array(hwc.length);
  const n = h * w;
  for (let i = 0; i < n; i++) for (let k = 0; k < c; k++) out[k * n + i] = hwc[i * c + k]! / 255;
  return out;
}

/** Max and count of 8-bit level differences between two [0,1] float arrays. */
export function diff8(a: Float32Array, b: Float32Array): { max: number; count: number; mean: number } {
  if (a.length !== b.length) throw new Error(`length mismatch ${a.length} vs ${b.length}`);
  let max = 0;
  let count = 0;
  let sum = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(Math.round(a[i]! * 255) - Math.round(b[i]! * 255));
    if (d > 0) count++;
    if (d > max) max = d;
    sum += d;
  }
  return { max, count, mean: sum / a.length };
}
