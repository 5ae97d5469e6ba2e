// Forward values and input gradients of each op family against PyTorch (Debian's python3-torch),
// from identical inputs. One Python process computes every reference.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import * as torch from '../../src/torch/index.js';
import { Tensor } from '../../src/torch/index.js';
import { runPython, tempDir } from '../helpers/python.js';

type Kind = 'randn' | 'pos' | 'prob' | 'bool' | `int${number}`;
interface Case {
  name: string;
  inputs: Record<string, [number[], Kind]>;
  ts: (x: Record<string, Tensor>) => Tensor | Tensor[];
  py: string;
  /** Skip gradient checks (non-differentiable or integer outputs). */
  noGrad?: boolean;
  tol?: number;
}

const C = (name: string, inputs: Case['inputs'], ts: Case['ts'], py: string, extra: Partial<Case> = {}): Case => ({ name, inputs, ts, py, ...extra });
const A: [number[], Kind] = [[3, 4], 'randn'];
const B: [number[], Kind] = [[3, 4], 'randn'];
const IMG: [number[], Kind] = [[2, 3, 9, 9], 'randn'];

const cases: Case[] = [
  // elementwise
  C('add', { a: A, b: B }, ({ a, b }) => torch.add(a!, b!, { alpha: 2 }), 'torch.add(a, b, alpha=2)'),
  C('add_scalar', { a: A }, ({ a }) => a!.add(1.5), 'a + 1.5'),
  C('sub_mul_div', { a: A, b: [[3, 4], 'pos'] }, ({ a, b }) => a!.sub(b!).mul(a!).div(b!), '(a - b) * a / b'),
  C('pow_sqrt_exp_log', { a: [[3, 4], 'pos'] }, ({ a }) => a!.pow(3).sqrt().add(a!.exp()).add(a!.log()), 'a.pow(3).sqrt() + a.exp() + a.log()'),
  C('abs_clamp', { a: A }, ({ a }) => a!.abs().clamp({ min: 0.2, max: 1.1 }), 'a.abs().clamp(min=0.2, max=1.1)'),
  C('activations', { a: A }, ({ a }) => torch.stack([a!.sigmoid(), a!.relu(), torch.leaky_relu(a!, { negativeSlope: 0.1 }), torch.elu(a!), torch.softplus(a!), torch.gelu(a!), a!.tanh()]),
    'torch.stack([a.sigmoid(), a.relu(), F.leaky_relu(a, 0.1), F.elu(a), F.softplus(a), F.gelu(a), a.tanh()])'),
  C('lerp_sin_cos', { a: A, b: B }, ({ a, b }) => torch.lerp(a!.sin(), b!.cos(), 0.3), 'torch.lerp(a.sin(), b.cos(), 0.3)'),
  C('where_masked_fill', { a: A, b: B, m: [[3, 4], 'bool'] }, ({ a, b, m }) => torch.where(m!, a!, b!).masked_fill(a!.gt(0.5), -1), 'torch.where(m, a, b).masked_fill(a > 0.5, -1)'),
  // reductions
  C('sum_mean_dim', { a: [[2, 3, 4], 'randn'] }, ({ a }) => torch.cat([a!.sum([1]), a!.mean([0, 2], { keepdim: true }).view([3, 1]).expand([3, 4])]),
    'torch.cat([a.sum(1), a.mean((0, 2), keepdim=True).view(3, 1).expand(3, 4)])'),
  C('amax_maxdim_logsumexp', { a: A }, ({ a }) => torch.stack([a!.amax([1]), a!.max(1)[0], a!.min(1)[0], torch.logsumexp(a!, [1])]),
    'torch.stack([a.amax(1), a.max(1)[0], a.min(1)[0], torch.logsumexp(a, 1)])'),
  C('norm_var_std', { a: A }, ({ a }) => torch.stack([torch.linalg_vector_norm(a!, { dim: [1] }), a!.var([1]), a!.std([1], { unbiased: false })]),
    'torch.stack([torch.linalg.vector_norm(a, dim=1), a.var(1), a.std(1, unbiased=False)])'),
  C('softmax_logsoftmax', { a: A }, ({ a }) => torch.cat([torch.softmax(a!, 1), torch.log_softmax(a!, 0)]), 'torch.cat([torch.softmax(a, 1), torch.log_softmax(a, 0)])'),
  // linear algebra
  C('mm_matmul_bmm', { a: [[3, 5], 'randn'], b: [[5, 4], 'randn'], c: [[2, 3, 5], 'randn'] }, ({ a, b, c }) => torch.cat([torch.mm(a!, b!), torch.matmul(c!, b!).sum([0]), torch.bmm(c!, c!.transpose(1, 2)).sum([0]).narrow(1, 0, 3).repeat([1, 2]).narrow(1, 0, 4)]),
    'torch.cat([torch.mm(a, b), torch.matmul(c, b).sum(0), torch.bmm(c, c.transpose(1, 2)).sum(0).narrow(1, 0, 3).repeat(1, 2).narrow(1, 0, 4)])'),
  C('linear_einsum', { x: [[4, 5], 'randn'], w: [[3, 5], 'randn'], bias: [[3], 'randn'] }, ({ x, w, bias }) => torch.linear(x!, w!, { bias: bias! }).add(torch.einsum('ij,kj->ik', [x!, w!])),
    'F.linear(x, w, bias) + torch.einsum("ij,kj->ik", x, w)'),
  C('cdist', { a: [[6, 8], 'randn'], b: [[5, 8], 'randn'] }, ({ a, b }) => torch.cdist(a!, b!), 'torch.cdist(a, b)', { tol: 1e-4 }),
  // conv / pool
  C('conv2d', { x: IMG, w: [[4, 3, 3, 3], 'randn'], bias: [[4], 'randn'] }, ({ x, w, bias }) => torch.conv2d(x!, w!, { bias: bias!, stride: 2, padding: 1 }), 'F.conv2d(x, w, bias, stride=2, padding=1)', { tol: 1e-4 }),
  C('conv2d_groups_dil', { x: [[2, 4, 9, 9], 'randn'], w: [[4, 2, 3, 3], 'randn'] }, ({ x, w }) => torch.conv2d(x!, w!, { groups: 2, dilation: 2 }), 'F.conv2d(x, w, groups=2, dilation=2)', { tol: 1e-4 }),
  C('conv_transpose2d', { x: [[2, 4, 5, 5], 'randn'], w: [[4, 3, 5, 5], 'randn'] }, ({ x, w }) => torch.conv_transpose2d(x!, w!, { stride: 2, padding: 2, outputPadding: 1 }), 'F.conv_transpose2d(x, w, stride=2, padding=2, output_padding=1)', { tol: 1e-4 }),
  C('pools', { x: IMG }, ({ x }) => torch.cat([torch.max_pool2d(x!, 2, { stride: 2 }), torch.avg_pool2d(x!, 3, { stride: 2, padding: 1 }).narrow(2, 0, 4).narrow(3, 0, 4), torch.adaptive_avg_pool2d(x!, [4, 4])], { dim: 1 }),
    'torch.cat([F.max_pool2d(x, 2, 2), F.avg_pool2d(x, 3, 2, 1)[:, :, :4, :4], F.adaptive_avg_pool2d(x, (4, 4))], 1)'),
  C('unfold_im2col', { x: [[2, 3, 6, 6], 'randn'] }, ({ x }) => torch.im2col(x!, [3, 3], [1, 1], [1, 1], [1, 1]), 'F.unfold(x, 3, padding=1)'),
  C('adaptive_avg_pool1d', { x: [[2, 5, 12], 'randn'] }, ({ x }) => torch.adaptive_avg_pool1d(x!, [5]), 'F.adaptive_avg_pool1d(x, 5)'),
  // normalisation
  C('batch_norm_train', { x: IMG, w: [[3], 'randn'], b: [[3], 'randn'] }, ({ x, w, b }) => torch.batch_norm(x!, w!, b!, null, null, true, 0.1, 1e-4, false),
    'F.batch_norm(x, None, None, w, b, training=True, momentum=0.1, eps=1e-4)'),
  C('group_layer_norm', { x: [[2, 4, 5, 5], 'randn'], w: [[4], 'randn'], b: [[4], 'randn'] }, ({ x, w, b }) => torch.group_norm(x!, 2, { weight: w!, bias: b! }).add(torch.layer_norm(x!, [5, 5])),
    'F.group_norm(x, 2, w, b) + F.layer_norm(x, (5, 5))'),
  // resampling
  C('upsample', { x: [[1, 2, 5, 7], 'randn'] }, ({ x }) => torch.cat([torch.upsample_nearest2d(x!, [10, 14]), torch.upsample_bilinear2d(x!, [10, 14], false), torch.upsample_bilinear2d(x!, [10, 14], true)], { dim: 1 }),
    'torch.cat([F.interpolate(x, size=(10, 14)), F.interpolate(x, size=(10, 14), mode="bilinear", align_corners=False), F.interpolate(x, size=(10, 14), mode="bilinear", align_corners=True)], 1)'),
  C('grid_sample', { x: [[1, 2, 6, 6], 'randn'], g: [[1, 4, 4, 2], 'randn'] }, ({ x, g }) => torch.grid_sampler(x!, g!.tanh(), 0, 0, false), 'F.grid_sample(x, g.tanh(), mode="bilinear", padding_mode="zeros", align_corners=False)'),
  C('pad', { x: [[1, 2, 5, 5], 'randn'] }, ({ x }) => torch.cat([torch.constant_pad_nd(x!, [1, 2, 1, 2], { value: 0.5 }), torch.reflection_pad2d(x!, [1, 2, 1, 2]), torch.replication_pad2d(x!, [1, 2, 1, 2])], { dim: 1 }),
    'torch.cat([F.pad(x, (1, 2, 1, 2), value=0.5), F.pad(x, (1, 2, 1, 2), mode="reflect"), F.pad(x, (1, 2, 1, 2), mode="replicate")], 1)'),
  // selection
  C('topk_sort', { a: [[4, 7], 'randn'] }, ({ a }) => torch.cat([a!.topk(3)[0], a!.topk(2, { largest: false })[0], a!.sort({ dim: 1 })[0].narrow(1, 0, 2)], { dim: 1 }),
    'torch.cat([a.topk(3)[0], a.topk(2, largest=False)[0], a.sort(1)[0][:, :2]], 1)'),
  C('topk_indices', { a: [[4, 7], 'randn'] }, ({ a }) => torch.cat([a!.topk(3)[1], a!.argsort({ dim: 1 })], { dim: 1 }), 'torch.cat([a.topk(3)[1], a.argsort(1)], 1)', { noGrad: true }),
  C('kthvalue_quantile', { a: [[5, 9], 'randn'] }, ({ a }) => torch.cat([a!.kthvalue(3, { dim: 1 })[0], torch.quantile(a!, 0.9, { dim: 1 })]), 'torch.cat([a.kthvalue(3, 1)[0], torch.quantile(a, 0.9, dim=1)])'),
  C('gather_index_select', { a: [[4, 6], 'randn'], i: [[4, 2], 'int6'], j: [[3], 'int4'] }, ({ a, i, j }) => torch.cat([a!.gather(1, i!), a!.index_select(0, j!).narrow(1, 0, 2)]), 'torch.cat([a.gather(1, i), a.index_select(0, j)[:, :2]])'),
  C('scatter', { a: [[3, 5], 'randn'], i: [[3, 1], 'int5'] }, ({ a, i }) => torch.zeros([3, 5]).scatter(1, i!, 1.5).add(a!), 'torch.zeros(3, 5).scatter(1, i, 1.5) + a'),
  C('index_tensor', { a: [[5, 4], 'randn'], i: [[3], 'int5'] }, ({ a, i }) => torch.index(a!, [i!]), 'a[i]'),
  C('nonzero_unique', { i: [[12], 'int4'] }, ({ i }) => torch._unique2(i!, { sorted: true, returnCounts: true })[2], 'torch.unique(i, sorted=True, return_counts=True)[1]', { noGrad: true }),
  // shape
  C('shape_ops', { a: [[2, 3, 4], 'randn'] }, ({ a }) => torch.cat([a!.permute([2, 0, 1]).reshape([4, 6]), a!.flatten({ startDim: 1 }).t().reshape([4, 6]), torch.stack(a!.unbind(1), { dim: 0 }).view([6, 4]).t(), a!.unsqueeze(0).squeeze(0).view([4, 6])]),
    'torch.cat([a.permute(2, 0, 1).reshape(4, 6), a.flatten(1).t().reshape(4, 6), torch.stack(a.unbind(1), 0).view(6, 4).t(), a.unsqueeze(0).squeeze(0).view(4, 6)])'),
  C('split_chunk', { a: [[6, 4], 'randn'] }, ({ a }) => torch.cat([...a!.split(2), ...a!.chunk(3, { dim: 0 })], { dim: 1 }), 'torch.cat([*a.split(2), *a.chunk(3, 0)], 1)'),
  C('slice_select', { a: [[5, 6], 'randn'] }, ({ a }) => torch.slice(a!, { dim: 1, start: 1, end: 5, step: 2 }).add(a!.select(0, 2).narrow(0, 0, 2)), 'a[:, 1:5:2] + a[2, :2]'),
  // losses
  C('losses', { a: A, b: B, p: [[3, 4], 'prob'] }, ({ a, b, p }) => torch.stack([torch.mse_loss(a!, b!), torch.l1_loss(a!, b!), torch.smooth_l1_loss(a!, b!, { beta: 0.5 }), torch.binary_cross_entropy_with_logits(a!, p!), torch.binary_cross_entropy(a!.sigmoid(), p!)]),
    'torch.stack([F.mse_loss(a, b), F.l1_loss(a, b), F.smooth_l1_loss(a, b, beta=0.5), F.binary_cross_entropy_with_logits(a, p), F.binary_cross_entropy(a.sigmoid(), p)])'),
  C('cross_entropy', { a: [[5, 4], 'randn'], t: [[5], 'int4'] }, ({ a, t }) => torch.cross_entropy_loss(a!, t!), 'F.cross_entropy(a, t)'),
  C('mse_none', { a: A, b: B }, ({ a, b }) => torch.mse_loss(a!, b!, { reduction: 0 }), 'F.mse_loss(a, b, reduction="none")'),
  // creation and dtype conversion
  C('arange_linspace', {}, () => torch.cat([torch.arange(0, 2, 0.25), torch.linspace(-1, 1, 8)]), 'torch.cat([torch.arange(0, 2, 0.25), torch.linspace(-1, 1, 8)])', { noGrad: true }),
  C('cumsum_flip_roll', { a: A }, ({ a }) => a!.cumsum(1).flip([0]).roll([1], { dims: [1] }), 'a.cumsum(1).flip(0).roll(1, 1)'),
];

function gradWeights(shape: number[]): Tensor {
  const n = shape.reduce((x, y) => x * y, 1);
  return torch.arange(n, { dtype: 'float32' }).mul(0.37).add(0.1).sin().reshape(shape);
}

test('op families match PyTorch: values and input gradients', () => {
  const dir = tempDir();
  torch.manualSeed(1234);
  const inputs = new Map<string, Tensor>();
  for (const c of cases) {
    for (const [k, [shape, kind]] of Object.entries(c.inputs)) {
      let t: Tensor;
      if (kind === 'randn') t = torch.randn(shape);
      else if (kind === 'pos') t = torch.rand(shape).add(0.1);
      else if (kind === 'prob') t = torch.rand(shape);
      else if (kind === 'bool') t = torch.rand(shape).gt(0.5);
      else t = torch.randint(Number(kind.slice(3)), shape);
      inputs.set(`${c.name}.${k}`, t);
    }
  }
  torch.savePth(join(dir, 'inputs.pth'), inputs);

  const py = `
import sys, torch, torch.nn.functional as F
d = sys.argv[1]
torch.set_num_threads(1)
inp = torch.load(d + '/inputs.pth', weights_only=True)
out = {}
def gw(shape):
    n = 1
    for s in shape: n *= s
    return (torch.arange(n, dtype=torch.float32) * 0.37 + 0.1).sin().reshape(shape)
import json
cases = json.loads(r"""${JSON.stringify(cases.map((c) => ({ name: c.name, keys: Object.keys(c.inputs), py: c.py, noGrad: !!c.noGrad })))}""")
for c in cases:
    env = {'torch': torch, 'F': F}
    for k in c['keys']:
        t = inp[c['name'] + '.' + k].clone()
        if t.is_floating_point() and not c['noGrad']: t.requires_grad_(True)
        env[k] = t
    y = eval(c['py'], env)
    if isinstance(y, (tuple, list)): y = y[0]
    out[c['name'] + '.out'] = y.detach().clone()
    if not c['noGrad'] and y.is_floating_point() and y.requires_grad:
        (y * gw(list(y.shape))).sum().backward()
        for k in c['keys']:
            if env[k].is_floating_point() and env[k].grad is not None:
                out[c['name'] + '.grad.' + k] = env[k].grad
torch.save(out, d + '/out.pth')
`;
  runPython(py, dir);
  const ref = torch.loadPth(join(dir, 'out.pth'));
  const failures: string[] = [];
  for (const c of cases) {
    torch.tidy(() => {
      const x: Record<string, Tensor> = {};
      for (const k of Object.keys(c.inputs)) {
        const t = inputs.get(`${c.name}.${k}`)!.clone();
        x[k] = t.isFloatingPoint && !c.noGrad ? t.requiresGrad_() : t;
      }
      let y = c.ts(x);
      if (Array.isArray(y)) y = y[0]!;
      const tol = c.tol ?? 1e-5;
      const check = (key: string, got: Tensor) => {
        const want = ref.get(key);
        if (!want) { failures.push(`${key}: missing in reference`); return; }
        if (got.shape.join() !== want.shape.join()) { failures.push(`${key}: shape [${got.shape}] vs [${want.shape}]`); return; }
        if (got.dtype !== want.dtype) { failures.push(`${key}: dtype ${got.dtype} vs ${want.dtype}`); return; }
        const g = got.toArray(); const w = want.toArray();
        const scale = Math.max(1, ...w.map(Math.abs));
        let worst = 0;
        for (let i = 0; i < g.length; i++) worst = Math.max(worst, Math.abs(g[i]! - w[i]!) / scale);
        if (!(worst <= tol)) failures.push(`${key}: max relative error ${worst.toExponential(2)} > ${tol}`);
      };
      check(`${c.name}.out`, y.detach());
      if (!c.noGrad && y.isFloatingPoint && y.requiresGrad) {
        y.mul(gradWeights(y.shape)).sum().backward();
        for (const k of Object.keys(c.inputs)) {
          const g = x[k]!.grad;
          if (g && ref.has(`${c.name}.grad.${k}`)) check(`${c.name}.grad.${k}`, g);
          else if (g || ref.has(`${c.name}.grad.${k}`)) failures.push(`${c.name}.grad.${k}: gradient present on one side only`);
        }
      }
    });
  }
  torch.dispose([...inputs.values(), ...ref.values()]);
  assert.deepEqual(failures, []);
  assert.ok(cases.length >= 35);
});
