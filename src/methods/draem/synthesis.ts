// DRAEM's anomaly simulation, as the authors' MVTecDRAEMTrainDataset (data_loader.py):
//  1. with probability 0.3 the input is rotated by U(−90, 90)° (imgaug Affine, 8-bit);
//  2. an anomaly source (a texture) is augmented by 3 of the 10 augmenters (augmenters.ts);
//  3. Perlin noise with 2^U{0..5} cells per axis is rotated by U(−90, 90)° and thresholded at 0.5: M;
//  4. β = U(0, 1)·0.8 and I_a = I·(1 − M) + (1 − β)·A·M + β·I·M (A = the augmented source / 255);
//  5. with probability 0.5 the sample stays normal (I_a = I, M = 0); has_anomaly = 1 iff M ≠ 0.
// Images are BGR in [0, 1] (cv2.imread / 255), so the authors' checkpoints see what they were
// trained on; channel order matters for the anomaly source (loaded BGR by source.ts) and for the
// two colour augmenters (colour.ts). Every draw comes from a generator seeded by
// deriveSeed(seed, 'draem', epoch, key), key = the sample's position in the epoch: results do not
// depend on batching or worker count.
import { deriveSeed, mulberry32, type Rng } from '../../data/random.js';
import { applyAugmenter, applyLut, channelLuts, chooseAugmenters, composeLuts, histograms, LITTLE_ENDIAN, mapHistograms, neededInput, sampleAugmenter, type AugmenterParams, type Lut } from './augmenters.js';
import type { Need } from './need.js';
import { perlinNoise, randomAngles } from './perlin.js';
import { isIdentity, nearValue, rotateAboveF64, rotationMatrix, warpAffineU8ToPlanar } from './warp.js';
import { openAnomalySource, type AnomalySourceSpec } from './source.js';
import type { AugmentContext, AugmentInput, AugmentOutput } from '../types.js';

/** Everything random about one sample. */
export interface SampleDraws {
  /** Degrees to rotate the input by, or null (probability 0.7). */
  inputRotation: number | null;
  sourceIndex: number;
  augmenters: AugmenterParams[];
  /** Perlin cells along rows and columns, each 2^U{0..5}. */
  perlinScale: [number, number];
  perlinAngles: Float64Array;
  noiseRotation: number;
  beta: number;
  /** False: the sample stays normal (probability 0.5). */
  anomaly: boolean;
}

const LARGEST_BELOW_ONE = 1 - 2 ** -24;
/** torch.rand(1): a float32 in [0, 1). */
const rand32 = (rng: Rng): number => Math.min(Math.fround(rng.next()), LARGEST_BELOW_ONE);

/** float32(v) / 255 in float32 for each 8-bit level (numpy's `image.astype(np.float32) / 255.0`). */
const BY_255 = Float32Array.from({ length: 256 }, (_, v) => v / 255);

/** Draws a sample's randomness (in a fixed order, whatever branch is taken). */
export function drawSample(rng: Rng, sourceCount: number): SampleDraws {
  const rotate = rand32(rng) > 0.7;
  const inputDegrees = rng.uniform(-90, 90);
  const sourceIndex = rng.int(0, sourceCount);
  const augmenters = chooseAugmenters(rng).map((name) => sampleAugmenter(name, rng));
  const perlinScale: [number, number] = [2 ** rng.int(0, 6), 2 ** rng.int(0, 6)];
  const perlinAngles = randomAngles(perlinScale[0], perlinScale[1], rng);
  const noiseRotation = rng.uniform(-90, 90);
  const beta = rand32(rng) * 0.8;
  const anomaly = !(rand32(rng) > 0.5);
  return { inputRotation: rotate ? inputDegrees : null, sourceIndex, augmenters, perlinScale, perlinAngles, noiseRotation, beta, anomaly };
}

/**
 * Per-size buffers reused from sample to sample (each loader worker has its own module instance,
 * and a sample is synthesised synchronously): fresh large arrays cost more to zero and map than
 * the arithmetic that fills them.
 */
interface Scratch { noise: Float64Array; augmented: [Uint8Array, Uint8Array] }
const scratches = new Map<number, Scratch>();
function scratch(n: number): Scratch {
  let s = scratches.get(n);
  if (s === undefined) {
    if (scratches.size > 4) scratches.clear();
    s = { noise: new Float64Array(n), augmented: [new Uint8Array(3 * n), new Uint8Array(3 * n)] };
    scratches.set(n, s);
  }
  return s;
}

/** The thresholded, rotated Perlin mask: the pixels (indices y·W + x, ascending) where it is 1. */
export function perlinMask(height: number, width: number, d: Pick<SampleDraws, 'perlinScale' | 'perlinAngles' | 'noiseRotation'>): Int32Array {
  // The noise flags its 8×8 tiles that hold values near 0.5 as it is made, for the warp to skip the rest.
  const tiles = new Uint8Array((((height - 1) >> 3) + 1) * (((width - 1) >> 3) + 1));
  const noise = perlinNoise(height, width, d.perlinScale[0], d.perlinScale[1], d.perlinAngles, scratch(height * width).noise, { above: nearValue(0.5), tiles });
  return rotateAboveF64(noise, height, width, d.noiseRotation, 0.5, tiles);
}

/**
 * The blend of step 4 with the authors' precisions at the mask's pixels: I is float32 (8-bit / 255),
 * the arithmetic is float64 (their mask and β are), the result is cast to float32. `image` is I,
 * planar (3 × H×W from `offset`), `source` the augmented texture (H×W×3), `under` lists the mask's
 * pixels; the result goes to `out` at the same offset, whose other pixels are left as they are
 * (there I_a = I).
 */
export function blend(image: Float32Array, source: Uint8Array, under: Int32Array, beta: number, out: Float32Array, offset: number): void {
  // Under the mask I·0 + (1 − β)·(A·1 / 255) + β·I·1 = (1 − β)·(A / 255) + β·I, the same float64
  // operations with the zero terms dropped.
  const src = Float64Array.from({ length: 256 }, (_, v) => (1 - beta) * (v / 255));
  const n = source.length / 3, o1 = offset + n, o2 = offset + 2 * n;
  for (let k = 0; k < under.length; k++) {
    const p = under[k]!, i = 3 * p;
    out[offset + p] = src[source[i]!]! + beta * image[offset + p]!;
    out[o1 + p] = src[source[i + 1]!]! + beta * image[o1 + p]!;
    out[o2 + p] = src[source[i + 2]!]! + beta * image[o2 + p]!;
  }
}

/** 8-bit H×W×3 → planar float32 k/255 (3 × H×W from `offset`), into `out` and a copy into `copy`. */
function toPlanar(image: Uint8Array, out: Float32Array, copy: Float32Array, offset: number): void {
  const n = image.length / 3, o1 = offset + n, o2 = offset + 2 * n;
  if (LITTLE_ENDIAN && n % 4 === 0 && image.byteOffset % 4 === 0) {
    // Four pixels from three 32-bit reads: a third of the loads of byte reads, the loop's main cost.
    const words = new Uint32Array(image.buffer, image.byteOffset, (3 * n) >> 2);
    for (let p = 0, i = 0; p < n; p += 4, i += 3) {
      const u = words[i]!, v = words[i + 1]!, w = words[i + 2]!;
      out[offset + p] = BY_255[u & 255]!; out[o1 + p] = BY_255[(u >>> 8) & 255]!; out[o2 + p] = BY_255[(u >>> 16) & 255]!;
      out[offset + p + 1] = BY_255[u >>> 24]!; out[o1 + p + 1] = BY_255[v & 255]!; out[o2 + p + 1] = BY_255[(v >>> 8) & 255]!;
      out[offset + p + 2] = BY_255[(v >>> 16) & 255]!; out[o1 + p + 2] = BY_255[v >>> 24]!; out[o2 + p + 2] = BY_255[w & 255]!;
      out[offset + p + 3] = BY_255[(w >>> 8) & 255]!; out[o1 + p + 3] = BY_255[(w >>> 16) & 255]!; out[o2 + p + 3] = BY_255[w >>> 24]!;
    }
  } else {
    for (let p = 0, i = 0; p < n; p++, i += 3) {
      out[offset + p] = BY_255[image[i]!]!; out[o1 + p] = BY_255[image[i + 1]!]!; out[o2 + p] = BY_255[image[i + 2]!]!;
    }
  }
  // A memcpy costs less than a second store per value.
  copy.set(out.subarray(offset, offset + 3 * n), offset);
}

/** Each anomaly source's per-channel histograms (sources are cached and never written). */
const sourceHistograms = new WeakMap<Uint8Array, Float64Array[]>();
function histogramsOf(source: Uint8Array): Float64Array[] {
  let h = sourceHistograms.get(source);
  if (h === undefined) sourceHistograms.set(source, (h = histograms(source)));
  return h;
}

/**
 * The anomaly source after its augmenters, valid at the pixels `under` (the mask) only. The
 * leading augmenters that map each channel's levels by a table (gamma, solarize, posterize,
 * invert, autocontrast, equalize) compose into one table; the histograms autocontrast and equalize
 * need follow from the source's through the tables before them, so they need not see every pixel.
 * The rest compute only the pixels the next one reads (neededInput, back from the mask). Either
 * way the result is the same where it is used.
 */
function augmentSource(source8: Uint8Array, height: number, width: number, augmenters: AugmenterParams[], under: Int32Array, buffers: [Uint8Array, Uint8Array]): Uint8Array {
  const identity = Uint8Array.from({ length: 256 }, (_, v) => v);
  let table: [Lut, Lut, Lut] = [identity, identity, identity];
  let first = 0;
  for (; first < augmenters.length; first++) {
    const before = table;
    const luts = channelLuts(augmenters[first]!, () => mapHistograms(histogramsOf(source8), before));
    if (luts === null) break;
    table = composeLuts(table, luts);
  }
  // reads[k]: the pixels of augmenter k's input that are used downstream (reads[n]: the mask's).
  const n = augmenters.length;
  const reads: Need[] = new Array<Need>(n + 1).fill(null);
  reads[n] = under;
  for (let k = n - 1; k >= Math.max(first, 1); k--) reads[k] = neededInput(augmenters[k]!, height, width, reads[k + 1] ?? null);
  let src = first === 0 ? source8 : applyLut(source8, table, reads[first] ?? null, buffers[(first + 1) % 2]!);
  // Augmenter k writes into buffer k mod 2 (never the one it reads).
  for (let k = first; k < n; k++) src = applyAugmenter(src, height, width, augmenters[k]!, reads[k + 1] ?? null, buffers[k % 2]!);
  return src;
}

/**
 * One training sample from an 8-bit H×W×3 image and an 8-bit H×W×3 anomaly source (both BGR),
 * written as sample `index` of `out` (planar, as the networks read it).
 */
export function synthesizeSample(image8: Uint8Array, source8: Uint8Array, height: number, width: number, d: SampleDraws, out: SynthesisResult, index: number): void {
  const n = height * width, o3 = index * 3 * n;
  const buffers = scratch(n);
  const turn = d.inputRotation === null ? null : rotationMatrix(d.inputRotation, height, width);
  if (turn !== null && !isIdentity(turn)) warpAffineU8ToPlanar(image8, height, width, turn, BY_255, out.images, out.augmented, o3);
  else toPlanar(image8, out.images, out.augmented, o3);
  const mask = out.masks.subarray(index * n, (index + 1) * n);
  mask.fill(0);
  out.hasAnomaly[index] = 0;
  if (!d.anomaly) return;
  const under = perlinMask(height, width, d);
  if (under.length === 0) return;
  const src = augmentSource(source8, height, width, d.augmenters, under, buffers.augmented);
  blend(out.images, src, under, d.beta, out.augmented, o3);
  for (let k = 0; k < under.length; k++) mask[under[k]!] = 1;
  out.hasAnomaly[index] = 1;
}

/** Room for `n` samples of H × W. */
export function synthesisBuffers(n: number, height: number, width: number): SynthesisResult {
  const hw = height * width;
  return { images: new Float32Array(n * 3 * hw), augmented: new Float32Array(n * 3 * hw), masks: new Float32Array(n * hw), hasAnomaly: new Float32Array(n) };
}

export interface SynthesisBatch {
  /** N×3×H×W float32, BGR, values k/255. */
  images: Float32Array;
  shape: [number, number, number, number];
}

export interface SynthesisContext {
  seed: number;
  epoch: number;
  /** Each sample's seed key, one per image ({@link synthesize} passes its position in the epoch). */
  indices: number[];
}

/** JSON-able: what the loader workers receive. */
export interface SynthesisOptions {
  anomalySource: AnomalySourceSpec;
}

export interface SynthesisResult {
  /** N×3×H×W: the clean targets (rotated where the input was). */
  images: Float32Array;
  /** N×3×H×W: the network inputs. */
  augmented: Float32Array;
  /** N×1×H×W. */
  masks: Float32Array;
  /** N. */
  hasAnomaly: Float32Array;
}

/**
 * Synthesises a batch of training samples (plain typed arrays in and out, so it runs in a loader
 * worker). Sample i draws from mulberry32(deriveSeed(seed, 'draem', epoch, indices[i])). The
 * input is BGR, or RGB with `order` 'rgb' (read in reverse); the output is always BGR.
 */
export async function synthesizeBatch(batch: SynthesisBatch, ctx: SynthesisContext, options: SynthesisOptions, order: ChannelOrder = 'bgr'): Promise<SynthesisResult> {
  const [n, c, h, w] = batch.shape;
  if (c !== 3) throw new Error(`synthesizeBatch: DRAEM needs 3-channel images, got ${c}`);
  if (ctx.indices.length !== n) throw new Error(`synthesizeBatch: ${ctx.indices.length} indices for ${n} images`);
  if (h % 32 !== 0 || w % 32 !== 0) throw new Error(`synthesizeBatch: image size ${h}×${w} must be a multiple of 32`);
  const source = await openAnomalySource(options.anomalySource);
  const hw = h * w;
  const out = synthesisBuffers(n, h, w);
  for (let i = 0; i < n; i++) {
    const d = drawSample(mulberry32(deriveSeed(ctx.seed, 'draem', ctx.epoch, ctx.indices[i]!)), source.size);
    const image8 = chwToHwc8(batch.images, i * 3 * hw, h, w, order);
    const src = d.anomaly ? await source.get(d.sourceIndex, h, w) : image8;
    synthesizeSample(image8, src, h, w, d, out, i);
  }
  return out;
}

/**
 * DRAEM's train-time synthesis as the pipeline runs it in its loader workers
 * (MethodInputs.trainAugment): RGB batches in, the networks' BGR convention out. Sample k draws from
 * (seed, epoch, positions[k]), so an image drawn twice in an epoch (sampling with replacement) gets
 * two different anomalies, as the authors' loader does. Returns, by name (ImageBatch.extra):
 * `image` N×3×H×W (the clean target), `augmented` N×3×H×W (the input), `mask` N×1×H×W, `hasAnomaly` N.
 */
export async function synthesize(batch: AugmentInput, ctx: AugmentContext, options: SynthesisOptions): Promise<AugmentOutput> {
  const [n, c, h, w] = batch.shape;
  const r = await synthesizeBatch({ images: batch.images, shape: [n, c, h, w] }, { seed: ctx.seed, epoch: ctx.epoch, indices: ctx.positions }, options, 'rgb');
  return {
    image: { data: r.images, shape: [n, 3, h, w] },
    augmented: { data: r.augmented, shape: [n, 3, h, w] },
    mask: { data: r.masks, shape: [n, 1, h, w] },
    hasAnomaly: { data: r.hasAnomaly, shape: [n] },
  };
}

export type ChannelOrder = 'bgr' | 'rgb';

/** Planar float [0, 1] → interleaved 8-bit (round, clip); 'rgb' reverses the channels into BGR. */
export function chwToHwc8(src: Float32Array, offset: number, h: number, w: number, order: ChannelOrder = 'bgr'): Uint8Array {
  const hw = h * w;
  const out = new Uint8Array(3 * hw);
  for (let c = 0; c < 3; c++) {
    const plane = offset + (order === 'rgb' ? 2 - c : c) * hw;
    for (let p = 0, i = c; p < hw; p++, i += 3) {
      const v = Math.round(src[plane + p]! * 255);
      out[i] = v < 0 ? 0 : v > 255 ? 255 : v;
    }
  }
  return out;
}
