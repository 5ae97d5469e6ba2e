import { readImage, readMask, type ReadMaskOptions } from '../image/decode.js';
import type { ColourMode, Image } from '../image/types.js';
import { deriveSeed, mulberry32 } from '../random.js';
import { applyPipeline, type Sample, type TransformSpec } from '../transforms/pipeline.js';

export interface LoaderItem {
  path: string;
  /** Class or anomaly label; -1 in the batch when absent. */
  label?: number;
  /** Ground-truth mask (0/255 PNG); items without one get an all-zero mask when masks are on. */
  maskPath?: string;
}

/** Everything a worker needs to turn an item into a tensor-ready sample; plain data only. */
export interface SampleJob {
  item: LoaderItem;
  /** Position of the item in the dataset (seeds its random transforms together with the epoch). */
  index: number;
  epoch: number;
  /** Apply spec[from, to) of the pipeline. */
  from: number;
  to: number;
  /** Set when `from > 0`: the cached output of spec[0, from). */
  input?: Sample;
}

export interface SampleConfig {
  transforms: TransformSpec[];
  mode: ColourMode;
  masks: boolean;
  mask: ReadMaskOptions;
  seed: number;
  /** Decode larger images at a reduced size (DecodeOptions.maxPixels, minSide); their masks alike. */
  maxPixels?: number;
  minSide?: number;
}

/** Per-sample random stream: depends only on (seed, epoch, index), not on worker scheduling. */
export function sampleRng(seed: number, epoch: number, index: number): ReturnType<typeof mulberry32> {
  return mulberry32(deriveSeed(seed, 'sample', epoch, index));
}

/** Decodes (when no cached input) and applies spec[from, to). */
export async function runSampleJob(job: SampleJob, cfg: SampleConfig): Promise<Sample> {
  let sample: Sample;
  if (job.input) {
    sample = job.input;
  } else {
    const limit = cfg.maxPixels !== undefined ? { maxPixels: cfg.maxPixels, minSide: cfg.minSide ?? 1 } : {};
    const image = await readImage(job.item.path, { mode: cfg.mode, ...limit });
    sample = { image };
    if (cfg.masks) sample.mask = await loadMaskImage(job.item, image, { ...cfg.mask, ...limit });
  }
  const ops = cfg.transforms.slice(job.from, job.to);
  if (ops.length === 0) return sample;
  return applyPipeline(sample, ops, sampleRng(cfg.seed, job.epoch, job.index));
}

async function loadMaskImage(item: LoaderItem, image: Image, opts: ReadMaskOptions): Promise<Image> {
  const data = new Float32Array(image.height * image.width);
  if (item.maskPath !== undefined) {
    const m = await readMask(item.maskPath, image.width, image.height, opts);
    for (let i = 0; i < m.length; i++) data[i] = m[i]!;
  }
  return { data, channels: 1, height: image.height, width: image.width };
}
