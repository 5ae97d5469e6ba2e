import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeImage, readImage, readMask, writePng, UnreadableImageError } from '../../../src/data/image/index.js';
import { diff8, hwcToChw, readU8, runPython, tempDir } from './helpers.js';

// One Python process: writes the test inputs with PIL (and a hand-made 16-bit RGB PNG), the
// reference decodes (PIL convert('RGB') / convert('L')) as raw bytes, and reads back the PNGs
// our writer produced beforehand.
const SCRIPT = String.raw`
import sys, json, struct, zlib, io
import numpy as np
from PIL import Image
d = sys.argv[1]
rng = np.random.default_rng(7)
H, W = 37, 53
yy, xx = np.mgrid[0:H, 0:W]
smooth = np.stack([(xx * 255 // (W - 1)), (yy * 255 // (H - 1)), ((xx + yy) * 3) % 256], -1).astype(np.uint8)
noisy = rng.integers(0, 256, (H, W, 3), dtype=np.uint8)
rgb = np.where((xx < W // 2)[..., None], smooth, noisy).astype(np.uint8)
cases = {}
def ref(name, img):
    np.asarray(img.convert('RGB'), dtype=np.uint8).tofile(f'{d}/{name}.rgb.bin')
    np.asarray(img.convert('L'), dtype=np.uint8).tofile(f'{d}/{name}.L.bin')
    cases[name] = [img.size[1], img.size[0]]
im = Image.fromarray(rgb)
im.save(f'{d}/rgb.png'); ref('rgb.png', im)
g = im.convert('L'); g.save(f'{d}/gray.png'); ref('gray.png', g)
a = Image.fromarray(np.dstack([rgb, rng.integers(0, 256, (H, W), dtype=np.uint8)]), 'RGBA')
a.save(f'{d}/rgba.png'); ref('rgba.png', a)
p = im.quantize(64); p.save(f'{d}/pal.png'); ref('pal.png', p)
im.save(f'{d}/rgb24.bmp'); ref('rgb24.bmp', Image.open(f'{d}/rgb24.bmp'))
g.save(f'{d}/gray8.bmp'); ref('gray8.bmp', Image.open(f'{d}/gray8.bmp'))
p.save(f'{d}/pal8.bmp'); ref('pal8.bmp', Image.open(f'{d}/pal8.bmp'))
a.save(f'{d}/rgba32.bmp'); ref('rgba32.bmp', Image.open(f'{d}/rgba32.bmp'))
im.convert('1').save(f'{d}/bw1.bmp'); ref('bw1.bmp', Image.open(f'{d}/bw1.bmp'))
im.save(f'{d}/rgb.tif'); ref('rgb.tif', im)
im.save(f'{d}/rgb.webp', lossless=True); ref('rgb.webp', im)
# 16-bit grayscale written by PIL (mode I;16), values spread over the full range.
g16 = ((xx * 1237 + yy * 523) * 7 % 65536).astype(np.uint16)
Image.fromarray(g16, 'I;16').save(f'{d}/gray16.png')
np.asarray(Image.open(f'{d}/gray16.png'), dtype=np.uint16).astype('<u2').tofile(f'{d}/gray16.u16')
# 16-bit RGB PNG by hand (PIL cannot write one): big-endian samples, filter 0.
rgb16 = rng.integers(0, 65536, (H, W, 3), dtype=np.uint16)
raw = b''.join(b'\x00' + rgb16[y].astype('>u2').tobytes() for y in range(H))
def chunk(t, b): return struct.pack('>I', len(b)) + t + b + struct.pack('>I', zlib.crc32(t + b) & 0xffffffff)
png = b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', W, H, 16, 2, 0, 0, 0)) + chunk(b'IDAT', zlib.compress(raw)) + chunk(b'IEND', b'')
open(f'{d}/rgb16.png', 'wb').write(png)
rgb16.astype('<u2').tofile(f'{d}/rgb16.u16')
# JPEGs: decoded by PIL (libjpeg-turbo) for the sharp-vs-PIL comparison.
big = np.asarray(Image.fromarray(rgb).resize((160, 112), Image.BICUBIC))
for q, sub in [(75, 2), (95, 0), (90, 1)]:
    name = f'q{q}s{sub}.jpg'
    Image.fromarray(big).save(f'{d}/{name}', quality=q, subsampling=sub); ref(name, Image.open(f'{d}/{name}'))
# Truncated and garbage files.
b = open(f'{d}/rgb.png', 'rb').read(); open(f'{d}/trunc.png', 'wb').write(b[: len(b) // 2])
b = open(f'{d}/q75s2.jpg', 'rb').read(); open(f'{d}/trunc.jpg', 'wb').write(b[: len(b) // 2])
open(f'{d}/garbage.png', 'wb').write(bytes(rng.integers(0, 256, 500, dtype=np.uint8)))
# Masks: 0/255, one of the wrong size.
m = np.zeros((H, W), np.uint8); m[5:20, 10:30] = 255
Image.fromarray(m).save(f'{d}/mask.png')
Image.fromarray(m).resize((W * 2, H * 2), Image.NEAREST).save(f'{d}/mask_big.png')
# Read back what our writer produced.
ours = {}
for name in ['ours_rgb.png', 'ours_gray.png', 'ours_raw.png']:
    o = Image.open(f'{d}/{name}'); o.load()
    np.asarray(o, dtype=np.uint8).tofile(f'{d}/{name}.read.bin'); ours[name] = o.mode
json.dump({'cases': cases, 'ours': ours}, open(f'{d}/manifest.json', 'w'))
`;

function readU16(path: string): Uint16Array {
  const b = readFileSync(path);
  return new Uint16Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}

let dir = '';
let manifest: { cases: Record<string, [number, number]>; ours: Record<string, string> };
const written = {
  rgb: { data: new Float32Array(3 * 6 * 5).map((_, i) => ((i * 37) % 256) / 255), channels: 3 as const, height: 6, width: 5 },
  gray: { data: new Float32Array(6 * 5).map((_, i) => ((i * 53) % 256) / 255), channels: 1 as const, height: 6, width: 5 },
  raw: { data: new Uint8Array(4 * 3 * 3).map((_, i) => (i * 29) % 256), channels: 3 as const, height: 4, width: 3 },
};

before(async () => {
  dir = tempDir('decode');
  await writePng(join(dir, 'ours_rgb.png'), written.rgb);
  await writePng(join(dir, 'ours_gray.png'), written.gray);
  await writePng(join(dir, 'ours_raw.png'), written.raw);
  runPython(SCRIPT, [dir]);
  manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as typeof manifest;
});

const EXACT = ['rgb.png', 'gray.png', 'rgba.png', 'pal.png', 'rgb24.bmp', 'gray8.bmp', 'pal8.bmp', 'rgba32.bmp', 'bw1.bmp', 'rgb.tif', 'rgb.webp'];

test('PNG/TIFF/WebP/BMP decode equals PIL convert("RGB") and convert("L") exactly', async () => {
  for (const name of EXACT) {
    const [h, w] = manifest.cases[name]!;
    const rgb = await readImage(join(dir, name));
    assert.deepEqual([rgb.channels, rgb.height, rgb.width], [3, h, w], name);
    assert.deepEqual(diff8(rgb.data, hwcToChw(readU8(join(dir, `${name}.rgb.bin`)), h, w, 3)).max, 0, `${name} rgb`);
    const gray = await readImage(join(dir, name), { mode: 'gray' });
    assert.equal(gray.channels, 1);
    const d = diff8(gray.data, hwcToChw(readU8(join(dir, `${name}.L.bin`)), h, w, 1));
    assert.equal(d.max, 0, `${name} gray differs from PIL on ${d.count} pixels`);
  }
});

test('16-bit PNGs decode to value/65535 (gray written by PIL, RGB hand-made)', async () => {
  const [h, w] = manifest.cases['rgb.png']!;
  const g = await readImage(join(dir, 'gray16.png'), { mode: 'gray' });
  const ref = readU16(join(dir, 'gray16.u16'));
  assert.equal(g.data.length, h * w);
  let maxErr = 0;
  for (let i = 0; i < ref.length; i++) maxErr = Math.max(maxErr, Math.abs(g.data[i]! - ref[i]! / 65535));
  assert.ok(maxErr < 1e-7, `gray16 max error ${maxErr}`);
  // Proves 16-bit precision is kept: 8-bit would be off by up to 0.5/255.
  assert.ok(ref.some((v) => v % 257 !== 0));
  const c = await readImage(join(dir, 'rgb16.png'));
  const ref3 = readU16(join(dir, 'rgb16.u16'));
  const n = h * w;
  maxErr = 0;
  for (let i = 0; i < n; i++) for (let k = 0; k < 3; k++) maxErr = Math.max(maxErr, Math.abs(c.data[k * n + i]! - ref3[i * 3 + k]! / 65535));
  assert.ok(maxErr < 1e-7, `rgb16 max error ${maxErr}`);
});

test('JPEG: sharp (mozjpeg/libjpeg-turbo) vs PIL (libjpeg-turbo) decoding difference is small', async () => {
  for (const name of ['q75s2.jpg', 'q95s0.jpg', 'q90s1.jpg']) {
    const [h, w] = manifest.cases[name]!;
    const img = await readImage(join(dir, name));
    const d = diff8(img.data, hwcToChw(readU8(join(dir, `${name}.rgb.bin`)), h, w, 3));
    console.log(`# JPEG ${name}: max |sharp − PIL| = ${d.max}/255, mean ${d.mean.toFixed(4)}/255, ${d.count} of ${img.data.length} values differ`);
    assert.ok(d.max <= 2, `${name}: max difference ${d.max}`);
  }
});

test('truncated or garbage files give an error naming the file', async () => {
  for (const name of ['trunc.png', 'trunc.jpg', 'garbage.png']) {
    const p = join(dir, name);
    await assert.rejects(readImage(p), (e: unknown) => e instanceof UnreadableImageError && e.message.includes(p) && /not a readable image/.test(e.message), name);
  }
  const bmp = readFileSync(join(dir, 'rgb24.bmp'));
  await assert.rejects(decodeImage(bmp.subarray(0, 100), { name: 'cut.bmp' }), /cut\.bmp is not a readable image \(truncated BMP/);
  await assert.rejects(readImage(join(dir, 'missing.png')), /cannot read image file .*missing\.png/);
});

test('readMask binarises, and refuses a wrong-size mask unless asked to resize', async () => {
  const [h, w] = manifest.cases['rgb.png']!;
  const m = await readMask(join(dir, 'mask.png'), w, h);
  assert.equal(m.length, h * w);
  let ones = 0;
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
    const expect = y >= 5 && y < 20 && x >= 10 && x < 30 ? 1 : 0;
    assert.equal(m[y * w + x], expect);
    ones += m[y * w + x]!;
  }
  assert.equal(ones, 15 * 20);
  const big = join(dir, 'mask_big.png');
  await assert.rejects(readMask(big, w, h), (e: unknown) => e instanceof Error && e.message.includes(big) && e.message.includes(`${w * 2}x${h * 2}`) && e.message.includes("resize: 'nearest'"));
  const r = await readMask(big, w, h, { resize: 'nearest' });
  assert.deepEqual(r, m);
});

test('writePng output reads back identically in PIL', () => {
  const check = (name: string, expectMode: string, hwc: Uint8Array): void => {
    assert.equal(manifest.ours[name], expectMode);
    assert.deepEqual(readU8(join(dir, `${name}.read.bin`)), hwc, name);
  };
  const chwToHwc = (img: { data: Float32Array; channels: number; height: number; width: number }): Uint8Array => {
    const n = img.height * img.width;
    const out = new Uint8Array(n * img.channels);
    for (let i = 0; i < n; i++) for (let k = 0; k < img.channels; k++) out[i * img.channels + k] = Math.round(img.data[k * n + i]! * 255);
    return out;
  };
  check('ours_rgb.png', 'RGB', chwToHwc(written.rgb));
  check('ours_gray.png', 'L', chwToHwc(written.gray));
  check('ours_raw.png', 'RGB', written.raw.data);
});

test('writePng is atomic: no temp file is left and a failed write names the path', async () => {
  const bad = join(dir, 'no-such-dir', 'x.png');
  await assert.rejects(writePng(bad, written.rgb), (e: unknown) => e instanceof Error && e.message.includes(bad));
  assert.equal(readdirSync(dir).filter((f) => f.endsWith('.tmp')).length, 0);
});
