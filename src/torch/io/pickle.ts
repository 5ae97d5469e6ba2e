// Restricted pickle reader (protocols 0-5) and a protocol-2 writer.
//
// The reader never imports or calls anything: GLOBAL / STACK_GLOBAL / INST resolve only names in
// the tables the caller passes, and each table entry is plain TypeScript that builds data.
// Anything else (os.system, builtins.eval, copyreg._reconstructor, a model class...) is an error.
import type { DType, RawTensor } from './types.js';
import { DTYPE_ITEMSIZE, isRawTensor, numelOf, plainBytes, stridedCopy } from './types.js';

/** An allowlisted global used as a bare value (e.g. a class object stored in a checkpoint). */
export class PyGlobal {
  constructor(readonly module: string, readonly name: string) {}
  toString(): string {
    return `${this.module}.${this.name}`;
  }
}

/** Values the reader produces. dict and OrderedDict become Map; tuple, list, set become arrays. */
export type PyValue =
  | null | boolean | number | bigint | string | Uint8Array | RawTensor | PyGlobal
  | PyValue[] | Map<PyValue, PyValue>;

export type PyDict = Map<PyValue, PyValue>;

/** Hook on an object created by an allowlisted global, called for pickle's BUILD (__setstate__). */
export const SETSTATE: unique symbol = Symbol('vigil.pickle.setstate');
export interface HasSetState {
  [SETSTATE](state: unknown): void;
}

/**
 * How an allowlisted global behaves. `call` serves REDUCE / INST / OBJ (calling it with args),
 * `create` serves NEWOBJ (cls.__new__(cls, *args)); either may be absent to refuse that use.
 */
export interface PickleGlobal {
  call?(args: unknown[]): unknown;
  create?(args: unknown[]): unknown;
}

export type GlobalTable = ReadonlyMap<string, PickleGlobal>;

export interface UnpickleOptions {
  /** Extra allowlisted globals ('module.name' → behaviour); 'numpy' means {@link numpyGlobals}. */
  allow?: 'numpy' | GlobalTable | ReadonlyArray<'numpy' | GlobalTable>;
  /** Resolves persistent ids (PERSID / BINPERSID); without it such opcodes are an error. */
  persistentLoad?: (pid: unknown) => unknown;
  /** How Python 2 `str` (STRING / BINSTRING / SHORT_BINSTRING) is read: latin1 string (default) or bytes. */
  encoding?: 'latin1' | 'bytes';
  /** Names the file in error messages. */
  source?: string;
}

function globalError(source: string, full: string): Error {
  return new Error(
    `${source}: refusing to load global '${full}': this file is not a plain checkpoint ` +
    `(tensors, numbers, strings, lists, dicts). Unpickling it in Python would import or run '${full}'. ` +
    `Only allowlisted names are resolved; if you trust the file and need this type, re-save it as a state dict or safetensors.`,
  );
}

/** Container constructors that are always allowed: they build data and run nothing. */
export const basicGlobals: GlobalTable = (() => {
  const m = new Map<string, PickleGlobal>();
  const toBytes = (x: unknown): Uint8Array => {
    if (x === undefined) return new Uint8Array(0);
    if (x instanceof Uint8Array) return Uint8Array.from(x);
    if (typeof x === 'string') return Uint8Array.from(Buffer.from(x, 'latin1'));
    if (Array.isArray(x)) return Uint8Array.from(x as number[]);
    throw new Error(`bytes/bytearray of unsupported argument ${typeof x}`);
  };
  const odict: PickleGlobal = {
    call(args) {
      const d: PyDict = new Map();
      const init = args[0];
      if (init instanceof Map) for (const [k, v] of init) d.set(k as PyValue, v as PyValue);
      else if (Array.isArray(init)) for (const kv of init) d.set((kv as PyValue[])[0], (kv as PyValue[])[1]);
      return d;
    },
  };
  m.set('collections.OrderedDict', odict);
  for (const b of ['builtins', '__builtin__']) {
    m.set(`${b}.set`, { call: (a) => (Array.isArray(a[0]) ? [...a[0]] : []) });
    m.set(`${b}.frozenset`, { call: (a) => (Array.isArray(a[0]) ? [...a[0]] : []) });
    m.set(`${b}.bytearray`, { call: (a) => toBytes(a[0]) });
    m.set(`${b}.bytes`, { call: (a) => toBytes(a[0]) });
  }
  // Python 3 writes bytes under protocol <3 as _codecs.encode(str, 'latin1').
  m.set('_codecs.encode', {
    call(a) {
      const s = a[0];
      if (typeof s !== 'string') throw new Error('_codecs.encode expects a string');
      const enc = String(a[1] ?? 'utf-8').toLowerCase().replace('_', '-');
      return Uint8Array.from(Buffer.from(s, enc === 'latin1' || enc === 'latin-1' || enc === 'iso-8859-1' ? 'latin1' : 'utf8'));
    },
  });
  return m;
})();

// ---------------------------------------------------------------------------------------------
// numpy (opt-in): ndarray and dtype reconstruction without numpy.

const NUMPY_DTYPES: Record<string, DType> = {
  u1: 'uint8', i1: 'int8', i2: 'int16', i4: 'int32', i8: 'int64',
  f2: 'float16', f4: 'float32', f8: 'float64', b1: 'bool',
};

class NumpyDType implements HasSetState {
  byteorder = '=';
  constructor(readonly code: string) {}
  [SETSTATE](state: unknown): void {
    if (Array.isArray(state) && typeof state[1] === 'string') this.byteorder = state[1];
  }
  resolve(): DType {
    const d = NUMPY_DTYPES[this.code];
    if (!d) {
      throw new Error(`numpy dtype '${this.code}' is not supported (supported: ${Object.keys(NUMPY_DTYPES).join(', ')}; object/string arrays are refused)`);
    }
    return d;
  }
}

function numpyDTypeFrom(x: unknown): NumpyDType {
  if (x instanceof NumpyDType) return x;
  throw new Error(`expected a numpy dtype, got ${describe(x)}`);
}

function asBytes(x: unknown): Uint8Array {
  if (x instanceof Uint8Array) return x;
  if (typeof x === 'string') return plainBytes(Buffer.from(x, 'latin1'));
  throw new Error(`numpy array data must be bytes, got ${describe(x)} (object arrays are not supported)`);
}

function byteswapInPlace(b: Uint8Array, itemsize: number): void {
  for (let i = 0; i + itemsize <= b.length; i += itemsize) b.subarray(i, i + itemsize).reverse();
}

function toIntList(x: unknown, what: string): number[] {
  const arr = Array.isArray(x) ? x : [x];
  return arr.map((v) => {
    const n = typeof v === 'bigint' ? Number(v) : v;
    if (typeof n !== 'number' || !Number.isSafeInteger(n)) throw new Error(`${what}: expected integers, got ${describe(v)}`);
    return n;
  });
}

/** Fills an array record from raw numpy bytes (any byte order, C or Fortran order). */
function fillNumpy(target: RawTensor, shapeArg: unknown, dt: NumpyDType, fortran: boolean, raw: Uint8Array): void {
  const dtype = dt.resolve();
  const shape = toIntList(shapeArg, 'numpy array shape');
  const isz = DTYPE_ITEMSIZE[dtype];
  const n = numelOf(shape) * isz;
  if (raw.length !== n) throw new Error(`numpy array of shape [${shape.join(', ')}] ${dtype} needs ${n} bytes, pickle holds ${raw.length}`);
  let data: Uint8Array;
  if (fortran && shape.length > 1) {
    const strides: number[] = [];
    let acc = 1;
    for (const d of shape) { strides.push(acc); acc *= d; }
    data = stridedCopy(raw, isz, shape, strides, 0);
  } else data = raw.slice();
  if (dt.byteorder === '>' && isz > 1) byteswapInPlace(data, isz);
  target.dtype = dtype;
  target.shape = shape;
  target.data = data;
}

class NumpyArray implements RawTensor, HasSetState {
  dtype: DType = 'uint8';
  shape: number[] = [0];
  data: Uint8Array = new Uint8Array(0);
  [SETSTATE](state: unknown): void {
    if (!Array.isArray(state)) throw new Error('numpy array state must be a tuple');
    const s = state.length === 5 ? state.slice(1) : state; // (version,) shape, dtype, is_fortran, data
    fillNumpy(this, s[0], numpyDTypeFrom(s[1]), Boolean(s[2]), asBytes(s[3]));
  }
}

function numpyScalar(args: unknown[]): PyValue {
  const dt = numpyDTypeFrom(args[0]);
  const dtype = dt.resolve();
  const b = asBytes(args[1]).slice();
  if (dt.byteorder === '>') b.reverse();
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  switch (dtype) {
    case 'bool': return b[0] !== 0;
    case 'uint8': return v.getUint8(0);
    case 'int8': return v.getInt8(0);
    case 'int16': return v.getInt16(0, true);
    case 'int32': return v.getInt32(0, true);
    case 'int64': { const x = v.getBigInt64(0, true); return Number.isSafeInteger(Number(x)) ? Number(x) : x; }
    case 'float32': return v.getFloat32(0, true);
    case 'float64': return v.getFloat64(0, true);
    case 'float16': return halfToFloat(v.getUint16(0, true));
    case 'bfloat16': return new Float32Array(new Uint32Array([v.getUint16(0, true) << 16]).buffer)[0];
  }
}

function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * f * 2 ** -24;
  if (e === 31) return f ? NaN : s * Infinity;
  return s * (1 + f / 1024) * 2 ** (e - 15);
}

/** numpy arrays (→ RawTensor records), dtypes and scalars, for CIFAR-style python pickles. */
export const numpyGlobals: GlobalTable = (() => {
  const m = new Map<string, PickleGlobal>();
  for (const core of ['numpy.core', 'numpy._core']) {
    m.set(`${core}.multiarray._reconstruct`, {
      call(args) {
        if (!(args[0] instanceof PyGlobal) || args[0].name !== 'ndarray') throw new Error(`_reconstruct of ${describe(args[0])}: only numpy.ndarray is supported`);
        return new NumpyArray();
      },
    });
    m.set(`${core}.multiarray.scalar`, { call: numpyScalar });
    m.set(`${core}.numeric._frombuffer`, {
      call(args) {
        const a = new NumpyArray();
        fillNumpy(a, args[2], numpyDTypeFrom(args[1]), args[3] === 'F', asBytes(args[0]));
        return a;
      },
    });
  }
  m.set('numpy.ndarray', { create: () => new NumpyArray() });
  m.set('numpy.dtype', {
    call(args) {
      if (typeof args[0] !== 'string') throw new Error(`numpy.dtype of ${describe(args[0])}`);
      return new NumpyDType(args[0]);
    },
  });
  return m;
})();

// ---------------------------------------------------------------------------------------------
// The reader.

function describe(x: unknown): string {
  if (x === null || x === undefined) return 'None';
  if (x instanceof PyGlobal) return `global ${x.toString()}`;
  if (x instanceof Map) return 'dict';
  if (Array.isArray(x)) return 'list/tuple';
  if (x instanceof Uint8Array) return 'bytes';
  if (isRawTensor(x)) return 'array';
  return typeof x;
}

function intFromLE(b: Uint8Array): number | bigint {
  if (b.length === 0) return 0;
  let v = 0n;
  for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]);
  if (b[b.length - 1] & 0x80) v -= 1n << BigInt(8 * b.length);
  return Number.isSafeInteger(Number(v)) ? Number(v) : v;
}

function pyStringLiteral(s: string): string {
  // Protocol 0 STRING argument: a Python repr, quoted with ' or ", with backslash escapes.
  const q = s[0];
  if ((q !== "'" && q !== '"') || s[s.length - 1] !== q) throw new Error(`STRING opcode argument is not quoted: ${s.slice(0, 40)}`);
  return unescapePy(s.slice(1, -1), false);
}

function unescapePy(s: string, rawUnicode: boolean): string {
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c !== '\\') { out += c; continue; }
    const n = s[++i];
    if (rawUnicode) {
      if (n === 'u') { out += String.fromCodePoint(parseInt(s.substr(i + 1, 4), 16)); i += 4; }
      else if (n === 'U') { out += String.fromCodePoint(parseInt(s.substr(i + 1, 8), 16)); i += 8; }
      else out += '\\' + n;
      continue;
    }
    switch (n) {
      case 'n': out += '\n'; break;
      case 't': out += '\t'; break;
      case 'r': out += '\r'; break;
      case '0': case '1': case '2': case '3': case '4': case '5': case '6': case '7': {
        let j = i;
        while (j < i + 3 && /[0-7]/.test(s[j] ?? '')) j++;
        out += String.fromCharCode(parseInt(s.slice(i, j), 8));
        i = j - 1;
        break;
      }
      case 'x': out += String.fromCharCode(parseInt(s.substr(i + 1, 2), 16)); i += 2; break;
      default: out += n;
    }
  }
  return out;
}

export interface UnpickleResult {
  value: PyValue;
  /** Offset just past the STOP opcode (legacy torch files hold several pickles back to back). */
  end: number;
}

function buildGlobalTable(opts: UnpickleOptions): Map<string, PickleGlobal> {
  const table = new Map<string, PickleGlobal>(basicGlobals);
  const allow = opts.allow === undefined ? [] : Array.isArray(opts.allow) ? opts.allow : [opts.allow];
  for (const a of allow as ReadonlyArray<'numpy' | GlobalTable>) {
    for (const [k, v] of a === 'numpy' ? numpyGlobals : a) table.set(k, v);
  }
  return table;
}

/** Reads one pickle starting at `offset`. */
export function unpickleAt(input: Uint8Array, offset: number, opts: UnpickleOptions = {}): UnpickleResult {
  const bytes = plainBytes(input);
  const source = opts.source ?? '<bytes>';
  const table = buildGlobalTable(opts);
  const bytesMode = opts.encoding === 'bytes';
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const utf8 = new TextDecoder('utf-8');
  let pos = offset;
  let stack: unknown[] = [];
  const metastack: unknown[][] = [];
  const memo = new Map<number, unknown>();
  const globalCache = new Map<string, PyGlobal>();

  const fail = (msg: string): never => {
    throw new Error(`${source}: bad pickle at byte ${pos}: ${msg}`);
  };
  const need = (n: number): number => {
    if (pos + n > bytes.length) fail(`needs ${n} more bytes but the data ends at ${bytes.length} (file truncated?)`);
    const p = pos;
    pos += n;
    return p;
  };
  const take = (n: number): Uint8Array => {
    const p = need(n);
    return bytes.subarray(p, p + n);
  };
  const readLine = (): string => {
    const nl = bytes.indexOf(0x0a, pos);
    if (nl < 0) fail('unterminated text argument');
    const s = Buffer.from(bytes.buffer, bytes.byteOffset + pos, nl - pos).toString('latin1');
    pos = nl + 1;
    return s;
  };
  const u32 = (): number => view.getUint32(need(4), true);
  const u64 = (): number => {
    const v = view.getBigUint64(need(8), true);
    if (v > BigInt(bytes.length)) fail(`length ${v} exceeds the data size`);
    return Number(v);
  };
  const pop = (): unknown => {
    if (stack.length === 0) fail('stack underflow');
    return stack.pop();
  };
  const top = (): unknown => {
    if (stack.length === 0) fail('stack underflow');
    return stack[stack.length - 1];
  };
  const popMark = (): unknown[] => {
    const items = stack;
    const prev = metastack.pop();
    if (!prev) fail('MARK missing');
    stack = prev as unknown[];
    return items;
  };
  const py2str = (b: Uint8Array): string | Uint8Array => (bytesMode ? Uint8Array.from(b) : Buffer.from(b.buffer, b.byteOffset, b.length).toString('latin1'));
  const resolve = (module: string, name: string): PyGlobal => {
    const full = `${module}.${name}`;
    if (!table.has(full)) throw globalError(source, full);
    let g = globalCache.get(full);
    if (!g) { g = new PyGlobal(module, name); globalCache.set(full, g); }
    return g;
  };
  const handler = (g: unknown, use: 'call' | 'create'): ((args: unknown[]) => unknown) => {
    if (!(g instanceof PyGlobal)) fail(`cannot ${use === 'call' ? 'call' : 'instantiate'} a ${describe(g)}`);
    const h = table.get((g as PyGlobal).toString())?.[use];
    if (!h) throw globalError(source, `${(g as PyGlobal).toString()} (as ${use === 'call' ? 'a function' : 'a class'})`);
    return (args) => {
      try {
        return h(args);
      } catch (e) {
        throw new Error(`${source}: while rebuilding ${(g as PyGlobal).toString()}: ${(e as Error).message}`);
      }
    };
  };
  const setItems = (d: unknown, items: unknown[]): void => {
    if (!(d instanceof Map)) fail(`SETITEM(S) on a ${describe(d)}, not a dict`);
    if (items.length % 2) fail('odd number of dict items');
    for (let i = 0; i < items.length; i += 2) (d as PyDict).set(items[i] as PyValue, items[i + 1] as PyValue);
  };
  const appendItems = (l: unknown, items: unknown[]): void => {
    if (!Array.isArray(l)) fail(`APPEND(S) on a ${describe(l)}, not a list`);
    for (const it of items) (l as unknown[]).push(it);
  };
  const persistent = (pid: unknown): unknown => {
    if (!opts.persistentLoad) fail('persistent id found but no persistent loader was given (is this a torch file?)');
    return opts.persistentLoad!(pid);
  };

  for (;;) {
    const op = bytes[need(1)];
    switch (op) {
      case 0x80: need(1); break; // PROTO
      case 0x95: need(8); break; // FRAME: framing is only a read-ahead hint
      case 0x2e: { // STOP
        const value = pop() as PyValue;
        return { value, end: pos };
      }
      case 0x28: metastack.push(stack); stack = []; break; // MARK
      case 0x30: if (stack.length) stack.pop(); else popMark(); break; // POP
      case 0x31: popMark(); break; // POP_MARK
      case 0x32: stack.push(top()); break; // DUP
      // numbers
      case 0x4a: stack.push(view.getInt32(need(4), true)); break; // BININT
      case 0x4b: stack.push(bytes[need(1)]); break; // BININT1
      case 0x4d: stack.push(view.getUint16(need(2), true)); break; // BININT2
      case 0x8a: { const n = bytes[need(1)]; stack.push(intFromLE(take(n))); break; } // LONG1
      case 0x8b: { const n = view.getInt32(need(4), true); if (n < 0) fail('negative LONG4 size'); stack.push(intFromLE(take(n))); break; }
      case 0x49: { // INT (protocol 0); I00/I01 are False/True
        const s = readLine();
        if (s === '00') stack.push(false);
        else if (s === '01') stack.push(true);
        else { const v = BigInt(s); stack.push(Number.isSafeInteger(Number(v)) ? Number(v) : v); }
        break;
      }
      case 0x4c: { const s = readLine().replace(/L$/, ''); const v = BigInt(s); stack.push(Number.isSafeInteger(Number(v)) ? Number(v) : v); break; } // LONG
      case 0x46: stack.push(parseFloat(readLine())); break; // FLOAT
      case 0x47: stack.push(view.getFloat64(need(8), false)); break; // BINFLOAT (big-endian)
      case 0x4e: stack.push(null); break; // NONE
      case 0x88: stack.push(true); break; // NEWTRUE
      case 0x89: stack.push(false); break; // NEWFALSE
      // strings and bytes
      case 0x58: { const n = u32(); stack.push(utf8.decode(take(n))); break; } // BINUNICODE
      case 0x8c: { const n = bytes[need(1)]; stack.push(utf8.decode(take(n))); break; } // SHORT_BINUNICODE
      case 0x8d: { const n = u64(); stack.push(utf8.decode(take(n))); break; } // BINUNICODE8
      case 0x56: stack.push(unescapePy(readLine(), true)); break; // UNICODE (raw-unicode-escape)
      case 0x53: { const s = pyStringLiteral(readLine()); stack.push(bytesMode ? Uint8Array.from(Buffer.from(s, 'latin1')) : s); break; } // STRING
      case 0x54: { const n = view.getInt32(need(4), true); if (n < 0) fail('negative BINSTRING size'); stack.push(py2str(take(n))); break; }
      case 0x55: { const n = bytes[need(1)]; stack.push(py2str(take(n))); break; } // SHORT_BINSTRING
      case 0x42: { const n = u32(); stack.push(Uint8Array.from(take(n))); break; } // BINBYTES
      case 0x43: { const n = bytes[need(1)]; stack.push(Uint8Array.from(take(n))); break; } // SHORT_BINBYTES
      case 0x8e: { const n = u64(); stack.push(Uint8Array.from(take(n))); break; } // BINBYTES8
      case 0x96: { const n = u64(); stack.push(Uint8Array.from(take(n))); break; } // BYTEARRAY8
      case 0x97: fail('out-of-band buffers (NEXT_BUFFER) are not supported'); break;
      case 0x98: break; // READONLY_BUFFER: no-op for us
      // containers
      case 0x29: stack.push([]); break; // EMPTY_TUPLE
      case 0x5d: stack.push([]); break; // EMPTY_LIST
      case 0x7d: stack.push(new Map()); break; // EMPTY_DICT
      case 0x8f: stack.push([]); break; // EMPTY_SET (as an array)
      case 0x74: { const t = popMark(); stack.push(t); break; } // TUPLE
      case 0x6c: { const t = popMark(); stack.push(t); break; } // LIST
      case 0x91: { const t = popMark(); stack.push(t); break; } // FROZENSET
      case 0x85: stack.push([pop()]); break; // TUPLE1
      case 0x86: { const b = pop(); const a = pop(); stack.push([a, b]); break; }
      case 0x87: { const c = pop(); const b = pop(); const a = pop(); stack.push([a, b, c]); break; }
      case 0x64: { const items = popMark(); const d: PyDict = new Map(); setItems(d, items); stack.push(d); break; } // DICT
      case 0x61: { const v = pop(); appendItems(top(), [v]); break; } // APPEND
      case 0x65: { const items = popMark(); appendItems(top(), items); break; } // APPENDS
      case 0x90: { const items = popMark(); appendItems(top(), items); break; } // ADDITEMS
      case 0x73: { const v = pop(); const k = pop(); setItems(top(), [k, v]); break; } // SETITEM
      case 0x75: { const items = popMark(); setItems(top(), items); break; } // SETITEMS
      // memo
      case 0x70: memo.set(parseInt(readLine(), 10), top()); break; // PUT
      case 0x71: memo.set(bytes[need(1)], top()); break; // BINPUT
      case 0x72: memo.set(u32(), top()); break; // LONG_BINPUT
      case 0x94: memo.set(memo.size, top()); break; // MEMOIZE
      case 0x67: case 0x68: case 0x6a: { // GET, BINGET, LONG_BINGET
        const i = op === 0x67 ? parseInt(readLine(), 10) : op === 0x68 ? bytes[need(1)] : u32();
        if (!memo.has(i)) fail(`memo key ${i} is missing`);
        stack.push(memo.get(i));
        break;
      }
      // globals and object construction: allowlist only
      case 0x63: { const module = readLine(); const name = readLine(); stack.push(resolve(module, name)); break; } // GLOBAL
      case 0x93: { // STACK_GLOBAL
        const name = pop(); const module = pop();
        if (typeof module !== 'string' || typeof name !== 'string') fail('STACK_GLOBAL needs two strings');
        stack.push(resolve(module as string, name as string));
        break;
      }
      case 0x52: { const args = pop(); const f = pop(); stack.push(handler(f, 'call')(args as unknown[])); break; } // REDUCE
      case 0x81: { const args = pop(); const cls = pop(); stack.push(handler(cls, 'create')(args as unknown[])); break; } // NEWOBJ
      case 0x92: { // NEWOBJ_EX
        const kwargs = pop(); const args = pop(); const cls = pop();
        if (kwargs instanceof Map && kwargs.size) fail('NEWOBJ_EX with keyword arguments is not supported');
        stack.push(handler(cls, 'create')(args as unknown[]));
        break;
      }
      case 0x69: { // INST
        const module = readLine(); const name = readLine();
        const g = resolve(module, name);
        const args = popMark();
        stack.push(handler(g, 'call')(args));
        break;
      }
      case 0x6f: { const items = popMark(); const cls = items.shift(); stack.push(handler(cls, 'call')(items)); break; } // OBJ
      case 0x62: { // BUILD
        const state = pop();
        const obj = top();
        if (obj !== null && typeof obj === 'object' && SETSTATE in obj) (obj as HasSetState)[SETSTATE](state);
        else if (obj instanceof Map || isRawTensor(obj)) { /* attribute state such as OrderedDict._metadata: not needed */ }
        else fail(`cannot set state on a ${describe(obj)}`);
        break;
      }
      case 0x50: stack.push(persistent(readLine())); break; // PERSID
      case 0x51: stack.push(persistent(pop())); break; // BINPERSID
      case 0x82: case 0x83: case 0x84: fail('extension-registry opcodes (EXT1/2/4) are not supported'); break;
      default: fail(`unknown opcode 0x${op.toString(16)} (not a pickle, or a newer protocol)`);
    }
  }
}

/** Reads a whole pickle and returns its value. */
export function unpickle(bytes: Uint8Array, opts: UnpickleOptions = {}): PyValue {
  return unpickleAt(bytes, 0, opts).value;
}

// ---------------------------------------------------------------------------------------------
// The writer (protocol 2, the opcodes torch.load(weights_only=True) accepts, plus BINFLOAT/BINBYTES).

/** Marks a JS number to be pickled as a Python float even when it is integral (e.g. 1.0). */
export class PyFloat {
  constructor(readonly value: number) {}
}

/** Marks an array to be pickled as a Python tuple instead of a list. */
export class PyTuple {
  constructor(readonly items: readonly PyWritable[]) {}
}

/**
 * Values the writer accepts. Integral numbers become int, others float; Map becomes
 * collections.OrderedDict, plain objects become dict, arrays become list.
 */
export type PyWritable =
  | null | undefined | boolean | number | bigint | string | Uint8Array | RawTensor | PyFloat | PyTuple
  | readonly PyWritable[] | ReadonlyMap<string | number, PyWritable> | { readonly [key: string]: PyWritable };

export class PickleWriter {
  private chunks: Uint8Array[] = [];
  private buf = new Uint8Array(1 << 16);
  private len = 0;
  private readonly path = new Set<object>();

  /** `objectHook` may write values it recognises (returning true), e.g. tensors as torch storages. */
  constructor(private readonly objectHook?: (value: object, w: PickleWriter) => boolean) {
    this.byte(0x80);
    this.byte(2);
  }

  private ensure(n: number): void {
    if (this.len + n <= this.buf.length) return;
    this.chunks.push(this.buf.subarray(0, this.len));
    this.buf = new Uint8Array(Math.max(1 << 16, n));
    this.len = 0;
  }

  byte(b: number): void {
    this.ensure(1);
    this.buf[this.len++] = b;
  }

  raw(b: Uint8Array): void {
    this.ensure(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
  }

  mark(): void { this.byte(0x28); }

  global(module: string, name: string): void {
    this.byte(0x63);
    this.raw(new TextEncoder().encode(`${module}\n${name}\n`));
  }

  /** Closes the innermost MARK into a tuple. */
  tupleFromMark(): void { this.byte(0x74); }

  reduce(): void { this.byte(0x52); }

  binpersid(): void { this.byte(0x51); }

  int(v: number | bigint): void {
    if (typeof v === 'number' && v >= 0 && v < 256) { this.byte(0x4b); this.byte(v); return; }
    if (typeof v === 'number' && v >= 0 && v < 65536) { this.byte(0x4d); this.byte(v & 0xff); this.byte(v >> 8); return; }
    if (typeof v === 'number' && v >= -0x80000000 && v <= 0x7fffffff) {
      const b = new Uint8Array(4);
      new DataView(b.buffer).setInt32(0, v, true);
      this.byte(0x4a);
      this.raw(b);
      return;
    }
    let x = BigInt(v);
    const out: number[] = [];
    // two's complement little-endian, shortest form
    for (;;) {
      const byte = Number(x & 0xffn);
      out.push(byte);
      x >>= 8n;
      if ((x === 0n && !(byte & 0x80)) || (x === -1n && byte & 0x80)) break;
    }
    this.byte(0x8a);
    this.byte(out.length);
    this.raw(Uint8Array.from(out));
  }

  float(v: number): void {
    const b = new Uint8Array(9);
    b[0] = 0x47;
    new DataView(b.buffer).setFloat64(1, v, false);
    this.raw(b);
  }

  str(s: string): void {
    const b = new TextEncoder().encode(s);
    const h = new Uint8Array(5);
    h[0] = 0x58;
    new DataView(h.buffer).setUint32(1, b.length, true);
    this.raw(h);
    this.raw(b);
  }

  tuple(items: readonly PyWritable[]): void {
    if (items.length === 0) { this.byte(0x29); return; }
    if (items.length <= 3) {
      for (const it of items) this.value(it);
      this.byte(0x84 + items.length); // TUPLE1..3
      return;
    }
    this.mark();
    for (const it of items) this.value(it);
    this.tupleFromMark();
  }

  value(v: PyWritable): void {
    if (v === null || v === undefined) { this.byte(0x4e); return; }
    if (v === true) { this.byte(0x88); return; }
    if (v === false) { this.byte(0x89); return; }
    if (typeof v === 'number') { if (Number.isSafeInteger(v)) this.int(v); else this.float(v); return; }
    if (typeof v === 'bigint') { this.int(v); return; }
    if (typeof v === 'string') { this.str(v); return; }
    if (v instanceof PyFloat) { this.float(v.value); return; }
    if (this.path.has(v)) throw new Error('pickle writer: value contains a cycle');
    this.path.add(v);
    try {
      if (this.objectHook?.(v, this)) return;
      if (v instanceof PyTuple) this.tuple(v.items);
      else if (v instanceof Uint8Array) {
        const h = new Uint8Array(5);
        h[0] = 0x42;
        new DataView(h.buffer).setUint32(1, v.length, true);
        this.raw(h);
        this.raw(v);
      } else if (isRawTensor(v)) throw new Error('pickle writer: tensors can only be written inside a .pth file (writePth)');
      else if (Array.isArray(v)) this.list(v as readonly PyWritable[]);
      else if (v instanceof Map) {
        this.global('collections', 'OrderedDict');
        this.byte(0x29);
        this.reduce();
        this.dictItems([...(v as ReadonlyMap<string | number, PyWritable>)]);
      } else {
        this.byte(0x7d);
        this.dictItems(Object.entries(v as { [k: string]: PyWritable }));
      }
    } finally {
      this.path.delete(v);
    }
  }

  private list(items: readonly PyWritable[]): void {
    this.byte(0x5d);
    for (let i = 0; i < items.length; i += 1000) {
      this.mark();
      for (const it of items.slice(i, i + 1000)) this.value(it);
      this.byte(0x65);
    }
  }

  private dictItems(entries: ReadonlyArray<readonly [string | number, PyWritable]>): void {
    for (let i = 0; i < entries.length; i += 1000) {
      this.mark();
      for (const [k, val] of entries.slice(i, i + 1000)) {
        this.value(k);
        this.value(val);
      }
      this.byte(0x75);
    }
  }

  /** Appends STOP and returns the pickle bytes. */
  finish(): Uint8Array {
    this.byte(0x2e);
    this.chunks.push(this.buf.subarray(0, this.len));
    return plainBytes(Buffer.concat(this.chunks));
  }
}

/** Pickles plain data (no tensors) with protocol 2. */
export function pickleDumps(value: PyWritable): Uint8Array {
  const w = new PickleWriter();
  w.value(value);
  return w.finish();
}
