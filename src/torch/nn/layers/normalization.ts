// BatchNorm1d/2d and GroupNorm with PyTorch 1.13's buffers and update rule: running stats are
// updated in place by aten::batch_norm; momentum null means a cumulative average over batches.
import type { Tensor } from '../../tensor.js';
import * as ops from '../../ops.generated.js';
import { tensor } from '../../creation.js';
import { noGrad } from '../../autograd.js';
import { Module } from '../module.js';
import * as init from '../init.js';
import * as F from '../functional.js';

export interface BatchNormOptions {
  eps?: number;
  /** null: cumulative moving average (factor 1/numBatchesTracked). Default 0.1. */
  momentum?: number | null;
  affine?: boolean;
  trackRunningStats?: boolean;
}

abstract class BatchNormBase extends Module {
  declare weight: Tensor | null;
  declare bias: Tensor | null;
  declare running_mean: Tensor | null;
  declare running_var: Tensor | null;
  declare num_batches_tracked: Tensor | null;
  readonly eps: number;
  readonly momentum: number | null;
  readonly affine: boolean;
  readonly trackRunningStats: boolean;

  constructor(readonly numFeatures: number, options: BatchNormOptions = {}) {
    super();
    this.eps = options.eps ?? 1e-5;
    this.momentum = options.momentum === undefined ? 0.1 : options.momentum;
    this.affine = options.affine ?? true;
    this.trackRunningStats = options.trackRunningStats ?? true;
    this.registerParameter('weight', this.affine ? ops.empty([numFeatures]) : null);
    this.registerParameter('bias', this.affine ? ops.empty([numFeatures]) : null);
    if (this.trackRunningStats) {
      this.registerBuffer('running_mean', ops.zeros([numFeatures]));
      this.registerBuffer('running_var', ops.ones([numFeatures]));
      this.registerBuffer('num_batches_tracked', tensor(0, { dtype: 'int64' }));
      // Checkpoints written before PyTorch 0.4.1 (and torchvision's older weights) lack it.
      this.optionalStateKeys.add('num_batches_tracked');
    } else {
      this.registerBuffer('running_mean', null);
      this.registerBuffer('running_var', null);
      this.registerBuffer('num_batches_tracked', null);
    }
    this.resetParameters();
  }

  get runningMean(): Tensor | null { return this.running_mean; }
  get runningVar(): Tensor | null { return this.running_var; }
  get numBatchesTracked(): Tensor | null { return this.num_batches_tracked; }

  resetRunningStats(): void {
    if (!this.trackRunningStats) return;
    init.zeros_(this.running_mean!);
    init.ones_(this.running_var!);
    init.zeros_(this.num_batches_tracked!);
  }

  resetParameters(): void {
    this.resetRunningStats();
    if (this.affine) {
      init.ones_(this.weight!);
      init.zeros_(this.bias!);
    }
  }

  protected abstract checkInputDim(x: Tensor): void;

  forward(x: Tensor): Tensor {
    this.checkInputDim(x);
    let factor = this.momentum ?? 0.0;
    if (this.training && this.trackRunningStats && this.num_batches_tracked !== null) {
      const nbt = this.num_batches_tracked;
      noGrad(() => nbt.add_(1).dispose());
      factor = this.momentum === null ? 1.0 / nbt.item() : this.momentum;
    }
    const bnTraining = this.training ? true : this.running_mean === null && this.running_var === null;
    const useStats = !this.training || this.trackRunningStats;
    return F.batchNorm(x, useStats ? this.running_mean : null, useStats ? this.running_var : null, {
      weight: this.weight, bias: this.bias, training: bnTraining, momentum: factor, eps: this.eps,
    });
  }
}

/** Batch normalisation over (N, C) or (N, C, L) inputs. */
export class BatchNorm1d extends BatchNormBase {
  protected checkInputDim(x: Tensor): void {
    if (x.ndim !== 2 && x.ndim !== 3) throw new RangeError(`BatchNorm1d: expected 2D or 3D input (got ${x.ndim}D input)`);
  }
}

/** Batch normalisation over (N, C, H, W) inputs. */
export class BatchNorm2d extends BatchNormBase {
  protected checkInputDim(x: Tensor): void {
    if (x.ndim !== 4) throw new RangeError(`BatchNorm2d: expected 4D input (got ${x.ndim}D input)`);
  }
}

export class GroupNorm extends Module {
  declare weight: Tensor | null;
  declare bias: Tensor | null;
  readonly eps: number;
  readonly affine: boolean;

  constructor(readonly numGroups: number, readonly numChannels: number, options: { eps?: number; affine?: boolean } = {}) {
    super();
    if (numChannels % numGroups !== 0) throw new RangeError(`GroupNorm: numChannels (${numChannels}) must be divisible by numGroups (${numGroups})`);
    this.eps = options.eps ?? 1e-5;
    this.affine = options.affine ?? true;
    this.registerParameter('weight', this.affine ? ops.empty([numChannels]) : null);
    this.registerParameter('bias', this.affine ? ops.empty([numChannels]) : null);
    this.resetParameters();
  }

  resetParameters(): void {
    if (this.affine) {
      init.ones_(this.weight!);
      init.zeros_(this.bias!);
    }
  }

  forward(x: Tensor): Tensor {
    return F.groupNorm(x, this.numGroups, { weight: this.weight, bias: this.bias, eps: this.eps });
  }
}
