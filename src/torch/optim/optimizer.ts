// The optimiser contract of torch.optim (PyTorch 1.13): parameter groups whose missing keys are
// filled from the defaults, per-parameter state, and a state dict that names parameters by their
// position across groups so it can be saved and loaded into a fresh optimiser.
import { Tensor } from '../tensor.js';
import { keep, tidy } from '../scope.js';
import { noGrad } from '../autograd.js';
import { tensor } from '../creation.js';
import { saveSafetensors, loadSafetensors } from '../serialize.js';
import { zeroGrads } from '../nn/module.js';

export interface ParamGroup {
  params: Tensor[];
  lr: number;
  /** Set by the first LR scheduler attached (PyTorch's 'initial_lr'). */
  initialLr?: number;
}

/** Hyperparameters of a group (everything but params), as JSON. */
export type GroupHyper<G extends ParamGroup> = Omit<G, 'params'>;
export type GroupInput<G extends ParamGroup> = Partial<GroupHyper<G>> & { params: Tensor[] };
/** A list of tensors (one group) or a list of groups with per-group overrides. */
export type ParamsInput<G extends ParamGroup> = Tensor[] | GroupInput<G>[];

export type StateValue = Tensor | number;
export type ParamState = Record<string, StateValue>;

export interface OptimizerStateDict {
  /** `${paramIndex}.${name}` → tensor (numbers are stored as 0-d float64 tensors). */
  state: Map<string, Tensor>;
  /** The groups' hyperparameters with params replaced by their indices. */
  groups: (Record<string, unknown> & { params: number[] })[];
}

const STATE_META_KEY = 'vigil.optimizer';

export abstract class Optimizer<G extends ParamGroup = ParamGroup> {
  paramGroups: G[] = [];
  readonly defaults: Partial<GroupHyper<G>>;
  /** Per-parameter state, created lazily at the first step that sees a gradient. */
  readonly state = new Map<Tensor, ParamState>();

  constructor(params: ParamsInput<G>, defaults: Partial<GroupHyper<G>>) {
    this.defaults = defaults;
    if (!Array.isArray(params) || params.length === 0) throw new RangeError(`${this.constructor.name}: optimizer got an empty parameter list`);
    const groups: GroupInput<G>[] = params[0] instanceof Tensor ? [{ params: params as Tensor[] } as GroupInput<G>] : (params as GroupInput<G>[]);
    for (const g of groups) this.addParamGroup(g);
  }

  addParamGroup(group: GroupInput<G>): void {
    const name = this.constructor.name;
    if (!Array.isArray(group.params)) throw new TypeError(`${name}: a parameter group's params must be an array of tensors`);
    for (const p of group.params) {
      if (!(p instanceof Tensor)) throw new TypeError(`${name}: optimizer can only optimize Tensors`);
      if (!p.isLeaf) throw new TypeError(`${name}: can't optimize a non-leaf Tensor`);
    }
    const full = { ...group, params: [...group.params] } as Record<string, unknown>;
    for (const [k, v] of Object.entries(this.defaults)) if (full[k] === undefined) full[k] = Array.isArray(v) ? [...v] : v;
    if (typeof full.lr !== 'number') throw new TypeError(`${name}: parameter group didn't specify a value of required optimization parameter lr`);
    const seen = new Set<Tensor>(this.paramGroups.flatMap((g) => g.params));
    if (group.params.some((p) => seen.has(p))) throw new Error(`${name}: some parameters appear in more than one parameter group`);
    this.paramGroups.push(full as unknown as G);
  }

  /** One update of every parameter that has a gradient. */
  abstract step(): void;

  /** Zeroes the gradients (PyTorch 1.13's default), or drops them with setToNone. */
  zeroGrad(setToNone = false): void {
    zeroGrads(this.paramGroups.flatMap((g) => g.params), setToNone);
  }

  /** Sets the learning rate of one group, or of all groups. */
  setLr(lr: number, groupIndex?: number): void {
    if (!(lr >= 0)) throw new RangeError(`${this.constructor.name}.setLr: invalid learning rate ${lr}`);
    if (groupIndex === undefined) { for (const g of this.paramGroups) g.lr = lr; return; }
    const g = this.paramGroups[groupIndex];
    if (!g) throw new RangeError(`${this.constructor.name}.setLr: no parameter group ${groupIndex} (there are ${this.paramGroups.length})`);
    g.lr = lr;
  }

  /** State tensors are new handles sharing storage with the optimiser's (dispose them, or use tidy). */
  stateDict(): OptimizerStateDict {
    const state = new Map<string, Tensor>();
    const groups: OptimizerStateDict['groups'] = [];
    let index = 0;
    noGrad(() => {
      for (const g of this.paramGroups) {
        const { params, ...hyper } = g;
        const ids: number[] = [];
        for (const p of params) {
          const st = this.state.get(p);
          if (st) {
            for (const [k, v] of Object.entries(st)) {
              state.set(`${index}.${k}`, v instanceof Tensor ? v.detach() : tensor(v, { dtype: 'float64' }));
            }
          }
          ids.push(index++);
        }
        groups.push({ ...structuredClone(hyper as Record<string, unknown>), params: ids });
      }
    });
    return { state, groups };
  }

  /**
   * Restores hyperparameters and state saved by stateDict() into this optimiser (same group
   * layout). State tensors are copied and cast to their parameter's dtype and device.
   */
  loadStateDict(sd: OptimizerStateDict): void {
    const name = this.constructor.name;
    if (!sd || !Array.isArray(sd.groups) || !(sd.state instanceof Map)) throw new TypeError(`${name}.loadStateDict: expected { state: Map, groups: [...] }`);
    if (sd.groups.length !== this.paramGroups.length) {
      throw new RangeError(`${name}.loadStateDict: loaded state dict has ${sd.groups.length} parameter groups, the optimizer has ${this.paramGroups.length}`);
    }
    const byIndex = new Map<number, Tensor>();
    sd.groups.forEach((sg, gi) => {
      const own = this.paramGroups[gi]!;
      if (!Array.isArray(sg.params) || sg.params.length !== own.params.length) {
        throw new RangeError(`${name}.loadStateDict: loaded parameter group ${gi} has ${sg.params?.length} parameters, the optimizer's has ${own.params.length}`);
      }
      sg.params.forEach((id, i) => byIndex.set(id, own.params[i]!));
    });
    const next = new Map<Tensor, ParamState>();
    const problems: string[] = [];
    for (const [key, v] of sd.state) {
      const dot = key.indexOf('.');
      const id = Number(key.slice(0, dot));
      const field = key.slice(dot + 1);
      const p = byIndex.get(id);
      if (dot < 1 || !Number.isInteger(id) || p === undefined || field === '') { problems.push(`state key '${key}' names no parameter`); continue; }
      let st = next.get(p);
      if (!st) next.set(p, (st = {}));
      if (v.ndim === 0 && field === 'step') { st[field] = v.item(); continue; }
      const ps = p.shape, vs = v.shape;
      if (ps.length !== vs.length || ps.some((d, i) => d !== vs[i])) {
        problems.push(`state '${key}' has shape [${vs.join(', ')}], parameter ${id} has [${ps.join(', ')}]`);
        continue;
      }
      st[field] = v;
    }
    if (problems.length) throw new Error(`${name}.loadStateDict: ${problems.join('; ')}`);
    this.disposeState();
    for (const [p, st] of next) {
      const copy: ParamState = {};
      for (const [k, v] of Object.entries(st)) {
        copy[k] = v instanceof Tensor ? keep(noGrad(() => tidy(() => (v.isFloatingPoint ? v.to({ dtype: p.dtype, device: p.device, copy: true }) : v.clone())))) : v;
      }
      this.state.set(p, copy);
    }
    sd.groups.forEach((sg, gi) => {
      const own = this.paramGroups[gi]!;
      const { params: _ids, ...hyper } = sg;
      Object.assign(own, structuredClone(hyper));
    });
  }

  /** Writes stateDict() to a safetensors file (hyperparameters as JSON in the metadata). */
  saveState(path: string): void {
    tidy(() => {
      const sd = this.stateDict();
      saveSafetensors(path, sd.state, { [STATE_META_KEY]: JSON.stringify({ type: this.constructor.name, groups: sd.groups }) });
    });
  }

  /** Restores a file written by saveState(). */
  loadState(path: string): void {
    const { tensors, metadata } = loadSafetensors(path);
    try {
      const raw = metadata[STATE_META_KEY];
      if (raw === undefined) throw new Error(`${path}: not an optimizer state file (no '${STATE_META_KEY}' metadata); write it with saveState()`);
      const meta = JSON.parse(raw) as { type: string; groups: OptimizerStateDict['groups'] };
      if (meta.type !== this.constructor.name) throw new Error(`${path}: optimizer state was saved by ${meta.type}, cannot load it into ${this.constructor.name}`);
      this.loadStateDict({ state: tensors, groups: meta.groups });
    } finally {
      for (const t of tensors.values()) t.dispose();
    }
  }

  /** Frees the state tensors (moment estimates, momentum buffers). */
  disposeState(): void {
    for (const st of this.state.values()) for (const v of Object.values(st)) if (v instanceof Tensor) v.dispose();
    this.state.clear();
  }

  dispose(): void { this.disposeState(); }
}

export function checkHyper(name: string, what: string, ok: boolean, value: unknown): void {
  if (!ok) throw new RangeError(`${name}: invalid ${what}: ${JSON.stringify(value)}`);
}
