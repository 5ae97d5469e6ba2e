// Memory scopes in TensorFlow.js's style: tensors made inside tidy() are disposed when it returns,
// except those it returns and those passed to keep(). Scopes are synchronous by design.

export interface Trackable {
  dispose(): void;
  readonly isDisposed: boolean;
  /** Set by keep(): no scope disposes it. */
  kept: boolean;
}

const stack: Trackable[][] = [];

/** Called by every new tensor handle. */
export function track(t: Trackable): void {
  const top = stack[stack.length - 1];
  if (top) top.push(t);
}

function isTrackable(x: unknown): x is Trackable {
  return typeof x === 'object' && x !== null && 'kept' in x && typeof (x as Trackable).dispose === 'function';
}

// Walks arrays, plain objects and Maps returned from a scope, collecting the tensors in them.
function collect(x: unknown, out: Set<Trackable>, seen: Set<unknown>): void {
  if (x === null || typeof x !== 'object' || seen.has(x)) return;
  seen.add(x);
  if (isTrackable(x)) { out.add(x); return; }
  if (Array.isArray(x)) { for (const v of x) collect(v, out, seen); return; }
  if (x instanceof Map) { for (const v of x.values()) collect(v, out, seen); return; }
  if (ArrayBuffer.isView(x)) return;
  const proto = Object.getPrototypeOf(x);
  if (proto === Object.prototype || proto === null) for (const v of Object.values(x)) collect(v, out, seen);
}

/**
 * Runs fn and disposes every tensor it created, except the tensors in its result (arrays, plain
 * objects and Maps are searched) and kept ones. Returned tensors move to the enclosing scope.
 */
export function tidy<T>(fn: () => T): T;
export function tidy<T>(name: string, fn: () => T): T;
export function tidy<T>(a: string | (() => T), b?: () => T): T {
  const fn = typeof a === 'function' ? a : b;
  if (typeof fn !== 'function') throw new TypeError('tidy(fn): fn must be a function');
  const scope: Trackable[] = [];
  stack.push(scope);
  let result: T;
  let ok = false;
  try {
    result = fn();
    if (result instanceof Promise) throw new Error('tidy(fn): fn returned a Promise; scopes are synchronous (await outside tidy)');
    ok = true;
  } finally {
    stack.pop();
    const keepSet = new Set<Trackable>();
    if (ok) collect(result!, keepSet, new Set());
    const parent = stack[stack.length - 1];
    for (const t of scope) {
      if (t.kept || t.isDisposed) continue;
      if (keepSet.has(t)) { if (parent) parent.push(t); continue; }
      t.dispose();
    }
  }
  return result!;
}

/** Exempts a tensor from every enclosing tidy(); the caller disposes it. */
export function keep<T extends Trackable>(t: T): T {
  t.kept = true;
  return t;
}

/** Disposes every tensor found in x (a tensor, array, plain object or Map). */
export function dispose(x: unknown): void {
  const found = new Set<Trackable>();
  collect(x, found, new Set());
  for (const t of found) t.dispose();
}

export function scopeDepth(): number {
  return stack.length;
}
