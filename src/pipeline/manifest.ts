// The schema of model/manifest.json. A run directory is user data: a manifest edited by hand, by
// a script or by a disk error is checked field by field before a single value reaches the model,
// so a bad field is an exit-1 message naming it, never a crash or a silently wrong verdict.
// Unknown keys are kept (a newer Vigil may add some); every key Vigil reads is checked here.
import { z } from 'zod';

/** Largest image side a manifest may ask for (as preprocess.size in the config). */
export const MAX_SIDE = 4096;

const side = z.int().min(1).max(MAX_SIDE);
const size = z.union([side, z.tuple([side, side])], { error: `must be an integer in [1, ${MAX_SIDE}] or a list [height, width] of two` });
const precision = z.enum(['uint8', 'float']);
const stats = z.array(z.number()).min(1).max(3);

/** Evaluation transforms (random ops never reach a manifest). */
const transformSchema = z.discriminatedUnion('op', [
  z.strictObject({
    op: z.literal('resize'),
    size,
    interpolation: z.enum(['nearest', 'bilinear', 'bicubic', 'lanczos', 'box', 'hamming']).optional(),
    antialias: z.boolean().optional(),
    precision: precision.optional(),
  }),
  z.strictObject({ op: z.literal('centerCrop'), size }),
  z.strictObject({ op: z.literal('normalize'), mean: stats, std: z.array(z.number().positive()).min(1).max(3) }),
  z.strictObject({ op: z.literal('toGray'), precision: precision.optional() }),
  z.strictObject({ op: z.literal('toRgb') }),
]);

const mode = z.enum(['rgb', 'gray']);

const preprocessingSchema = z.discriminatedUnion('kind', [
  z.looseObject({ kind: z.literal('files'), mode, transforms: z.array(transformSchema).max(64) }),
  z.looseObject({
    kind: z.literal('arrays'),
    mode,
    size: z.tuple([side, side]),
    gcn: z.enum(['none', 'l1', 'l2']),
    minMax: z.looseObject({ min: z.number(), max: z.number() })
      .refine((m) => m.max > m.min, { message: 'max must be larger than min', path: ['max'] })
      .nullable(),
  }),
]);

const rate = z.number().gt(0).lt(1);
const thresholdInfo = z.looseObject({
  value: z.number(),
  rule: z.enum(['tolerance', 'f1', 'quantile', 'manual', 'quantile-train']),
  samples: z.int().min(0),
  quantile: z.number().min(0).max(1).optional(),
  targetFpr: rate.optional(),
  confidence: rate.optional(),
  model: z.enum(['order-statistic', 'log-gumbel', 'gumbel', 'max']).optional(),
  k: z.number().optional(),
  rank: z.int().min(1).optional(),
});

const normalisation = z.looseObject({ threshold: z.number(), min: z.number(), max: z.number() })
  .refine((n) => n.max >= n.min, { message: 'max must be >= min', path: ['max'] });

const channels = z.int().refine((c) => c === 1 || c === 3, { message: 'must be 1 (gray) or 3 (RGB) channels' });

export const manifestSchema = z.looseObject({
  format: z.string(),
  method: z.string().min(1),
  vigil_version: z.string(),
  created: z.string(),
  dataset: z.string(),
  seed: z.int().min(0),
  config: z.record(z.string(), z.unknown()),
  preprocessing: preprocessingSchema,
  imageShape: z.tuple([channels, side, side]),
  threshold: z.looseObject({ image: thresholdInfo, pixel: thresholdInfo.nullable() }),
  normalisation: z.looseObject({ image: normalisation, pixel: normalisation.nullable() }),
  /** The normal scores the thresholds came from (--target-fpr re-runs the rule on them). */
  calibration: z.looseObject({
    normal: z.array(z.number()).min(1),
    pixelMaxima: z.array(z.number()).nullable(),
    source: z.enum(['held-out', 'training']),
  }).optional(),
  sourceSize: z.looseObject({ height: z.int().min(1), width: z.int().min(1), share: z.number().min(0).max(1) }).optional(),
  state_meta: z.record(z.string(), z.unknown()).optional(),
}).superRefine((m, ctx) => {
  const issue = (path: PropertyKey[], message: string): void => { ctx.addIssue({ code: 'custom', path, message }); };
  // One threshold per decision: the verdict (score >= value) and the normalised score (0.5 at the
  // threshold) must not disagree.
  if (m.normalisation.image.threshold !== m.threshold.image.value) {
    issue(['normalisation', 'image', 'threshold'], `must equal threshold.image.value (${m.threshold.image.value})`);
  }
  if ((m.threshold.pixel === null) !== (m.normalisation.pixel === null)) {
    issue(['normalisation', 'pixel'], `must be null exactly when threshold.pixel is null (threshold.pixel is ${m.threshold.pixel === null ? 'null' : 'set'})`);
  } else if (m.threshold.pixel && m.normalisation.pixel && m.normalisation.pixel.threshold !== m.threshold.pixel.value) {
    issue(['normalisation', 'pixel', 'threshold'], `must equal threshold.pixel.value (${m.threshold.pixel.value})`);
  }
  const [c, h, w] = m.imageShape;
  const p = m.preprocessing;
  if (p.kind === 'arrays') {
    if (p.size[0] !== h || p.size[1] !== w) issue(['preprocessing', 'size'], `is ${p.size.join('×')} but imageShape is ${m.imageShape.join('×')}`);
    if ((p.mode === 'gray' ? 1 : 3) !== c) issue(['preprocessing', 'mode'], `'${p.mode}' gives ${p.mode === 'gray' ? 1 : 3} channels but imageShape has ${c}`);
    return;
  }
  // Follow the channels and, where the ops fix it, the size through the transforms.
  let ch = p.mode === 'gray' ? 1 : 3;
  let hw: [number, number] | null = null;
  const pair = (s: number | [number, number]): [number, number] => (typeof s === 'number' ? [s, s] : s);
  for (const [i, t] of p.transforms.entries()) {
    if (t.op === 'toGray') ch = 1;
    else if (t.op === 'toRgb') ch = 3;
    else if (t.op === 'resize') hw = typeof t.size === 'number' ? null : t.size;
    else if (t.op === 'centerCrop') hw = pair(t.size);
    else if (t.op === 'normalize') {
      for (const k of ['mean', 'std'] as const) {
        if (t[k].length !== 1 && t[k].length !== ch) issue(['preprocessing', 'transforms', i, k], `has ${t[k].length} values for ${ch}-channel images (give 1 or ${ch})`);
      }
    }
  }
  if (ch !== c) issue(['preprocessing', 'transforms'], `turn images into ${ch}-channel inputs (mode '${p.mode}') but imageShape has ${c} channels`);
  if (hw && (hw[0] !== h || hw[1] !== w)) issue(['preprocessing', 'transforms'], `turn images into ${hw.join('×')} inputs but imageShape is ${h}×${w}`);
});

