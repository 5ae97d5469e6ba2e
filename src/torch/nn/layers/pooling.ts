// Pooling and resampling layers: thin wrappers over the functional forms.
import type { Tensor } from '../../tensor.js';
import { Module } from '../module.js';
import * as F from '../functional.js';

type Pair = number | [number, number];

export class MaxPool2d extends Module {
  readonly options: F.MaxPool2dOptions;
  constructor(readonly kernelSize: Pair, options: F.MaxPool2dOptions = {}) {
    super();
    this.options = { ...options };
  }
  forward(x: Tensor): Tensor { return F.maxPool2d(x, this.kernelSize, this.options); }
}

export class AvgPool2d extends Module {
  readonly options: F.AvgPool2dOptions;
  constructor(readonly kernelSize: Pair, options: F.AvgPool2dOptions = {}) {
    super();
    this.options = { ...options };
  }
  forward(x: Tensor): Tensor { return F.avgPool2d(x, this.kernelSize, this.options); }
}

export class AdaptiveAvgPool2d extends Module {
  constructor(readonly outputSize: number | [number | null, number | null]) { super(); }
  forward(x: Tensor): Tensor { return F.adaptiveAvgPool2d(x, this.outputSize); }
}

export interface UpsampleOptions {
  size?: number | [number, number];
  scaleFactor?: number | [number, number];
  mode?: 'nearest' | 'bilinear' | 'bicubic';
  alignCorners?: boolean;
}

export class Upsample extends Module {
  readonly options: UpsampleOptions;
  constructor(options: UpsampleOptions) {
    super();
    if ((options.size === undefined) === (options.scaleFactor === undefined)) throw new RangeError('Upsample: give exactly one of size and scaleFactor');
    this.options = { ...options };
  }
  forward(x: Tensor): Tensor { return F.interpolate(x, this.options); }
}
