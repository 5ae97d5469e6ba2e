// Synthesised DRAEM training samples per second at 256², one thread each: Vigil's synthesizeSample
// vs the authors' loader algorithm per sample in numpy/cv2/PIL (test/methods/draem/synthesis_ref.py:
// input rotation p 0.3, 3 of 10 augmenters, rand_perlin_2d_np, noise rotation, threshold, blend),
// both from decoded 8-bit images in memory (decoding and resizing are left out on both sides).
// The sides alternate in rounds: the reference (a persistent process) runs its share of --samples,
// then Vigil synthesises for as long, so both sample a machine whose speed drifts alike; rates are
// samples / summed time.
// Usage: node dist/bench/draem-augment.js [--samples 400] [--rounds 20]
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { mulberry32 } from '../src/data/random.js';
import { drawSample, synthesisBuffers, synthesizeSample } from '../src/methods/draem/synthesis.js';
import { proceduralTexture } from '../src/methods/draem/source.js';

const arg = (name: string, def: number): number => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : def;
};
const SAMPLES = arg('--samples', 400), ROUNDS = Math.max(1, Math.min(arg('--rounds', 20), SAMPLES));
const S = 256;

const images = Array.from({ length: 8 }, (_, i) => proceduralTexture(i, S, S));
const sources = Array.from({ length: 8 }, (_, i) => proceduralTexture(100 + i, S, S));
const rng = mulberry32(1);
// Each sample is written into a batch of 8 in the networks' planar layout, as the loader workers do.
const out = synthesisBuffers(8, S, S);
// Warm-up: every augmenter and colour space runs often enough to be optimised, as in a training run.
for (let i = 0; i < 300; i++) synthesizeSample(images[i % 8]!, sources[i % 8]!, S, S, drawSample(rng, 8), out, i % 8);
let done = 0, vigilSeconds = 0;
/** Synthesises samples for about `seconds` (at least one), so both sides sample the machine for as long. */
function vigilFor(seconds: number): void {
  const t0 = performance.now();
  let t = t0;
  do {
    const d = drawSample(rng, sources.length);
    synthesizeSample(images[done % 8]!, sources[d.sourceIndex]!, S, S, d, out, done % 8);
    done++;
    t = performance.now();
  } while (t - t0 < seconds * 1000);
  vigilSeconds += (t - t0) / 1000;
}

const PY = String.raw`
import sys, time, json, numpy as np, cv2
sys.path.insert(0, sys.argv[1])
import synthesis_ref as R
cv2.setNumThreads(1)
S = 256
rs = np.random.RandomState(0)
imgs = [rs.randint(0, 256, (S, S, 3)).astype(np.uint8) for _ in range(8)]
srcs = [rs.randint(0, 256, (S, S, 3)).astype(np.uint8) for _ in range(8)]
names = ['gammaContrast', 'multiplyAndAddToBrightness', 'enhanceSharpness', 'addToHueAndSaturation', 'solarize', 'posterize', 'invert', 'autocontrast', 'equalize', 'affine']
def params(name):
    u = rs.uniform
    return {'gammaContrast': {'gamma': [u(0.5, 2) for _ in range(3)]}, 'multiplyAndAddToBrightness': {'colorspace': ['YCrCb', 'HSV', 'HLS', 'Lab', 'Luv', 'YUV'][rs.randint(6)], 'mul': u(0.8, 1.2), 'add': u(-30, 30), 'addFirst': rs.rand() < 0.5},
            'enhanceSharpness': {'factor': u(0, 2)}, 'addToHueAndSaturation': {'hue': rs.randint(-50, 51), 'saturation': rs.randint(-50, 51)}, 'solarize': {'apply': rs.rand() < 0.5, 'threshold': u(32, 128)},
            'posterize': {'bits': rs.randint(1, 9)}, 'invert': {}, 'autocontrast': {'cutoff': rs.randint(0, 21)}, 'equalize': {}, 'affine': {'degrees': u(-45, 45)}}[name]
def sample(i):
    image = imgs[i % 8]
    if rs.rand() > 0.7:
        image = R.affine(image, rs.uniform(-90, 90))
    image = image.astype(np.float32) / 255.0
    src = srcs[rs.randint(8)]
    for k in rs.choice(10, 3, replace=False):
        p = params(names[k]); p['name'] = names[k]; src = R.augment(src, p)
    sx, sy = 2 ** rs.randint(0, 6), 2 ** rs.randint(0, 6)
    noise = R.perlin((S, S), (sx, sy), 2 * np.pi * rs.rand(sx + 1, sy + 1))
    noise = cv2.warpAffine(noise[..., None], R.imgaug_matrix(rs.uniform(-90, 90), S, S)[:2], (S, S), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0))
    thr = np.expand_dims(np.where(noise > 0.5, np.ones_like(noise), np.zeros_like(noise)), axis=2)
    img_thr = src.astype(np.float32) * thr / 255.0
    beta = np.float32(rs.rand()) * 0.8
    aug = image * (1 - thr) + (1 - beta) * img_thr + beta * image * thr
    if rs.rand() > 0.5:
        return image, np.zeros_like(thr, dtype=np.float32)
    msk = thr.astype(np.float32)
    return msk * aug.astype(np.float32) + (1 - msk) * image, msk
for i in range(5): sample(i)
print(json.dumps({"ready": True, "cv2": cv2.__version__}), flush=True)
done = 0
for line in sys.stdin:
    t0 = time.perf_counter()
    for k in range(int(line)): sample(done); done += 1
    print(json.dumps({"seconds": time.perf_counter() - t0}), flush=True)
`;

const refDir = fileURLToPath(new URL('../../test/methods/draem/', import.meta.url));
const py = spawn(process.env.VIGIL_PYTHON ?? '/usr/bin/python3', ['-c', PY, refDir], { env: { ...process.env, OMP_NUM_THREADS: '1' }, stdio: ['pipe', 'pipe', 'pipe'] });
let stderr = '';
py.stderr.on('data', (b: Buffer) => { stderr += b.toString(); });
const lines = createInterface({ input: py.stdout })[Symbol.asyncIterator]();
async function reply(): Promise<{ seconds?: number; cv2?: string }> {
  const next = await lines.next();
  if (next.done === true) throw new Error(`reference side failed: ${stderr}`);
  return JSON.parse(next.value) as { seconds?: number; cv2?: string };
}
const { cv2 } = await reply();
let referenceSeconds = 0;
for (let r = 0; r < ROUNDS; r++) {
  const count = Math.floor((SAMPLES * (r + 1)) / ROUNDS) - Math.floor((SAMPLES * r) / ROUNDS);
  py.stdin.write(`${count}\n`);
  const seconds = (await reply()).seconds!;
  referenceSeconds += seconds;
  vigilFor(seconds);
}
py.stdin.end();
const vigil = done / vigilSeconds;
const ref = { rate: SAMPLES / referenceSeconds, cv2: cv2! };
console.log(JSON.stringify({
  bench: 'draem-augment', size: S, samples: { vigil: done, reference: SAMPLES }, vigil_samples_per_s: +vigil.toFixed(1), reference_samples_per_s: +ref.rate.toFixed(1),
  speedup: +(vigil / ref.rate).toFixed(2), rounds: ROUNDS, reference: `numpy/cv2 ${ref.cv2}/PIL`, threads: 1,
}));
