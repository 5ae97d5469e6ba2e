// Convolution and linear layers with PyTorch 1.13's parameter shapes and reset_parameters():
// kaiming_uniform_(a=√5) weights, bias ~ U(±1/√fanIn).
import type { Tensor } from '../../tensor.js';
import * as ops from '../../ops.generated.js';
import { Module } from '../module.js';
import * as init from '../init.js';
import * as F from '../functional.js';

type Pair = number | [number, number];
const pair = (v: Pair): [number, number] => (typeof v === 'number' ? [v, v] : [v[0], v[1]]);

function resetConvLike(weight: Tensor, bias: Tensor | null): void {
  init.kaimingUniform_(weight, { a: Math.sqrt(5) });
  if (bias !== null) {
    const [fanIn] = init.calculateFanInAndFanOut(weight);
    if (fanIn !== 0) {
      const bound = 1 / Math.sqrt(fanIn);
      init.uniform_(bias, -bound, bound);
    }
  }
}

function checkGroups(name: string, inC: number, outC: number, groups: number): void {
  if (!Number.isInteger(groups) || groups < 1) throw new RangeError(`${name}: groups must be a positive integer, got ${groups}`);
  if (inC % groups !== 0) throw new RangeError(`${name}: inChannels (${inC}) must be divisible by groups (${groups})`);
  if (outC % groups !== 0) throw new RangeError(`${name}: outChannels (${outC}) must be divisible by groups (${groups})`);
}

export type PaddingMode = 'zeros' | 'reflect' | 'replicate' | 'circular';

export interface Conv2dOptions {
  stride?: Pair;
  padding?: Pair | 'valid' | 'same';
  dilation?: Pair;
  groups?: number;
  bias?: boolean;
  paddingMode?: PaddingMode;
  /**
   * 'direct' (libtorch's kernels, as PyTorch) or 'winograd' (F.conv2dWinograd: oneDNN's Winograd
   * kernels for 3×3, stride-1 convolutions, the others stay direct). Settable after construction.
   */
  algorithm?: ConvAlgorithm;
}

export type ConvAlgorithm = 'direct' | 'winograd';

/** 2-D convolution: weight [outC, inC/groups, kH, kW], bias [outC]. */
export class Conv2d extends Module {
  declare weight: Tensor;
  declare bias: Tensor | null;
  readonly kernelSize: [number, number];
  readonly stride: [number, number];
  readonly padding: [number, number] | 'valid' | 'same';
  readonly dilation: [number, number];
  readonly groups: number;
  readonly paddingMode: PaddingMode;
  algorithm: ConvAlgorithm;
  // F.pad amounts for non-zero padding modes: [left, right, top, bottom].
  readonly #padAmounts: number[];

  constructor(readonly inChannels: number, readonly outChannels: number, kernelSize: Pair, options: Conv2dOptions = {}) {
    super();
    const { stride = 1, padding = 0, dilation = 1, groups = 1, bias = true, paddingMode = 'zeros', algorithm = 'direct' } = options;
    checkGroups('Conv2d', inChannels, outChannels, groups);
    if (algorithm !== 'direct' && algorithm !== 'winograd') throw new RangeError(`Conv2d: algorithm '${String(algorithm)}' is not valid; use 'direct' or 'winograd'`);
    this.algorithm = algorithm;
    if (!['zeros', 'reflect', 'replicate', 'circular'].includes(paddingMode)) {
      throw new RangeError(`Conv2d: paddingMode '${paddingMode}' is not valid; use 'zeros', 'reflect', 'replicate' or 'circular'`);
    }
    this.kernelSize = pair(kernelSize);
    this.stride = pair(stride);
    this.dilation = pair(dilation);
    this.groups = groups;
    this.paddingMode = paddingMode;
    if (typeof padding === 'string') {
      if (padding !== 'valid' && padding !== 'same') throw new RangeError(`Conv2d: padding '${String(padding)}' is not valid; use a number, a pair, 'valid' or 'same'`);
      if (padding === 'same' && this.stride.some((s) => s !== 1)) throw new RangeError("Conv2d: padding='same' is not supported for strided convolutions");
      this.padding = padding;
    } else this.padding = pair(padding);
    this.#padAmounts = [];
    for (let d = 1; d >= 0; d--) {
      if (this.padding === 'valid') this.#padAmounts.push(0, 0);
      else if (this.padding === 'same') {
        const total = this.dilation[d]! * (this.kernelSize[d]! - 1);
        const left = Math.floor(total / 2);
        this.#padAmounts.push(left, total - left);
      } else this.#padAmounts.push(this.padding[d]!, this.padding[d]!);
    }
    this.weight = this.registerParameter('weight', ops.empty([outChannels, inChannels / groups, ...this.kernelSize]))!;
    this.bias = this.registerParameter('bias', bias ? ops.empty([outChannels]) : null);
    this.resetParameters();
  }

  resetParameters(): void { resetConvLike(this.weight, this.bias); }

  // What the op cannot see (it takes no stride or dilation, and no string padding); kernel size,
  // padding values, groups and whether Winograd pays are its own checks (native/winograd.cc).
  #winogradShape(): boolean {
    return Array.isArray(this.padding) && this.stride.every((s) => s === 1) && this.dilation.every((d) => d === 1);
  }

  forward(x: Tensor): Tensor {
    if (this.paddingMode === 'zeros') {
      if (this.algorithm === 'winograd' && this.#winogradShape()) return F.conv2dWinograd(x, this.weight, { bias: this.bias, padding: this.padding as [number, number] });
      return F.conv2d(x, this.weight, { bias: this.bias, stride: this.stride, padding: this.padding, dilation: this.dilation, groups: this.groups });
    }
    const padded = F.pad(x, this.#padAmounts, { mode: this.paddingMode });
    try {
      return F.conv2d(padded, this.weight, { bias: this.bias, stride: this.stride, padding: 0, dilation: this.dilation, groups: this.groups });
    } finally {
      padded.dispose();
    }
  }
}

export interface ConvTranspose2dOptions {
  stride?: Pair;
  padding?: Pair;
  outputPadding?: Pair;
  groups?: number;
  bias?: boolean;
  dilation?: Pair;
}

/** 2-D transposed convolution: weight [inC, outC/groups, kH, kW], bias [outC]. */
export class ConvTranspose2d extends Module {
  declare weight: Tensor;
  declare bias: Tensor | null;
  readonly kernelSize: [number, number];
  readonly stride: [number, number];
  readonly padding: [number, number];
  readonly outputPadding: [number, number];
  readonly dilation: [number, number];
  readonly groups: number;

  constructor(readonly inChannels: number, readonly outChannels: number, kernelSize: Pair, options: ConvTranspose2dOptions = {}) {
    super();
    const { stride = 1, padding = 0, outputPadding = 0, groups = 1, bias = true, dilation = 1 } = options;
    checkGroups('ConvTranspose2d', inChannels, outChannels, groups);
    this.kernelSize = pair(kernelSize);
    this.stride = pair(stride);
    this.padding = pair(padding);
    this.outputPadding = pair(outputPadding);
    this.dilation = pair(dilation);
    this.groups = groups;
    for (let d = 0; d < 2; d++) {
      if (this.outputPadding[d]! >= Math.max(this.stride[d]!, this.dilation[d]!)) {
        throw new RangeError(`ConvTranspose2d: outputPadding (${this.outputPadding.join(', ')}) must be smaller than either stride or dilation`);
      }
    }
    this.weight = this.registerParameter('weight', ops.empty([inChannels, outChannels / groups, ...this.kernelSize]))!;
    this.bias = this.registerParameter('bias', bias ? ops.empty([outChannels]) : null);
    this.resetParameters();
  }

  resetParameters(): void { resetConvLike(this.weight, this.bias); }

  forward(x: Tensor): Tensor {
    return F.convTranspose2d(x, this.weight, {
      bias: this.bias, stride: this.stride, padding: this.padding, outputPadding: this.outputPadding, groups: this.groups, dilation: this.dilation,
    });
  }
}

/** y = x Wᵀ + b: weight [outF, inF], bias [outF]. */
export class Linear extends Module {
  declare weight: Tensor;
  declare bias: Tensor | null;

  constructor(readonly inFeatures: number, readonly outFeatures: number, options: { bias?: boolean } = {}) {
    super();
    this.weight = this.registerParameter('weight', ops.empty([outFeatures, inFeatures]))!;
    this.bias = this.registerParameter('bias', (options.bias ?? true) ? ops.empty([outFeatures]) : null);
    this.resetParameters();
  }

  resetParameters(): void { resetConvLike(this.weight, this.bias); }

  forward(x: Tensor): Tensor { return F.linear(x, this.weight, this.bias); }
}
