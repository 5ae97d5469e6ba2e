// torch.save / torch.load file formats, read and written without Python or libtorch:
// - zip (torch >= 1.6): <archive>/data.pkl + <archive>/data/<key> storages;
// - legacy (pre-1.6, `_use_new_zipfile_serialization=False`): pickles back to back (magic number,
//   protocol 1001, sys_info, the object, storage keys), then each storage as int64 count + bytes;
// - tar (the oldest files): members sys_info, pickle, storages, tensors.
import { readFileSync } from 'node:fs';
import type { GlobalTable, PickleGlobal, PyValue, PyWritable, UnpickleOptions } from './pickle.js';
import { PickleWriter, PyGlobal, unpickleAt } from './pickle.js';
import type { DType, RawTensor } from './types.js';
import { DTYPE_ITEMSIZE, checkRawTensor, contiguousStrides, isRawTensor, numelOf, plainBytes, stridedCopy, writeFileAtomic } from './types.js';
import { ZipReader, buildZip } from './zip.js';

export type PthValue = PyValue;

const STORAGE_DTYPES: Readonly<Record<string, DType>> = {
  FloatStorage: 'float32', DoubleStorage: 'float64', HalfStorage: 'float16', BFloat16Storage: 'bfloat16',
  LongStorage: 'int64', IntStorage: 'int32', ShortStorage: 'int16', CharStorage: 'int8',
  ByteStorage: 'uint8', BoolStorage: 'bool', UntypedStorage: 'uint8',
};
const STORAGE_NAMES: Readonly<Record<DType, string>> = {
  float32: 'FloatStorage', float64: 'DoubleStorage', float16: 'HalfStorage', bfloat16: 'BFloat16Storage',
  int64: 'LongStorage', int32: 'IntStorage', int16: 'ShortStorage', int8: 'CharStorage',
  uint8: 'ByteStorage', bool: 'BoolStorage',
};
const TORCH_DTYPE_NAMES = [
  'float32', 'float', 'float64', 'double', 'float16', 'half', 'bfloat16', 'int64', 'long',
  'int32', 'int', 'int16', 'short', 'int8', 'uint8', 'bool', 'complex64', 'complex128',
];
const LEGACY_MAGIC = 0x1950a86a20f9469cfc6cn;
const LEGACY_PROTOCOL = 1001;

/** A storage seen while unpickling; `bytes` is filled when the format stores data after the pickle. */
class StorageRef {
  bytes: Uint8Array | null = null;
  constructor(
    readonly key: string, readonly dtype: DType, readonly numel: number,
    readonly root: StorageRef | null = null, readonly rootOffset = 0,
  ) {}
  resolve(source: string): Uint8Array {
    if (this.root) {
      const rb = this.root.resolve(source);
      const isz = DTYPE_ITEMSIZE[this.dtype];
      const start = this.rootOffset * isz;
      const end = start + this.numel * isz;
      if (end > rb.length) throw new Error(`${source}: storage view '${this.key}' reaches past its root storage '${this.root.key}'`);
      return rb.subarray(start, end);
    }
    if (!this.bytes) throw new Error(`${source}: storage '${this.key}' is referenced but its data is missing from the file`);
    return this.bytes;
  }
}

interface PendingTensor {
  tensor: RawTensor;
  storage: StorageRef;
  offset: number;
  stride: number[];
}

function intList(x: unknown, what: string): number[] {
  const arr = Array.isArray(x) ? x : [x];
  return arr.map((v) => {
    const n = typeof v === 'bigint' ? Number(v) : v;
    if (typeof n !== 'number' || !Number.isSafeInteger(n)) throw new Error(`${what} must hold integers`);
    return n;
  });
}

function oneInt(x: unknown, what: string): number {
  return intList([x], what)[0];
}

function storageDType(t: unknown, source: string): DType {
  const name = t instanceof PyGlobal ? t.name : undefined;
  const d = name !== undefined ? STORAGE_DTYPES[name] : undefined;
  if (!d) throw new Error(`${source}: unsupported storage type ${String(t)}; supported: ${Object.keys(STORAGE_DTYPES).join(', ')}`);
  return d;
}

/** State shared by the allowlisted torch rebuild functions while one file is read. */
class TorchContext {
  readonly storages = new Map<string, StorageRef>();
  readonly pending: PendingTensor[] = [];
  readonly globals: Map<string, PickleGlobal>;

  constructor(readonly source: string) {
    const g = new Map<string, PickleGlobal>();
    const marker: PickleGlobal = {};
    for (const mod of ['torch', 'torch.cuda']) {
      for (const s of Object.keys(STORAGE_DTYPES)) g.set(`${mod}.${s}`, marker);
      for (const s of Object.keys(STORAGE_DTYPES)) g.set(`${mod}.${s.replace('Storage', 'Tensor')}`, marker);
    }
    g.set('torch.storage.UntypedStorage', marker);
    for (const d of TORCH_DTYPE_NAMES) g.set(`torch.${d}`, marker);
    g.set('torch.Tensor', marker);
    const rebuild = (storage: unknown, offset: unknown, size: unknown, stride: unknown): RawTensor => {
      if (!(storage instanceof StorageRef)) throw new Error(`expected a storage, got ${typeof storage}`);
      const tensor: RawTensor = { dtype: storage.dtype, shape: intList(size, 'tensor size'), data: new Uint8Array(0) };
      this.pending.push({ tensor, storage, offset: oneInt(offset, 'storage offset'), stride: intList(stride, 'tensor stride') });
      return tensor;
    };
    g.set('torch._utils._rebuild_tensor_v2', { call: (a) => rebuild(a[0], a[1], a[2], a[3]) });
    g.set('torch._utils._rebuild_tensor', { call: (a) => rebuild(a[0], a[1], a[2], a[3]) });
    g.set('torch._utils._rebuild_parameter', { call: (a) => a[0] });
    g.set('torch._utils._rebuild_parameter_with_state', { call: (a) => a[0] });
    g.set('torch.nn.parameter.Parameter', { create: (a) => a[0] });
    const fromType: PickleGlobal = {
      call: (a) => {
        const [func, cls, args] = a;
        const clsName = cls instanceof PyGlobal ? cls.toString() : '';
        if (clsName !== 'torch.Tensor' && clsName !== 'torch.nn.parameter.Parameter') {
          throw new Error(`tensor subclass ${clsName || typeof cls} is not supported`);
        }
        const f = func instanceof PyGlobal ? g.get(func.toString())?.call : undefined;
        if (!f) throw new Error(`unsupported tensor rebuild function ${String(func)}`);
        return f(args as unknown[]);
      },
    };
    g.set('torch._tensor._rebuild_from_type_v2', fromType);
    g.set('torch._tensor._rebuild_from_type', fromType);
    g.set('torch.Size', { call: (a) => (Array.isArray(a[0]) ? [...a[0]] : []) });
    g.set('torch.device', { call: (a) => a.map(String).join(':') });
    // Files written by libtorch's pickle_save wrap values in type tags.
    for (const f of ['restore_type_tag', 'build_intlist', 'build_doublelist', 'build_boollist', 'build_tensorlist']) {
      g.set(`torch.jit._pickle.${f}`, { call: (a) => a[0] });
    }
    this.globals = g;
  }

  storage(key: string, dtype: DType, numel: number): StorageRef {
    let s = this.storages.get(key);
    if (!s) {
      s = new StorageRef(key, dtype, numel);
      this.storages.set(key, s);
    }
    return s;
  }

  /** Copies every tensor's (possibly strided) view out of its storage. */
  finish(): void {
    for (const p of this.pending) {
      const src = p.storage.resolve(this.source);
      try {
        p.tensor.data = stridedCopy(src, DTYPE_ITEMSIZE[p.tensor.dtype], p.tensor.shape, p.stride, p.offset, true);
      } catch (e) {
        throw new Error(`${this.source}: tensor on storage '${p.storage.key}': ${(e as Error).message}; the file is corrupt`);
      }
    }
  }
}

export interface ReadPthOptions {
  /** Extra allowlisted globals, e.g. 'numpy' for checkpoints that hold numpy scalars or arrays. */
  allow?: UnpickleOptions['allow'];
}

function allowList(ctx: TorchContext, opts: ReadPthOptions): ReadonlyArray<'numpy' | GlobalTable> {
  const extra = opts.allow === undefined ? [] : Array.isArray(opts.allow) ? opts.allow : [opts.allow];
  return [ctx.globals, ...(extra as ReadonlyArray<'numpy' | GlobalTable>)];
}

function readZipFormat(bytes: Uint8Array, source: string, opts: ReadPthOptions): PthValue {
  const zip = new ZipReader(bytes, source);
  const names = zip.names();
  const pkl = names.find((n) => /^[^/]+\/data\.pkl$/.test(n)) ?? names.find((n) => n === 'data.pkl' || n.endsWith('/data.pkl'));
  if (!pkl) {
    if (names.some((n) => n.endsWith('constants.pkl') || n.includes('/code/'))) {
      throw new Error(`${source}: this is a TorchScript archive (torch.jit.save), not a torch.save checkpoint; save model.state_dict() with torch.save instead`);
    }
    throw new Error(`${source}: zip archive has no data.pkl, so it is not a torch checkpoint (entries: ${names.slice(0, 5).join(', ')}${names.length > 5 ? ', ...' : ''})`);
  }
  const prefix = pkl.slice(0, pkl.length - 'data.pkl'.length);
  if (zip.has(`${prefix}byteorder`)) {
    const order = new TextDecoder().decode(zip.read(`${prefix}byteorder`)).trim();
    if (order !== 'little') throw new Error(`${source}: checkpoint was saved with byteorder '${order}'; only little-endian files are supported`);
  }
  const ctx = new TorchContext(source);
  const persistentLoad = (pid: unknown): unknown => {
    if (!Array.isArray(pid) || pid[0] !== 'storage' || pid.length < 5) throw new Error(`${source}: unexpected persistent id ${JSON.stringify(String(pid))}; expected ('storage', type, key, location, numel)`);
    const dtype = storageDType(pid[1], source);
    const key = String(pid[2]);
    const numel = oneInt(pid[4], 'storage numel');
    const existing = ctx.storages.get(key);
    if (existing) return existing;
    const s = ctx.storage(key, dtype, numel);
    const name = `${prefix}data/${key}`;
    const data = zip.read(name);
    const want = numel * DTYPE_ITEMSIZE[dtype];
    if (data.length < want) throw new Error(`${source}: storage ${name} has ${data.length} bytes but ${numel} ${dtype} elements need ${want}; the file is corrupt`);
    s.bytes = data.subarray(0, want);
    return s;
  };
  const value = unpickleAt(zip.read(pkl), 0, { source: `${source}:${pkl}`, allow: allowList(ctx, opts), persistentLoad }).value;
  ctx.finish();
  return value;
}

function readInt64(bytes: Uint8Array, pos: number, source: string, what: string): number {
  if (pos + 8 > bytes.length) throw new Error(`${source}: file ends inside ${what} (truncated?)`);
  const v = new DataView(bytes.buffer, bytes.byteOffset + pos, 8).getBigInt64(0, true);
  if (v < 0n || v > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error(`${source}: bad ${what} ${v}; the file is corrupt`);
  return Number(v);
}

/** Reads `count` int64 + bytes storage records (legacy and tar formats). */
function readStorageData(bytes: Uint8Array, pos: number, s: StorageRef, source: string): number {
  const count = readInt64(bytes, pos, source, `the size of storage '${s.key}'`);
  pos += 8;
  const n = count * DTYPE_ITEMSIZE[s.dtype];
  if (pos + n > bytes.length) throw new Error(`${source}: storage '${s.key}' needs ${n} bytes at offset ${pos} but the file has ${bytes.length} (truncated?)`);
  if (count < s.numel) throw new Error(`${source}: storage '${s.key}' holds ${count} elements, the pickle expects ${s.numel}`);
  s.bytes = bytes.subarray(pos, pos + n);
  return pos + n;
}

function readLegacyFormat(bytes: Uint8Array, source: string, opts: ReadPthOptions): PthValue {
  const plain = { source };
  const magic = unpickleAt(bytes, 0, plain);
  if (magic.value !== LEGACY_MAGIC) throw new Error(`${source}: not a torch checkpoint (no zip header, no tar header, and the legacy magic number is missing)`);
  const proto = unpickleAt(bytes, magic.end, plain);
  if (proto.value !== LEGACY_PROTOCOL) throw new Error(`${source}: unsupported legacy checkpoint protocol ${String(proto.value)} (expected ${LEGACY_PROTOCOL})`);
  const sysInfo = unpickleAt(bytes, proto.end, plain);
  if (sysInfo.value instanceof Map && sysInfo.value.get('little_endian') === false) {
    throw new Error(`${source}: checkpoint was saved on a big-endian machine; only little-endian files are supported`);
  }
  const ctx = new TorchContext(source);
  const persistentLoad = (pid: unknown): unknown => {
    if (!Array.isArray(pid)) throw new Error(`${source}: unexpected persistent id ${String(pid)}`);
    if (pid[0] === 'module') throw new Error(`${source}: the file holds a whole pickled nn.Module, not a state dict; re-save it with torch.save(model.state_dict(), path)`);
    if (pid[0] !== 'storage' || pid.length < 6) throw new Error(`${source}: unexpected persistent id type ${String(pid[0])}`);
    const dtype = storageDType(pid[1], source);
    const root = ctx.storage(String(pid[2]), dtype, oneInt(pid[4], 'storage numel'));
    const view = pid[5];
    if (view === null || view === undefined) return root;
    if (!Array.isArray(view) || view.length < 3) throw new Error(`${source}: bad storage view metadata`);
    const viewKey = String(view[0]);
    let s = ctx.storages.get(viewKey);
    if (!s) {
      s = new StorageRef(viewKey, dtype, oneInt(view[2], 'view size'), root, oneInt(view[1], 'view offset'));
      ctx.storages.set(viewKey, s);
    }
    return s;
  };
  const main = unpickleAt(bytes, sysInfo.end, { source, allow: allowList(ctx, opts), persistentLoad });
  const keys = unpickleAt(bytes, main.end, plain);
  if (!Array.isArray(keys.value)) throw new Error(`${source}: storage key list is missing after the pickled object`);
  let pos = keys.end;
  for (const k of keys.value) {
    const s = ctx.storages.get(String(k));
    if (!s) throw new Error(`${source}: storage '${String(k)}' is listed but no tensor uses it`);
    pos = readStorageData(bytes, pos, s, source);
  }
  ctx.finish();
  return main.value;
}

function isTar(bytes: Uint8Array): boolean {
  return bytes.length >= 512 && Buffer.from(bytes.buffer, bytes.byteOffset + 257, 5).toString('latin1') === 'ustar';
}

function readTarMembers(bytes: Uint8Array, source: string): Map<string, Uint8Array> {
  const out = new Map<string, Uint8Array>();
  const cstr = (a: number, n: number): string => {
    const b = bytes.subarray(a, a + n);
    const z = b.indexOf(0);
    return Buffer.from(b.buffer, b.byteOffset, z < 0 ? n : z).toString('utf8');
  };
  let p = 0;
  let paxPath: string | null = null;
  while (p + 512 <= bytes.length) {
    if (bytes.subarray(p, p + 512).every((b) => b === 0)) break;
    let name = cstr(p, 100);
    const prefix = cstr(p + 345, 155);
    if (prefix) name = `${prefix}/${name}`;
    const sizeField = cstr(p + 124, 12).trim();
    const size = parseInt(sizeField || '0', 8);
    const type = String.fromCharCode(bytes[p + 156] || 0x30);
    if (!Number.isSafeInteger(size) || p + 512 + size > bytes.length) throw new Error(`${source}: tar member '${name}' is cut short or has a bad size (truncated?)`);
    const data = bytes.subarray(p + 512, p + 512 + size);
    p += 512 + Math.ceil(size / 512) * 512;
    if (type === 'x') {
      const m = /(?:^|\n)\d+ path=([^\n]*)\n/.exec(Buffer.from(data).toString('utf8'));
      paxPath = m ? m[1] : null;
      continue;
    }
    if (type === 'g') continue;
    if (type === '0' || type === '\0') out.set(paxPath ?? name, data);
    paxPath = null;
  }
  return out;
}

function readTarFormat(bytes: Uint8Array, source: string, opts: ReadPthOptions): PthValue {
  const members = readTarMembers(bytes, source);
  const member = (n: string): Uint8Array => {
    const m = members.get(n);
    if (!m) throw new Error(`${source}: tar checkpoint lacks the '${n}' member (has: ${[...members.keys()].join(', ')})`);
    return m;
  };
  const ctx = new TorchContext(source);
  const allow = allowList(ctx, opts);
  const objects = new Map<string, StorageRef | RawTensor>();

  const st = member('storages');
  const stSrc = `${source}:storages`;
  let r = unpickleAt(st, 0, { source: stSrc });
  const numStorages = oneInt(r.value, 'storage count');
  let pos = r.end;
  for (let i = 0; i < numStorages; i++) {
    r = unpickleAt(st, pos, { source: stSrc, allow });
    const rec = r.value;
    if (!Array.isArray(rec) || rec.length < 3) throw new Error(`${stSrc}: bad storage record ${i}`);
    const key = String(rec[0]);
    const s = ctx.storage(key, storageDType(rec[2], stSrc), 0);
    pos = readStorageData(st, r.end, s, stSrc);
    objects.set(key, s);
  }
  r = unpickleAt(st, pos, { source: stSrc });
  for (const v of Array.isArray(r.value) ? r.value : []) {
    if (!Array.isArray(v) || v.length < 4) throw new Error(`${stSrc}: bad storage view record`);
    const root = objects.get(String(v[1]));
    if (!(root instanceof StorageRef)) throw new Error(`${stSrc}: storage view of unknown storage '${String(v[1])}'`);
    const s = new StorageRef(String(v[0]), root.dtype, oneInt(v[3], 'view numel'), root, oneInt(v[2], 'view offset'));
    objects.set(s.key, s);
  }

  const te = member('tensors');
  const teSrc = `${source}:tensors`;
  r = unpickleAt(te, 0, { source: teSrc });
  const numTensors = oneInt(r.value, 'tensor count');
  pos = r.end;
  const dv = new DataView(te.buffer, te.byteOffset, te.byteLength);
  for (let i = 0; i < numTensors; i++) {
    r = unpickleAt(te, pos, { source: teSrc, allow });
    const rec = r.value;
    if (!Array.isArray(rec) || rec.length < 3) throw new Error(`${teSrc}: bad tensor record ${i}`);
    const storage = objects.get(String(rec[1]));
    if (!(storage instanceof StorageRef)) throw new Error(`${teSrc}: tensor '${String(rec[0])}' uses unknown storage '${String(rec[1])}'`);
    pos = r.end;
    if (pos + 8 > te.length) throw new Error(`${teSrc}: file ends inside tensor record ${i}`);
    const ndim = dv.getInt32(pos, true);
    pos += 8; // ndim was once written as 8 bytes
    if (ndim < 0 || pos + 16 * ndim + 8 > te.length) throw new Error(`${teSrc}: bad tensor record ${i} (ndim ${ndim})`);
    const shape: number[] = [];
    const stride: number[] = [];
    for (let d = 0; d < ndim; d++) shape.push(readInt64(te, pos + 8 * d, teSrc, 'tensor size'));
    for (let d = 0; d < ndim; d++) stride.push(readInt64(te, pos + 8 * (ndim + d), teSrc, 'tensor stride'));
    const offset = readInt64(te, pos + 16 * ndim, teSrc, 'storage offset');
    pos += 16 * ndim + 8;
    const tensor: RawTensor = { dtype: storage.dtype, shape, data: new Uint8Array(0) };
    ctx.pending.push({ tensor, storage, offset, stride });
    objects.set(String(rec[0]), tensor);
  }

  const persistentLoad = (pid: unknown): unknown => {
    if (Array.isArray(pid)) throw new Error(`${source}: the file holds a whole pickled nn.Module, not a state dict; re-save it with torch.save(model.state_dict(), path)`);
    const o = objects.get(String(pid));
    if (!o) throw new Error(`${source}: pickle refers to unknown tensor '${String(pid)}'`);
    if (o instanceof StorageRef) throw new Error(`${source}: bare storages are not supported, only tensors`);
    return o;
  };
  const value = unpickleAt(member('pickle'), 0, { source: `${source}:pickle`, allow, persistentLoad }).value;
  ctx.finish();
  return value;
}

/**
 * Reads a torch.save file (zip, legacy or tar format). Dicts become Maps; tensors become
 * RawTensors. A contiguous tensor's `data` is a view into the file's bytes (no copy, so a large
 * checkpoint is not held twice); strided ones are copied. Copy `data` before mutating it: tensors
 * that shared a storage in Python may overlap.
 */
export function readPth(src: string | Uint8Array, opts: ReadPthOptions = {}): PthValue {
  const source = typeof src === 'string' ? src : '<bytes>';
  let bytes: Uint8Array;
  if (typeof src === 'string') {
    try {
      bytes = readFileSync(src);
    } catch (e) {
      throw new Error(`${src}: cannot read checkpoint: ${(e as Error).message}`);
    }
  } else bytes = src;
  bytes = plainBytes(bytes);
  if (bytes.length === 0) throw new Error(`${source}: file is empty`);
  if (ZipReader.isZip(bytes)) return readZipFormat(bytes, source, opts);
  if (isTar(bytes)) return readTarFormat(bytes, source, opts);
  if (bytes[0] === 0x80) return readLegacyFormat(bytes, source, opts);
  throw new Error(`${source}: not a torch checkpoint (expected a zip, tar or legacy pickle file)`);
}

export type CheckpointFormat = 'pth-zip' | 'pth-tar' | 'pth-legacy' | 'safetensors';

/**
 * Tells the format from a file's first bytes (pass at least 512: the tar magic sits at byte 257).
 * Returns null when none matches. The oldest torchvision .pth files are tar archives.
 */
export function sniffCheckpoint(head: Uint8Array): CheckpointFormat | null {
  if (ZipReader.isZip(head)) return 'pth-zip';
  if (isTar(head)) return 'pth-tar';
  if (head.length >= 4 && head[0] === 0x80 && head[2] === 0x8a && head[3] === 0x0a) return 'pth-legacy';
  if (head.length >= 9 && head[8] === 0x7b && head[6] === 0 && head[7] === 0) return 'safetensors';
  return null;
}

/** Keys tried, in this order, when a checkpoint wraps its state dict in a dict. */
export const STATE_DICT_KEYS: readonly string[] = [
  'state_dict', 'model_state_dict', 'model', 'net_dict', 'net', 'module', 'params', 'weights',
];

function asTensorDict(v: PthValue | undefined): Map<string, RawTensor> | null {
  if (!(v instanceof Map) || v.size === 0) return null;
  for (const [k, t] of v) if (typeof k !== 'string' || !isRawTensor(t)) return null;
  return v as Map<string, RawTensor>;
}

export interface LoadStateDictOptions extends ReadPthOptions {
  /** Top-level key holding the state dict; overrides the search. */
  key?: string;
}

/**
 * Loads a state dict (name → tensor). The rule: with `key`, that entry; else the top-level
 * value if it is a non-empty dict whose values are all tensors; else the first of
 * {@link STATE_DICT_KEYS} whose value is such a dict (so Deep SVDD's {'R','c','net_dict',
 * 'ae_net_dict'} gives 'net_dict'); else the only top-level entry that is one. Names are kept
 * as stored (a DataParallel 'module.' prefix is not stripped).
 */
export function loadStateDictFile(path: string, opts: LoadStateDictOptions = {}): Map<string, RawTensor> {
  const v = readPth(path, opts);
  const top = v instanceof Map ? v : null;
  if (opts.key !== undefined) {
    const sd = asTensorDict(top?.get(opts.key));
    if (!sd) throw new Error(`${path}: entry '${opts.key}' is missing or is not a dict of tensors${top ? ` (top-level keys: ${[...top.keys()].map(String).join(', ')})` : ''}`);
    return sd;
  }
  const direct = asTensorDict(v);
  if (direct) return direct;
  if (top) {
    for (const k of STATE_DICT_KEYS) {
      const sd = asTensorDict(top.get(k));
      if (sd) return sd;
    }
    const candidates = [...top.entries()].filter(([, x]) => asTensorDict(x) !== null);
    if (candidates.length === 1) return candidates[0][1] as Map<string, RawTensor>;
    throw new Error(
      `${path}: no state dict found: top-level keys are ${[...top.keys()].map(String).join(', ')}. ` +
      `Pass { key: '<name>' } to pick the dict of tensors to load.`,
    );
  }
  throw new Error(`${path}: checkpoint holds a ${Array.isArray(v) ? 'list' : typeof v}, not a dict of tensors`);
}

function validateTensors(v: PyWritable, path: string, seen: Set<unknown>): void {
  if (v === null || typeof v !== 'object' || seen.has(v)) return;
  seen.add(v);
  if (isRawTensor(v)) { checkRawTensor(v, `tensor '${path}'`); return; }
  if (v instanceof Uint8Array) return;
  if (Array.isArray(v)) v.forEach((x, i) => validateTensors(x as PyWritable, `${path}[${i}]`, seen));
  else if (v instanceof Map) for (const [k, x] of v) validateTensors(x as PyWritable, path ? `${path}.${String(k)}` : String(k), seen);
  else for (const [k, x] of Object.entries(v)) validateTensors(x as PyWritable, path ? `${path}.${k}` : k, seen);
}

/**
 * Serialises to torch's zip format (as torch >= 1.6 writes it). Tensors become
 * `_rebuild_tensor_v2` calls on typed storages; the same RawTensor object appearing twice shares
 * one storage. Only globals on torch's weights_only allowlist are used.
 */
export function serializePth(value: PyWritable, archiveName = 'archive'): Uint8Array[] {
  validateTensors(value, '', new Set());
  const keys = new Map<RawTensor, string>();
  const order: RawTensor[] = [];
  const w = new PickleWriter((v, pw) => {
    if (!isRawTensor(v)) return false;
    let key = keys.get(v);
    if (key === undefined) {
      key = String(order.length);
      keys.set(v, key);
      order.push(v);
    }
    pw.global('torch._utils', '_rebuild_tensor_v2');
    pw.mark();
    pw.mark();
    pw.str('storage');
    pw.global('torch', STORAGE_NAMES[v.dtype]);
    pw.str(key);
    pw.str('cpu');
    pw.int(numelOf(v.shape));
    pw.tupleFromMark();
    pw.binpersid();
    pw.int(0);
    pw.tuple(v.shape);
    pw.tuple(contiguousStrides(v.shape));
    pw.value(false);
    pw.global('collections', 'OrderedDict');
    pw.tuple([]);
    pw.reduce();
    pw.tupleFromMark();
    pw.reduce();
    return true;
  });
  w.value(value);
  const pkl = w.finish();
  const enc = new TextEncoder();
  return buildZip([
    { name: `${archiveName}/data.pkl`, data: pkl },
    { name: `${archiveName}/byteorder`, data: enc.encode('little') },
    ...order.map((t, i) => ({ name: `${archiveName}/data/${i}`, data: t.data })),
    { name: `${archiveName}/version`, data: enc.encode('3\n') },
  ]);
}

/** Writes `value` (a state dict Map, or nested plain data holding RawTensors) atomically as a .pth file. */
export function writePth(path: string, value: PyWritable): void {
  writeFileAtomic(path, serializePth(value));
}
