// libtorch discovery for the addon build: LIBTORCH zip layouts, the ABI flag, CUDA linking, and the
// message when nothing is found.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../helpers/python.js';

const script = join(process.cwd(), 'scripts', 'libtorch-config.mjs');
const run = (what: string, env: Record<string, string>) =>
  spawnSync(process.execPath, [script, what], { encoding: 'utf8', env: { ...process.env, ...env } });

function fakeLibtorch(root: string, abi: 0 | 1, cuda: boolean): void {
  mkdirSync(join(root, 'include', 'ATen'), { recursive: true });
  mkdirSync(join(root, 'include', 'torch', 'csrc', 'api', 'include'), { recursive: true });
  mkdirSync(join(root, 'lib'), { recursive: true });
  mkdirSync(join(root, 'share', 'cmake', 'Torch'), { recursive: true });
  writeFileSync(join(root, 'include', 'ATen', 'ATen.h'), '');
  writeFileSync(join(root, 'share', 'cmake', 'Torch', 'TorchConfig.cmake'), `set(TORCH_CXX_FLAGS "-D_GLIBCXX_USE_CXX11_ABI=${abi}")\n`);
  writeFileSync(join(root, 'lib', 'libtorch_cpu.so'), '');
  if (cuda) writeFileSync(join(root, 'lib', 'libtorch_cuda.so'), '');
}

test('LIBTORCH selects a pytorch.org-style install with its ABI flag and an rpath', () => {
  const root = join(tempDir(), 'libtorch');
  fakeLibtorch(root, 0, false);
  assert.equal(run('defines', { LIBTORCH: root }).stdout.trim(), '_GLIBCXX_USE_CXX11_ABI=0');
  assert.equal(run('include', { LIBTORCH: root }).stdout.trim(), `${root}/include ${root}/include/torch/csrc/api/include`);
  assert.equal(run('ldflags', { LIBTORCH: root }).stdout.trim(), `-Wl,-rpath,${root}/lib`);
  assert.equal(run('libs', { LIBTORCH: root }).stdout.trim(), `-L${root}/lib -ltorch -ltorch_cpu -lc10`);
});

test('a CUDA libtorch keeps libtorch_cuda linked', () => {
  const root = join(tempDir(), 'libtorch-cu');
  fakeLibtorch(root, 1, true);
  assert.match(run('libs', { LIBTORCH: root }).stdout, /-Wl,--no-as-needed -ltorch_cuda -Wl,--as-needed/);
  assert.match(run('describe', { LIBTORCH: root }).stdout, /CUDA/);
});

test('a LIBTORCH that is not libtorch gets a clear error', () => {
  const r = run('include', { LIBTORCH: '/nonexistent/libtorch' });
  assert.equal(r.status, 1);
  assert.match(r.stderr, /does not look like a libtorch install/);
});

test('the default finds Debian libtorch-dev', () => {
  const r = run('describe', { LIBTORCH: '' });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /system \(\/usr\)/);
});
