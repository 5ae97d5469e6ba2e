// How libgomp's idle threads wait: PatchCore inference through `vigil test` (resnet18, random
// weights, synthetic 256² images) with every core and OMP_WAIT_POLICY=active (libgomp spins), passive
// (idle threads sleep: Vigil's default) or GOMP_SPINCOUNT=10000 (a short spin, then sleep), and with
// one thread as the baseline; libgomp's own default (unset) spins like active. The policy is read
// when libgomp loads, so each variant is its own process; variants alternate for `rounds` rounds and medians are compared. On a machine where
// other processes hold the cores, spinning threads take CPU from the thread they wait for.
// Prints one JSON line. Usage: node dist/bench/omp-wait.js [rounds=3] [threads=every core]
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { median } from './stats.js';

const rounds = Number(process.argv[2] ?? 3);
const threads = Number(process.argv[3] ?? availableParallelism());
const cli = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'vigil-omp-'));

function vigil(args: string[], env: Record<string, string> = {}): void {
  const r = spawnSync(process.execPath, [cli, ...args, '--quiet'], { encoding: 'utf8', env: { ...process.env, ...env } });
  if (r.status !== 0) throw new Error(`vigil ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
}

try {
  vigil(['datasets', 'synth', join(dir, 'synth'), '--categories', 'grainy', '--size', '256', '--train', '30', '--test-good', '10', '--test-defect', '10']);
  const run = join(dir, 'run');
  vigil(['train', '--method', 'patchcore', '--data', `synth:${join(dir, 'synth', 'grainy')}`, '--set', 'model.backbone.name=resnet18', '--set', 'model.backbone.weights=random', '--set', 'output.images=0', '--out', run]);
  const variants = {
    active: { env: { OMP_WAIT_POLICY: 'active' }, threads },
    passive: { env: { OMP_WAIT_POLICY: 'passive' }, threads },
    spin10k: { env: { GOMP_SPINCOUNT: '10000' }, threads },
    oneThread: { env: { OMP_WAIT_POLICY: 'passive' }, threads: 1 },
  } as const;
  const ms: Record<keyof typeof variants, number[]> = { active: [], passive: [], spin10k: [], oneThread: [] };
  const load: number[] = [];
  for (let r = 0; r < rounds; r++) {
    for (const [name, v] of Object.entries(variants) as Array<[keyof typeof variants, (typeof variants)[keyof typeof variants]]>) {
      const out = join(dir, `test-${name}-${r}`);
      load.push(loadavg()[0]!);
      vigil(['test', run, '--threads', String(v.threads), '--set', 'output.images=0', '--out', out], v.env);
      const t = JSON.parse(readFileSync(join(out, 'metrics.json'), 'utf8')).timing as { infer_ms_per_image: number; threads: number };
      if (t.threads !== v.threads) throw new Error(`${name}: ran on ${t.threads} threads, expected ${v.threads}`);
      ms[name].push(t.infer_ms_per_image);
    }
  }
  const m = Object.fromEntries(Object.entries(ms).map(([k, v]) => [k, +median(v).toFixed(1)])) as Record<keyof typeof variants, number>;
  console.log(JSON.stringify({
    bench: 'omp-wait', threads, rounds, images: 20,
    infer_ms_per_image_median: m,
    passive_vs_active: +(m.passive / m.active).toFixed(3), spin10k_vs_active: +(m.spin10k / m.active).toFixed(3), passive_vs_one_thread: +(m.passive / m.oneThread).toFixed(3),
    per_round_ms: Object.fromEntries(Object.entries(ms).map(([k, v]) => [k, v.map((x) => +x.toFixed(1))])),
    load_average_1min: { min: +Math.min(...load).toFixed(2), max: +Math.max(...load).toFixed(2) },
  }));
} finally {
  rmSync(dir, { recursive: true, force: true });
}
