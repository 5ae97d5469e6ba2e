// .pth reading/writing against Python torch 1.13 (one Python process: see pth_fixtures.py).
import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  PyFloat, PyTuple, ZipReader, isRawTensor, loadStateDictFile, readPth, serializeSafetensors, sniffCheckpoint, unpickle, writePth,
  type DType, type PyValue, type PyWritable, type RawTensor,
} from '../../../src/torch/io/index.js';

const SCRIPT = fileURLToPath(new URL('../../../../test/torch/io/pth_fixtures.py', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'vigil-pth-'));
const pwned = join(tmpdir(), `pwned-${process.pid}-${Date.now()}`);
let py: ChildProcessWithoutNullStreams;
let pyOut = '';
let pyErr = '';

function waitFor(word: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const check = (): void => {
      if (pyOut.includes(word)) { py.stdout.off('data', onData); py.off('exit', onExit); resolve(); }
    };
    const onData = (d: Buffer): void => { pyOut += d.toString(); check(); };
    const onExit = (code: number | null): void => reject(new Error(`python exited with ${code} before ${word}:\n${pyErr}`));
    py.stdout.on('data', onData);
    py.on('exit', onExit);
    check();
  });
}

before(async () => {
  py = spawn('/usr/bin/python3', [SCRIPT, dir, pwned]);
  py.stderr.on('data', (d: Buffer) => { pyErr += d.toString(); });
  await waitFor('READY');
});

after(() => {
  if (py.exitCode === null) py.kill();
  rmSync(dir, { recursive: true, force: true });
  rmSync(pwned, { force: true });
});

const f = (name: string): string => join(dir, name);
const json = (name: string): unknown => JSON.parse(readFileSync(f(name), 'utf8'));

type Desc = unknown;
/** Same shape as describe() in pth_fixtures.py. */
function describe(v: PyValue): Desc {
  if (isRawTensor(v)) return { __tensor__: v.dtype, shape: v.shape, b64: Buffer.from(v.data).toString('base64') };
  if (v instanceof Map) return { __dict__: [...v].map(([k, x]) => [k, describe(x)]) };
  if (Array.isArray(v)) return v.map(describe);
  if (typeof v === 'bigint') return Number(v);
  return v;
}

/** Python's float markers ({__float__: x}) carry information JSON numbers lose; reading can't keep it. */
function dropFloatMarks(d: Desc): Desc {
  if (Array.isArray(d)) return d.map(dropFloatMarks);
  if (d && typeof d === 'object') {
    const o = d as Record<string, Desc>;
    if ('__float__' in o) return o.__float__;
    return Object.fromEntries(Object.entries(o).map(([k, x]) => [k, dropFloatMarks(x)]));
  }
  return d;
}

test('resnet18 state dict, zip and legacy formats, matches torch byte for byte', () => {
  const index = json('resnet18.json') as Record<string, { dtype: DType; shape: number[]; offset: number; nbytes: number }>;
  const blob = readFileSync(f('resnet18.bin'));
  for (const file of ['resnet18_zip.pth', 'resnet18_legacy.pth']) {
    const t0 = performance.now();
    const sd = loadStateDictFile(f(file));
    const ms = performance.now() - t0;
    assert.deepEqual([...sd.keys()], Object.keys(index), file);
    for (const [k, e] of Object.entries(index)) {
      const t = sd.get(k)!;
      assert.equal(t.dtype, e.dtype, `${file} ${k}`);
      assert.deepEqual(t.shape, e.shape, `${file} ${k}`);
      assert.ok(Buffer.from(t.data).equals(blob.subarray(e.offset, e.offset + e.nbytes)), `${file} ${k} bytes`);
    }
    console.log(`# ${file}: ${sd.size} tensors read in ${ms.toFixed(0)} ms`);
  }
});

test('LeNet OrderedDict, all dtypes, strided views, offsets, parameters (zip and legacy)', () => {
  assert.deepEqual(describe(readPth(f('lenet.pth'))), dropFloatMarks(json('lenet.json')));
  const want = dropFloatMarks(json('misc.json'));
  for (const file of ['misc_zip.pth', 'misc_legacy.pth']) {
    const v = readPth(f(file));
    assert.deepEqual(describe(v), want, file);
    // a view of a shared storage holds exactly its own elements
    const m = v as Map<string, RawTensor>;
    assert.equal(m.get('T')!.data.byteLength, 30 * 4);
    assert.equal(m.get('view')!.data.byteLength, 6 * 4);
  }
});

test('Deep-SVDD-style nested checkpoint; state dict found under net_dict', () => {
  const want = dropFloatMarks(json('svdd.json'));
  for (const file of ['svdd.pth', 'svdd_legacy.pth']) {
    const v = readPth(f(file));
    assert.deepEqual(describe(v), want, file);
    const top = v as Map<string, PyValue>;
    assert.equal(top.get('R'), 0.5);
    assert.equal(top.get('big'), 2n ** 62n);
    const sd = loadStateDictFile(f(file));
    assert.deepEqual(describe(sd), describe(top.get('net_dict')!));
    assert.notDeepEqual(describe(sd), describe(top.get('ae_net_dict')!));
    assert.deepEqual(describe(loadStateDictFile(f(file), { key: 'ae_net_dict' })), describe(top.get('ae_net_dict')!));
    assert.throws(() => loadStateDictFile(f(file), { key: 'R' }), /entry 'R' is missing or is not a dict of tensors/);
  }
});

test('tar legacy format (hand-built, accepted by torch.load first)', () => {
  assert.equal((json('phase1.json') as { tar_ok: boolean }).tar_ok, true, 'torch.load rejected the hand-built tar file');
  assert.deepEqual(describe(readPth(f('tar_legacy.pth'))), dropFloatMarks(json('tar.json')));
});

test('malicious pickles are refused without running anything', () => {
  const sys = (json('phase1.json') as { os_system: string }).os_system;
  const cases: Array<[string, string]> = [
    ['evil_zip.pth', sys], ['evil_legacy.pth', sys],
    ['evil_p0.pkl', sys], ['evil_p2.pkl', sys], ['evil_p4.pkl', sys],
    ['eval.pkl', 'builtins.eval'], ['popen.pkl', 'subprocess.Popen'],
    ['whole_model.pth', '__main__.LeNet'],
  ];
  for (const [file, global] of cases) {
    const load = (): unknown => (file.endsWith('.pkl') ? unpickle(readFileSync(f(file)), { source: f(file) }) : readPth(f(file)));
    assert.throws(load, (e: Error) => {
      assert.ok(e.message.includes(`'${global}'`), `${file}: ${e.message}`);
      assert.match(e.message, /not a plain checkpoint/);
      return true;
    });
  }
  assert.equal(existsSync(pwned), false);
});

test('sniffCheckpoint tells the formats apart from the first 512 bytes', () => {
  const head = (name: string): Uint8Array => readFileSync(f(name)).subarray(0, 512);
  assert.equal(sniffCheckpoint(head('lenet.pth')), 'pth-zip');
  assert.equal(sniffCheckpoint(head('misc_legacy.pth')), 'pth-legacy');
  assert.equal(sniffCheckpoint(head('tar_legacy.pth')), 'pth-tar');
  const st = Buffer.concat(serializeSafetensors(new Map([['w', { dtype: 'uint8', shape: [600], data: new Uint8Array(600) }]])));
  assert.equal(sniffCheckpoint(st.subarray(0, 512)), 'safetensors');
  assert.equal(sniffCheckpoint(Buffer.from('PNG not a checkpoint')), null);
});

test('truncated and corrupt files give clear errors', () => {
  const zip = readFileSync(f('lenet.pth'));
  assert.throws(() => readPth(zip.subarray(0, zip.length >> 1)), /<bytes>: corrupt or truncated zip archive: end-of-central-directory/);
  assert.throws(() => readPth(zip.subarray(0, zip.length - 30)), /corrupt or truncated zip archive/);
  // flip one byte inside a storage: the CRC check must catch it
  const damaged = Buffer.from(zip);
  const reader = new ZipReader(damaged);
  const entry = reader.names().find((n) => n.endsWith('/data/0'))!;
  const at = reader.read(entry).byteOffset - damaged.byteOffset;
  damaged[at + 3] ^= 0xff;
  assert.throws(() => readPth(damaged), /entry 'lenet\/data\/0' fails its CRC-32 check/);

  const legacy = readFileSync(f('misc_legacy.pth'));
  assert.throws(() => readPth(legacy.subarray(0, legacy.length - 10)), /truncated/);
  assert.throws(() => readPth(legacy.subarray(0, 40)), /bad pickle at byte \d+: .*truncated/);
  assert.throws(() => readPth(new Uint8Array(0)), /file is empty/);
  assert.throws(() => readPth(Buffer.from('hello world, not a checkpoint')), /not a torch checkpoint/);
  assert.throws(() => readPth(f('does-not-exist.pth')), /cannot read checkpoint/);
});

function patterned(dtype: DType, shape: number[], itemsize: number, seed: number): RawTensor {
  const n = shape.reduce((a, b) => a * b, 1) * itemsize;
  const data = new Uint8Array(n);
  for (let i = 0; i < n; i++) data[i] = (i * 31 + seed * 7) & 0xff;
  if (dtype === 'bool') for (let i = 0; i < n; i++) data[i] &= 1;
  // keep floats finite: clear the top exponent bit of each element's high byte
  if (dtype.startsWith('float') || dtype === 'bfloat16') for (let i = itemsize - 1; i < n; i += itemsize) data[i] &= 0x3f;
  return { dtype, shape, data };
}

test('round trip: writePth -> torch.load(weights_only=True) -> resnet18.load_state_dict', async () => {
  const sd = loadStateDictFile(f('resnet18_zip.pth'));
  writePth(f('rt_resnet18.pth'), sd);

  const sizes: Array<[DType, number]> = [
    ['float32', 4], ['float64', 8], ['float16', 2], ['bfloat16', 2], ['int64', 8],
    ['int32', 4], ['int16', 2], ['int8', 1], ['uint8', 1], ['bool', 1],
  ];
  const tensors = new Map<string, RawTensor>();
  sizes.forEach(([d, isz], i) => tensors.set(d === 'float32' ? 'a' : d, patterned(d, [2, 3, i + 1], isz, i)));
  tensors.set('scalar', patterned('float32', [], 4, 99));
  tensors.set('empty', patterned('int64', [0, 5], 8, 0));
  const misc: PyWritable = {
    tensors,
    shared_again: tensors.get('a')!,
    ints: [0, 255, 256, 65535, 65536, -1, -(2 ** 31), 2 ** 31, 2 ** 40, -(2 ** 40), 2n ** 70n, -(2n ** 70n)],
    text: 'héllo ☃',
    none: null,
    flags: [true, false],
    nested: { x: [1, [2, [3]]], m: new Map([['k', 'v']]) },
    tuple: new PyTuple([1, 'a']),
  };
  writePth(f('rt_misc.pth'), misc);
  const netDict = new Map([['w', patterned('float32', [3, 2], 4, 5)]]);
  writePth(f('rt_floats.pth'), { R: 0.5, c: [0.1, -2.5, new PyFloat(1)], net_dict: netDict, epoch: 3 });

  py.stdin.write('go\n');
  await waitFor('DONE');
  const report = json('phase2.json') as Record<string, { ok: boolean; error?: string; value: unknown }>;

  const r = report.rt_resnet;
  assert.ok(r.ok, r.error);
  assert.deepEqual(r.value, { same: true, missing: [], unexpected: [], type: 'OrderedDict' });

  const m = report.rt_misc;
  assert.ok(m.ok, m.error);
  const got = m.value as { described: Desc; shared: boolean };
  assert.equal(got.shared, true, 'one RawTensor written twice must share one storage');
  const expected = {
    __dict__: [
      ['tensors', describe(tensors)],
      ['shared_again', describe(tensors.get('a')!)],
      ['ints', (misc.ints as Array<number | bigint>).map(Number)],
      ['text', 'héllo ☃'],
      ['none', null],
      ['flags', [true, false]],
      ['nested', { __dict__: [['x', [1, [2, [3]]]], ['m', { __dict__: [['k', 'v']] }]] }],
      ['tuple', [1, 'a']],
    ],
  };
  assert.deepEqual(got.described, expected);

  const fl = report.rt_floats;
  assert.ok(fl.ok, fl.error);
  assert.deepEqual(fl.value, {
    __dict__: [
      ['R', { __float__: 0.5 }],
      ['c', [{ __float__: 0.1 }, { __float__: -2.5 }, { __float__: 1 }]],
      ['net_dict', { __dict__: [['w', describe(netDict.get('w')!)]] }],
      ['epoch', 3],
    ],
  });
  // and our own reader reads back what we wrote
  assert.deepEqual(describe(readPth(f('rt_misc.pth'))), expected);
});
