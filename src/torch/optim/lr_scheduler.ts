// Learning-rate schedules in PyTorch 1.13's chainable form: each step() derives the new lr from the
// group's current lr, so values match torch.optim.lr_scheduler exactly (same float operations).
import type { Optimizer, ParamGroup } from './optimizer.js';

export interface SchedulerState {
  lastEpoch: number;
  stepCount: number;
  baseLrs: number[];
  lastLr: number[];
  [extra: string]: unknown;
}

export abstract class LRScheduler {
  lastEpoch: number;
  readonly baseLrs: number[];
  protected stepCount = 0;
  #lastLr: number[] = [];

  /** lastEpoch −1 starts fresh; another value resumes (each group must then have initialLr). */
  constructor(readonly optimizer: Optimizer<ParamGroup>, lastEpoch = -1) {
    const groups = optimizer.paramGroups;
    if (lastEpoch === -1) {
      for (const g of groups) g.initialLr ??= g.lr;
    } else {
      groups.forEach((g, i) => {
        if (g.initialLr === undefined) throw new Error(`${this.constructor.name}: param 'initialLr' is not specified in paramGroups[${i}] when resuming an optimizer`);
      });
    }
    this.baseLrs = groups.map((g) => g.initialLr!);
    this.lastEpoch = lastEpoch;
  }

  /** Subclasses call this at the end of their constructor (PyTorch's initial step()). */
  protected start(): void { this.step(); }

  protected abstract getLr(): number[];

  /** Advances one epoch and writes the new lr into every group. */
  step(): void {
    this.stepCount += 1;
    this.lastEpoch += 1;
    const lrs = this.getLr();
    this.optimizer.paramGroups.forEach((g, i) => { g.lr = lrs[i]!; });
    this.#lastLr = this.optimizer.paramGroups.map((g) => g.lr);
  }

  getLastLr(): number[] { return [...this.#lastLr]; }

  /** JSON-able state (the optimiser is saved separately). */
  stateDict(): SchedulerState {
    return { ...this.extraState(), lastEpoch: this.lastEpoch, stepCount: this.stepCount, baseLrs: [...this.baseLrs], lastLr: [...this.#lastLr] };
  }

  loadStateDict(sd: SchedulerState): void {
    if (typeof sd?.lastEpoch !== 'number' || !Array.isArray(sd.baseLrs)) throw new TypeError(`${this.constructor.name}.loadStateDict: expected a state written by stateDict()`);
    if (sd.baseLrs.length !== this.baseLrs.length) {
      throw new RangeError(`${this.constructor.name}.loadStateDict: state has ${sd.baseLrs.length} groups, the optimizer has ${this.baseLrs.length}`);
    }
    this.lastEpoch = sd.lastEpoch;
    this.stepCount = sd.stepCount;
    this.baseLrs.splice(0, this.baseLrs.length, ...sd.baseLrs);
    this.#lastLr = [...sd.lastLr];
    this.loadExtraState(sd);
  }

  protected extraState(): Record<string, unknown> { return {}; }
  protected loadExtraState(_sd: SchedulerState): void {}

  protected groupLrs(): number[] { return this.optimizer.paramGroups.map((g) => g.lr); }
}

/** lr ← lr·γ every stepSize epochs. */
export class StepLR extends LRScheduler {
  stepSize: number;
  gamma: number;
  constructor(optimizer: Optimizer<ParamGroup>, options: { stepSize: number; gamma?: number; lastEpoch?: number }) {
    super(optimizer, options.lastEpoch ?? -1);
    if (!Number.isInteger(options.stepSize) || options.stepSize < 1) throw new RangeError(`StepLR: stepSize must be a positive integer, got ${options.stepSize}`);
    this.stepSize = options.stepSize;
    this.gamma = options.gamma ?? 0.1;
    this.start();
  }
  protected getLr(): number[] {
    if (this.lastEpoch === 0 || this.lastEpoch % this.stepSize !== 0) return this.groupLrs();
    return this.groupLrs().map((lr) => lr * this.gamma);
  }
  protected override extraState(): Record<string, unknown> { return { stepSize: this.stepSize, gamma: this.gamma }; }
  protected override loadExtraState(sd: SchedulerState): void { this.stepSize = sd.stepSize as number; this.gamma = sd.gamma as number; }
}

/** lr ← lr·γ^k at each milestone epoch (k: how often the epoch is listed). */
export class MultiStepLR extends LRScheduler {
  milestones: Map<number, number>;
  gamma: number;
  constructor(optimizer: Optimizer<ParamGroup>, options: { milestones: number[]; gamma?: number; lastEpoch?: number }) {
    super(optimizer, options.lastEpoch ?? -1);
    if (!Array.isArray(options.milestones) || !options.milestones.every((m) => Number.isInteger(m))) {
      throw new TypeError(`MultiStepLR: milestones must be a list of integers, got ${JSON.stringify(options.milestones)}`);
    }
    this.milestones = count(options.milestones);
    this.gamma = options.gamma ?? 0.1;
    this.start();
  }
  protected getLr(): number[] {
    const k = this.milestones.get(this.lastEpoch);
    if (k === undefined) return this.groupLrs();
    return this.groupLrs().map((lr) => lr * this.gamma ** k);
  }
  protected override extraState(): Record<string, unknown> {
    return { milestones: [...this.milestones].flatMap(([m, k]) => Array<number>(k).fill(m)).sort((a, b) => a - b), gamma: this.gamma };
  }
  protected override loadExtraState(sd: SchedulerState): void { this.milestones = count(sd.milestones as number[]); this.gamma = sd.gamma as number; }
}

function count(xs: number[]): Map<number, number> {
  const m = new Map<number, number>();
  for (const x of xs) m.set(x, (m.get(x) ?? 0) + 1);
  return m;
}

/** Cosine annealing from the base lr to etaMin over tMax epochs (SGDR without restarts). */
export class CosineAnnealingLR extends LRScheduler {
  tMax: number;
  etaMin: number;
  constructor(optimizer: Optimizer<ParamGroup>, options: { tMax: number; etaMin?: number; lastEpoch?: number }) {
    super(optimizer, options.lastEpoch ?? -1);
    if (!(options.tMax > 0)) throw new RangeError(`CosineAnnealingLR: tMax must be positive, got ${options.tMax}`);
    this.tMax = options.tMax;
    this.etaMin = options.etaMin ?? 0;
    this.start();
  }
  protected getLr(): number[] {
    const { lastEpoch: e, tMax: T, etaMin } = this;
    const groups = this.groupLrs();
    if (e === 0) return groups;
    if (this.stepCount === 1 && e > 0) return this.baseLrs.map((base) => etaMin + (base - etaMin) * (1 + Math.cos(e * Math.PI / T)) / 2);
    if (pyMod(e - 1 - T, 2 * T) === 0) return groups.map((lr, i) => lr + (this.baseLrs[i]! - etaMin) * (1 - Math.cos(Math.PI / T)) / 2);
    return groups.map((lr) => (1 + Math.cos(Math.PI * e / T)) / (1 + Math.cos(Math.PI * (e - 1) / T)) * (lr - etaMin) + etaMin);
  }
  protected override extraState(): Record<string, unknown> { return { tMax: this.tMax, etaMin: this.etaMin }; }
  protected override loadExtraState(sd: SchedulerState): void { this.tMax = sd.tMax as number; this.etaMin = sd.etaMin as number; }
}

// Python's % (the result takes the divisor's sign).
function pyMod(a: number, m: number): number { return ((a % m) + m) % m; }
