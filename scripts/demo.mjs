// `npm run demo`: generate the synthetic set, run short but real pipelines, print where the reports are.
// Steps: pixelstats on the synthetic set (seconds); DCAE and Deep SVDD with a short schedule on
// Fashion-MNIST class 0 (when the dataset is installed); PatchCore on the synthetic set when the
// torchvision ResNet-18 weights are in the torch hub cache (otherwise it says how to get them).
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');
const main = join(root, 'dist/src/cli/main.js');
if (!existsSync(main)) {
  const r = spawnSync('npx', ['tsc', '-p', root], { stdio: 'inherit' });
  if (!existsSync(main)) process.exit(r.status || 1);
}
const out = resolve(process.env.VIGIL_DEMO_DIR ?? 'vigil-demo');
const t0 = Date.now();
const reports = [];

function vigil(title, args) {
  console.log(`\n== ${title}\n$ vigil ${args.join(' ')}`);
  const r = spawnSync(process.execPath, [main, ...args], { stdio: 'inherit' });
  if (r.status !== 0) {
    console.error(`demo: '${title}' failed (exit ${r.status})`);
    process.exit(r.status || 1);
  }
}

function trained(title, runDir) {
  const m = JSON.parse(readFileSync(join(runDir, 'metrics.json'), 'utf8'));
  reports.push({ title, report: join(runDir, 'report.html'), auroc: m.image?.auroc, pixel: m.pixel?.aupro });
}

rmSync(join(out, 'runs'), { recursive: true, force: true });
const synth = join(out, 'synth');
vigil('Synthetic MVTec-style dataset', ['datasets', 'synth', synth, '--categories', 'woven,object', '--size', '128', '--train', '40', '--test-good', '10', '--test-defect', '4']);

vigil('pixelstats baseline on synthetic "object"', ['train', '--method', 'pixelstats', '--data', `synth:${synth}/object`, '--out', join(out, 'runs/pixelstats-object')]);
trained('pixelstats on synth:object', join(out, 'runs/pixelstats-object'));

const fmnist = '/usr/share/datasets/fashion-mnist';
if (existsSync(fmnist)) {
  vigil('DCAE, short schedule, Fashion-MNIST class 0 (T-shirt/top)', ['train', '--config', join(root, 'configs/dcae/fmnist-short.yaml'), '--data', 'fmnist:0', '--out', join(out, 'runs/dcae-fmnist0')]);
  trained('DCAE on fmnist:0 (short schedule)', join(out, 'runs/dcae-fmnist0'));
  vigil('Deep SVDD, short schedule, Fashion-MNIST class 0', ['train', '--config', join(root, 'configs/dsvdd/fmnist-short.yaml'), '--data', 'fmnist:0', '--out', join(out, 'runs/dsvdd-fmnist0')]);
  trained('Deep SVDD on fmnist:0 (short schedule)', join(out, 'runs/dsvdd-fmnist0'));
} else {
  console.log(`\n== Fashion-MNIST is not in ${fmnist}: skipping DCAE / Deep SVDD (vigil datasets download fashion-mnist <dir>, then --data-root <dir>)`);
}

const torchHome = process.env.TORCH_HOME ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'torch');
const weights = join(torchHome, 'hub/checkpoints/resnet18-f37072fd.pth');
if (existsSync(weights)) {
  vigil('PatchCore (ResNet-18) on synthetic "woven"', ['train', '--method', 'patchcore', '--data', `synth:${synth}/woven`, '--out', join(out, 'runs/patchcore-woven')]);
  trained('PatchCore on synth:woven', join(out, 'runs/patchcore-woven'));
  vigil('predict with the PatchCore model', ['predict', join(out, 'runs/patchcore-woven'), `${synth}/woven/test/hole`, '--out', join(out, 'predictions')]);
} else {
  console.log(`\n== PatchCore skipped: torchvision ImageNet weights ${weights} are not in the cache.\n   Get them with: npx vigil weights fetch resnet18   (then run the demo again)`);
  vigil('predict with the pixelstats model', ['predict', join(out, 'runs/pixelstats-object'), `${synth}/object/test/hole`, '--out', join(out, 'predictions')]);
}

console.log(`\n== Done in ${((Date.now() - t0) / 1000).toFixed(0)} s. Reports (open in a browser):`);
for (const r of reports) console.log(`  ${r.title.padEnd(40)} image AUROC ${r.auroc?.toFixed(3) ?? 'n/a'}${r.pixel !== undefined ? `  pixel AUPRO ${r.pixel.toFixed(3)}` : ''}\n    ${r.report}`);
console.log(`  predictions: ${join(out, 'predictions', 'predictions.csv')}`);
