// Runs one benchmark (or all): node scripts/bench.mjs [name ...]; each prints one JSON line.
import { readdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';

const all = readdirSync('dist/bench').filter((f) => f.endsWith('.js')).map((f) => f.slice(0, -3));
const names = process.argv.slice(2).length ? process.argv.slice(2) : all;
let failed = 0;
for (const n of names) {
  if (!all.includes(n)) { console.error(`unknown benchmark '${n}'; have: ${all.join(', ')}`); process.exit(1); }
  const r = spawnSync(process.execPath, [`dist/bench/${n}.js`], { stdio: 'inherit' });
  if (r.status !== 0) failed++;
}
process.exit(failed ? 1 : 0);
