import { availableParallelism } from 'node:os';
import type { ReadMaskOptions } from '../image/decode.js';
import type { ColourMode } from '../image/types.js';
import { deriveSeed, mulberry32, permutation } from '../random.js';
import { deterministicPrefix, parsePipeline, type Sample, type TransformSpec } from '../transforms/pipeline.js';
import { cloneSample, WorkerPool, type JobResult } from './pool.js';
import { runSampleJob, type LoaderItem, type SampleConfig, type SampleJob } from './sample.js';

export interface LoaderOptions {
  batchSize: number;
  /** JSON-able pipeline, e.g. [{op:'resize',size:256},{op:'centerCrop',size:224}]. Default: none. */
  transforms?: TransformSpec[];
  /** Default 'rgb'. */
  mode?: ColourMode;
  /** Reshuffle every epoch with a permutation seeded by (seed, epoch). Default false. */
  shuffle?: boolean;
  /** Seeds shuffling and random transforms. Default 0. */
  seed?: number;
  /** Drop a last batch smaller than batchSize. Default false. */
  dropLast?: boolean;
  /** Decoding worker threads; 0 decodes on the main thread. Default min(2, cores). */
  workers?: number;
  /** Batches decoded ahead of the one being consumed. Default 2. */
  prefetch?: number;
  /**
   * Keep each item's decoded image (after the leading non-random transforms) in memory, so a
   * small dataset is decoded once and not every epoch. Default false.
   */
  cache?: boolean;
  /** Skip files that cannot be read (reported through onWarning, counted in `skipped`) instead of throwing. */
  skipUnreadable?: boolean;
  onWarning?: (message: string) => void;
  /** Return masks (N×H×W, 0/1). Default: true when any item has a maskPath. */
  masks?: boolean;
  /** How masks are read: resize when their size differs, threshold. See readMask. */
  maskOptions?: ReadMaskOptions;
  /** Decode images of more pixels at a reduced size (DecodeOptions.maxPixels, minSide). Default: no limit. */
  maxPixels?: number;
  minSide?: number;
}

export interface Batch {
  /** N×C×H×W, row-major. */
  images: Float32Array;
  shape: [number, number, number, number];
  /** N×H×W, 0/1; present when masks are on. */
  masks?: Uint8Array;
  /** Item labels; -1 where an item has none. */
  labels: Int32Array;
  paths: string[];
  /** Positions of the samples in the item list. */
  indices: number[];
}

/**
 * Batches over a list of image files: decode + transform (in worker threads), seeded shuffling
 * per epoch, prefetching, optional in-memory cache. Random transforms draw from a stream seeded
 * by (seed, epoch, item index), so batches are identical whatever the number of workers.
 *
 * ```ts
 * const loader = new ImageLoader(items, { batchSize: 32, transforms, shuffle: true, seed: 1 });
 * for await (const batch of loader.epoch(0)) { ... }
 * await loader.close();
 * ```
 */
export class ImageLoader {
  readonly items: readonly LoaderItem[];
  /** Files skipped so far (skipUnreadable), with the reason; each file is reported once. */
  readonly skipped: Array<{ path: string; reason: string }> = [];
  private readonly opts: Required<Omit<LoaderOptions, 'onWarning' | 'maskOptions' | 'transforms' | 'masks' | 'maxPixels' | 'minSide'>>;
  private readonly cfg: SampleConfig;
  private readonly prefix: number;
  private readonly cache = new Map<number, Sample>();
  private readonly bad = new Set<number>();
  private readonly warn: (message: string) => void;
  private pool: WorkerPool | null = null;

  constructor(items: readonly LoaderItem[], options: LoaderOptions) {
    if (!Array.isArray(items)) throw new Error('ImageLoader: items must be an array of { path, label?, maskPath? }');
    items.forEach((it, i) => {
      if (typeof it?.path !== 'string' || it.path === '') throw new Error(`ImageLoader: items[${i}].path must be a non-empty string`);
      if (it.label !== undefined && !Number.isInteger(it.label)) throw new Error(`ImageLoader: items[${i}].label must be an integer (${it.path})`);
    });
    const int = (name: string, v: number | undefined, dflt: number, min: number): number => {
      const x = v ?? dflt;
      if (!Number.isInteger(x) || x < min) throw new Error(`ImageLoader: ${name} must be an integer >= ${min}, got ${String(v)}`);
      return x;
    };
    this.items = items;
    this.opts = {
      batchSize: int('batchSize', options.batchSize, 0, 1),
      mode: options.mode ?? 'rgb',
      shuffle: options.shuffle ?? false,
      seed: int('seed', options.seed, 0, 0),
      dropLast: options.dropLast ?? false,
      workers: int('workers', options.workers, Math.min(2, availableParallelism()), 0),
      prefetch: int('prefetch', options.prefetch, 2, 0),
      cache: options.cache ?? false,
      skipUnreadable: options.skipUnreadable ?? false,
    };
    const transforms = parsePipeline(options.transforms ?? [], 'ImageLoader transforms');
    this.cfg = {
      transforms,
      mode: this.opts.mode,
      masks: options.masks ?? items.some((it) => it.maskPath !== undefined),
      mask: options.maskOptions ?? {},
      seed: this.opts.seed,
      ...(options.maxPixels !== undefined ? { maxPixels: options.maxPixels, minSide: options.minSide ?? 1 } : {}),
    };
    this.prefix = deterministicPrefix(transforms);
    this.warn = options.onWarning ?? ((m) => process.emitWarning(m, 'ImageLoaderWarning'));
  }

  get skippedCount(): number {
    return this.skipped.length;
  }

  /** Number of batches in an epoch (before any unreadable file is skipped). */
  get length(): number {
    const n = this.items.length;
    return this.opts.dropLast ? Math.floor(n / this.opts.batchSize) : Math.ceil(n / this.opts.batchSize);
  }

  /** Item order of an epoch: a seeded permutation when shuffling, else 0..n-1. */
  order(epoch: number): number[] {
    const n = this.items.length;
    if (!this.opts.shuffle) return Array.from({ length: n }, (_, i) => i);
    return permutation(n, mulberry32(deriveSeed(this.opts.seed, 'shuffle', epoch)));
  }

  /**
   * One pass. `order` replaces the epoch's item order (e.g. indices drawn with replacement);
   * random transforms stay seeded by (seed, epoch, item index).
   */
  async *epoch(epoch = 0, options: { order?: readonly number[] } = {}): AsyncGenerator<Batch, void, undefined> {
    if (!Number.isInteger(epoch) || epoch < 0) throw new Error(`ImageLoader.epoch: epoch must be a non-negative integer, got ${epoch}`);
    const n = this.items.length;
    if (options.order && !options.order.every((i) => Number.isInteger(i) && i >= 0 && i < n)) throw new Error(`ImageLoader.epoch: order must hold item indices in [0, ${n})`);
    const order = options.order ? [...options.order] : this.order(epoch);
    const bs = this.opts.batchSize;
    const groups: number[][] = [];
    for (let i = 0; i < order.length; i += bs) {
      const g = order.slice(i, i + bs);
      if (g.length < bs && this.opts.dropLast) break;
      groups.push(g);
    }
    const pending: Array<Array<Promise<JobResult>>> = [];
    const schedule = (upTo: number): void => {
      for (let b = pending.length; b <= Math.min(upTo, groups.length - 1); b++) pending.push(groups[b]!.map((i) => this.load(i, epoch)));
    };
    for (let b = 0; b < groups.length; b++) {
      schedule(b + this.opts.prefetch);
      const results = await Promise.all(pending[b]!);
      const batch = this.assemble(groups[b]!, results);
      if (batch !== null) yield batch;
    }
  }

  /** Loads one item through the whole pipeline; never rejects (failures are results). */
  private async load(index: number, epoch: number): Promise<JobResult> {
    const item = this.items[index]!;
    const full = this.cfg.transforms.length;
    if (!this.opts.cache) return this.run({ item, index, epoch, from: 0, to: full });
    let base = this.cache.get(index);
    if (base === undefined) {
      const r = await this.run({ item, index, epoch, from: 0, to: this.prefix });
      if (!r.ok) return r;
      base = r.sample;
      this.cache.set(index, base);
    }
    if (this.prefix === full) return { ok: true, sample: cloneSample(base) };
    return this.run({ item, index, epoch, from: this.prefix, to: full, input: this.opts.workers === 0 ? cloneSample(base) : base });
  }

  private async run(job: SampleJob): Promise<JobResult> {
    if (this.opts.workers === 0) {
      try {
        return { ok: true, sample: await runSampleJob(job, this.cfg) };
      } catch (e) {
        return { ok: false, message: e instanceof Error ? e.message : String(e) };
      }
    }
    this.pool ??= new WorkerPool(this.opts.workers, this.cfg);
    return this.pool.run(job);
  }

  private assemble(indices: number[], results: JobResult[]): Batch | null {
    const kept: Array<{ index: number; sample: Sample }> = [];
    results.forEach((r, k) => {
      const index = indices[k]!;
      if (r.ok) {
        kept.push({ index, sample: r.sample });
        return;
      }
      const path = this.items[index]!.path;
      if (!this.opts.skipUnreadable) throw new Error(`ImageLoader: ${r.message}${r.message.includes(path) ? '' : ` (item ${path})`}; pass skipUnreadable: true to skip such files`);
      if (!this.bad.has(index)) {
        this.bad.add(index);
        this.skipped.push({ path, reason: r.message });
        this.warn(`ImageLoader: skipping ${path}: ${r.message}`);
      }
    });
    if (kept.length === 0) return null;
    const first = kept[0]!.sample.image;
    const { channels: c, height: h, width: w } = first;
    const per = c * h * w;
    const images = new Float32Array(kept.length * per);
    const masks = this.cfg.masks ? new Uint8Array(kept.length * h * w) : undefined;
    kept.forEach(({ index, sample }, k) => {
      const im = sample.image;
      if (im.channels !== c || im.height !== h || im.width !== w) {
        throw new Error(
          `ImageLoader: ${this.items[index]!.path} gives a ${im.channels}x${im.height}x${im.width} sample but ` +
            `${this.items[kept[0]!.index]!.path} gives ${c}x${h}x${w}; add resize/centerCrop transforms so all samples have one size`,
        );
      }
      images.set(im.data, k * per);
      if (masks && sample.mask) {
        const md = sample.mask.data;
        for (let i = 0; i < h * w; i++) masks[k * h * w + i] = md[i]! > 0.5 ? 1 : 0;
      }
    });
    const batch: Batch = {
      images,
      shape: [kept.length, c, h, w],
      labels: Int32Array.from(kept, ({ index }) => this.items[index]!.label ?? -1),
      paths: kept.map(({ index }) => this.items[index]!.path),
      indices: kept.map(({ index }) => index),
    };
    if (masks) batch.masks = masks;
    return batch;
  }

  /** Stops the worker threads. The loader can still be used afterwards (workers restart). */
  async close(): Promise<void> {
    const p = this.pool;
    this.pool = null;
    if (p) await p.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
