# Reference side of test/torch/io/pickle.test.ts: writes pickles (numpy/CIFAR-style, protocols
# 0-5, Python-2-style strings, hostile ones) and JSON descriptions of what Python reads from them;
# also describes ours_p2.pkl, which the TypeScript side wrote with pickleDumps before starting us.
import base64, json, os, pickle, struct, sys
import numpy as np

DIR = sys.argv[1]
rng = np.random.default_rng(0)

NP = {'uint8': 'uint8', 'int8': 'int8', 'int16': 'int16', 'int32': 'int32', 'int64': 'int64',
      'float16': 'float16', 'float32': 'float32', 'float64': 'float64', 'bool': 'bool'}


def describe(v, py2=False):
    if isinstance(v, np.ndarray):
        le = v.astype(v.dtype.newbyteorder('<'), order='C')
        return {'__tensor__': NP[le.dtype.name], 'shape': list(v.shape), 'b64': base64.b64encode(le.tobytes()).decode()}
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, bytes):
        return v.decode('latin1') if py2 else {'__bytes__': base64.b64encode(v).decode()}
    if isinstance(v, dict):
        return {'__dict__': [[describe(k, py2), describe(x, py2)] for k, x in v.items()]}
    if isinstance(v, (list, tuple)):
        return [describe(x, py2) for x in v]
    if isinstance(v, float):
        return {'__float__': v}
    if isinstance(v, int) and not isinstance(v, bool) and abs(v) >= 2 ** 53:
        return {'__bigint__': str(v)}
    return v


class Py2Pickler(pickle._Pickler):
    """Writes bytes the way Python 2 wrote str (SHORT_BINSTRING / BINSTRING), as in CIFAR-10's files."""
    dispatch = pickle._Pickler.dispatch.copy()

    def save_str2(self, obj):
        n = len(obj)
        if n < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([n]) + obj)
        else:
            self.write(pickle.BINSTRING + struct.pack('<i', n) + obj)
        self.memoize(obj)
    dispatch[bytes] = save_str2


expected = {}


def write(name, data, loads_kw=None):
    with open(os.path.join(DIR, name), 'wb') as f:
        f.write(data)
    back = pickle.loads(data, **(loads_kw or {}))  # what Python itself makes of the file
    expected[name] = describe(back, py2=bool(loads_kw))


cifar = {b'batch_label': b'training batch 1 of 5',
         b'labels': [int(x) for x in rng.integers(0, 10, 12)],
         b'data': rng.integers(0, 256, (12, 3072), dtype=np.uint8),
         b'filenames': [b'img_%d.png' % i for i in range(12)]}
buf = __import__('io').BytesIO()
Py2Pickler(buf, protocol=2).dump(cifar)
write('cifar_py2.pkl', buf.getvalue(), {'encoding': 'bytes'})

arrays = {
    'u8': rng.integers(0, 256, (2, 3), dtype=np.uint8),
    'i8': np.array([-128, 5, 127], dtype=np.int8),
    'i16': np.array([-300, 300], dtype=np.int16),
    'i32': np.array([[-5, 3]], dtype=np.int32),
    'i64': np.array([-(2 ** 40), 0, 2 ** 50], dtype=np.int64),
    'f16': rng.standard_normal(4).astype(np.float16),
    'f32': rng.standard_normal((2, 2)).astype(np.float32),
    'fortran': np.asfortranarray(rng.standard_normal((3, 4))),
    'be': np.arange(6, dtype='>i4').reshape(2, 3),
    'bool': np.array([True, False, True]),
    'empty': np.zeros((0, 3), dtype=np.uint8),
    'scalar_f': np.float64(3.5),
    'scalar_i': np.int64(-7),
    'labels': [1, 2, 3],
}
for proto in (2, 4, 5):
    write(f'numpy_p{proto}.pkl', pickle.dumps(arrays, protocol=proto))

plain = {'a': [1, 2.5, -3, 2 ** 70, -(2 ** 70), None, True, False, 'héllo ☃', b'\x00\xff'],
         'nested': {'t': (1, (2, 3)), 'empty': (), 'l': []}, 7: 'int key', 'shared': None}
shared = [1, 2]
plain['shared'] = [shared, shared]
for proto in (0, 1, 2, 3, 4, 5):
    write(f'plain_p{proto}.pkl', pickle.dumps(plain, protocol=proto))
# Python 2 protocol 0 text strings: STRING with escapes, INT booleans, LONG with a trailing L.
write('py2_p0.pkl', b"(dp0\nS'ab\\'c\\n\\x41\\101'\np1\nI01\nsS'big'\np2\nL12345678901234567890L\ns.", {'encoding': 'latin1'})


class Foo:
    pass


with open(os.path.join(DIR, 'copyreg_p1.pkl'), 'wb') as f:
    pickle.dump(Foo(), f, protocol=1)
with open(os.path.join(DIR, 'newobj_p4.pkl'), 'wb') as f:
    pickle.dump([Foo()], f, protocol=4)

with open(os.path.join(DIR, 'ours_p2.pkl'), 'rb') as f:
    ours = pickle.load(f)
expected['ours_p2.pkl'] = describe(ours)

with open(os.path.join(DIR, 'expected.json'), 'w') as f:
    json.dump(expected, f)
