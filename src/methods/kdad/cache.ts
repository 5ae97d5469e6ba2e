// The teacher-output cache ("smart path"). The teacher is frozen and the authors train without
// augmentation, so the teacher's loss outputs for a training image are the same every epoch:
// they are computed once, before training, and every step reads them instead of running VGG16
// (the bulk of a step's cost). Rows are keyed by the image's dataset position (ImageBatch.indices);
// a per-image checksum of the pixels guards against a data source whose positions move.
//
// memory: one tensor per output on the training device; disk: one file of rows (the outputs of one
// image, concatenated), read with positioned reads, in a temporary folder removed by dispose().
// float32 rows are the teacher's exact values, so training follows the same trajectory as running
// the teacher every step; float16 halves the size at a rounding error of ~5e-4 relative.
import { closeSync, mkdtempSync, openSync, readSync, rmSync, writeSync } from 'node:fs';
import { totalmem, tmpdir } from 'node:os';
import { join } from 'node:path';
import * as torch from '../../torch/index.js';
import type { Tensor } from '../../torch/index.js';
import { nn } from '../../torch/index.js';
import type { VGG } from '../../models/backbones/index.js';
import type { FitContext, TrainData } from '../types.js';
import type { KdadConfig } from './config.js';
import { forwardTaps } from './network.js';

export type CacheMode = 'memory' | 'disk';

/** Shape (C, h, w) of each tap of a VGG for a side×side input: every max pool halves the side. */
export function tapShapes(net: VGG, taps: readonly string[], side: number): [number, number, number][] {
  const mods = [...net.features];
  return taps.map((t) => {
    let s = side;
    for (let i = 0; i <= Number(t); i++) if (mods[i] instanceof nn.MaxPool2d) s = Math.floor(s / 2);
    return [net.channels[t]!, s, s];
  });
}

/** Where the cache goes for `featureCache`, or null (teacher every step) with the reason. */
export function planCache(c: KdadConfig, bytes: number, device: string, augment: boolean): { mode: CacheMode | null; why: string } {
  if (augment) return { mode: null, why: 'augmentation is on: the teacher sees new images every epoch' };
  if (c.featureCache === 'off') return { mode: null, why: 'model.featureCache is off' };
  if (c.featureCache !== 'auto') return { mode: c.featureCache, why: `model.featureCache is ${c.featureCache}` };
  const budget = (c.featureCacheMemoryMB ?? Math.floor(totalmem() / 4 / 2 ** 20)) * 2 ** 20;
  if (bytes <= budget) return { mode: 'memory', why: `fits the ${(budget / 2 ** 20).toFixed(0)} MB memory budget` };
  if (device === 'cpu') return { mode: 'disk', why: `larger than the ${(budget / 2 ** 20).toFixed(0)} MB memory budget` };
  return { mode: null, why: `larger than the memory budget, and on ${device} running the teacher is faster than reading a disk cache` };
}

const sumsOf = (images: Tensor): Float64Array => torch.tidy(() => images.to('float64').flatten(1).sum([1]).cpu().toTypedArray() as Float64Array);

export class TeacherCache {
  readonly rowElems: number;
  readonly bytes: number;
  readonly #sums: Float64Array;
  readonly #filled: Uint8Array;
  #tensors: Tensor[] | null = null;
  #dir: string | null = null;
  #fd: number | null = null;

  constructor(
    readonly mode: CacheMode, readonly size: number, readonly shapes: [number, number, number][],
    readonly dtype: 'float32' | 'float16', readonly device: string, dir: string | null,
  ) {
    this.rowElems = shapes.reduce((a, [c, h, w]) => a + c * h * w, 0);
    this.bytes = size * this.rowElems * (dtype === 'float16' ? 2 : 4);
    this.#sums = new Float64Array(size);
    this.#filled = new Uint8Array(size);
    if (mode === 'memory') {
      this.#tensors = shapes.map((s) => torch.keep(torch.empty([size, ...s], { dtype, device })));
    } else {
      this.#dir = mkdtempSync(join(dir ?? tmpdir(), 'vigil-kdad-cache-'));
      this.#fd = openSync(join(this.#dir, 'teacher.bin'), 'w+');
    }
  }

  get rowBytes(): number { return this.rowElems * (this.dtype === 'float16' ? 2 : 4); }

  /** Stores the teacher outputs (each B×C×h×w) of the images at `indices`. */
  put(indices: readonly number[], images: Tensor, outputs: readonly Tensor[]): void {
    const sums = sumsOf(images);
    torch.tidy(() => {
      if (this.#tensors) {
        const idx = torch.tensor(Int32Array.from(indices), { dtype: 'int64', device: this.device });
        outputs.forEach((o, l) => this.#tensors![l]!.index_copy_(0, idx, o.to(this.dtype)));
      } else {
        const rows = torch.cat(outputs.map((o) => o.flatten(1)), 1).to({ dtype: this.dtype, device: 'cpu' }).contiguous();
        const bytes = torch.toRaw(rows).data;
        indices.forEach((p, k) => writeSync(this.#fd!, bytes, k * this.rowBytes, this.rowBytes, p * this.rowBytes));
      }
    });
    indices.forEach((p, k) => { this.#sums[p] = sums[k]!; this.#filled[p] = 1; });
  }

  /** The cached outputs of the images at `indices`, each B×C×h×w in `dtype` on the cache's device. */
  get(indices: readonly number[], images: Tensor, dtype: 'float32' | 'float64'): Tensor[] {
    const sums = sumsOf(images);
    indices.forEach((p, k) => {
      const want = this.#sums[p]!;
      if (!this.#filled[p] || Math.abs(sums[k]! - want) > 1e-9 * Math.max(1, Math.abs(want))) {
        throw new Error(`kdad teacher cache: the training image at position ${p} is not the one cached (pixel sum ${sums[k]} vs ${want}); the training data must keep positions stable across epochs, or set model.featureCache=off`);
      }
    });
    return torch.tidy(() => {
      if (this.#tensors) {
        const idx = torch.tensor(Int32Array.from(indices), { dtype: 'int64', device: this.device });
        return this.#tensors.map((t) => t.index_select(0, idx).to(dtype));
      }
      const buf = new Uint8Array(indices.length * this.rowBytes);
      indices.forEach((p, k) => {
        const n = readSync(this.#fd!, buf, k * this.rowBytes, this.rowBytes, p * this.rowBytes);
        if (n !== this.rowBytes) throw new Error(`kdad teacher cache: short read at row ${p} (${n} of ${this.rowBytes} bytes)`);
      });
      const rows = torch.fromRaw({ dtype: this.dtype, shape: [indices.length, this.rowElems], data: buf }, this.device).to(dtype);
      let at = 0;
      return this.shapes.map((s) => {
        const len = s[0] * s[1] * s[2];
        const t = rows.narrow(1, at, len).reshape([indices.length, ...s]);
        at += len;
        return t;
      });
    });
  }

  dispose(): void {
    if (this.#tensors) torch.dispose(this.#tensors);
    this.#tensors = null;
    if (this.#fd !== null) closeSync(this.#fd);
    this.#fd = null;
    if (this.#dir) rmSync(this.#dir, { recursive: true, force: true });
    this.#dir = null;
  }
}

export interface CacheBuild {
  teacher: VGG;
  taps: readonly string[];
  shapes: [number, number, number][];
  /** Images → network inputs (InputAdapter.prepare). */
  prepare(images: Tensor): Tensor;
  batchSize: number;
}

/** One pass over the training set in dataset order, filling the cache; removes it on failure. */
export async function fillCache(cache: TeacherCache, data: TrainData, b: CacheBuild, ctx: FitContext): Promise<void> {
  let done = 0;
  try {
    for await (const batch of data.epoch({ epoch: 0, batchSize: b.batchSize, shuffle: false, sampling: 'sequential' })) {
      ctx.signal?.throwIfAborted();
      if (!batch.indices) throw new Error('kdad teacher cache: the training data gives no image positions (ImageBatch.indices); set model.featureCache=off');
      torch.tidy(() => cache.put(batch.indices!, batch.images, forwardTaps(b.teacher, b.prepare(batch.images), b.taps, false)));
      done += batch.images.shape[0]!;
      ctx.progress('teacher-cache', done, data.size);
      await new Promise<void>((r) => setImmediate(r));
    }
    if (done !== data.size) throw new Error(`kdad teacher cache: the training data yielded ${done} images, its size is ${data.size}`);
  } catch (e) {
    cache.dispose();
    throw e;
  }
}
