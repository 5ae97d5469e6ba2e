// safetensors: round trip, byte layout checked against files built by hand from the spec, and
// validation errors. (Debian's Python has no `safetensors` module, so no Python cross-check.)
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { DTYPE_ITEMSIZE, readSafetensors, writeSafetensors, type DType, type RawTensor } from '../../../src/torch/io/index.js';

const dir = mkdtempSync(join(tmpdir(), 'vigil-st-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** A file laid out by hand: u64 LE header size, JSON header, then the given data bytes. */
function handBuilt(header: unknown, body: Uint8Array, padTo8 = true): Uint8Array {
  let json = JSON.stringify(header);
  if (padTo8) json += ' '.repeat((8 - (json.length % 8)) % 8);
  const h = Buffer.from(json, 'utf8');
  const out = Buffer.alloc(8 + h.length + body.length);
  out.writeBigUInt64LE(BigInt(h.length), 0);
  h.copy(out, 8);
  out.set(body, 8 + h.length);
  return out;
}

function tensor(dtype: DType, shape: number[], seed: number): RawTensor {
  const n = shape.reduce((a, b) => a * b, 1) * DTYPE_ITEMSIZE[dtype];
  const data = new Uint8Array(n);
  for (let i = 0; i < n; i++) data[i] = (i * 13 + seed) & 0xff;
  return { dtype, shape, data };
}

const ALL: DType[] = ['float32', 'float64', 'float16', 'bfloat16', 'int64', 'int32', 'int16', 'int8', 'uint8', 'bool'];

test('round trip with every dtype, scalars, empty tensors and metadata; atomic write', () => {
  const tensors = new Map<string, RawTensor>();
  ALL.forEach((d, i) => tensors.set(`t.${d}`, tensor(d, [i + 1, 3], i)));
  tensors.set('scalar', tensor('float32', [], 9));
  tensors.set('empty', tensor('int64', [0, 4], 0));
  const path = join(dir, 'all.safetensors');
  writeSafetensors(path, tensors, { format: 'pt', note: 'héllo' });
  assert.deepEqual(readdirSync(dir), ['all.safetensors'], 'no temp file left behind');
  const back = readSafetensors(path);
  assert.deepEqual(back.metadata, { format: 'pt', note: 'héllo' });
  assert.deepEqual(new Set(back.tensors.keys()), new Set(tensors.keys()));
  for (const [k, t] of tensors) assert.deepEqual(back.tensors.get(k), t, k);

  const bytes = readFileSync(path);
  const n = Number(bytes.readBigUInt64LE(0));
  assert.equal(n % 8, 0, 'header padded to 8 bytes');
  const header = JSON.parse(bytes.subarray(8, 8 + n).toString('utf8')) as Record<string, { dtype: string; data_offsets: number[] }>;
  const codes = ALL.map((d) => header[`t.${d}`].dtype);
  assert.deepEqual(codes, ['F32', 'F64', 'F16', 'BF16', 'I64', 'I32', 'I16', 'I8', 'U8', 'BOOL']);
  // every tensor starts at a multiple of its item size (larger items are laid out first)
  for (const d of ALL) assert.equal(header[`t.${d}`].data_offsets[0] % DTYPE_ITEMSIZE[d], 0, d);
});

test('reads a file built by hand from the spec', () => {
  const f32 = Buffer.alloc(8);
  f32.writeFloatLE(1.5, 0);
  f32.writeFloatLE(-2, 4);
  const u8 = Uint8Array.from([7, 8, 9]);
  const body = Buffer.concat([f32, u8]);
  const header = {
    __metadata__: { source: 'hand' },
    w: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
    b: { dtype: 'U8', shape: [3, 1], data_offsets: [8, 11] },
  };
  for (const pad of [true, false]) {
    const { tensors, metadata } = readSafetensors(handBuilt(header, body, pad));
    assert.deepEqual(metadata, { source: 'hand' });
    assert.deepEqual(tensors.get('w'), { dtype: 'float32', shape: [2], data: new Uint8Array(f32) });
    assert.deepEqual(tensors.get('b'), { dtype: 'uint8', shape: [3, 1], data: u8 });
  }
});

test('writer output matches the spec byte for byte', () => {
  const w: RawTensor = { dtype: 'int16', shape: [2], data: Uint8Array.from([1, 0, 2, 0]) };
  const path = join(dir, 'one.safetensors');
  writeSafetensors(path, new Map([['w', w]]));
  const want = handBuilt({ w: { dtype: 'I16', shape: [2], data_offsets: [0, 4] } }, w.data);
  assert.deepEqual(new Uint8Array(readFileSync(path)), new Uint8Array(want));
});

test('validation errors name the file and the tensor', () => {
  const body = new Uint8Array(16);
  const bad = (name: string, header: unknown, b: Uint8Array = body): string => {
    const p = join(dir, name);
    writeFileSync(p, handBuilt(header, b));
    return p;
  };
  const cases: Array<[string, unknown, RegExp, Uint8Array?]> = [
    ['overlap', { a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [3], data_offsets: [4, 16] } }, /overlap\.safetensors: invalid safetensors file: tensor 'b' overlaps/],
    ['range', { a: { dtype: 'F32', shape: [5], data_offsets: [0, 20] } }, /tensor 'a': data_offsets \[0, 20\] lie outside the 16-byte data buffer/],
    ['count', { a: { dtype: 'F64', shape: [3], data_offsets: [0, 16] } }, /tensor 'a': data_offsets span 16 bytes but shape \[3\] of F64 needs 24/],
    ['gap', { a: { dtype: 'F32', shape: [2], data_offsets: [8, 16] } }, /gap in the data buffer before tensor 'a'/],
    ['short', { a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } }, /data buffer has 16 bytes but the tensors cover 8/],
    ['dtype', { a: { dtype: 'F8_E4M3', shape: [16], data_offsets: [0, 16] } }, /tensor 'a': unsupported dtype "F8_E4M3"/],
    ['shape', { a: { dtype: 'U8', shape: [-16], data_offsets: [0, 16] } }, /tensor 'a': shape must be a list of non-negative integers/],
    ['meta', { __metadata__: { n: 1 }, a: { dtype: 'U8', shape: [16], data_offsets: [0, 16] } }, /__metadata__ entry 'n' is not a string/],
  ];
  for (const [name, header, re, b] of cases) {
    const p = bad(`${name}.safetensors`, header, b);
    assert.throws(() => readSafetensors(p), (e: Error) => {
      assert.match(e.message, re);
      assert.ok(e.message.startsWith(p), e.message);
      return true;
    }, name);
  }
  const json = Buffer.from('{"a": {"dtype": ');
  const broken = Buffer.alloc(8 + json.length);
  broken.writeBigUInt64LE(BigInt(json.length), 0);
  json.copy(broken, 8);
  assert.throws(() => readSafetensors(broken), /header is not valid JSON/);
  const huge = Buffer.alloc(16);
  huge.writeBigUInt64LE(1000n, 0);
  assert.throws(() => readSafetensors(huge), /header length 1000 runs past the end of the 16-byte file \(truncated\?\)/);
  assert.throws(() => readSafetensors(new Uint8Array(3)), /a header length \(8 bytes\) is required/);
  assert.throws(() => writeSafetensors(join(dir, 'x.safetensors'), new Map([['t', { dtype: 'float32', shape: [3], data: new Uint8Array(8) }]])),
    /safetensors tensor 't': 8 data bytes but shape \[3\] of float32 needs 12/);
});
