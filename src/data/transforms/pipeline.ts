import { toGray, toRgb } from '../image/colour.js';
import { checkImage, type Image } from '../image/types.js';
import type { Rng } from '../random.js';
import { centerCrop, crop, horizontalFlip, randomCropWindow } from './geometry.js';
import { normalize } from './normalize.js';
import { resize, type Interpolation } from './resize.js';

/**
 * Transforms as plain data, so a pipeline can be sent to worker threads, saved in a config and
 * compared. Example (PatchCore-style evaluation):
 * `[{op:'resize',size:256},{op:'centerCrop',size:224},{op:'normalize',mean:IMAGENET_MEAN,std:IMAGENET_STD}]`
 */
export type TransformSpec =
  | { op: 'resize'; size: number | [number, number]; interpolation?: Interpolation; antialias?: boolean; precision?: 'uint8' | 'float' }
  | { op: 'centerCrop'; size: number | [number, number] }
  | { op: 'randomCrop'; size: number | [number, number]; padding?: number }
  | { op: 'randomHorizontalFlip'; p?: number }
  | { op: 'normalize'; mean: number[]; std: number[] }
  | { op: 'toGray'; precision?: 'uint8' | 'float' }
  | { op: 'toRgb' };

const FIELDS: Record<TransformSpec['op'], { required: string[]; optional: string[] }> = {
  resize: { required: ['size'], optional: ['interpolation', 'antialias', 'precision'] },
  centerCrop: { required: ['size'], optional: [] },
  randomCrop: { required: ['size'], optional: ['padding'] },
  randomHorizontalFlip: { required: [], optional: ['p'] },
  normalize: { required: ['mean', 'std'], optional: [] },
  toGray: { required: [], optional: ['precision'] },
  toRgb: { required: [], optional: [] },
};

/** Checks a JSON value is a valid pipeline; every problem is reported with its index and field. */
export function parsePipeline(value: unknown, where = 'transforms'): TransformSpec[] {
  if (!Array.isArray(value)) throw new Error(`${where}: must be an array of {op: ...} objects`);
  const issues: string[] = [];
  value.forEach((t: unknown, i) => {
    if (typeof t !== 'object' || t === null) {
      issues.push(`[${i}] is not an object`);
      return;
    }
    const op = (t as { op?: unknown }).op;
    if (typeof op !== 'string' || !(op in FIELDS)) {
      issues.push(`[${i}].op '${String(op)}' is unknown (use ${Object.keys(FIELDS).join(', ')})`);
      return;
    }
    const f = FIELDS[op as TransformSpec['op']];
    for (const k of f.required) if (!(k in t)) issues.push(`[${i}] (${op}) is missing '${k}'`);
    for (const k of Object.keys(t)) if (k !== 'op' && !f.required.includes(k) && !f.optional.includes(k)) issues.push(`[${i}] (${op}) has unknown field '${k}'`);
  });
  if (issues.length > 0) throw new Error(`${where}: invalid pipeline:\n  ${issues.join('\n  ')}`);
  return value as TransformSpec[];
}

export function isRandomOp(t: TransformSpec): boolean {
  return t.op === 'randomCrop' || t.op === 'randomHorizontalFlip';
}

/** Length of the leading part of the pipeline that has no random op (its result can be cached). */
export function deterministicPrefix(spec: readonly TransformSpec[]): number {
  const i = spec.findIndex(isRandomOp);
  return i < 0 ? spec.length : i;
}

export interface Sample {
  image: Image;
  /** Binary mask as a 1-channel image with values 0/1; follows the geometric ops only. */
  mask?: Image;
}

/**
 * Applies the ops in order. Random ops draw from `rng` once per sample and apply the same
 * parameters to the mask. Masks are resized with nearest neighbour (anomalib's choice), so they stay binary.
 */
export function applyPipeline(sample: Sample, spec: readonly TransformSpec[], rng: Rng): Sample {
  let { image, mask } = sample;
  checkImage(image, 'applyPipeline');
  for (const t of spec) {
    switch (t.op) {
      case 'resize':
        image = resize(image, t.size, { interpolation: t.interpolation, antialias: t.antialias, precision: t.precision });
        if (mask) mask = resize(mask, t.size, { interpolation: 'nearest', precision: 'float' });
        break;
      case 'centerCrop':
        image = centerCrop(image, t.size);
        if (mask) mask = centerCrop(mask, t.size);
        break;
      case 'randomCrop': {
        const win = randomCropWindow(image.height, image.width, t.size, t.padding ?? 0, rng);
        image = crop(image, win.top, win.left, win.height, win.width);
        if (mask) mask = crop(mask, win.top, win.left, win.height, win.width);
        break;
      }
      case 'randomHorizontalFlip':
        if (rng.next() < (t.p ?? 0.5)) {
          image = horizontalFlip(image);
          if (mask) mask = horizontalFlip(mask);
        }
        break;
      case 'normalize':
        image = normalize(image, t.mean, t.std);
        break;
      case 'toGray':
        image = toGray(image, { precision: t.precision });
        break;
      case 'toRgb':
        image = toRgb(image);
        break;
      default: {
        const never: never = t;
        throw new Error(`unknown transform ${JSON.stringify(never)}`);
      }
    }
  }
  return mask ? { image, mask } : { image };
}
