// Restricted unpickler vs Python's pickle (protocols 0-5, numpy/CIFAR files); writer round trips.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  PyFloat, PyTuple, isRawTensor, pickleDumps, unpickle, unpickleAt, type PyValue, type PyWritable, type RawTensor,
} from '../../../src/torch/io/index.js';

const SCRIPT = fileURLToPath(new URL('../../../../test/torch/io/pickle_fixtures.py', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'vigil-pickle-'));
let expected: Record<string, unknown>;

const ours: PyWritable = {
  ints: [0, 1, 255, 256, 65535, 65536, -1, -129, -(2 ** 31), 2 ** 31 - 1, 2 ** 31, 2 ** 52, -(2 ** 52), 2n ** 64n, -(2n ** 64n) - 1n],
  floats: [0.5, -1e-300, 1e300, new PyFloat(2), Number.MAX_VALUE],
  text: ['', 'ascii', 'héllo ☃ 𝄞'],
  bytes: Uint8Array.from([0, 1, 254, 255]),
  misc: [null, undefined, true, false, new PyTuple([]), new PyTuple([1]), new PyTuple([1, 2, 3, 4])],
  dict: new Map<string | number, PyWritable>([['b', 1], [3, 'three'], ['a', { x: [] }]]),
  long_list: Array.from({ length: 2500 }, (_, i) => i),
};

before(() => {
  writeFileSync(join(dir, 'ours_p2.pkl'), pickleDumps(ours));
  execFileSync('/usr/bin/python3', [SCRIPT, dir], { stdio: ['ignore', 'inherit', 'inherit'] });
  expected = JSON.parse(readFileSync(join(dir, 'expected.json'), 'utf8')) as Record<string, unknown>;
});

after(() => rmSync(dir, { recursive: true, force: true }));

function describe(v: PyValue): unknown {
  if (isRawTensor(v)) return { __tensor__: v.dtype, shape: v.shape, b64: Buffer.from(v.data).toString('base64') };
  if (v instanceof Uint8Array) return { __bytes__: Buffer.from(v).toString('base64') };
  if (v instanceof Map) return { __dict__: [...v].map(([k, x]) => [describe(k), describe(x)]) };
  if (Array.isArray(v)) return v.map(describe);
  if (typeof v === 'bigint') return { __bigint__: v.toString() };
  return v;
}

function dropFloatMarks(d: unknown): unknown {
  if (Array.isArray(d)) return d.map(dropFloatMarks);
  if (d && typeof d === 'object') {
    const o = d as Record<string, unknown>;
    if ('__float__' in o) return o.__float__;
    return Object.fromEntries(Object.entries(o).map(([k, x]) => [k, dropFloatMarks(x)]));
  }
  return d;
}

const load = (name: string): Uint8Array => readFileSync(join(dir, name));

test('CIFAR-10-style Python 2 pickle with numpy opt-in', () => {
  const v = unpickle(load('cifar_py2.pkl'), { allow: 'numpy' });
  assert.deepEqual(describe(v), dropFloatMarks(expected['cifar_py2.pkl']));
  const data = (v as Map<PyValue, PyValue>).get('data') as RawTensor;
  assert.equal(data.dtype, 'uint8');
  assert.deepEqual(data.shape, [12, 3072]);
  // encoding 'bytes' keeps Python 2 strings as bytes, like pickle.load(f, encoding='bytes')
  const b = unpickle(load('cifar_py2.pkl'), { allow: 'numpy', encoding: 'bytes' }) as Map<PyValue, PyValue>;
  const keys = [...b.keys()].map((k) => Buffer.from(k as Uint8Array).toString('latin1'));
  assert.deepEqual(keys, ['batch_label', 'labels', 'data', 'filenames']);
  assert.deepEqual(describe([...b.values()][2]), describe(data));
});

test('numpy arrays (all dtypes, Fortran order, big-endian, scalars) at protocols 2, 4, 5', () => {
  for (const p of [2, 4, 5]) {
    const name = `numpy_p${p}.pkl`;
    assert.deepEqual(describe(unpickle(load(name), { allow: 'numpy' })), dropFloatMarks(expected[name]), name);
  }
});

test('numpy is opt-in: without it the numpy globals are refused', () => {
  assert.throws(() => unpickle(load('numpy_p2.pkl'), { source: 'numpy_p2.pkl' }),
    /numpy_p2\.pkl: refusing to load global 'numpy\.core\.multiarray\._reconstruct': this file is not a plain checkpoint/);
});

test('plain data at protocols 0-5 and Python 2 text opcodes match Python', () => {
  for (const p of [0, 1, 2, 3, 4, 5]) {
    const name = `plain_p${p}.pkl`;
    const v = unpickle(load(name));
    assert.deepEqual(describe(v), dropFloatMarks(expected[name]), name);
    // the memo keeps shared references shared
    const shared = (v as Map<PyValue, PyValue>).get('shared') as PyValue[];
    assert.equal(shared[0], shared[1], name);
  }
  assert.deepEqual(describe(unpickle(load('py2_p0.pkl'))), dropFloatMarks(expected['py2_p0.pkl']));
});

test('class instances are refused by name', () => {
  assert.throws(() => unpickle(load('copyreg_p1.pkl')), /refusing to load global 'copy_?reg\._reconstructor'/);
  assert.throws(() => unpickle(load('newobj_p4.pkl')), /refusing to load global '__main__\.Foo'/);
});

test('pickleDumps output reads back the same in Python and in our reader', () => {
  const py = expected['ours_p2.pkl'];
  const mine = unpickle(load('ours_p2.pkl'));
  // Python marks floats; our reader cannot tell 2.0 from 2, otherwise the two must agree
  assert.deepEqual(describe(mine), dropFloatMarks(py));
  const floats = ((py as { __dict__: Array<[string, unknown]> }).__dict__.find(([k]) => k === 'floats'))![1];
  assert.deepEqual(floats, [0.5, -1e-300, 1e300, 2, Number.MAX_VALUE].map((x) => ({ __float__: x })));
  const ints = ((py as { __dict__: Array<[string, unknown]> }).__dict__.find(([k]) => k === 'ints'))![1] as unknown[];
  assert.deepEqual(ints.slice(-2), [{ __bigint__: (2n ** 64n).toString() }, { __bigint__: (-(2n ** 64n) - 1n).toString() }]);
});

test('malformed pickles: truncation, bad memo, unknown opcode, stack underflow', () => {
  const good = pickleDumps({ a: [1, 2, 3] });
  assert.throws(() => unpickle(good.subarray(0, good.length - 3), { source: 'x.pkl' }), /x\.pkl: bad pickle at byte \d+: .*(truncated|underflow)/);
  assert.throws(() => unpickle(Uint8Array.from([0x80, 2, 0x68, 5, 0x2e])), /memo key 5 is missing/);
  assert.throws(() => unpickle(Uint8Array.from([0x80, 2, 0xff])), /unknown opcode 0xff/);
  assert.throws(() => unpickle(Uint8Array.from([0x80, 2, 0x2e])), /stack underflow/);
  assert.throws(() => unpickle(Uint8Array.from([0x80, 2, 0x51, 0x2e])), /stack underflow/);
  assert.throws(() => unpickle(Uint8Array.from([0x80, 2, 0x4b, 1, 0x51, 0x2e])), /no persistent loader/);
  assert.throws(() => pickleDumps({ t: { dtype: 'float32', shape: [1], data: new Uint8Array(4) } }), /tensors can only be written inside a \.pth file/);
  const cyc: PyWritable[] = [];
  cyc.push(cyc);
  assert.throws(() => pickleDumps(cyc), /cycle/);
});

test('unpickleAt reads pickles back to back', () => {
  const a = pickleDumps('first');
  const b = pickleDumps([2]);
  const both = new Uint8Array(a.length + b.length);
  both.set(a);
  both.set(b, a.length);
  const r1 = unpickleAt(both, 0);
  assert.equal(r1.value, 'first');
  assert.equal(r1.end, a.length);
  const r2 = unpickleAt(both, r1.end);
  assert.deepEqual(r2.value, [2]);
  assert.equal(r2.end, both.length);
});
