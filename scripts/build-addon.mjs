// Builds native/ into build/Release/vigil_torch.node with node-gyp, only when a source changed.
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { describeBuild, findLibtorch } from './libtorch-config.mjs';

const root = join(dirname(new URL(import.meta.url).pathname), '..');
const out = join(root, 'build', 'Release', 'vigil_torch.node');
const sources = [join(root, 'binding.gyp'), ...readdirSync(join(root, 'native')).map((f) => join(root, 'native', f))];
const force = process.argv.includes('--force');
let lt;
try { lt = findLibtorch(); } catch (e) { console.error(`build-addon: ${e.message}`); process.exit(1); }
// What the build found (libtorch, CUDA, oneDNN): a change (say, libdnnl-dev installed later) rebuilds too.
const stamp = join(root, 'build', 'Release', 'vigil_torch.config');
const config = lt ? describeBuild(lt) : '';
const stampOk = existsSync(stamp) && readFileSync(stamp, 'utf8') === config;
if (!force && stampOk && existsSync(out) && sources.every((s) => statSync(s).mtimeMs <= statSync(out).mtimeMs)) process.exit(0);

if (!lt) {
  console.error(`build-addon: libtorch was not found.
  Debian/Ubuntu: sudo apt-get install libtorch-dev libopenblas0-pthread
  Other systems: download libtorch from pytorch.org, unzip it, and set LIBTORCH=/path/to/libtorch
  A pip/conda torch: set LIBTORCH_USE_PYTHON=1 (and PYTHON=/path/to/python).`);
  process.exit(1);
}
console.log(`build-addon: building against ${lt.how}: ${lt.root}`);
const require = createRequire(import.meta.url);
const gyp = require.resolve('node-gyp/bin/node-gyp.js');
const args = [gyp, 'rebuild', '--jobs', 'max'];
if (existsSync('/usr/include/node/node_api.h') && !process.env.npm_config_nodedir) args.push('--nodedir=/usr');
const r = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit' });
if (r.status !== 0) { console.error('build-addon: node-gyp failed (see above).'); process.exit(r.status ?? 1); }
writeFileSync(stamp, config);
