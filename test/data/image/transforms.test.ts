import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readImage, type Image } from '../../../src/data/image/index.js';
import { mulberry32 } from '../../../src/data/random.js';
import {
  applyPipeline,
  centerCrop,
  crop,
  horizontalFlip,
  IMAGENET_MEAN,
  IMAGENET_STD,
  normalize,
  parsePipeline,
  randomCrop,
  randomHorizontalFlip,
  resize,
  roundHalfEven,
  toGray,
  type Interpolation,
  type TransformSpec,
} from '../../../src/data/transforms/index.js';
import { diff8, hwcToChw, readF32, readU8, runPython, tempDir } from './helpers.js';

// Source images (written by Python as PNG, decoded by us exactly as PIL would, see decode.test).
const SOURCES: Record<string, { h: number; w: number; mode: 'RGB' | 'L' }> = {
  a: { h: 221, w: 300, mode: 'RGB' },
  b: { h: 131, w: 97, mode: 'L' },
  c: { h: 41, w: 50, mode: 'RGB' },
};

interface ResizeCase {
  src: string;
  size: number | [number, number];
  interpolation: Interpolation;
}
const RESIZES: ResizeCase[] = [];
for (const interpolation of ['bilinear', 'bicubic', 'nearest', 'lanczos', 'box', 'hamming'] as const) {
  RESIZES.push({ src: 'a', size: 256, interpolation }, { src: 'a', size: [64, 80], interpolation }, { src: 'b', size: [200, 150], interpolation }, { src: 'b', size: 31, interpolation });
}
const CROPS: Array<{ src: string; top: number; left: number; h: number; w: number }> = [
  { src: 'c', top: -3, left: -2, h: 30, w: 40 },
  { src: 'c', top: 20, left: 30, h: 30, w: 40 },
];
const CENTER: Array<{ src: string; size: number | [number, number] }> = [
  { src: 'a', size: 224 },
  { src: 'a', size: [100, 77] },
  { src: 'c', size: 64 },
  { src: 'c', size: [45, 33] },
];
const FLOAT_SIZES: Array<{ src: string; size: [number, number]; interpolation: 'bilinear' | 'bicubic'; antialias: boolean }> = [
  { src: 'a', size: [100, 140], interpolation: 'bilinear', antialias: true },
  { src: 'a', size: [256, 347], interpolation: 'bilinear', antialias: true },
  { src: 'a', size: [100, 140], interpolation: 'bicubic', antialias: true },
  // Plain (non-antialiased) bilinear: the sampling cv2.resize INTER_LINEAR and torch antialias=False use.
  { src: 'a', size: [55, 75], interpolation: 'bilinear', antialias: false },
  { src: 'a', size: [300, 410], interpolation: 'bilinear', antialias: false },
];

const SCRIPT = String.raw`
import sys, json
import numpy as np, torch
from PIL import Image
import torchvision.transforms as T
import torchvision.transforms.functional as F
d = sys.argv[1]
spec = json.load(open(f'{d}/cases.json'))
rng = np.random.default_rng(11)
imgs = {}
for name, s in spec['sources'].items():
    h, w = s['h'], s['w']
    yy, xx = np.mgrid[0:h, 0:w]
    base = (128 + 100 * np.sin(xx / 7.0) * np.cos(yy / 11.0)).astype(np.int64)
    noise = rng.integers(-60, 61, (h, w, 3))
    arr = np.clip(base[..., None] + noise * (xx[..., None] % 3 == 0) + np.array([0, 40, -40]), 0, 255).astype(np.uint8)
    im = Image.fromarray(arr).convert(s['mode'])
    im.save(f'{d}/{name}.png'); imgs[name] = im
M = {'bilinear': T.InterpolationMode.BILINEAR, 'bicubic': T.InterpolationMode.BICUBIC, 'nearest': T.InterpolationMode.NEAREST,
     'lanczos': T.InterpolationMode.LANCZOS, 'box': T.InterpolationMode.BOX, 'hamming': T.InterpolationMode.HAMMING}
out = {'resize': [], 'center': [], 'crop': [], 'float': []}
def save_u8(name, im):
    a = np.asarray(im, dtype=np.uint8); a.tofile(f'{d}/{name}.bin'); return list(a.shape)
for i, c in enumerate(spec['resizes']):
    size = c['size'] if isinstance(c['size'], int) else tuple(c['size'])
    r = T.Resize(size, interpolation=M[c['interpolation']])(imgs[c['src']])
    out['resize'].append(save_u8(f'resize{i}', r))
for i, c in enumerate(spec['center']):
    size = c['size'] if isinstance(c['size'], int) else tuple(c['size'])
    out['center'].append(save_u8(f'center{i}', T.CenterCrop(size)(imgs[c['src']])))
for i, c in enumerate(spec['crops']):
    t = F.to_tensor(imgs[c['src']])
    r = F.crop(t, c['top'], c['left'], c['h'], c['w'])
    r.numpy().astype('<f4').tofile(f'{d}/crop{i}.bin'); out['crop'].append(list(r.shape))
for i, c in enumerate(spec['floats']):
    t = F.to_tensor(imgs[c['src']])[None]
    r = torch.nn.functional.interpolate(t, size=tuple(c['size']), mode=c['interpolation'], align_corners=False, antialias=c['antialias'])[0]
    r.numpy().astype('<f4').tofile(f'{d}/float{i}.bin'); out['float'].append(list(r.shape))
# PatchCore (OpenOOD PatchPreProcessor): Resize((256,256), ANTIALIAS=LANCZOS), CenterCrop(224), ToTensor, Normalize(ImageNet).
pc = T.Compose([T.Resize((256, 256), Image.LANCZOS), T.CenterCrop(224), T.ToTensor(), T.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])
pc(imgs['a']).numpy().astype('<f4').tofile(f'{d}/patchcore.bin')
# OpenOOD TestStandardPreProcessor for image_size 224: Convert RGB, Resize(256, bilinear), CenterCrop(224), ToTensor, Normalize.
ts = T.Compose([T.Resize(256, interpolation=T.InterpolationMode.BILINEAR), T.CenterCrop(224), T.ToTensor(), T.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])
ts(imgs['a'].convert('RGB')).numpy().astype('<f4').tofile(f'{d}/teststd.bin')
save_u8('gray_a', imgs['a'].convert('L'))
json.dump(out, open(f'{d}/out.json', 'w'))
`;

let dir = '';
let out: { resize: number[][]; center: number[][]; crop: number[][]; float: number[][] };
const src: Record<string, Image> = {};

before(async () => {
  dir = tempDir('transforms');
  writeFileSync(join(dir, 'cases.json'), JSON.stringify({ sources: SOURCES, resizes: RESIZES, center: CENTER, crops: CROPS, floats: FLOAT_SIZES }));
  runPython(SCRIPT, [dir]);
  const { readFileSync } = await import('node:fs');
  out = JSON.parse(readFileSync(join(dir, 'out.json'), 'utf8')) as typeof out;
  for (const [name, s] of Object.entries(SOURCES)) src[name] = await readImage(join(dir, `${name}.png`), { mode: s.mode === 'L' ? 'gray' : 'rgb' });
});

function pilRef(name: string, shape: number[]): Float32Array {
  const [h, w, c] = [shape[0]!, shape[1]!, shape[2] ?? 1];
  return hwcToChw(readU8(join(dir, `${name}.bin`)), h, w, c);
}

test('resize matches torchvision Resize on PIL images bit-exactly (all PIL filters, down and up)', () => {
  const report: string[] = [];
  RESIZES.forEach((c, i) => {
    const shape = out.resize[i]!;
    const ours = resize(src[c.src]!, c.size, { interpolation: c.interpolation });
    assert.deepEqual([ours.height, ours.width], [shape[0], shape[1]], `case ${i} size`);
    const d = diff8(ours.data, pilRef(`resize${i}`, shape));
    report.push(`${c.interpolation} ${JSON.stringify(c.size)}: max ${d.max}, ${d.count} px`);
    assert.equal(d.max, 0, `case ${i} (${c.interpolation} ${JSON.stringify(c.size)} on ${c.src}) differs on ${d.count} values, max ${d.max}`);
  });
  console.log(`# resize vs PIL: ${report.length} cases, all max diff 0`);
});

test('centerCrop matches torchvision CenterCrop (half-to-even offsets, zero padding when larger)', () => {
  CENTER.forEach((c, i) => {
    const shape = out.center[i]!;
    const ours = centerCrop(src[c.src]!, c.size);
    assert.deepEqual([ours.height, ours.width], [shape[0], shape[1]]);
    assert.equal(diff8(ours.data, pilRef(`center${i}`, shape)).max, 0, `center case ${i}`);
  });
  assert.deepEqual([0.5, 1.5, 2.5, -0.5, 3].map(roundHalfEven), [0, 2, 2, -0, 3]);
});

test('crop with out-of-range window zero-fills like torchvision F.crop', () => {
  CROPS.forEach((c, i) => {
    const ours = crop(src[c.src]!, c.top, c.left, c.h, c.w);
    const ref = readF32(join(dir, `crop${i}.bin`));
    assert.deepEqual(Array.from(ours.data), Array.from(ref), `crop case ${i}`);
  });
});

test('float resize ≈ torch interpolate (antialias on and off) on float tensors', () => {
  FLOAT_SIZES.forEach((c, i) => {
    const ours = resize(src[c.src]!, c.size, { interpolation: c.interpolation, antialias: c.antialias, precision: 'float' });
    const ref = readF32(join(dir, `float${i}.bin`));
    let max = 0;
    for (let k = 0; k < ref.length; k++) max = Math.max(max, Math.abs(ours.data[k]! - ref[k]!));
    console.log(`# float ${c.interpolation}${c.antialias ? ' aa' : ''} ${c.size.join('x')}: max |ours − torch| = ${max.toExponential(2)}`);
    assert.ok(max < 1e-5, `float case ${i}: max diff ${max}`);
  });
});

const tolerance = (a: Float32Array, b: Float32Array): number => {
  let max = 0;
  for (let k = 0; k < a.length; k++) max = Math.max(max, Math.abs(a[k]! - b[k]!));
  return max;
};

test('PatchCore and OpenOOD test pipelines as JSON specs equal torchvision output (float32)', () => {
  const patchcore = parsePipeline([
    { op: 'resize', size: [256, 256], interpolation: 'lanczos' },
    { op: 'centerCrop', size: 224 },
    { op: 'normalize', mean: [...IMAGENET_MEAN], std: [...IMAGENET_STD] },
  ]);
  const a = applyPipeline({ image: src.a! }, patchcore, mulberry32(0)).image;
  const ma = tolerance(a.data, readF32(join(dir, 'patchcore.bin')));
  const teststd: TransformSpec[] = [{ op: 'resize', size: 256 }, { op: 'centerCrop', size: 224 }, { op: 'normalize', mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] }];
  const b = applyPipeline({ image: src.a! }, teststd, mulberry32(0)).image;
  const mb = tolerance(b.data, readF32(join(dir, 'teststd.bin')));
  console.log(`# PatchCore pipeline max diff ${ma}, OpenOOD test pipeline max diff ${mb}`);
  assert.equal(ma, 0);
  assert.equal(mb, 0);
});

test('toGray equals PIL convert("L")', () => {
  const g = toGray(src.a!);
  assert.equal(diff8(g.data, pilRef('gray_a', [SOURCES.a!.h, SOURCES.a!.w])).max, 0);
});

test('random ops: seeded, and the mask follows the image', () => {
  const img = src.c!;
  const a = randomCrop(img, 32, mulberry32(5), 4);
  const b = randomCrop(img, 32, mulberry32(5), 4);
  assert.deepEqual(a.data, b.data);
  assert.throws(() => randomCrop(img, 60, mulberry32(1), 4), /larger than the padded image 49x58/);
  const f = horizontalFlip(img);
  assert.deepEqual(horizontalFlip(f).data, img.data);
  assert.equal(f.data[0], img.data[img.width - 1]);
  let flips = 0;
  const rng = mulberry32(9);
  for (let i = 0; i < 400; i++) if (randomHorizontalFlip(img, rng, 0.3) !== img) flips++;
  assert.ok(flips > 80 && flips < 160, `flip rate ${flips}/400`);
  // A mask equal to one image channel (thresholded) must still equal it after random crop + flip.
  const mask: Image = { data: img.data.slice(0, img.height * img.width).map((v) => (v > 0.5 ? 1 : 0)), channels: 1, height: img.height, width: img.width };
  const spec: TransformSpec[] = [{ op: 'randomCrop', size: [30, 36], padding: 3 }, { op: 'randomHorizontalFlip', p: 0.5 }, { op: 'resize', size: [60, 72], interpolation: 'nearest' }];
  for (let s = 0; s < 6; s++) {
    const r = applyPipeline({ image: img, mask }, spec, mulberry32(s));
    const n = r.image.height * r.image.width;
    for (let i = 0; i < n; i++) assert.equal(r.mask!.data[i], r.image.data[i]! > 0.5 ? 1 : 0);
  }
});

test('normalize is per channel, float32-rounded, and validates its arguments', () => {
  const img: Image = { data: new Float32Array([0, 0.5, 1, 0.25, 0.75, 0.1]), channels: 3, height: 1, width: 2 };
  const n = normalize(img, [0.5, 0.25, 0], [0.5, 0.25, 2]);
  assert.deepEqual(Array.from(n.data), [-1, 0, 3, 0, 0.375, Math.fround(0.1) / 2].map(Math.fround));
  assert.throws(() => normalize(img, [0.5, 0.5], [1, 1]), /mean has 2 values but the image has 3 channels/);
  assert.throws(() => parsePipeline([{ op: 'resize' }, { op: 'blur' }, { op: 'centerCrop', size: 3, extra: 1 }]), /\[0\] \(resize\) is missing 'size'[\s\S]*\[1\]\.op 'blur' is unknown[\s\S]*unknown field 'extra'/);
});
