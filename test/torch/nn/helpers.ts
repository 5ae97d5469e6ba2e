// Shared by the torch/nn parity tests: one Python process per test file. The TS side writes every
// input tensor into one .pth (our writer; Python reads it with torch.load(weights_only=True)) plus
// a JSON spec; the Python script writes its results with torch.save, which we read with loadPth.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as torch from '../../../src/torch/index.js';
import type { Tensor } from '../../../src/torch/index.js';

export const PYTHON = '/usr/bin/python3';

/** Path of a .py file next to this test's source (dist/test/torch/nn → test/torch/nn). */
export function scriptPath(name: string): string {
  return fileURLToPath(new URL(`../../../../test/torch/nn/${name}`, import.meta.url));
}

export interface PyResult {
  tensors: Map<string, Tensor>;
  json: unknown;
  dir: string;
}

/** Runs the script once with DIR as argv[1]: DIR/in.pth + DIR/spec.json in, DIR/out.pth (+ out.json) out. */
export function runPython(script: string, inputs: Map<string, Tensor>, spec: unknown, prepare?: (dir: string) => void): PyResult {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-nn-'));
  torch.savePth(join(dir, 'in.pth'), inputs);
  writeFileSync(join(dir, 'spec.json'), JSON.stringify(spec));
  prepare?.(dir);
  const r = spawnSync(PYTHON, [scriptPath(script), dir], { encoding: 'utf8', maxBuffer: 64 << 20, env: { ...process.env, OMP_NUM_THREADS: '1' } });
  if (r.status !== 0) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`${script} failed (status ${r.status}):\n${r.stderr}\n${r.stdout}`);
  }
  const tensors = existsSync(join(dir, 'out.pth')) ? torch.loadPth(join(dir, 'out.pth')) : new Map<string, Tensor>();
  const json = existsSync(join(dir, 'out.json')) ? JSON.parse(readFileSync(join(dir, 'out.json'), 'utf8')) : null;
  for (const t of tensors.values()) torch.keep(t);
  return { tensors, json, dir };
}

export function cleanup(r: PyResult): void {
  for (const t of r.tensors.values()) t.dispose();
  rmSync(r.dir, { recursive: true, force: true });
}

/** max|a − b| / max|b| (∞-norm relative error); 0 when both are all zeros. */
export function relError(a: Tensor, b: Tensor): number {
  const x = a.toArray(), y = b.toArray();
  let diff = 0, scale = 0;
  for (let i = 0; i < x.length; i++) {
    const d = Math.abs(x[i]! - y[i]!);
    if (Number.isNaN(d)) return Infinity;
    diff = Math.max(diff, d);
    scale = Math.max(scale, Math.abs(y[i]!));
  }
  return diff === 0 ? 0 : diff / (scale || 1e-30);
}

export function assertClose(actual: Tensor | null | undefined, expected: Tensor | null | undefined, label: string, tol = 1e-5): void {
  assert.ok(actual, `${label}: missing on the TS side`);
  assert.ok(expected, `${label}: missing on the Python side`);
  assert.deepEqual(actual.shape, expected.shape, `${label}: shape`);
  assert.equal(actual.dtype, expected.dtype, `${label}: dtype`);
  const e = relError(actual, expected);
  assert.ok(e <= tol, `${label}: relative error ${e.toExponential(3)} > ${tol}`);
}

export function assertEqualTensors(actual: Tensor | null | undefined, expected: Tensor | null | undefined, label: string): void {
  assert.ok(actual, `${label}: missing on the TS side`);
  assert.ok(expected, `${label}: missing on the Python side`);
  assert.deepEqual(actual.shape, expected.shape, `${label}: shape`);
  assert.equal(actual.dtype, expected.dtype, `${label}: dtype`);
  assert.deepEqual(actual.toArray(), expected.toArray(), `${label}: values differ`);
}

/** A kept copy (detached) so results survive the tidy that computed them. */
export function hold(t: Tensor): Tensor {
  return torch.keep(torch.noGrad(() => t.detach().clone()));
}
