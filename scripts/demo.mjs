// `npm run demo`: what Vigil is for, in about a minute on a CPU. PatchCore learns a synthetic
// MVTec-style texture from good images only, judges the test images OK/NG with a calibrated
// threshold and shows where each defect is; then it judges new images it has never seen.
// PatchCore uses the torchvision ImageNet ResNet-18 when it is in the torch hub cache, otherwise a
// randomly initialised one (said so on screen: enough for these synthetic defects, not for real parts).
// `node scripts/demo.mjs --more` also runs the other methods (pixelstats; DCAE and Deep SVDD on
// Fashion-MNIST when Debian's dataset-fashion-mnist is installed).
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, relative, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');
const main = join(root, 'dist/src/cli/main.js');
if (!existsSync(main)) {
  const r = spawnSync('npx', ['tsc', '-p', root], { stdio: 'inherit' });
  if (!existsSync(main)) process.exit(r.status || 1);
}
const out = resolve(process.env.VIGIL_DEMO_DIR ?? 'vigil-demo');
const more = process.argv.includes('--more');
const t0 = Date.now();
const rel = (p) => relative(process.cwd(), p) || '.';

function vigil(title, args) {
  console.log(`\n== ${title}\n$ vigil ${args.map((a) => (a.startsWith('/') ? rel(a) : a)).join(' ')}`);
  const r = spawnSync(process.execPath, [main, ...args], { stdio: 'inherit' });
  if (r.status !== 0) {
    console.error(`demo: '${title}' failed (exit ${r.status})`);
    process.exit(r.status || 1);
  }
}

const verdicts = (runDir) => {
  const m = JSON.parse(readFileSync(join(runDir, 'metrics.json'), 'utf8'));
  const c = m.confusion;
  return { m, line: `${c.tp} of ${c.tp + c.fn} defects NG, ${c.fp} of ${c.fp + c.tn} good parts NG` };
};

rmSync(join(out, 'runs'), { recursive: true, force: true });
rmSync(join(out, 'predictions'), { recursive: true, force: true });
const synth = join(out, 'synth');
const fresh = join(out, 'new');
vigil('1. A synthetic MVTec-style dataset: good images to learn from, test images with five kinds of defect and their masks',
  ['datasets', 'synth', synth, '--categories', 'grainy', '--size', '128', '--train', '40', '--test-good', '10', '--test-defect', '4']);

const torchHome = process.env.TORCH_HOME ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'torch');
const imagenet = existsSync(join(torchHome, 'hub/checkpoints/resnet18-f37072fd.pth'));
const backbone = imagenet ? [] : ['--set', 'model.backbone.weights=random'];
if (!imagenet) {
  console.log('\n   PatchCore normally uses ImageNet features; they are not in the torch hub cache here, so this demo runs\n'
    + '   it with a RANDOMLY INITIALISED ResNet-18 (labelled so in the logs). That is enough for these synthetic\n'
    + '   defects, not for real parts: get the real features with `npx vigil weights fetch resnet18`.');
}
const runs = [];
// grainy: the texture a random-init backbone also separates (woven and object need ImageNet features).
for (const cat of ['grainy']) {
  const runDir = join(out, 'runs', `patchcore-${cat}`);
  vigil(`2. PatchCore learns "${cat}" from its good images; the threshold comes from good images it did not learn from`,
    ['train', '--method', 'patchcore', '--data', `synth:${synth}/${cat}`, ...backbone, '--out', runDir]);
  runs.push({ cat, runDir, ...verdicts(runDir) });
}

vigil('3. New images, never seen: a fresh draw of the generator (another seed)',
  ['datasets', 'synth', fresh, '--categories', 'grainy', '--size', '128', '--train', '1', '--test-good', '3', '--test-defect', '1', '--seed', '7', '--quiet']);
vigil('   ... judged by the grainy model', ['predict', join(out, 'runs', 'patchcore-grainy'), join(fresh, 'grainy', 'test'), '--out', join(out, 'predictions')]);

if (more) {
  vigil('pixelstats baseline (per-pixel statistics) on "grainy"', ['train', '--method', 'pixelstats', '--data', `synth:${synth}/grainy`, '--out', join(out, 'runs', 'pixelstats-grainy')]);
  const fmnist = '/usr/share/datasets/fashion-mnist';
  if (existsSync(fmnist)) {
    vigil('DCAE, short schedule, Fashion-MNIST class 0', ['train', '--config', join(root, 'configs/dcae/fmnist-short.yaml'), '--data', 'fmnist:0', '--out', join(out, 'runs/dcae-fmnist0')]);
    vigil('Deep SVDD, short schedule, Fashion-MNIST class 0', ['train', '--config', join(root, 'configs/dsvdd/fmnist-short.yaml'), '--data', 'fmnist:0', '--out', join(out, 'runs/dsvdd-fmnist0')]);
  }
}

console.log(`\n== 4. Done in ${((Date.now() - t0) / 1000).toFixed(0)} s. Where to look:`);
for (const r of runs) {
  console.log(`  ${`PatchCore on ${r.cat}:`.padEnd(22)} ${r.line}; image AUROC ${r.m.image.auroc.toFixed(3)}, pixel AUROC ${r.m.pixel.auroc.toFixed(3)}`);
  console.log(`  ${''.padEnd(22)} ${rel(join(r.runDir, 'report.html'))}  (verdicts, false rejects and misses, heatmaps, every image)`);
}
console.log(`  ${'New images:'.padEnd(22)} ${rel(join(out, 'predictions', 'predictions.csv'))}, heatmaps/ and masks/ beside it`);
console.log(`  ${'Your own parts:'.padEnd(22)} vigil train --method patchcore --data folder:./parts   (parts/good/ + one folder per defect type)`);
if (!more) console.log(`  ${'Other methods:'.padEnd(22)} node scripts/demo.mjs --more   (pixelstats, DCAE, Deep SVDD)`);
