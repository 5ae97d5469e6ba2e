// Pixel-level metrics over many score maps: AUROC, AP, F1-max, operating points and AUPRO,
// exact under ties (every distinct float32 value is its own threshold, as in scikit-learn).
//
// Storage is typed arrays only. Each score's float32 bits are mapped to an order-preserving
// uint32 key. Normal pixels (usually the vast majority) go into 65536 buckets by the key's high 16
// bits and keep only the low 16 bits (2 bytes per pixel); anomalous pixels keep the full key (and
// their region id for AUPRO) and are radix-sorted at compute(). compute() then walks the buckets
// from the highest key down, counting distinct values per bucket, and feeds one Sweep.
import { labelComponents } from './components.js';
import { type BinaryMetrics, type OperatingPointOptions, Sweep, checkRates, singleClassError } from './ranking.js';

export interface PixelMetricOptions extends OperatingPointOptions {
  /** Map size; required for AUPRO, otherwise only used to check every add(). */
  width?: number;
  height?: number;
  /** Also compute AUPRO (needs width and height). */
  aupro?: boolean;
  /** Upper FPR limit of the AUPRO integral; default 0.3 as in the MVTec AD paper. */
  auproMaxFpr?: number;
}

export interface PixelMetrics extends BinaryMetrics {
  images: number;
  /** Present when AUPRO was requested: normalised area under the PRO curve on [0, auproMaxFpr]. */
  aupro?: number;
  auproMaxFpr?: number;
  /** Number of connected anomalous regions (8-connectivity) over all masks. */
  regions?: number;
}

const EMPTY16 = new Uint16Array(0);
// A bucket with at least this many normal pixels is counted with a 65536-entry table instead of sorted.
const DENSE = 4096;

const convU32 = new Uint32Array(1);
const convF32 = new Float32Array(convU32.buffer);

function keyToFloat(key: number): number {
  convU32[0] = key & 0x80000000 ? key & 0x7fffffff : ~key;
  return convF32[0];
}

/** Streaming pixel metrics: add() each score map with its ground-truth mask, then compute(). */
export class PixelMetricAccumulator {
  private readonly buckets: Uint16Array[] = new Array<Uint16Array>(65536).fill(EMPTY16);
  private readonly bucketLen = new Uint32Array(65536);
  private negatives = 0;
  private posKeys: Uint32Array = new Uint32Array(1024);
  private posRegion: Uint32Array | undefined;
  private positives = 0;
  private invArea: Float64Array | undefined;
  private regions = 0;
  private imageCount = 0;
  private readonly width: number | undefined;
  private readonly height: number | undefined;
  private readonly maxFpr: number;
  private readonly fprTargets: number[];
  private readonly tprTargets: number[];

  constructor(readonly options: PixelMetricOptions = {}) {
    const { width, height } = options;
    if ((width === undefined) !== (height === undefined)) throw new Error('PixelMetricAccumulator: give both width and height, or neither');
    if (width !== undefined && height !== undefined) {
      if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0) {
        throw new Error(`PixelMetricAccumulator: width and height must be positive integers; got ${width} x ${height}`);
      }
    }
    this.width = width;
    this.height = height;
    if (options.aupro) {
      if (width === undefined) throw new Error('PixelMetricAccumulator: aupro needs width and height (to find connected regions in the masks)');
      this.posRegion = new Uint32Array(1024);
      this.invArea = new Float64Array(64);
    }
    this.maxFpr = options.auproMaxFpr ?? 0.3;
    if (!(this.maxFpr > 0 && this.maxFpr <= 1)) throw new Error(`PixelMetricAccumulator: auproMaxFpr must be in (0, 1]; got ${this.maxFpr}`);
    this.fprTargets = checkRates(options.tprAtFpr, 'PixelMetricAccumulator: tprAtFpr');
    this.tprTargets = checkRates(options.tnrAtTpr, 'PixelMetricAccumulator: tnrAtTpr');
  }

  /** Pixels added so far. */
  get pixels(): number {
    return this.negatives + this.positives;
  }

  get images(): number {
    return this.imageCount;
  }

  /** Anomalous (mask ≠ 0) pixels added so far. */
  get positivePixels(): number {
    return this.positives;
  }

  /** Normal (mask = 0) pixels added so far. */
  get negativePixels(): number {
    return this.negatives;
  }

  /** Adds one score map (float32) and its mask (0 normal, any other value anomalous). */
  add(scores: Float32Array, mask: Uint8Array): void {
    const image = this.imageCount;
    if (!(scores instanceof Float32Array)) {
      throw new Error(`PixelMetricAccumulator.add (image ${image}): scores must be a Float32Array (convert with Float32Array.from(...))`);
    }
    if (!(mask instanceof Uint8Array)) throw new Error(`PixelMetricAccumulator.add (image ${image}): mask must be a Uint8Array`);
    const n = scores.length;
    if (mask.length !== n) {
      throw new Error(`PixelMetricAccumulator.add (image ${image}): scores has ${n} pixels but mask has ${mask.length}; they must match`);
    }
    if (this.width !== undefined && n !== this.width * this.height!) {
      throw new Error(`PixelMetricAccumulator.add (image ${image}): map has ${n} pixels, expected width * height = ${this.width} * ${this.height}`);
    }
    const bits = new Uint32Array(scores.buffer, scores.byteOffset, n);
    // Check first so a bad map leaves the accumulator untouched.
    let pos = 0;
    for (let i = 0; i < n; i++) {
      if (mask[i] !== 0) pos++;
      if ((bits[i] & 0x7f800000) === 0x7f800000) {
        const where = this.width !== undefined ? ` (x=${i % this.width}, y=${Math.floor(i / this.width)})` : '';
        throw new Error(`PixelMetricAccumulator.add (image ${image}): score at pixel ${i}${where} is ${scores[i]}; scores must be finite`);
      }
    }
    let labels: Int32Array | undefined;
    let regionBase = 0;
    if (this.posRegion !== undefined) {
      const c = labelComponents(mask, this.width!, this.height!);
      labels = c.labels;
      regionBase = this.regions;
      this.ensureRegions(regionBase + c.count);
      const inv = this.invArea!;
      for (let k = 0; k < c.count; k++) inv[regionBase + k] = 1 / c.areas[k];
      this.regions += c.count;
    }
    this.ensurePositives(this.positives + pos);

    const buckets = this.buckets;
    const lens = this.bucketLen;
    const posKeys = this.posKeys;
    const posRegion = this.posRegion;
    let np = this.positives;
    for (let i = 0; i < n; i++) {
      let b = bits[i];
      if (b === 0x80000000) b = 0; // -0 and +0 are one value
      const key = b & 0x80000000 ? ~b >>> 0 : (b | 0x80000000) >>> 0;
      if (mask[i] === 0) {
        const hi = key >>> 16;
        let buf = buckets[hi];
        const len = lens[hi];
        if (len === buf.length) buf = this.grow(hi, len);
        buf[len] = key & 0xffff;
        lens[hi] = len + 1;
      } else {
        posKeys[np] = key;
        if (posRegion !== undefined) posRegion[np] = regionBase + labels![i] - 1;
        np++;
      }
    }
    this.negatives += n - pos;
    this.positives = np;
    this.imageCount++;
  }

  private grow(hi: number, len: number): Uint16Array {
    const next = new Uint16Array(len < 16 ? 16 : len * 2);
    next.set(this.buckets[hi]);
    this.buckets[hi] = next;
    return next;
  }

  private ensurePositives(need: number): void {
    if (need <= this.posKeys.length) return;
    const cap = Math.max(need, this.posKeys.length * 2);
    const k = new Uint32Array(cap);
    k.set(this.posKeys.subarray(0, this.positives));
    this.posKeys = k;
    if (this.posRegion !== undefined) {
      const r = new Uint32Array(cap);
      r.set(this.posRegion.subarray(0, this.positives));
      this.posRegion = r;
    }
  }

  private ensureRegions(need: number): void {
    const inv = this.invArea!;
    if (need <= inv.length) return;
    const next = new Float64Array(Math.max(need, inv.length * 2));
    next.set(inv);
    this.invArea = next;
  }

  // LSD radix sort of the anomalous keys (two 16-bit passes), carrying the region ids along.
  private sortPositives(): void {
    const n = this.positives;
    let keys = this.posKeys;
    let regs = this.posRegion;
    let keys2: Uint32Array = new Uint32Array(keys.length);
    let regs2: Uint32Array | undefined = regs !== undefined ? new Uint32Array(regs.length) : undefined;
    const count = new Uint32Array(65536);
    for (let shift = 0; shift < 32; shift += 16) {
      count.fill(0);
      for (let i = 0; i < n; i++) count[(keys[i] >>> shift) & 0xffff]++;
      let sum = 0;
      for (let d = 0; d < 65536; d++) {
        const c = count[d];
        count[d] = sum;
        sum += c;
      }
      for (let i = 0; i < n; i++) {
        const d = (keys[i] >>> shift) & 0xffff;
        const to = count[d]++;
        keys2[to] = keys[i];
        if (regs !== undefined) regs2![to] = regs[i];
      }
      [keys, keys2] = [keys2, keys];
      if (regs !== undefined) [regs, regs2] = [regs2!, regs];
    }
    this.posKeys = keys;
    this.posRegion = regs;
  }

  compute(): PixelMetrics {
    const P = this.positives;
    const N = this.negatives;
    if (P === 0 || N === 0) throw singleClassError('pixel metrics (AUROC, AP, AUPRO)', P, N, 'pixels');
    const withPro = this.posRegion !== undefined;
    const sweep = new Sweep(P, N, {
      fprTargets: this.fprTargets,
      tprTargets: this.tprTargets,
      auproRegions: withPro ? this.regions : undefined,
      auproMaxFpr: this.maxFpr,
    });
    this.sortPositives();
    const posKeys = this.posKeys;
    const posRegion = this.posRegion;
    const invArea = this.invArea;
    const lens = this.bucketLen;
    const cnt = new Uint32Array(65536);
    let p = P - 1; // positives are ascending; walk them from the top
    for (let hi = 65535; hi >= 0; hi--) {
      const len = lens[hi];
      let pEnd = p;
      while (pEnd >= 0 && posKeys[pEnd] >>> 16 === hi) pEnd--;
      if (len === 0 && pEnd === p) continue;
      const base = (hi << 16) >>> 0;
      const buf = this.buckets[hi];
      if (len >= DENSE) {
        for (let j = 0; j < len; j++) cnt[buf[j]]++;
        for (let lo = 65535; lo >= 0; lo--) {
          const neg = cnt[lo];
          let pos = 0;
          let w = 0;
          while (p > pEnd && (posKeys[p] & 0xffff) === lo) {
            pos++;
            if (posRegion !== undefined) w += invArea![posRegion[p]];
            p--;
          }
          if (neg !== 0 || pos !== 0) {
            cnt[lo] = 0;
            sweep.push(keyToFloat(base + lo), neg, pos, w);
          }
        }
      } else {
        const sub = buf.subarray(0, len);
        sub.sort();
        let j = len - 1;
        while (j >= 0 || p > pEnd) {
          const ln = j >= 0 ? sub[j] : -1;
          const lp = p > pEnd ? posKeys[p] & 0xffff : -1;
          const lo = ln > lp ? ln : lp;
          let neg = 0;
          while (j >= 0 && sub[j] === lo) {
            neg++;
            j--;
          }
          let pos = 0;
          let w = 0;
          while (p > pEnd && (posKeys[p] & 0xffff) === lo) {
            pos++;
            if (posRegion !== undefined) w += invArea![posRegion[p]];
            p--;
          }
          sweep.push(keyToFloat(base + lo), neg, pos, w);
        }
      }
    }
    const out: PixelMetrics = { ...sweep.result(), images: this.imageCount };
    if (withPro) {
      out.aupro = sweep.auproResult();
      out.auproMaxFpr = this.maxFpr;
      out.regions = this.regions;
    }
    return out;
  }
}

/** Score maps as a list of per-image maps, or one concatenated array. */
export type ScoreMaps = Float32Array | readonly Float32Array[];
export type MaskSet = Uint8Array | readonly Uint8Array[];

/** Pixel metrics over all pixels of all maps in one call; see PixelMetricAccumulator. */
export function pixelMetrics(maps: ScoreMaps, masks: MaskSet, options: PixelMetricOptions = {}): PixelMetrics {
  const acc = new PixelMetricAccumulator(options);
  const m = splitMaps(maps, 'maps', options);
  const k = splitMaps(masks, 'masks', options);
  if (m.length !== k.length) throw new Error(`pixelMetrics: got ${m.length} score maps but ${k.length} masks; they must match one to one`);
  for (let i = 0; i < m.length; i++) acc.add(m[i] as Float32Array, k[i] as Uint8Array);
  return acc.compute();
}

/** AUPRO (MVTec AD definition) over a set of width x height maps. */
export function aupro(maps: ScoreMaps, masks: MaskSet, width: number, height: number, maxFpr = 0.3): number {
  return pixelMetrics(maps, masks, { width, height, aupro: true, auproMaxFpr: maxFpr }).aupro!;
}

function splitMaps<T extends Float32Array | Uint8Array>(x: T | readonly T[], field: string, o: PixelMetricOptions): readonly T[] {
  if (!ArrayBuffer.isView(x)) return x as readonly T[];
  const one = x as T;
  if (o.width === undefined || o.height === undefined) return [one];
  const size = o.width * o.height;
  if (one.length % size !== 0) {
    throw new Error(`pixelMetrics: ${field} has ${one.length} values, not a multiple of width * height = ${size}`);
  }
  const out: T[] = [];
  for (let s = 0; s < one.length; s += size) out.push(one.subarray(s, s + size) as T);
  return out;
}
