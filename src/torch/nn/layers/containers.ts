// Sequential and ModuleList: children registered under "0", "1", … as in PyTorch.
import type { Tensor } from '../../tensor.js';
import * as ops from '../../ops.generated.js';
import { Module, callForward } from '../module.js';

function index(i: number, n: number, what: string): number {
  const k = i < 0 ? i + n : i;
  if (!Number.isInteger(k) || k < 0 || k >= n) throw new RangeError(`${what}.at(${i}): index out of range for ${n} modules`);
  return k;
}

/** Runs its children in order; each must map one tensor to one tensor. */
export class Sequential extends Module {
  #list: Module[] = [];

  constructor(...modules: Module[]) {
    super();
    for (const m of modules) this.append(m);
  }

  append(m: Module): this {
    this.registerModule(String(this.#list.length), m);
    this.#list.push(m);
    return this;
  }

  at(i: number): Module { return this.#list[index(i, this.#list.length, 'Sequential')]!; }
  get length(): number { return this.#list.length; }
  [Symbol.iterator](): Iterator<Module> { return this.#list[Symbol.iterator](); }

  forward(x: Tensor): Tensor {
    if (this.#list.length === 0) return ops.alias(x);
    let y = x;
    for (const m of this.#list) {
      const next = callForward(m, y);
      if (y !== x && next !== y) y.dispose();
      y = next;
    }
    return y;
  }
}

/** Holds modules so their parameters are registered; has no forward of its own. */
export class ModuleList<M extends Module = Module> extends Module {
  #list: M[] = [];

  constructor(modules: Iterable<M> = []) {
    super();
    for (const m of modules) this.append(m);
  }

  append(m: M): this {
    this.registerModule(String(this.#list.length), m);
    this.#list.push(m);
    return this;
  }

  at(i: number): M { return this.#list[index(i, this.#list.length, 'ModuleList')]!; }
  get length(): number { return this.#list.length; }
  [Symbol.iterator](): Iterator<M> { return this.#list[Symbol.iterator](); }

  forward(): never {
    throw new Error('ModuleList has no forward(); iterate over it and call each module');
  }
}
