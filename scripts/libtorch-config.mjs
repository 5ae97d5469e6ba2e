// Finds a libtorch install and prints the flags binding.gyp needs.
// Order: LIBTORCH=/path (pytorch.org zip layout) → LIBTORCH_USE_PYTHON=1 (pip/conda torch)
//        → Debian's libtorch-dev under /usr → Homebrew/local prefixes.
// Usage: node scripts/libtorch-config.mjs include|defines|libs|ldflags|describe
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';

function fromRoot(root, how) {
  const inc = join(root, 'include');
  const lib = join(root, 'lib');
  if (!existsSync(join(inc, 'ATen', 'ATen.h'))) return null;
  return { how, root, includes: [inc, join(inc, 'torch', 'csrc', 'api', 'include')], libdir: lib, cmake: join(root, 'share', 'cmake', 'Torch', 'TorchConfig.cmake'), system: false };
}

function debian() {
  if (!existsSync('/usr/include/ATen/ATen.h')) return null;
  const multi = ['/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/usr/lib64', '/usr/lib'];
  const libdir = multi.find((d) => existsSync(join(d, 'libtorch_cpu.so')) || existsSync(join(d, 'libtorch.so')));
  if (!libdir) return null;
  return { how: 'system (/usr)', root: '/usr', includes: ['/usr/include', '/usr/include/torch/csrc/api/include'], libdir, cmake: join(libdir, 'cmake', 'Torch', 'TorchConfig.cmake'), system: true };
}

export function findLibtorch() {
  const env = process.env.LIBTORCH;
  if (env) {
    const r = fromRoot(env, 'LIBTORCH');
    if (!r) throw new Error(`LIBTORCH=${env} does not look like a libtorch install (expected ${join(env, 'include/ATen/ATen.h')}).`);
    return r;
  }
  if (process.env.LIBTORCH_USE_PYTHON === '1') {
    const py = process.env.PYTHON || 'python3';
    const dir = execFileSync(py, ['-c', 'import os, torch; print(os.path.dirname(torch.__file__))'], { encoding: 'utf8' }).trim();
    const r = fromRoot(dir, `python torch (${py})`);
    if (!r) throw new Error(`${py}'s torch at ${dir} ships no C++ headers (Debian's python3-torch does not; use libtorch-dev or a pip wheel).`);
    return r;
  }
  const deb = debian();
  if (deb) return deb;
  for (const prefix of ['/opt/homebrew', '/usr/local', '/home/linuxbrew/.linuxbrew']) {
    const r = fromRoot(prefix, `prefix ${prefix}`);
    if (r && existsSync(r.libdir)) return r;
  }
  return null;
}

function abiFlag(t) {
  if (process.platform !== 'linux') return [];
  if (existsSync(t.cmake)) {
    const m = /_GLIBCXX_USE_CXX11_ABI=(\d)/.exec(readFileSync(t.cmake, 'utf8'));
    if (m) return [`_GLIBCXX_USE_CXX11_ABI=${m[1]}`];
  }
  return [];
}

function hasCuda(t) {
  try { return readdirSync(t.libdir).some((f) => f.startsWith('libtorch_cuda.')); } catch { return false; }
}

// oneDNN's headers (Debian's libdnnl-dev) for native/winograd.cc. Only with Debian's libtorch, which
// links the same libdnnl.so.2; other builds carry their own oneDNN inside libtorch_cpu (the op then
// falls back to at::conv2d).
function dnnl(t) {
  return t.system && existsSync('/usr/include/dnnl.hpp') && existsSync(join(t.libdir, 'libdnnl.so'));
}

/** One line saying what a build against `t` gets (the describe query). */
export function describeBuild(t) {
  return `${t.how}: ${t.root} (lib ${t.libdir}${hasCuda(t) ? ', CUDA' : ''}${dnnl(t) ? ', oneDNN Winograd' : ''})`;
}

const MISSING = `libtorch was not found.
  Debian/Ubuntu: sudo apt-get install libtorch-dev libopenblas0-pthread
  Other systems: download libtorch from pytorch.org, unzip it, and set LIBTORCH=/path/to/libtorch
  A pip/conda torch: set LIBTORCH_USE_PYTHON=1 (and PYTHON=/path/to/python).`;

if (import.meta.url === `file://${process.argv[1]}`) {
  const what = process.argv[2];
  let t;
  try { t = findLibtorch(); } catch (e) { console.error(String(e.message)); process.exit(1); }
  if (!t) { console.error(MISSING); process.exit(1); }
  const out = {
    include: t.includes,
    defines: [...abiFlag(t), ...(dnnl(t) ? ['VIGIL_DNNL'] : [])],
    libs: [`-L${t.libdir}`, ...(hasCuda(t) ? ['-Wl,--no-as-needed', '-ltorch_cuda', '-Wl,--as-needed'] : []), '-ltorch', '-ltorch_cpu', '-lc10', ...(dnnl(t) ? ['-ldnnl'] : [])],
    ldflags: t.system ? [] : [`-Wl,-rpath,${t.libdir}`],
    describe: [describeBuild(t)],
  }[what];
  if (!out) { console.error(`unknown query ${what}`); process.exit(1); }
  console.log(out.join(' '));
}
