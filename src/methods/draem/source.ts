// Anomaly sources for DRAEM's simulation: the textures that get pasted into normal images.
// - A DTD-layout folder, `<root>/<category>/*.jpg`, listed as the authors do
//   (sorted(glob(root + '/*/*.jpg'))); the paper's numbers use DTD (`vigil datasets download dtd`,
//   then point at dtd/images). Each image is decoded, converted to BGR (cv2.imread's order) and
//   resized to the training size by bilinear interpolation with half-pixel centres and no
//   antialiasing (cv2.resize INTER_LINEAR; OpenCV's fixed-point rounding may differ by one level).
// - 'procedural': 1,000 textures generated from their index (noise, stripes, checks, cells,
//   blotches), so DRAEM trains without a download; it is not what the paper used.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { readImage } from '../../data/image/index.js';
import { mulberry32, deriveSeed, type Rng } from '../../data/random.js';
import * as torch from '../../torch/index.js';
import { nn } from '../../torch/index.js';

/** 'procedural', or the path of a DTD-layout folder. */
export type AnomalySourceSpec = string;

export interface AnomalySource {
  readonly size: number;
  /** For logs: the folder and image count, or the procedural source. */
  readonly description: string;
  /** Source image `index` as 8-bit H×W×3 BGR. */
  get(index: number, height: number, width: number): Promise<Uint8Array>;
}

const opened = new Map<string, Promise<AnomalySource>>();

/** Opens (once per process or worker) the source a spec names. */
export function openAnomalySource(spec: AnomalySourceSpec): Promise<AnomalySource> {
  let s = opened.get(spec);
  if (!s) {
    s = spec === 'procedural' ? Promise.resolve(proceduralSource()) : folderSource(spec);
    opened.set(spec, s);
    s.catch(() => opened.delete(spec));
  }
  return s;
}

/** Lists `<root>/*\/*.jpg` (sorted, as the authors' glob) and checks that one decodes. */
export async function folderSource(root: string): Promise<AnomalySource> {
  let entries: string[];
  try {
    if (!statSync(root).isDirectory()) throw new Error('not a directory');
    entries = readdirSync(root).sort();
  } catch (e) {
    throw new Error(`anomaly source ${root}: cannot read the folder (${(e as Error).message}); give a DTD-layout folder <category>/*.jpg (vigil datasets download dtd <dir>, then <dir>/dtd/images) or 'procedural'`);
  }
  const files: string[] = [];
  for (const d of entries) {
    const dir = join(root, d);
    if (!statSync(dir).isDirectory()) continue;
    for (const f of readdirSync(dir).sort()) if (f.endsWith('.jpg')) files.push(join(dir, f));
  }
  files.sort();
  if (files.length === 0) throw new Error(`anomaly source ${root} holds no <category>/*.jpg images; give a DTD-layout folder (vigil datasets download dtd <dir>, then <dir>/dtd/images) or 'procedural'`);
  let firstError: Error | null = null;
  let readable = false;
  for (const f of files) {
    try { await readImage(f); readable = true; break; } catch (e) { firstError ??= e as Error; }
  }
  if (!readable) throw new Error(`anomaly source ${root} holds no readable image (${files.length} .jpg files; first error: ${firstError?.message})`);
  const cache = new TextureCache();
  return {
    size: files.length,
    description: `${files.length} images in ${root}`,
    async get(index, height, width) {
      const key = `${index}:${height}x${width}`;
      const hit = cache.get(key);
      if (hit) return hit;
      let img;
      try { img = await readImage(files[index]!); } catch (e) { throw new Error(`anomaly source ${root}: ${(e as Error).message}`); }
      return cache.set(key, resizeToBgr8(img.data, img.channels, img.height, img.width, height, width));
    },
  };
}

/** Planar RGB (or gray) floats in [0, 1] → resized 8-bit H×W×3 BGR (bilinear, half-pixel centres, no antialiasing). */
export function resizeToBgr8(rgb: Float32Array, channels: number, h: number, w: number, height: number, width: number): Uint8Array {
  const planar = torch.tidy(() => {
    let t = torch.fromTypedArray(rgb, [1, channels, h, w]).mul(255).round();
    if (channels === 1) t = t.expand([1, 3, h, w]);
    if (h !== height || w !== width) t = nn.F.interpolate(t, { size: [height, width], mode: 'bilinear', alignCorners: false });
    return t.round().clamp(0, 255).to('uint8').contiguous().toTypedArray() as Uint8Array;
  });
  const n = height * width;
  const out = new Uint8Array(3 * n);
  for (let c = 0; c < 3; c++) for (let p = 0; p < n; p++) out[p * 3 + (2 - c)] = planar[c * n + p]!;
  return out;
}

// ---- procedural textures --------------------------------------------------------------------

export const PROCEDURAL_KINDS = ['noise', 'stripes', 'checks', 'cells', 'blotches'] as const;
const PROCEDURAL_COUNT = 1000;

/** Multi-octave value noise in [0, 1] (H × W). */
function fbm(rng: Rng, h: number, w: number, cell: number): Float32Array {
  const out = new Float32Array(h * w);
  let amp = 1, total = 0;
  for (let c = cell; c >= 2 && amp > 0.1; c /= 2, amp /= 2) {
    const gw = Math.ceil(w / c) + 2, gh = Math.ceil(h / c) + 2;
    const lat = Float32Array.from({ length: gw * gh }, () => rng.next());
    for (let y = 0; y < h; y++) {
      const fy = y / c, iy = Math.floor(fy), ty = fy - iy, sy = ty * ty * (3 - 2 * ty);
      for (let x = 0; x < w; x++) {
        const fx = x / c, ix = Math.floor(fx), tx = fx - ix, sx = tx * tx * (3 - 2 * tx);
        const a = lat[iy * gw + ix]!, b = lat[iy * gw + ix + 1]!, d = lat[(iy + 1) * gw + ix]!, e = lat[(iy + 1) * gw + ix + 1]!;
        out[y * w + x]! += amp * ((a + (b - a) * sx) * (1 - sy) + (d + (e - d) * sx) * sy);
      }
    }
    total += amp;
  }
  for (let i = 0; i < out.length; i++) out[i]! /= total;
  return out;
}

/** A scalar field in [0, 1] of the given kind. */
function field(kind: (typeof PROCEDURAL_KINDS)[number], rng: Rng, h: number, w: number): Float32Array {
  const out = new Float32Array(h * w);
  const angle = rng.uniform(0, Math.PI), period = rng.uniform(6, 40);
  const ca = Math.cos(angle), sa = Math.sin(angle);
  const warp = fbm(rng, h, w, 32);
  if (kind === 'noise') return fbm(rng, h, w, rng.uniform(4, 48));
  if (kind === 'cells') {
    const pts = Array.from({ length: rng.int(8, 40) }, () => [rng.next() * w, rng.next() * h, rng.next()] as const);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        let best = Infinity, v = 0;
        for (const [px, py, pv] of pts) { const dd = (x - px) ** 2 + (y - py) ** 2; if (dd < best) { best = dd; v = pv; } }
        out[y * w + x] = v;
      }
    }
    return out;
  }
  if (kind === 'blotches') {
    const n = fbm(rng, h, w, rng.uniform(16, 64));
    const t = rng.uniform(0.4, 0.6);
    for (let i = 0; i < out.length; i++) out[i] = n[i]! > t ? 1 : 0.2 * n[i]!;
    return out;
  }
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const u = (x * ca + y * sa) / period + 2 * warp[y * w + x]!;
      const v = (-x * sa + y * ca) / period;
      out[y * w + x] = kind === 'stripes' ? 0.5 + 0.5 * Math.sin(2 * Math.PI * u) : (Math.floor(u) + Math.floor(v)) % 2 === 0 ? 1 : 0;
    }
  }
  return out;
}

/** Texture `index` of the procedural source: a field mapped between two random colours, plus grain. */
export function proceduralTexture(index: number, height: number, width: number, seed = 0): Uint8Array {
  const rng = mulberry32(deriveSeed(seed, 'draem-procedural', index));
  const kind = PROCEDURAL_KINDS[index % PROCEDURAL_KINDS.length]!;
  const f = field(kind, rng, height, width);
  const c0 = [rng.next(), rng.next(), rng.next()], c1 = [rng.next(), rng.next(), rng.next()];
  const grain = rng.uniform(0, 0.15);
  const out = new Uint8Array(3 * height * width);
  for (let p = 0; p < f.length; p++) {
    const g = grain * (rng.next() - 0.5);
    for (let c = 0; c < 3; c++) out[p * 3 + c] = Math.max(0, Math.min(255, Math.round(255 * (c0[c]! + (c1[c]! - c0[c]!) * f[p]! + g))));
  }
  return out;
}

export function proceduralSource(): AnomalySource {
  const cache = new TextureCache();
  return {
    size: PROCEDURAL_COUNT,
    description: `procedural textures (${PROCEDURAL_KINDS.join(', ')}; the paper's numbers need DTD)`,
    get: async (index, height, width) => cache.get(`${index}:${height}x${width}`) ?? cache.set(`${index}:${height}x${width}`, proceduralTexture(index, height, width)),
  };
}

/** Decoded/generated textures by index and size, least recently added dropped past 64 MB (per worker). */
class TextureCache {
  readonly #map = new Map<string, Uint8Array>();
  #bytes = 0;
  constructor(readonly maxBytes = 64 << 20) {}

  get(key: string): Uint8Array | undefined { return this.#map.get(key); }

  set(key: string, value: Uint8Array): Uint8Array {
    while (this.#map.size > 0 && this.#bytes + value.length > this.maxBytes) {
      const [k, v] = this.#map.entries().next().value!;
      this.#map.delete(k);
      this.#bytes -= v.length;
    }
    this.#map.set(key, value);
    this.#bytes += value.length;
    return value;
  }
}
