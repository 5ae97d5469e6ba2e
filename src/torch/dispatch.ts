// Picks the ATen overload that matches the given arguments and calls it through the dispatcher.
// Tables come from ops.generated.ts: [overload, positional kinds, positional schema indices,
// options {name: [schema index, kind]}, schema argument count, position of self among positionals,
// number of required positionals]. Positionals after the required ones may also be given.
import { native, type NativeTensor } from './native.js';
import { Tensor } from './tensor.js';
import { dtypeCode, isDType, memoryFormatCode, type DType, type MemoryFormat } from './dtype.js';

type Kind = string;
export type OverloadRow = [string, Kind[], number[], Record<string, [number, Kind]>, number, number, number];

export interface OpFn {
  (args: unknown[]): unknown;
  method(self: Tensor, args: unknown[]): unknown;
}


function isOptions(x: unknown): x is Record<string, unknown> {
  if (typeof x !== 'object' || x === null || Array.isArray(x) || x instanceof Tensor) return false;
  const p = Object.getPrototypeOf(x);
  return p === Object.prototype || p === null;
}

function matches(kind: Kind, v: unknown): boolean {
  const optional = kind.endsWith('?');
  if (v === null || v === undefined) return optional;
  const k = optional ? kind.slice(0, -1) : kind;
  switch (k) {
    case 'T': return v instanceof Tensor;
    case 'L': return Array.isArray(v) && v.every((e) => e instanceof Tensor);
    case 'L?': return Array.isArray(v) && v.every((e) => e === null || e === undefined || e instanceof Tensor);
    case 'n': return typeof v === 'number' || typeof v === 'bigint';
    case 'n[]': return typeof v === 'number' || (Array.isArray(v) && v.every((e) => typeof e === 'number'));
    case 'b': return typeof v === 'boolean';
    case 'b[]': return Array.isArray(v) && v.every((e) => typeof e === 'boolean');
    case 's': return typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint';
    case 'dtype': return isDType(v);
    case 'str': case 'mf': case 'layout': return typeof v === 'string';
    case 'gen': return false;
    default: return false;
  }
}

function convert(kind: Kind, v: unknown): unknown {
  if (v === null || v === undefined) return v;
  const k = kind.endsWith('?') && kind !== 'L?' ? kind.slice(0, -1) : kind;
  switch (k) {
    case 'T': return (v as Tensor).native;
    case 'L': return (v as Tensor[]).map((t) => t.native);
    case 'L?': return (v as (Tensor | null)[]).map((t) => (t ? t.native : null));
    case 'dtype': return dtypeCode(v as DType);
    case 'mf': return memoryFormatCode(v as MemoryFormat);
    case 'layout': return 0;
    default: return v;
  }
}

/** Wraps native results: tensors become tracked Tensor handles, arrays are wrapped element-wise. */
export function wrap(x: unknown): unknown {
  if (typeof x === 'object' && x !== null && !Array.isArray(x)) return new Tensor(x as NativeTensor);
  if (Array.isArray(x)) return x.map(wrap);
  return x;
}

function describe(v: unknown): string {
  if (v instanceof Tensor) return v.isDisposed ? 'Tensor(disposed)' : `Tensor[${v.shape.join(',')}] ${v.dtype}`;
  if (Array.isArray(v)) return `[${v.map(describe).join(', ')}]`;
  if (v === null) return 'null';
  if (isOptions(v)) return `{${Object.keys(v).join(', ')}}`;
  return typeof v === 'string' ? JSON.stringify(v) : typeof v;
}

export function defineOp(name: string, rows: OverloadRow[]): OpFn {
  const handles: number[] = new Array(rows.length).fill(-1);
  const short = name.replace(/^aten::/, '');

  function call(args: unknown[]): unknown {
    let options: Record<string, unknown> | undefined;
    let n = args.length;
    while (n > 0 && args[n - 1] === undefined) n--;
    if (n > 0 && isOptions(args[n - 1])) { options = args[n - 1] as Record<string, unknown>; n--; }
    for (let r = 0; r < rows.length; r++) {
      const [, kinds, idx, opts, nargs, , nreq] = rows[r]!;
      if (n < nreq || n > kinds.length) continue;
      let ok = true;
      for (let i = 0; i < n && ok; i++) ok = matches(kinds[i]!, args[i]);
      // Options must exist in this overload and have its types (conv2d.padding takes 'same').
      if (ok && options) {
        for (const key of Object.keys(options)) {
          const v = options[key];
          if (v === undefined) continue;
          const o = opts[key];
          if (!o || (v !== null && !matches(o[1], v))) { ok = false; break; }
        }
      }
      if (!ok) continue;
      const full: unknown[] = new Array(nargs);
      for (let i = 0; i < n; i++) full[idx[i]!] = convert(kinds[i]!, args[i]);
      if (options) {
        for (const key of Object.keys(options)) {
          const v = options[key];
          if (v === undefined) continue;
          const [at, kind] = opts[key]!;
          full[at] = convert(kind, v);
        }
      }
      if (handles[r] === -1) handles[r] = native.opHandle(name, rows[r]![0]);
      return wrap(native.callOp(handles[r]!, full));
    }
    const expected = rows.map((row) => `${short}${row[0] ? '.' + row[0] : ''}(${row[1].map((k, i) => (i < row[6] ? k : k + '=')).join(', ')}; options: ${Object.keys(row[3]).join(', ') || 'none'})`);
    throw new TypeError(`${short}(): no overload matches (${args.slice(0, args.length).map(describe).join(', ')}). Overloads: ${expected.join(' | ')}`);
  }

  const fn = call as OpFn;
  fn.method = (self: Tensor, args: unknown[]) => {
    // Insert self where the overload expects it (usually first; `where` has it second).
    let n = args.length;
    while (n > 0 && args[n - 1] === undefined) n--;
    const hasOpts = n > 0 && isOptions(args[n - 1]);
    const positional = hasOpts ? n - 1 : n;
    for (const row of rows) {
      if (row[5] < 0 || positional + 1 < row[6] || positional + 1 > row[1].length) continue;
      const withSelf = args.slice(0, positional);
      if (row[5] > withSelf.length) continue;
      withSelf.splice(row[5], 0, self);
      if (!withSelf.every((v, i) => matches(row[1][i]!, v))) continue;
      return call(hasOpts ? [...withSelf, args[n - 1]] : withSelf);
    }
    return call([self, ...args]);
  };
  return fn;
}
