// Mutation check: each mutation below breaks one behaviour in the COMPILED code (dist/src, so no
// rebuild is needed), runs the tests said to catch it, expects at least one of them to fail, and
// restores the file. docs/testing.md lists the same table.
//
//   npx tsc -p . && node scripts/mutation-check.mjs             # every mutation (≈ 15 min on 2 cores)
//   node scripts/mutation-check.mjs quantile-off-by-one knn-l2  # some of them
//   node scripts/mutation-check.mjs --list                      # names, files and tests
//   --no-baseline: skip the first run of the tests on the unmutated code (which must pass).
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '..');

/** id, what it breaks, compiled file, exact text (must occur once), replacement, test filters. */
export const MUTATIONS = [
  { id: 'quantile-off-by-one', what: 'quantile at position n·q instead of (n − 1)·q', file: 'dist/src/eval/quantile.js',
    find: 'const pos = (n - 1) * q;', replace: 'const pos = Math.min(n - 1, n * q);', tests: ['test/pipeline/calibration'] },
  { id: 'norm-minmax-swapped', what: 'normalisation min and max swapped', file: 'dist/src/pipeline/calibrate.js',
    find: 'const imageNorm = { threshold: image.value, ...minMaxOf([normal]) };',
    replace: 'const mm = minMaxOf([normal]); const imageNorm = { threshold: image.value, min: mm.max, max: mm.min };', tests: ['test/pipeline/calibration', 'test/cli/verbs'] },
  { id: 'norm-upper-branch', what: 'above the threshold, normalised scores grow with d/(d + s − t) instead of 1 − ½·d/(d + s − t)', file: 'dist/src/pipeline/threshold.js',
    find: 'return 1 - (0.5 * d) / (d + s - n.threshold);', replace: 'return 0.5 + (0.5 * (s - n.threshold)) / (d + s - n.threshold) * 0.9;', tests: ['test/pipeline/calibration'] },
  { id: 'calib-on-training', what: 'threshold from the training scores although normals were held out', file: 'dist/src/pipeline/calibrate.js',
    find: 'const train = held === 0 ?', replace: 'const train = held >= 0 ?', tests: ['test/pipeline/calibration'] },
  { id: 'tolerance-no-log', what: 'Gumbel bound on raw instead of log scores', file: 'dist/src/pipeline/threshold.js',
    find: 'const log = s[0] > 0;', replace: 'const log = false;', tests: ['test/pipeline/calibration'] },
  { id: 'order-statistic-rank', what: 'order-statistic bound one rank too high', file: 'dist/src/pipeline/threshold.js',
    find: "value: justAbove(s[rank - 1]), model: 'order-statistic'", replace: "value: justAbove(s[Math.min(rank, n - 1)]), model: 'order-statistic'", tests: ['test/pipeline/calibration'] },
  { id: 'pixel-max-as-min', what: 'pixel threshold from the per-image minimum of the normal maps instead of the maximum', file: 'dist/src/pipeline/threshold.js',
    find: 'if (m[i] > v)', replace: 'if (v === -Infinity || m[i] < v)', tests: ['test/pipeline/calibration'] },
  { id: 'verdict-strict', what: 'NG when score > threshold instead of ≥ (scores.csv and the confusion)', file: 'dist/src/pipeline/evaluate.js',
    find: 'const flag = s >= threshold;', replace: 'const flag = s > threshold;', tests: ['test/pipeline/calibration'] },
  { id: 'report-least-gallery', what: "the report's 'least anomalous' gallery sorted like 'most'", file: 'dist/src/pipeline/evaluate.js',
    find: 'pushBounded(least, { i, score, label, ...(map ? { map } : {}) }, o.gallery, false);', replace: 'pushBounded(least, { i, score, label, ...(map ? { map } : {}) }, o.gallery, true);', tests: ['test/pipeline/calibration'] },
  { id: 'map-upsampling', what: 'PatchCore maps upsampled with align_corners=True', file: 'dist/src/methods/patchcore/segment.js',
    find: 'torch.upsample_bilinear2d(patchScores.unsqueeze(1), size, false, null)', replace: 'torch.upsample_bilinear2d(patchScores.unsqueeze(1), size, true, null)', tests: ['test/methods/patchcore/detector-ref'] },
  { id: 'image-score-mean', what: 'PatchCore image score = mean patch score instead of the max', file: 'dist/src/methods/patchcore/index.js',
    find: 'const scores = ps.reshape([N, -1]).amax(1).toTypedArray();', replace: 'const scores = ps.reshape([N, -1]).mean(1).toTypedArray();', tests: ['test/methods/patchcore/detector-ref'] },
  { id: 'knn-l2', what: 'PatchCore patch scores = L2 instead of squared L2 distances (faiss IndexFlatL2)', file: 'dist/src/methods/patchcore/knn.js',
    find: "qs, torch.t(bank.narrow(0, b, bl)), { alpha: -2 }).clamp_min_(0);", replace: "qs, torch.t(bank.narrow(0, b, bl)), { alpha: -2 }).clamp_min_(0).sqrt_();", tests: ['test/methods/patchcore/detector-ref'] },
  { id: 'coreset-seed', what: "PatchCore's coreset ignores the run seed", file: 'dist/src/methods/patchcore/index.js',
    find: 'method, ratio, projectionDim, startingPoints, seed: ctx.seed,', replace: 'method, ratio, projectionDim, startingPoints, seed: 0,', tests: ['test/methods/patchcore/detector-ref'] },
  { id: 'dsvdd-pretrain-at-zero-epochs', what: 'Deep SVDD with model.pretrain.epochs=0 still transfers an (untrained) DCAE encoder', file: 'dist/src/methods/dsvdd/index.js',
    find: 'cfg.pretrain.epochs > 0', replace: 'cfg.pretrain.epochs >= 0', tests: ['test/methods/dsvdd/parity'] },
  { id: 'resume-no-adam-state', what: 'resume does not restore the optimiser state', file: 'dist/src/methods/components/trainer.js',
    find: 'opt.loadStateDict({ state: optState, groups });', replace: 'void optState;', tests: ['test/methods/dsvdd/resume-cli'] },
  { id: 'dcae-map-channel-mean', what: 'DCAE maps (and scores) average the squared error over channels instead of summing', file: 'dist/src/methods/dsvdd/index.js',
    find: 'const err = this.ae.forward(x).sub(x).pow(2).sum([1]);', replace: 'const err = this.ae.forward(x).sub(x).pow(2).mean([1]);', tests: ['test/methods/dsvdd/dsvdd.test'] },
  { id: 'center-eps-skipped', what: "Deep SVDD's center without the eps rule (|c_i| < 0.1 → ±0.1)", file: 'dist/src/methods/dsvdd/train.js',
    find: 'const v = out[i];', replace: 'const v = out[i]; continue;', tests: ['test/methods/dsvdd/init-from'] },
  { id: 'model-owner-unchecked', what: "a model file whose metadata names another method is loaded anyway", file: 'dist/src/pipeline/run-dir.js',
    find: 'if (metadata.method && metadata.method !== m.method) {', replace: 'if (false) {', tests: ['test/cli/errors'] },
  { id: 'weights-keep-unverified', what: 'a downloaded weights file that fails its SHA-256 prefix is left on disk', file: 'dist/src/models/backbones/weights.js',
    find: 'await unlink(tmp).catch(() => undefined);', replace: 'void unlink;', tests: ['test/cli/downloads'] },
  { id: 'internal-error-exit-1', what: 'an internal error exits 1 like a user error', file: 'dist/src/cli/main.js',
    find: 'return 2;', replace: 'return 1;', tests: ['test/cli/exit-codes'] },
];

function runTests(filters) {
  const t0 = Date.now();
  const r = spawnSync(process.execPath, [join(ROOT, 'scripts', 'test.mjs'), ...filters], { cwd: ROOT, encoding: 'utf8', maxBuffer: 1 << 28 });
  const out = `${r.stdout}${r.stderr}`;
  const failed = [...out.matchAll(/^not ok \d+ - (.*)$/gm)].map((m) => m[1]);
  return { status: r.status, failed, seconds: (Date.now() - t0) / 1000, out };
}

function main() {
  const args = process.argv.slice(2);
  if (args.includes('--list')) {
    for (const m of MUTATIONS) console.log(`${m.id.padEnd(30)} ${m.file.padEnd(42)} ${m.tests.join(' ')}\n${' '.repeat(31)}${m.what}`);
    return 0;
  }
  const names = args.filter((a) => !a.startsWith('--'));
  const unknown = names.filter((n) => !MUTATIONS.some((m) => m.id === n));
  if (unknown.length) { console.error(`unknown mutation(s): ${unknown.join(', ')} (see --list)`); return 2; }
  const chosen = names.length ? MUTATIONS.filter((m) => names.includes(m.id)) : MUTATIONS;
  // Every find string must be present once before anything runs (a stale table is an error).
  for (const m of chosen) {
    const n = readFileSync(join(ROOT, m.file), 'utf8').split(m.find).length - 1;
    if (n !== 1) { console.error(`${m.id}: the text to mutate occurs ${n} times in ${m.file} (rebuild with npx tsc -p ., or update the table)`); return 2; }
  }
  if (!args.includes('--no-baseline')) {
    const filters = [...new Set(chosen.flatMap((m) => m.tests))];
    const b = runTests(filters);
    console.log(`baseline (unmutated): ${b.status === 0 ? 'pass' : 'FAIL'} in ${b.seconds.toFixed(0)} s — ${filters.join(' ')}`);
    if (b.status !== 0) { console.error(b.out.slice(-4000)); console.error('the tests must pass before mutating'); return 2; }
  }
  let survived = 0;
  for (const m of chosen) {
    const path = join(ROOT, m.file);
    const original = readFileSync(path, 'utf8');
    const restore = () => writeFileSync(path, original);
    const onSignal = () => { restore(); process.exit(130); };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    let r;
    try {
      writeFileSync(path, original.replace(m.find, m.replace));
      r = runTests(m.tests);
    } finally {
      restore();
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
    const caught = r.status !== 0 && r.failed.length > 0;
    if (!caught) survived++;
    console.log(`${caught ? 'caught  ' : 'SURVIVED'} ${m.id.padEnd(30)} ${r.seconds.toFixed(0).padStart(4)} s  ${m.tests.join(' ')}`);
    for (const f of r.failed) console.log(`           ✗ ${f}`);
    if (!caught && r.status !== 0) console.log(r.out.slice(-2000));
  }
  console.log(survived === 0 ? `all ${chosen.length} mutations caught` : `${survived} of ${chosen.length} mutations survived`);
  return survived === 0 ? 0 : 1;
}

process.exitCode = main();
