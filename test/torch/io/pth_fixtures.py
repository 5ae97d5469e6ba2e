# Reference side of test/torch/io/pth.test.ts. One process, two phases:
#   1. write torch.save fixtures + expected values into DIR, print READY;
#   2. after a line on stdin, load the files the TypeScript side wrote and report on them.
# Expected tensors are dumped as raw contiguous bytes in one blob per fixture, indexed by JSON.
import base64, collections, io, json, os, pickle, struct, sys, tarfile
import torch, torchvision

DIR = sys.argv[1]
PWNED = sys.argv[2]
torch.manual_seed(0)


def tbytes(t):
    return t.detach().contiguous().flatten().view(torch.uint8).numpy().tobytes()


DT = {torch.float32: 'float32', torch.float64: 'float64', torch.float16: 'float16', torch.bfloat16: 'bfloat16',
      torch.int64: 'int64', torch.int32: 'int32', torch.int16: 'int16', torch.int8: 'int8', torch.uint8: 'uint8',
      torch.bool: 'bool'}


def describe(v):
    """JSON description shared with the TS side: dicts keep order, tensors carry base64 bytes."""
    if isinstance(v, torch.Tensor):
        return {'__tensor__': DT[v.dtype], 'shape': list(v.shape), 'b64': base64.b64encode(tbytes(v)).decode()}
    if isinstance(v, float):
        return {'__float__': v}
    if isinstance(v, dict):
        return {'__dict__': [[k, describe(x)] for k, x in v.items()]}
    if isinstance(v, (list, tuple)):
        return [describe(x) for x in v]
    return v


def save_expected(name, obj):
    with open(os.path.join(DIR, name + '.json'), 'w') as f:
        json.dump(describe(obj), f)


class LeNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(3, 32, 5, bias=False)
        self.bn1 = torch.nn.BatchNorm2d(32, affine=False)
        self.fc1 = torch.nn.Linear(32, 10)


resnet = torchvision.models.resnet18(weights=None)
sd = resnet.state_dict()
torch.save(sd, os.path.join(DIR, 'resnet18_zip.pth'))
torch.save(sd, os.path.join(DIR, 'resnet18_legacy.pth'), _use_new_zipfile_serialization=False)
with open(os.path.join(DIR, 'resnet18.bin'), 'wb') as f:
    index = {}
    for k, t in sd.items():
        b = tbytes(t)
        index[k] = {'dtype': DT[t.dtype], 'shape': list(t.shape), 'offset': f.tell(), 'nbytes': len(b)}
        f.write(b)
with open(os.path.join(DIR, 'resnet18.json'), 'w') as f:
    json.dump(index, f)

lenet = LeNet().state_dict()
torch.save(lenet, os.path.join(DIR, 'lenet.pth'))
save_expected('lenet', lenet)

base = torch.randn(5, 6)
misc = collections.OrderedDict()
misc['f16'] = torch.randn(3, 4).half()
misc['bf16'] = torch.randn(3, 4).bfloat16()
misc['f64'] = torch.randn(2, 3).double()
misc['i64'] = torch.tensor([-(2 ** 40), -1, 0, 7, 2 ** 50])
misc['i32'] = torch.tensor([-5, 3], dtype=torch.int32)
misc['i16'] = torch.tensor([-300, 300], dtype=torch.int16)
misc['i8'] = torch.tensor([-128, 127], dtype=torch.int8)
misc['u8'] = torch.arange(200, 256, dtype=torch.uint8).reshape(4, 14)
misc['bool'] = torch.tensor([[True, False, True], [False, False, True]])
misc['scalar'] = torch.tensor(3.25)
misc['empty'] = torch.zeros(0, 4)
misc['base'] = base
misc['T'] = base.t()                      # non-contiguous, shares base's storage
misc['view'] = base[2]                    # storage offset 12
misc['strided'] = base[1:, ::2]           # offset and step
misc['param'] = torch.nn.Parameter(torch.randn(2, 2))
misc['permuted'] = torch.randn(2, 3, 4).permute(2, 0, 1)
for fmt, kw in (('zip', {}), ('legacy', {'_use_new_zipfile_serialization': False})):
    torch.save(misc, os.path.join(DIR, f'misc_{fmt}.pth'), **kw)
save_expected('misc', misc)

net = LeNet().state_dict()
svdd = {'R': 0.5, 'c': torch.randn(4).tolist(), 'net_dict': dict(net), 'ae_net_dict': LeNet().state_dict(),
        'epoch': 3, 'name': 'deep-svdd', 'none': None, 'flags': (True, False), 'big': 2 ** 62, 'neg': -7}
torch.save(svdd, os.path.join(DIR, 'svdd.pth'))
torch.save(svdd, os.path.join(DIR, 'svdd_legacy.pth'), _use_new_zipfile_serialization=False)
save_expected('svdd', svdd)

# The oldest (tar) layout, as torch 1.13's _legacy_load reads it: members 'storages'
# (count; per storage a pickled (key, location, storage type) then int64 numel + bytes; then a
# pickled list of views), 'tensors' (count; per tensor a pickled (key, storage key, tensor type),
# int32 ndim + 4 pad bytes, int64 sizes, int64 strides, int64 storage offset) and 'pickle' (the
# object, with tensors as persistent ids = tensor keys).
tar_sd = collections.OrderedDict()
tar_base = torch.randn(3, 4)
tar_sd['w'] = tar_base
tar_sd['wt'] = tar_base.t()
tar_sd['row'] = tar_base[1]
tar_sd['idx'] = torch.tensor([4, 5, 6], dtype=torch.int64)


class TarPickler(pickle.Pickler):
    def persistent_id(self, obj):
        if isinstance(obj, torch.Tensor):
            return str(tensor_key[id(obj)])
        return None


storages = {'1': (tar_base, torch.FloatStorage), '2': (tar_sd['idx'], torch.LongStorage)}
tensor_key = {}
tensor_recs = []
for i, (name, t) in enumerate(tar_sd.items()):
    skey = '2' if name == 'idx' else '1'
    tensor_key[id(t)] = 10 + i
    tensor_recs.append((10 + i, skey, t))


def member(tar, name, data):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


with tarfile.open(os.path.join(DIR, 'tar_legacy.pth'), 'w', format=tarfile.PAX_FORMAT) as tar:
    member(tar, 'sys_info', pickle.dumps({'protocol_version': 1001, 'little_endian': True,
                                          'type_sizes': {'short': 2, 'int': 4, 'long': 4}}, protocol=2))
    buf = io.BytesIO()
    pickle.dump(len(storages), buf, protocol=2)
    for key, (t, stype) in storages.items():
        pickle.dump((key, 'cpu', stype), buf, protocol=2)
        buf.write(struct.pack('<q', t.numel()))
        buf.write(tbytes(t))
    pickle.dump([], buf, protocol=2)
    member(tar, 'storages', buf.getvalue())
    buf = io.BytesIO()
    pickle.dump(len(tensor_recs), buf, protocol=2)
    for key, skey, t in tensor_recs:
        pickle.dump((key, skey, torch.LongTensor if t.dtype == torch.int64 else torch.FloatTensor), buf, protocol=2)
        buf.write(struct.pack('<i', t.dim()) + b'\0\0\0\0')
        buf.write(struct.pack(f'<{t.dim()}q', *t.shape))
        buf.write(struct.pack(f'<{t.dim()}q', *t.stride()))
        buf.write(struct.pack('<q', t.storage_offset()))
    member(tar, 'tensors', buf.getvalue())
    buf = io.BytesIO()
    TarPickler(buf, protocol=2).dump(tar_sd)
    member(tar, 'pickle', buf.getvalue())
save_expected('tar', tar_sd)
# torch itself must accept our hand-made tar before the TS reader is held to it.
back = torch.load(os.path.join(DIR, 'tar_legacy.pth'))
tar_ok = list(back.keys()) == list(tar_sd.keys()) and all(torch.equal(back[k], tar_sd[k]) for k in tar_sd)


class Evil:
    def __reduce__(self):
        return (os.system, ('touch ' + PWNED,))


torch.save({'w': torch.ones(2), 'evil': Evil()}, os.path.join(DIR, 'evil_zip.pth'))
torch.save({'evil': Evil()}, os.path.join(DIR, 'evil_legacy.pth'), _use_new_zipfile_serialization=False)
for proto in (0, 2, 4):
    with open(os.path.join(DIR, f'evil_p{proto}.pkl'), 'wb') as f:
        pickle.dump({'x': Evil()}, f, protocol=proto)
with open(os.path.join(DIR, 'eval.pkl'), 'wb') as f:
    f.write(b"\x80\x02cbuiltins\neval\nX\x1c\x00\x00\x00__import__('os').system('x')\x85R.")
with open(os.path.join(DIR, 'popen.pkl'), 'wb') as f:
    f.write(b"csubprocess\nPopen\n(S'touch " + PWNED.encode() + b"'\ntR.")
with open(os.path.join(DIR, 'whole_model.pth'), 'wb') as f:
    torch.save(LeNet(), f)

with open(os.path.join(DIR, 'phase1.json'), 'w') as f:
    json.dump({'tar_ok': tar_ok, 'os_system': f'{os.system.__module__}.system'}, f)
print('READY', flush=True)

# ---- phase 2: files written by the TypeScript side ----
sys.stdin.readline()
report = {}


def attempt(name, fn):
    try:
        report[name] = {'ok': True, 'value': fn()}
    except Exception as e:  # report, the TS side asserts
        report[name] = {'ok': False, 'error': f'{type(e).__name__}: {e}'}


def rt_resnet():
    loaded = torch.load(os.path.join(DIR, 'rt_resnet18.pth'), weights_only=True)
    same = list(loaded.keys()) == list(sd.keys()) and all(
        loaded[k].dtype == sd[k].dtype and torch.equal(loaded[k], sd[k]) for k in sd)
    m = torchvision.models.resnet18(weights=None)
    res = m.load_state_dict(loaded, strict=True)
    return {'same': same, 'missing': list(res.missing_keys), 'unexpected': list(res.unexpected_keys),
            'type': type(loaded).__name__}


def rt_misc():
    loaded = torch.load(os.path.join(DIR, 'rt_misc.pth'), weights_only=True)
    shared = loaded['tensors']['a'].data_ptr() == loaded['shared_again'].data_ptr()
    return {'described': describe(loaded), 'shared': shared}


def rt_floats():
    # torch 1.13's weights_only unpickler has no BINFLOAT opcode, so Python floats need the full loader.
    return describe(torch.load(os.path.join(DIR, 'rt_floats.pth')))


attempt('rt_resnet', rt_resnet)
attempt('rt_misc', rt_misc)
attempt('rt_floats', rt_floats)
with open(os.path.join(DIR, 'phase2.json'), 'w') as f:
    json.dump(report, f)
print('DONE', flush=True)
