// The Module contract of torch.nn: three registries (parameters, buffers, children) and the dotted
// naming rule that gives checkpoint keys such as `layer1.0.bn1.running_mean`. Registration is
// explicit; each registered name also becomes an accessor on the instance, so `this.weight` always
// reads the registry and assigning `this.weight = t` re-registers (keys stay right on replacement).
// In subclasses, type such fields with `declare weight: Tensor;` and assign them in the constructor
// (`this.weight = this.registerParameter('weight', t)!`); forward() is called directly, m.forward(x).
import { Tensor } from '../tensor.js';
import { keep, tidy } from '../scope.js';
import { noGrad } from '../autograd.js';
import { isDType, type DType, type MemoryFormat } from '../dtype.js';

export interface LoadResult {
  missingKeys: string[];
  unexpectedKeys: string[];
}


type Kind = 'parameter' | 'buffer' | 'module';

export abstract class Module {
  training = true;
  readonly #params = new Map<string, Tensor | null>();
  readonly #buffers = new Map<string, Tensor | null>();
  readonly #nonPersistent = new Set<string>();
  readonly #modules = new Map<string, Module>();
  /** State-dict keys (relative to this module) that may be absent from a checkpoint without being reported missing. */
  protected optionalStateKeys = new Set<string>();

  abstract forward(...args: never[]): unknown;

  #kindOf(name: string): Kind | null {
    if (this.#params.has(name)) return 'parameter';
    if (this.#buffers.has(name)) return 'buffer';
    if (this.#modules.has(name)) return 'module';
    return null;
  }

  #checkName(name: string, kind: Kind): void {
    const what = `${this.constructor.name}.register${kind === 'parameter' ? 'Parameter' : kind === 'buffer' ? 'Buffer' : 'Module'}`;
    if (typeof name !== 'string' || name === '') throw new TypeError(`${what}(): the name must be a non-empty string`);
    if (name.includes('.')) throw new TypeError(`${what}('${name}'): the name cannot contain '.' (dots separate state-dict levels)`);
    const other = this.#kindOf(name);
    if (other !== null && other !== kind) throw new Error(`${what}('${name}'): '${name}' is already registered as a ${other}`);
    const own = Object.getOwnPropertyDescriptor(this, name);
    const taken = own !== undefined && !own.get && own.value !== undefined;
    if (other === null && (taken || name in Module.prototype || name in Object.getPrototypeOf(this) || name === 'training')) {
      throw new Error(`${what}('${name}'): '${name}' is already a property of ${this.constructor.name}; pick another name`);
    }
  }

  #defineAccessor(name: string): void {
    Object.defineProperty(this, name, {
      configurable: true,
      enumerable: true,
      get: () => (this.#params.has(name) ? this.#params.get(name) : this.#buffers.has(name) ? this.#buffers.get(name) : this.#modules.get(name)),
      set: (v: unknown) => {
        const kind = this.#kindOf(name);
        if (kind === 'module') {
          if (!(v instanceof Module)) throw new TypeError(`${this.constructor.name}.${name}: a child module can only be replaced by a Module`);
          if (v !== this.#modules.get(name)) this.registerModule(name, v);
        } else if (v !== null && !(v instanceof Tensor)) {
          throw new TypeError(`${this.constructor.name}.${name}: a ${kind} can only be replaced by a Tensor or null`);
        } else if (kind === 'parameter') {
          if (v !== this.#params.get(name)) this.registerParameter(name, v);
        } else if (v !== this.#buffers.get(name)) {
          this.registerBuffer(name, v, !this.#nonPersistent.has(name));
        }
      },
    });
  }

  /**
   * Registers (or replaces) a parameter: the tensor is kept (no tidy disposes it), made a leaf if
   * needed and set to require gradients. null registers an absent parameter (e.g. bias=false),
   * which has no state-dict key. Returns the registered tensor.
   */
  registerParameter(name: string, t: Tensor | null): Tensor | null {
    this.#checkName(name, 'parameter');
    if (t !== null && !(t instanceof Tensor)) throw new TypeError(`${this.constructor.name}.registerParameter('${name}'): expected a Tensor or null`);
    let p = t;
    if (p !== null) {
      if (!p.isFloatingPoint) throw new TypeError(`${this.constructor.name}.registerParameter('${name}'): parameters must be floating point, got ${p.dtype}`);
      if (!p.isLeaf) p = noGrad(() => t!.detach());
      keep(p);
      p.requiresGrad_(true);
    }
    if (!this.#params.has(name)) this.#defineAccessor(name);
    this.#params.set(name, p);
    return p;
  }

  /** Registers (or replaces) a buffer; kept. Non-persistent buffers are left out of stateDict(). */
  registerBuffer(name: string, t: Tensor | null, persistent = true): Tensor | null {
    this.#checkName(name, 'buffer');
    if (t !== null && !(t instanceof Tensor)) throw new TypeError(`${this.constructor.name}.registerBuffer('${name}'): expected a Tensor or null`);
    if (t !== null) keep(t);
    if (!this.#buffers.has(name)) this.#defineAccessor(name);
    this.#buffers.set(name, t);
    if (persistent) this.#nonPersistent.delete(name);
    else this.#nonPersistent.add(name);
    return t;
  }

  registerModule<M extends Module>(name: string, m: M): M {
    this.#checkName(name, 'module');
    if (!(m instanceof Module)) throw new TypeError(`${this.constructor.name}.registerModule('${name}'): expected a Module`);
    if (!this.#modules.has(name)) this.#defineAccessor(name);
    this.#modules.set(name, m);
    return m;
  }

  /** Parameters of this module and its descendants, each once, with dotted names. */
  namedParameters(prefix = ''): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    const seen = new Set<Tensor>();
    for (const [mp, m] of this.namedModules(prefix)) {
      for (const [k, p] of m.#params) {
        if (p === null || seen.has(p)) continue;
        seen.add(p);
        out.push([mp ? `${mp}.${k}` : k, p]);
      }
    }
    return out;
  }

  parameters(): Tensor[] { return this.namedParameters().map(([, p]) => p); }

  /** Buffers (persistent or not) of this module and its descendants. */
  namedBuffers(prefix = ''): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    const seen = new Set<Tensor>();
    for (const [mp, m] of this.namedModules(prefix)) {
      for (const [k, b] of m.#buffers) {
        if (b === null || seen.has(b)) continue;
        seen.add(b);
        out.push([mp ? `${mp}.${k}` : k, b]);
      }
    }
    return out;
  }

  buffers(): Tensor[] { return this.namedBuffers().map(([, b]) => b); }

  namedChildren(): [string, Module][] { return [...this.#modules]; }
  children(): Module[] { return [...this.#modules.values()]; }

  /** This module (named prefix, '' by default) and every descendant, depth first, each once. */
  namedModules(prefix = ''): [string, Module][] {
    const out: [string, Module][] = [];
    const seen = new Set<Module>();
    const visit = (m: Module, p: string): void => {
      if (seen.has(m)) return;
      seen.add(m);
      out.push([p, m]);
      for (const [k, c] of m.#modules) visit(c, p ? `${p}.${k}` : k);
    };
    visit(this, prefix);
    return out;
  }

  modules(): Module[] { return this.namedModules().map(([, m]) => m); }

  train(mode = true): this {
    for (const m of this.modules()) m.training = mode;
    return this;
  }

  eval(): this { return this.train(false); }

  // Keys of the state dict with their tensors (module's own objects), in PyTorch's order: per
  // module, parameters then persistent buffers, then children.
  #stateEntries(): [string, Tensor, boolean][] {
    const out: [string, Tensor, boolean][] = [];
    const visit = (m: Module, p: string): void => {
      for (const [k, t] of m.#params) if (t !== null) out.push([p + k, t, m.optionalStateKeys.has(k)]);
      for (const [k, t] of m.#buffers) if (t !== null && !m.#nonPersistent.has(k)) out.push([p + k, t, m.optionalStateKeys.has(k)]);
      for (const [k, c] of m.#modules) visit(c, `${p}${k}.`);
    };
    visit(this, '');
    return out;
  }

  /**
   * The state dict with PyTorch's key names. Values are new detached handles that share storage
   * with the module's tensors (dispose them, or call inside tidy); the module keeps its own.
   */
  stateDict(): Map<string, Tensor> {
    return noGrad(() => new Map(this.#stateEntries().map(([k, t]) => [k, t.detach()])));
  }

  /**
   * Copies a state dict into this module's tensors in place (optimisers keep their references).
   * Every problem is reported in one error; size mismatches are errors even when strict is off,
   * and nothing is copied when any error is raised.
   */
  loadStateDict(sd: Map<string, Tensor> | Record<string, Tensor>, options: { strict?: boolean } = {}): LoadResult {
    const strict = options.strict ?? true;
    const src = sd instanceof Map ? sd : new Map(Object.entries(sd));
    const entries = this.#stateEntries();
    const expected = new Set(entries.map(([k]) => k));
    const missingKeys: string[] = [];
    const mismatches: string[] = [];
    const copies: [Tensor, Tensor][] = [];
    for (const [k, own, optional] of entries) {
      const v = src.get(k);
      if (v === undefined) {
        if (!optional) missingKeys.push(k);
        continue;
      }
      if (!(v instanceof Tensor)) { mismatches.push(`value for ${k} is not a Tensor`); continue; }
      const a = v.shape, b = own.shape;
      if (a.length !== b.length || a.some((d, i) => d !== b[i])) {
        mismatches.push(`size mismatch for ${k}: copying a param with shape [${a.join(', ')}] from checkpoint, the shape in current model is [${b.join(', ')}]`);
        continue;
      }
      copies.push([own, v]);
    }
    const unexpectedKeys = [...src.keys()].filter((k) => !expected.has(k));
    const errors: string[] = [];
    if (strict && missingKeys.length) errors.push(`Missing key(s) in state_dict: ${missingKeys.map((k) => `"${k}"`).join(', ')}.`);
    if (strict && unexpectedKeys.length) errors.push(`Unexpected key(s) in state_dict: ${unexpectedKeys.map((k) => `"${k}"`).join(', ')}.`);
    errors.push(...mismatches);
    if (errors.length) throw new Error(`Error(s) in loading state_dict for ${this.constructor.name}:\n\t${errors.join('\n\t')}`);
    tidy(() => noGrad(() => { for (const [own, v] of copies) own.copy_(v); }));
    return { missingKeys, unexpectedKeys };
  }

  /** Zeroes every parameter's gradient (PyTorch 1.13's default), or drops them with setToNone. */
  zeroGrad(setToNone = false): void {
    zeroGrads(this.parameters(), setToNone);
  }

  /**
   * Moves parameters and buffers to a device ('cpu', 'cuda'), casts the floating-point ones to a
   * dtype, or, with { memoryFormat }, re-lays out the 4-D ones (PyTorch's
   * `module.to(memory_format=torch.channels_last)`). Converted tensors are new objects (the old
   * ones are disposed): build optimisers after.
   */
  to(target: string | { memoryFormat: MemoryFormat }): this {
    if (typeof target === 'object') {
      const { memoryFormat } = target;
      return this.#convertAll((t) => (t.ndim === 4 ? noGrad(() => t.clone({ memoryFormat })) : null));
    }
    const deviceOrDtype = target;
    const isDtype = isDType(deviceOrDtype);
    return this.#convertAll((t: Tensor): Tensor | null => {
      if (isDtype) {
        if (!t.isFloatingPoint || t.dtype === deviceOrDtype) return null;
        return noGrad(() => t.to(deviceOrDtype as DType));
      }
      if (sameDevice(t.device, deviceOrDtype)) return null;
      return noGrad(() => t.to(deviceOrDtype));
    });
  }

  /** Replaces every parameter (with its gradient) and buffer for which convert returns a new tensor. */
  #convertAll(convert: (t: Tensor) => Tensor | null): this {
    for (const m of this.modules()) {
      // Subclasses that stored a tensor in a plain field (`w = this.registerParameter(…)`) shadow
      // the accessor; point those fields at the converted tensor too.
      const retarget = (old: Tensor, n: Tensor): void => {
        for (const key of Object.keys(m)) {
          const d = Object.getOwnPropertyDescriptor(m, key);
          if (d && !d.get && d.value === old) (m as unknown as Record<string, unknown>)[key] = n;
        }
      };
      for (const [k, p] of [...m.#params]) {
        if (p === null) continue;
        const n = convert(p);
        if (n === null) continue;
        const g = p.grad;
        if (g) { const gn = convert(g); if (gn) { n.grad = gn; gn.dispose(); } g.dispose(); }
        m.registerParameter(k, n);
        retarget(p, n);
        p.dispose();
      }
      for (const [k, b] of [...m.#buffers]) {
        if (b === null) continue;
        const n = convert(b);
        if (n === null) continue;
        m.registerBuffer(k, n, !m.#nonPersistent.has(k));
        retarget(b, n);
        b.dispose();
      }
    }
    return this;
  }

  /** Frees every parameter and buffer of this module and its descendants. */
  dispose(): void {
    for (const t of this.parameters()) t.dispose();
    for (const t of this.buffers()) t.dispose();
  }

  /** The number of scalar parameters. */
  numParameters(): number {
    return this.parameters().reduce((s, p) => s + p.numel(), 0);
  }
}

function sameDevice(a: string, b: string): boolean {
  const norm = (d: string): string => (d === 'cuda' ? 'cuda:0' : d);
  return norm(a) === norm(b);
}

/** Zeroes (or drops) the gradients of the given tensors. */
export function zeroGrads(params: Tensor[], setToNone: boolean): void {
  tidy(() => noGrad(() => {
    for (const p of params) {
      const g = p.grad;
      if (g === null) continue;
      if (setToNone) p.grad = null;
      else {
        if (g.gradFn !== null) { p.grad = g.detach(); }
        g.zero_();
      }
    }
  }));
}

/** Calls forward on a module that maps one tensor to one tensor (containers use this). */
export function callForward(m: Module, x: Tensor): Tensor {
  const out = (m as unknown as { forward(x: Tensor): unknown }).forward(x);
  if (!(out instanceof Tensor)) throw new TypeError(`${m.constructor.name}.forward did not return a Tensor`);
  return out;
}
