// torch.nn.functional: the Python-level helpers of PyTorch 1.13 that are more than one ATen op or
// take friendlier arguments (string modes and reductions, None defaults). Each follows the
// corresponding Python function's argument checks and op sequence, so results match PyTorch's.
import type { Tensor } from '../tensor.js';
import * as ops from '../ops.generated.js';
import { defineOp } from '../dispatch.js';
import { native } from '../native.js';

export type Pair = number | [number, number];
export type Reduction = 'none' | 'mean' | 'sum';

function reductionCode(r: Reduction | undefined, fn: string): number {
  switch (r ?? 'mean') {
    case 'none': return 0;
    case 'mean': return 1;
    case 'sum': return 2;
    default: throw new RangeError(`${fn}: reduction '${String(r)}' is not valid; use 'none', 'mean' or 'sum'`);
  }
}

function sameShape(a: number[], b: number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

const fmt = (s: number[]): string => `[${s.join(', ')}]`;

// ---- layers as functions ----------------------------------------------------------------

export function linear(input: Tensor, weight: Tensor, bias?: Tensor | null): Tensor {
  return ops.linear(input, weight, { bias: bias ?? null });
}

export interface Conv2dOptions {
  bias?: Tensor | null;
  stride?: Pair;
  /** Numbers, or 'valid' / 'same' (stride 1 only, like PyTorch). */
  padding?: Pair | 'valid' | 'same';
  dilation?: Pair;
  groups?: number;
}

export function conv2d(input: Tensor, weight: Tensor, options: Conv2dOptions = {}): Tensor {
  const { bias = null, stride = 1, padding = 0, dilation = 1, groups = 1 } = options;
  if (typeof padding === 'string') {
    if (padding === 'valid') return ops.conv2d(input, weight, { bias, stride, padding: 0, dilation, groups });
    if (padding !== 'same') throw new RangeError(`conv2d: padding '${String(padding)}' is not valid; use a number, a pair, 'valid' or 'same'`);
    return convSame(input, weight, bias, pair(stride), pair(dilation), groups);
  }
  return ops.conv2d(input, weight, { bias, stride, padding, dilation, groups });
}

const pair = (v: Pair): [number, number] => (typeof v === 'number' ? [v, v] : [v[0], v[1]]);

// The addon's vigil::conv2d_winograd (native/winograd.cc), called through the dispatcher like an ATen op.
const opWinograd = defineOp('vigil::conv2d_winograd', [
  ['', ['T', 'T', 'T?', 'n[]'], [0, 1, 2, 3], { bias: [2, 'T?'], padding: [3, 'n[]'] }, 4, -1, 2],
]);

/** Whether the addon was built with oneDNN's Winograd kernels and this CPU has them. */
export const winogradAvailable = (): boolean => native.winogradAvailable();
/** How many convolutions have run through the Winograd kernels in this process (all threads). */
export const winogradCalls = (): number => native.winogradCalls();

/**
 * A 3×3, stride-1 convolution (padding 0 or 1) through oneDNN's Winograd F(4×4, 3×3) kernels,
 * forward and backward: the same convolution as conv2d in float32 with a different summation
 * (relative differences ~1e-6), 2–3× faster on AVX-512 CPUs. Anywhere it does not apply (no
 * Winograd build, not float32 on the CPU, inside autocast, other shapes) it is conv2d.
 */
export function conv2dWinograd(input: Tensor, weight: Tensor, options: { bias?: Tensor | null; padding?: Pair } = {}): Tensor {
  const { bias = null, padding = 0 } = options;
  return opWinograd([input, weight, bias, pair(padding)]) as Tensor;
}

// padding='same' as ATen's _convolution_mode does it: symmetric padding where the total is even,
// the odd remainder added on the right/bottom by an explicit zero pad. (The engine's dispatcher
// does not route a string padding option to the conv2d.padding overload, so we do it here.)
function convSame(input: Tensor, weight: Tensor, bias: Tensor | null, stride: [number, number], dilation: [number, number], groups: number): Tensor {
  if (stride[0] !== 1 || stride[1] !== 1) throw new RangeError("conv2d: padding='same' is not supported for strided convolutions");
  const ws = weight.shape;
  const left: number[] = [], extra = [0, 0, 0, 0];
  for (let i = 0; i < 2; i++) {
    const total = dilation[i]! * (ws[i + 2]! - 1);
    left.push(Math.floor(total / 2));
    extra[2 * (1 - i) + 1] = total - 2 * left[i]!;
  }
  if (extra.every((e) => e === 0)) return ops.conv2d(input, weight, { bias, stride, padding: left, dilation, groups });
  const padded = ops.constant_pad_nd(input, extra, { value: 0 });
  try {
    return ops.conv2d(padded, weight, { bias, stride, padding: left, dilation, groups });
  } finally {
    padded.dispose();
  }
}

export interface ConvTranspose2dOptions {
  bias?: Tensor | null;
  stride?: Pair;
  padding?: Pair;
  outputPadding?: Pair;
  groups?: number;
  dilation?: Pair;
}

export function convTranspose2d(input: Tensor, weight: Tensor, options: ConvTranspose2dOptions = {}): Tensor {
  const { bias = null, stride = 1, padding = 0, outputPadding = 0, groups = 1, dilation = 1 } = options;
  return ops.conv_transpose2d(input, weight, { bias, stride, padding, outputPadding, groups, dilation });
}

export interface MaxPool2dOptions {
  /** Defaults to kernelSize. */
  stride?: Pair | null;
  padding?: Pair;
  dilation?: Pair;
  ceilMode?: boolean;
}

export function maxPool2d(input: Tensor, kernelSize: Pair, options: MaxPool2dOptions = {}): Tensor {
  return ops.max_pool2d(input, kernelSize, {
    stride: options.stride ?? [], padding: options.padding ?? 0, dilation: options.dilation ?? 1, ceilMode: options.ceilMode ?? false,
  });
}

export interface AvgPool2dOptions {
  /** Defaults to kernelSize. */
  stride?: Pair | null;
  padding?: Pair;
  ceilMode?: boolean;
  countIncludePad?: boolean;
  divisorOverride?: number | null;
}

export function avgPool2d(input: Tensor, kernelSize: Pair, options: AvgPool2dOptions = {}): Tensor {
  return ops.avg_pool2d(input, kernelSize, {
    stride: options.stride ?? [], padding: options.padding ?? 0, ceilMode: options.ceilMode ?? false,
    countIncludePad: options.countIncludePad ?? true, divisorOverride: options.divisorOverride ?? null,
  });
}

/** outputSize: a size, or [h, w] where null keeps that input dimension. */
export function adaptiveAvgPool2d(input: Tensor, outputSize: number | [number | null, number | null]): Tensor {
  const s = input.shape;
  const size = typeof outputSize === 'number' ? [outputSize, outputSize]
    : outputSize.map((v, i) => v ?? s[s.length - 2 + i]!);
  return ops.adaptive_avg_pool2d(input, size);
}

export function adaptiveAvgPool1d(input: Tensor, outputSize: number): Tensor {
  return ops.adaptive_avg_pool1d(input, outputSize);
}

// PyTorch refuses training-mode normalisation over a single value per channel.
function verifyBatchSize(size: number[], fn: string): void {
  let n = size[0]!;
  for (let i = 2; i < size.length; i++) n *= size[i]!;
  if (n === 1) throw new RangeError(`${fn}: expected more than 1 value per channel when training, got input size ${fmt(size)}`);
}

export interface BatchNormOptions {
  weight?: Tensor | null;
  bias?: Tensor | null;
  training?: boolean;
  momentum?: number;
  eps?: number;
}

/** Batch normalisation; in training mode the running statistics (if given) are updated in place. */
export function batchNorm(input: Tensor, runningMean: Tensor | null, runningVar: Tensor | null, options: BatchNormOptions = {}): Tensor {
  const training = options.training ?? false;
  if (training) verifyBatchSize(input.shape, 'batchNorm');
  return ops.batch_norm(input, options.weight ?? null, options.bias ?? null, runningMean, runningVar, training,
    options.momentum ?? 0.1, options.eps ?? 1e-5, false);
}

export function groupNorm(input: Tensor, numGroups: number, options: { weight?: Tensor | null; bias?: Tensor | null; eps?: number } = {}): Tensor {
  const s = input.shape;
  if (s.length < 2) throw new RangeError(`groupNorm: expected at least 2 dimensions, got input size ${fmt(s)}`);
  verifyBatchSize([Math.floor((s[0]! * s[1]!) / numGroups), numGroups, ...s.slice(2)], 'groupNorm');
  return ops.group_norm(input, numGroups, { weight: options.weight ?? null, bias: options.bias ?? null, eps: options.eps ?? 1e-5 });
}

// ---- activations -------------------------------------------------------------------------

export function relu(x: Tensor): Tensor { return ops.relu(x); }
export function leakyRelu(x: Tensor, negativeSlope = 0.01): Tensor { return ops.leaky_relu(x, { negativeSlope }); }
export function elu(x: Tensor, alpha = 1.0): Tensor { return ops.elu(x, { alpha }); }
export function sigmoid(x: Tensor): Tensor { return ops.sigmoid(x); }
export function tanh(x: Tensor): Tensor { return ops.tanh(x); }
export function gelu(x: Tensor, options: { approximate?: 'none' | 'tanh' } = {}): Tensor {
  return ops.gelu(x, { approximate: options.approximate ?? 'none' });
}
export function softmax(x: Tensor, dim: number): Tensor { return ops.softmax(x, dim); }
export function logSoftmax(x: Tensor, dim: number): Tensor { return ops.log_softmax(x, dim); }

function checkP(p: number, fn: string): void {
  if (!(p >= 0 && p <= 1)) throw new RangeError(`${fn}: dropout probability has to be between 0 and 1, but got ${p}`);
}

/** Zeroes elements with probability p and scales the rest by 1/(1−p) (only when training). */
export function dropout(x: Tensor, p = 0.5, training = true): Tensor {
  checkP(p, 'dropout');
  return ops.dropout(x, p, training);
}

/** Zeroes whole channels of an (N, C, H, W) input with probability p. */
export function dropout2d(x: Tensor, p = 0.5, training = true): Tensor {
  checkP(p, 'dropout2d');
  return ops.feature_dropout(x, p, training);
}

// ---- losses ------------------------------------------------------------------------------

function broadcastPair(input: Tensor, target: Tensor): [Tensor, Tensor] {
  if (sameShape(input.shape, target.shape)) return [input, target];
  const [a, b] = ops.broadcast_tensors([input, target]);
  return [a!, b!];
}

export function mseLoss(input: Tensor, target: Tensor, options: { reduction?: Reduction } = {}): Tensor {
  const [a, b] = broadcastPair(input, target);
  return ops.mse_loss(a, b, { reduction: reductionCode(options.reduction, 'mseLoss') });
}

export function l1Loss(input: Tensor, target: Tensor, options: { reduction?: Reduction } = {}): Tensor {
  const [a, b] = broadcastPair(input, target);
  return ops.l1_loss(a, b, { reduction: reductionCode(options.reduction, 'l1Loss') });
}

export function smoothL1Loss(input: Tensor, target: Tensor, options: { reduction?: Reduction; beta?: number } = {}): Tensor {
  const beta = options.beta ?? 1.0;
  const reduction = reductionCode(options.reduction, 'smoothL1Loss');
  const [a, b] = broadcastPair(input, target);
  if (beta === 0) return ops.l1_loss(a, b, { reduction });
  return ops.smooth_l1_loss(a, b, { reduction, beta });
}

function checkTargetSize(input: Tensor, target: Tensor, fn: string): void {
  if (!sameShape(input.shape, target.shape)) {
    throw new RangeError(`${fn}: target size ${fmt(target.shape)} differs from input size ${fmt(input.shape)}; they must be equal`);
  }
}

/** input: probabilities in [0, 1]. */
export function binaryCrossEntropy(input: Tensor, target: Tensor, options: { weight?: Tensor | null; reduction?: Reduction } = {}): Tensor {
  checkTargetSize(input, target, 'binaryCrossEntropy');
  const reduction = reductionCode(options.reduction, 'binaryCrossEntropy');
  let weight = options.weight ?? null;
  if (weight !== null && !sameShape(weight.shape, target.shape)) weight = weight.expand(target.shape);
  return ops.binary_cross_entropy(input, target, { weight, reduction });
}

export function binaryCrossEntropyWithLogits(input: Tensor, target: Tensor,
  options: { weight?: Tensor | null; posWeight?: Tensor | null; reduction?: Reduction } = {}): Tensor {
  checkTargetSize(input, target, 'binaryCrossEntropyWithLogits');
  return ops.binary_cross_entropy_with_logits(input, target, {
    weight: options.weight ?? null, posWeight: options.posWeight ?? null, reduction: reductionCode(options.reduction, 'binaryCrossEntropyWithLogits'),
  });
}

/** input: logits (N, C, …); target: class indices (int64) or class probabilities. */
export function crossEntropy(input: Tensor, target: Tensor,
  options: { weight?: Tensor | null; ignoreIndex?: number; reduction?: Reduction; labelSmoothing?: number } = {}): Tensor {
  return ops.cross_entropy_loss(input, target, {
    weight: options.weight ?? null, reduction: reductionCode(options.reduction, 'crossEntropy'),
    ignoreIndex: options.ignoreIndex ?? -100, labelSmoothing: options.labelSmoothing ?? 0,
  });
}

// ---- vectors -----------------------------------------------------------------------------

/** x / max(‖x‖_p, eps) along dim. */
export function normalize(x: Tensor, options: { p?: number; dim?: number; eps?: number } = {}): Tensor {
  const { p = 2, dim = 1, eps = 1e-12 } = options;
  const n = ops.norm(x, p, [dim], { keepdim: true });
  const c = n.clamp_min(eps);
  n.dispose();
  const d = c.expand_as(x);
  c.dispose();
  const out = x.div(d);
  d.dispose();
  return out;
}

export function cosineSimilarity(x1: Tensor, x2: Tensor, options: { dim?: number; eps?: number } = {}): Tensor {
  return ops.cosine_similarity(x1, x2, { dim: options.dim ?? 1, eps: options.eps ?? 1e-8 });
}

// ---- resampling and padding --------------------------------------------------------------

export type InterpolateMode = 'nearest' | 'bilinear' | 'bicubic' | 'area';

export interface InterpolateOptions {
  size?: number | [number, number];
  scaleFactor?: number | [number, number];
  mode?: InterpolateMode;
  /** bilinear/bicubic only (default false). */
  alignCorners?: boolean;
  /** Derive the output size from scaleFactor and then ignore the scale (PyTorch's option). */
  recomputeScaleFactor?: boolean;
  /** Anti-aliased downsampling (bilinear/bicubic, 4-D input). */
  antialias?: boolean;
}

/**
 * Resizes an (N, C, H, W) tensor. With scaleFactor the output size is floor(in·scale) and the
 * kernels use the given scale (not out/in), exactly as PyTorch does.
 */
export function interpolate(x: Tensor, options: InterpolateOptions): Tensor {
  const mode = options.mode ?? 'nearest';
  const { size, scaleFactor, recomputeScaleFactor, antialias = false } = options;
  if (x.ndim !== 4) throw new RangeError(`interpolate: expected a 4-D (N, C, H, W) input, got ${x.ndim}-D`);
  let alignCorners = options.alignCorners;
  if (mode === 'nearest' || mode === 'area') {
    if (alignCorners !== undefined) throw new RangeError(`interpolate: alignCorners only has an effect with mode 'bilinear' or 'bicubic', not '${mode}'`);
  } else if (mode === 'bilinear' || mode === 'bicubic') {
    alignCorners ??= false;
  } else throw new RangeError(`interpolate: mode '${String(mode)}' is not supported; use 'nearest', 'bilinear', 'bicubic' or 'area'`);
  if ((size === undefined) === (scaleFactor === undefined)) throw new RangeError('interpolate: give exactly one of size and scaleFactor');
  let outputSize: number[] | null = null;
  let scales: number[] | null = null;
  if (size !== undefined) {
    outputSize = typeof size === 'number' ? [size, size] : [...size];
    if (outputSize.length !== 2) throw new RangeError(`interpolate: size must have 2 entries, got [${outputSize.join(', ')}]`);
    if (recomputeScaleFactor) throw new RangeError('interpolate: recomputeScaleFactor is not meaningful with an explicit size');
  } else {
    scales = typeof scaleFactor === 'number' ? [scaleFactor, scaleFactor] : [...scaleFactor!];
    if (scales.length !== 2) throw new RangeError(`interpolate: scaleFactor must have 2 entries, got [${scales.join(', ')}]`);
  }
  if (scales !== null && (recomputeScaleFactor || mode === 'area')) {
    const s = x.shape;
    outputSize = [Math.floor(s[2]! * scales[0]!), Math.floor(s[3]! * scales[1]!)];
    scales = null;
  }
  if (antialias && !(mode === 'bilinear' || mode === 'bicubic')) throw new RangeError('interpolate: antialias is only supported for bilinear and bicubic modes');
  switch (mode) {
    case 'nearest': return ops.upsample_nearest2d(x, outputSize, scales);
    case 'area': return ops.adaptive_avg_pool2d(x, outputSize!);
    case 'bilinear':
      return antialias ? ops._upsample_bilinear2d_aa(x, outputSize, alignCorners!, scales) : ops.upsample_bilinear2d(x, outputSize, alignCorners!, scales);
    case 'bicubic':
      return antialias ? ops._upsample_bicubic2d_aa(x, outputSize, alignCorners!, scales) : ops.upsample_bicubic2d(x, outputSize, alignCorners!, scales);
  }
}

/** pads: [left, right, top, bottom, …] from the last dimension backwards, like F.pad. */
export function pad(x: Tensor, pads: number[], options: { mode?: 'constant' | 'reflect' | 'replicate' | 'circular'; value?: number } = {}): Tensor {
  const mode = options.mode ?? 'constant';
  if (pads.length % 2 !== 0) throw new RangeError(`pad: pads must have an even length, got ${pads.length}`);
  if (mode !== 'constant' && options.value !== undefined && options.value !== 0) throw new RangeError(`pad: value only applies to mode 'constant', not '${mode}'`);
  return ops.pad(x, pads, { mode, value: mode === 'constant' ? options.value ?? null : null });
}

/** nn.Unfold: sliding blocks of an (N, C, H, W) input as (N, C·kH·kW, L) columns. */
export function unfold(x: Tensor, kernelSize: Pair, options: { dilation?: Pair; padding?: Pair; stride?: Pair } = {}): Tensor {
  const pair = (v: Pair): number[] => (typeof v === 'number' ? [v, v] : [...v]);
  return ops.im2col(x, pair(kernelSize), pair(options.dilation ?? 1), pair(options.padding ?? 0), pair(options.stride ?? 1));
}

const GRID_MODES = { bilinear: 0, nearest: 1, bicubic: 2 } as const;
const GRID_PADDING = { zeros: 0, border: 1, reflection: 2 } as const;

export interface GridSampleOptions {
  mode?: keyof typeof GRID_MODES;
  paddingMode?: keyof typeof GRID_PADDING;
  alignCorners?: boolean;
}

/** Samples input (N, C, H, W) at grid (N, Ho, Wo, 2) locations in [−1, 1]. */
export function gridSample(input: Tensor, grid: Tensor, options: GridSampleOptions = {}): Tensor {
  const mode = options.mode ?? 'bilinear';
  const paddingMode = options.paddingMode ?? 'zeros';
  const m = GRID_MODES[mode], p = GRID_PADDING[paddingMode];
  if (m === undefined) throw new RangeError(`gridSample: mode '${String(mode)}' is not valid; use 'bilinear', 'nearest' or 'bicubic'`);
  if (p === undefined) throw new RangeError(`gridSample: paddingMode '${String(paddingMode)}' is not valid; use 'zeros', 'border' or 'reflection'`);
  return ops.grid_sampler(input, grid, m, p, options.alignCorners ?? false);
}

/** Sampling grid (N, H, W, 2) for the 2-D affine matrices theta (N, 2, 3) and size [N, C, H, W]. */
export function affineGrid(theta: Tensor, size: number[], options: { alignCorners?: boolean } = {}): Tensor {
  if (!theta.isFloatingPoint) throw new TypeError(`affineGrid: theta must be floating point, got ${theta.dtype}`);
  if (size.length !== 4) throw new RangeError(`affineGrid: only 2-D sizes [N, C, H, W] are supported, got ${fmt(size)}`);
  const t = theta.shape;
  if (t.length !== 3 || t[0] !== size[0] || t[1] !== 2 || t[2] !== 3) {
    throw new RangeError(`affineGrid: expected theta of shape [${size[0]}, 2, 3] for size ${fmt(size)}, got ${fmt(t)}`);
  }
  if (Math.min(...size) <= 0) throw new RangeError(`affineGrid: size must be positive, got ${fmt(size)}`);
  return ops.affine_grid_generator(theta, size, options.alignCorners ?? false);
}
