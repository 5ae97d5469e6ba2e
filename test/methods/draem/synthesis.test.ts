// Parity of DRAEM's anomaly simulation with a numpy/cv2/PIL reference of the authors' loader
// (synthesis_ref.py): each of the 10 augmenters given the same parameters (several draws each,
// every colour space of the brightness augmenter), Perlin noise given the same gradient angles,
// its rotation and threshold, and the blend given the same inputs; plus determinism per
// (seed, epoch, index) whatever the batching, and the batch function's shapes and invariants.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { mulberry32 } from '../../../src/data/random.js';
import { AUGMENTERS, applyAugmenter, histograms, sampleAugmenter, type AugmenterName, type AugmenterParams } from '../../../src/methods/draem/augmenters.js';
import { BRIGHTNESS_COLORSPACES } from '../../../src/methods/draem/colour.js';
import { perlinNoise, randomAngles } from '../../../src/methods/draem/perlin.js';
import { blend, drawSample, perlinMask, synthesisBuffers, synthesizeBatch, synthesizeSample } from '../../../src/methods/draem/synthesis.js';
import { rotateU8, rotationMatrix, warpAffineU8, warpAffineU8ToPlanar } from '../../../src/methods/draem/warp.js';
import { indicesOf } from '../../../src/methods/draem/need.js';
import { proceduralTexture } from '../../../src/methods/draem/source.js';
import { runPython, tempDir } from '../../helpers/python.js';

const H = 128, W = 128;
const dir = tempDir('vigil-draem-synth-');
const bin = (name: string, a: ArrayBufferView): void => writeFileSync(join(dir, name), new Uint8Array(a.buffer, a.byteOffset, a.byteLength));

const rng = mulberry32(21);
const params: AugmenterParams[] = [];
for (const name of AUGMENTERS) for (let k = 0; k < 3; k++) params.push(sampleAugmenter(name, rng));
for (const colorspace of BRIGHTNESS_COLORSPACES) {
  for (const addFirst of [false, true]) params.push({ name: 'multiplyAndAddToBrightness', colorspace, mul: rng.uniform(0.8, 1.2), add: rng.uniform(-30, 30), addFirst });
}
params.push({ name: 'solarize', apply: true, threshold: 77.5 }, { name: 'autocontrast', cutoff: 0 }, { name: 'posterize', bits: 8 }, { name: 'posterize', bits: 1 }, { name: 'enhanceSharpness', factor: 1.7 });
const perlinCases = [[1, 1, 30], [4, 2, -71.3], [32, 32, 12.5], [8, 16, 89.9]].map(([r0, r1, rot]) => ({ res: [r0!, r1!], rot: rot!, angles: Array.from(randomAngles(r0!, r1!, rng)) }));

let py: { augmenters: { max: number; frac: number }[]; perlin: { noise: number; maskDiff: number; maskSum: number }[]; blend: number };

test('setup: our augmenters, noise and blend; the reference', () => {
  const src = proceduralTexture(3, H, W);
  const img = proceduralTexture(8, H, W);
  bin('in_src.bin', src);
  bin('in_img.bin', img);
  params.forEach((p, i) => bin(`aug_${i}.bin`, applyAugmenter(src, H, W, p)));
  perlinCases.forEach((c, i) => {
    bin(`perlin_${i}.bin`, perlinNoise(H, W, c.res[0]!, c.res[1]!, Float64Array.from(c.angles)));
    const mask = new Float64Array(H * W);
    for (const p of perlinMask(H, W, { perlinScale: [c.res[0]!, c.res[1]!], perlinAngles: Float64Array.from(c.angles), noiseRotation: c.rot })) mask[p] = 1;
    bin(`mask_${i}.bin`, mask);
  });
  const u = 0.61803;
  const mask = Uint8Array.from(new Float64Array(readFileSync(join(dir, 'mask_0.bin')).buffer.slice(0)));
  const beta = Math.fround(u) * 0.8;
  // The synthesis writes planar outputs that start as the image (I_a = I off the mask).
  const hw = H * W, planar = new Float32Array(3 * hw);
  for (let p = 0; p < hw; p++) for (let c = 0; c < 3; c++) planar[c * hw + p] = img[p * 3 + c]! / 255;
  blend(planar, src, indicesOf(mask), beta, planar, 0);
  bin('blend.bin', Float32Array.from({ length: 3 * hw }, (_, i) => planar[(i % 3) * hw + Math.floor(i / 3)]!));
  writeFileSync(join(dir, 'spec.json'), JSON.stringify({ h: H, w: W, augmenters: params, perlin: perlinCases, blend: { u } }));
  runPython(readFileSync(fileURLToPath(new URL('../../../../test/methods/draem/synthesis_ref.py', import.meta.url)), 'utf8'), dir);
  py = JSON.parse(readFileSync(join(dir, 'out.json'), 'utf8'));
});

// Lab and Luv use the CIE formulas, not OpenCV's 8-bit fixed-point tables (see colour.ts).
const approximate = (p: AugmenterParams): boolean => p.name === 'multiplyAndAddToBrightness' && (p.colorspace === 'Lab' || p.colorspace === 'Luv');

test('each augmenter equals the reference given the same parameters (bit-exact; ±1 level on < 1% of values for HSV/HLS round trips)', () => {
  params.forEach((p, i) => {
    const r = py.augmenters[i]!;
    const what = JSON.stringify(p);
    if (approximate(p)) assert.ok(r.max <= 255 && r.frac < 0.5, `${what}: max ${r.max}, ${r.frac}`);
    else if (p.name === 'addToHueAndSaturation' || (p.name === 'multiplyAndAddToBrightness' && (p.colorspace === 'HSV' || p.colorspace === 'HLS'))) {
      assert.ok(r.max <= 1 && r.frac < 0.01, `${what}: max |Δ| ${r.max} on ${r.frac} of values`);
    } else assert.equal(r.max, 0, `${what}: max |Δ| ${r.max} on ${r.frac} of values`);
  });
});

test('Perlin noise given the same angles, its rotation and 0.5 threshold match rand_perlin_2d_np + imgaug Affine', () => {
  perlinCases.forEach((c, i) => {
    const r = py.perlin[i]!;
    assert.ok(r.noise <= 1e-12, `res ${c.res}: max |Δ| ${r.noise}`);
    assert.equal(r.maskDiff, 0, `res ${c.res}: ${r.maskDiff} mask pixels differ (mask sum ${r.maskSum})`);
  });
  assert.ok(py.perlin.some((r) => r.maskSum > 0), 'some mask is non-empty');
});

test('the blend equals the authors\' float64 arithmetic cast to float32, bit for bit', () => {
  assert.equal(py.blend, 0);
});

test('synthesizeBatch: deterministic per (seed, epoch, index), independent of batching; masks and flags consistent', async () => {
  const n = 4, hw = H * W;
  const images = new Float32Array(n * 3 * hw);
  for (let i = 0; i < n; i++) {
    const t = proceduralTexture(100 + i, H, W);
    for (let p = 0; p < hw; p++) for (let c = 0; c < 3; c++) images[i * 3 * hw + c * hw + p] = t[p * 3 + c]! / 255;
  }
  const ctx = { seed: 5, epoch: 2, indices: [10, 11, 12, 13] };
  const whole = await synthesizeBatch({ images, shape: [n, 3, H, W] }, ctx, { anomalySource: 'procedural' });
  for (let i = 0; i < n; i++) {
    const one = await synthesizeBatch({ images: images.slice(i * 3 * hw, (i + 1) * 3 * hw), shape: [1, 3, H, W] }, { ...ctx, indices: [ctx.indices[i]!] }, { anomalySource: 'procedural' });
    assert.deepEqual(one.augmented, whole.augmented.slice(i * 3 * hw, (i + 1) * 3 * hw), `sample ${i} depends on its batch`);
    const m = whole.masks.subarray(i * hw, (i + 1) * hw);
    assert.equal(whole.hasAnomaly[i], m.some((v) => v === 1) ? 1 : 0);
    for (let p = 0; p < hw; p++) {
      if (m[p] === 0) for (let c = 0; c < 3; c++) assert.equal(whole.augmented[i * 3 * hw + c * hw + p], whole.images[i * 3 * hw + c * hw + p]);
    }
  }
  const other = await synthesizeBatch({ images, shape: [n, 3, H, W] }, { ...ctx, epoch: 3 }, { anomalySource: 'procedural' });
  assert.notDeepEqual(other.augmented, whole.augmented, 'another epoch draws other anomalies');
});

test('synthesizeSample equals the whole-image composition of its parts (augmenting only the pixels the mask reads changes nothing)', () => {
  // The parts are the reference-checked ones above, applied to every pixel; the synthesis computes
  // each augmenter only where the next one (and finally the mask) reads it.
  const hw = H * W;
  const image8 = proceduralTexture(40, H, W), source8 = proceduralTexture(41, H, W);
  const out = synthesisBuffers(1, H, W);
  const draws = mulberry32(77);
  // Random draws, then chains that put the table augmenters (composed into one table, histograms
  // carried through it) before, between and after the spatial and colour-space ones.
  const chains: AugmenterName[][] = [
    ['autocontrast', 'equalize', 'gammaContrast'], ['gammaContrast', 'equalize', 'enhanceSharpness'], ['invert', 'posterize', 'autocontrast'],
    ['solarize', 'affine', 'equalize'], ['enhanceSharpness', 'autocontrast', 'invert'], ['equalize', 'addToHueAndSaturation', 'autocontrast'],
    ['posterize', 'multiplyAndAddToBrightness', 'equalize'], ['affine', 'gammaContrast', 'autocontrast'],
  ];
  const total = 60 + chains.length;
  let anomalous = 0;
  for (let k = 0; k < total; k++) {
    const drawn = drawSample(draws, 1);
    const chain = chains[k - 60];
    const d = { ...drawn, anomaly: true, augmenters: chain === undefined ? drawn.augmenters : chain.map((name) => sampleAugmenter(name, draws)) };
    synthesizeSample(image8, source8, H, W, d, out, 0);
    const rotated = d.inputRotation === null ? image8 : rotateU8(image8, H, W, d.inputRotation);
    const mask = new Uint8Array(hw);
    for (const p of perlinMask(H, W, d)) mask[p] = 1;
    let src = source8;
    for (const a of d.augmenters) src = applyAugmenter(src, H, W, a);
    const any = mask.includes(1);
    assert.equal(out.hasAnomaly[0], any ? 1 : 0);
    if (any) anomalous++;
    for (let p = 0; p < hw; p++) {
      assert.equal(out.masks[p], mask[p], `draw ${k}: mask at ${p}`);
      for (let c = 0; c < 3; c++) {
        const i = Math.fround(rotated[p * 3 + c]! / 255);
        const want = any && mask[p] === 1 ? Math.fround((1 - d.beta) * (src[p * 3 + c]! / 255) + d.beta * i) : i;
        assert.equal(out.images[c * hw + p], i, `draw ${k}: image at ${p}/${c}`);
        if (out.augmented[c * hw + p] !== want) assert.fail(`draw ${k} (${d.augmenters.map((a) => a.name)}): augmented at pixel ${p} channel ${c}: ${out.augmented[c * hw + p]} vs ${want}`);
      }
    }
  }
  assert.ok(anomalous >= 45, `${anomalous} of ${total} draws had a non-empty mask`);
});

test('the fused input rotation (8-bit → planar float, two outputs) equals warpAffineU8 on every pixel, also non-square and at the ±90° edges', () => {
  // warpAffineU8 is the cv2-checked warp; the fused one inlines its interior pixels and must not
  // differ anywhere, borders and corners included.
  const lut = Float32Array.from({ length: 256 }, (_, v) => v / 255);
  const draws = mulberry32(5);
  for (const [h, w] of [[64, 64], [32, 96], [96, 32], [7, 5]] as const) {
    const src = Uint8Array.from({ length: 3 * h * w }, () => draws.int(0, 256));
    for (const degrees of [-90, -89.99, -45, -0.01, 0.01, 30, 89.99, 90, draws.uniform(-90, 90), draws.uniform(-90, 90)]) {
      const m = rotationMatrix(degrees, h, w);
      const want = warpAffineU8(src, h, w, m);
      const offset = 7, n = h * w;
      const a = new Float32Array(offset + 3 * n).fill(-1), b = new Float32Array(offset + 3 * n).fill(-1);
      warpAffineU8ToPlanar(src, h, w, m, lut, a, b, offset);
      for (let i = 0; i < offset; i++) assert.ok(a[i] === -1 && b[i] === -1, 'nothing written before the offset');
      for (let p = 0; p < n; p++) {
        for (let c = 0; c < 3; c++) {
          const v = lut[want[3 * p + c]!]!;
          if (a[offset + c * n + p] !== v || b[offset + c * n + p] !== v) assert.fail(`${h}×${w} at ${degrees}°: pixel ${p} channel ${c}: ${a[offset + c * n + p]} / ${b[offset + c * n + p]} vs ${v}`);
        }
      }
    }
  }
});

test('an unrotated input becomes planar k/255 in both outputs: word reads at sizes of 4k pixels, byte reads otherwise (odd sizes, unaligned views)', () => {
  for (const [h, w, shift] of [[16, 16, 0], [5, 7, 0], [16, 16, 1], [8, 12, 3]] as const) {
    const backing = proceduralTexture(9, 1, h * w + 2);
    const image8 = backing.subarray(shift, shift + 3 * h * w);
    const out = synthesisBuffers(2, h, w);
    const d = { ...drawSample(mulberry32(5), 1), inputRotation: null, anomaly: false };
    synthesizeSample(image8, image8, h, w, d, out, 1);
    const hw = h * w;
    for (let p = 0; p < hw; p++) {
      for (let c = 0; c < 3; c++) {
        const want = Math.fround(image8[3 * p + c]! / 255);
        assert.equal(out.images[3 * hw + c * hw + p], want, `${h}×${w}+${shift}: image at ${p}/${c}`);
        assert.equal(out.augmented[3 * hw + c * hw + p], want, `${h}×${w}+${shift}: input at ${p}/${c}`);
      }
    }
    assert.ok(out.images.subarray(0, 3 * hw).every((v) => v === 0), 'sample 0 untouched');
  }
});

test('per-channel histograms equal a plain count: word reads at 4k pixels, byte reads otherwise', () => {
  const backing = proceduralTexture(12, 1, 4 * 64 + 2);
  for (const [pixels, shift] of [[256, 0], [37, 0], [64, 1], [64, 3], [4, 0]] as const) {
    const img = backing.subarray(shift, shift + 3 * pixels);
    const want = [0, 1, 2].map(() => new Float64Array(256));
    for (let i = 0; i < img.length; i++) want[i % 3]![img[i]!]!++;
    assert.deepEqual(histograms(img), want, `${pixels} pixels from byte ${shift}`);
  }
});
