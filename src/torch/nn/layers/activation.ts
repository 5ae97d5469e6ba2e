// Activations, dropout and shape helpers as modules.
import type { Tensor } from '../../tensor.js';
import * as ops from '../../ops.generated.js';
import { Module } from '../module.js';
import * as F from '../functional.js';

export class ReLU extends Module {
  forward(x: Tensor): Tensor { return F.relu(x); }
}

export class LeakyReLU extends Module {
  constructor(readonly negativeSlope = 0.01) { super(); }
  forward(x: Tensor): Tensor { return F.leakyRelu(x, this.negativeSlope); }
}

export class ELU extends Module {
  constructor(readonly alpha = 1.0) { super(); }
  forward(x: Tensor): Tensor { return F.elu(x, this.alpha); }
}

export class GELU extends Module {
  constructor(readonly approximate: 'none' | 'tanh' = 'none') { super(); }
  forward(x: Tensor): Tensor { return F.gelu(x, { approximate: this.approximate }); }
}

export class Sigmoid extends Module {
  forward(x: Tensor): Tensor { return F.sigmoid(x); }
}

export class Tanh extends Module {
  forward(x: Tensor): Tensor { return F.tanh(x); }
}

export class Softmax extends Module {
  constructor(readonly dim: number) { super(); }
  forward(x: Tensor): Tensor { return F.softmax(x, this.dim); }
}

export class Dropout extends Module {
  constructor(readonly p = 0.5) {
    super();
    if (!(p >= 0 && p <= 1)) throw new RangeError(`Dropout: probability has to be between 0 and 1, but got ${p}`);
  }
  forward(x: Tensor): Tensor { return F.dropout(x, this.p, this.training); }
}

/** Zeroes whole channels of (N, C, H, W) inputs. */
export class Dropout2d extends Module {
  constructor(readonly p = 0.5) {
    super();
    if (!(p >= 0 && p <= 1)) throw new RangeError(`Dropout2d: probability has to be between 0 and 1, but got ${p}`);
  }
  forward(x: Tensor): Tensor { return F.dropout2d(x, this.p, this.training); }
}

/** Returns its input (as a new handle, like every op). */
export class Identity extends Module {
  forward(x: Tensor): Tensor { return ops.alias(x); }
}

export class Flatten extends Module {
  constructor(readonly startDim = 1, readonly endDim = -1) { super(); }
  forward(x: Tensor): Tensor { return x.flatten(this.startDim, this.endDim); }
}
