// Backbones against torchvision (backbones_ref.py, one Python run for the file): resnet18, vgg16 and
// vgg16_bn with seeded random weights written by torch.save and read through Vigil's .pth reader;
// every tap's values and the input gradient of s = Σ mean(tap²) over deep taps, eval mode, folded
// and unfolded BN. Also: every registry name has torchvision's parameter names and shapes.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import * as torch from '../../../src/torch/index.js';
import type { Tensor } from '../../../src/torch/index.js';
import { BACKBONE_NAMES, createBackbone, loadBackbone, type FeatureExtractor } from '../../../src/models/backbones/index.js';
import { runPython, tempDir } from '../../helpers/python.js';

const dir = tempDir('vigil-backbones-');
let ref: Map<string, Tensor>;

before(() => {
  const code = readFileSync(fileURLToPath(new URL('../../../../test/models/backbones/backbones_ref.py', import.meta.url)), 'utf8');
  runPython(code, dir);
  ref = torch.loadPth(join(dir, 'ref.pth'));
  for (const t of ref.values()) torch.keep(t);
});

function get(k: string): Tensor {
  const t = ref.get(k);
  assert.ok(t, `reference has no ${k}`);
  return t;
}

/** max|a−b| / max|b| (same shape); the figure is returned for the log line. */
function close(a: Tensor, b: Tensor, what: string, tol = 1e-4): number {
  assert.deepEqual(a.shape, b.shape, `${what}: shape`);
  const [err, scale] = torch.tidy(() => [a.to('float64').sub(b.to('float64')).abs().max().item(), b.to('float64').abs().max().item()]);
  assert.ok(scale > 0, `${what}: reference is all zeros`);
  assert.ok(err <= tol * scale, `${what}: max abs error ${err} > ${tol} × ${scale}`);
  return err / scale;
}

/** Taps with grad on, then d/dx Σ mean(tap²) over lossTaps (autograd.grad, as the Python side). */
function tapsAndGrad(model: FeatureExtractor, taps: string[], lossTaps: string[]): { feats: Map<string, Tensor>; grad: Tensor } {
  const x = get('x').clone().requiresGrad_(true);
  const feats = model.forward(x, taps, { grad: true });
  const grad = torch.tidy(() => {
    let s = feats.get(lossTaps[0]!)!.square().mean();
    for (const k of lossTaps.slice(1)) s = s.add(feats.get(k)!.square().mean());
    return torch.autograd.grad(s, x)[0]!;
  });
  x.dispose();
  return { feats, grad };
}

const CASES: { name: 'resnet18' | 'vgg16' | 'vgg16_bn'; taps: string[]; loss: string[]; unfusedOnly?: string[] }[] = [
  { name: 'resnet18', taps: ['layer1', 'layer2', 'layer3', 'layer4'], loss: ['layer2', 'layer3', 'layer4'] },
  // KDAD's teacher taps; its score uses 16, 23, 30.
  { name: 'vgg16', taps: ['1', '4', '6', '9', '11', '13', '16', '18', '20', '23', '25', '27', '30'], loss: ['16', '23', '30'] },
  // conv, BN, ReLU and pool outputs; '0' (the conv before a BN) exists only unfolded.
  { name: 'vgg16_bn', taps: ['0', '1', '2', '6', '8', '13', '23', '33', '36', '43'], loss: ['8', '23', '33', '43'], unfusedOnly: ['0'] },
];

for (const c of CASES) {
  test(`${c.name}: taps and input gradient match torchvision (folded and unfolded BN)`, () => {
    const worst: Record<string, number> = {};
    for (const fuse of [false, true]) {
      const { model, ignoredKeys } = loadBackbone({ name: c.name, weights: join(dir, `${c.name}.pth`), fuse });
      assert.equal(model.fused, fuse);
      assert.deepEqual(ignoredKeys, c.name.startsWith('vgg') ? ['classifier.0.weight', 'classifier.0.bias', 'classifier.3.weight', 'classifier.3.bias', 'classifier.6.weight', 'classifier.6.bias'] : []);
      const taps = fuse ? c.taps.filter((t) => !c.unfusedOnly?.includes(t)) : c.taps;
      const { feats, grad } = tapsAndGrad(model, taps, c.loss);
      assert.deepEqual([...feats.keys()], taps);
      let v = 0;
      for (const t of taps) v = Math.max(v, close(feats.get(t)!, get(`${c.name}.${t}`), `${c.name} tap ${t} fuse=${fuse}`));
      const g = close(grad, get(`${c.name}.grad`), `${c.name} d s/dx fuse=${fuse}`);
      worst[`values${fuse ? 'Fused' : ''}`] = v;
      worst[`grad${fuse ? 'Fused' : ''}`] = g;
      // Frozen: the gradient reached the input only.
      assert.ok(model.frozen && model.parameters().every((p) => !p.requiresGrad && p.grad === null), 'parameters stay frozen');
      torch.dispose([...feats.values(), grad]);
      model.dispose();
    }
    console.log(`${c.name} max rel error ${JSON.stringify(Object.fromEntries(Object.entries(worst).map(([k, e]) => [k, Number(e.toExponential(2))])))}`);
  });
}

test('vgg16_bn from a legacy-format file without num_batches_tracked (as the official 2017 files)', () => {
  const { model } = loadBackbone({ name: 'vgg16_bn', weights: join(dir, 'vgg16_bn_legacy.pth') });
  const f = model.forward(get('x'), ['43']);
  close(f.get('43')!, get('vgg16_bn.43'), 'vgg16_bn legacy tap 43');
  torch.dispose([...f.values()]);
  model.dispose();
});

test('fused and unfused forwards agree, and without grad the outputs carry no graph', () => {
  for (const name of ['resnet18', 'vgg16_bn'] as const) {
    const { model } = loadBackbone({ name, weights: join(dir, `${name}.pth`), fuse: false });
    const taps = name === 'resnet18' ? ['layer1', 'layer2', 'layer3', 'layer4'] : ['1', '2', '13', '23', '43'];
    const a = (model as FeatureExtractor).forward(get('x'), taps);
    model.fuse();
    const b = (model as FeatureExtractor).forward(get('x'), taps);
    for (const t of taps) {
      close(b.get(t)!, a.get(t)!, `${name} ${t} fused vs unfused`, 1e-5);
      assert.equal(b.get(t)!.requiresGrad, false);
    }
    torch.dispose([...a.values(), ...b.values()]);
    model.dispose();
  }
});

test('every registry architecture has torchvision\'s parameter names and shapes (VGG: features.*)', () => {
  const keys = JSON.parse(readFileSync(join(dir, 'keys.json'), 'utf8')) as Record<string, [string, number[]][]>;
  assert.deepEqual([...BACKBONE_NAMES].sort(), Object.keys(keys).sort());
  for (const name of BACKBONE_NAMES) {
    const m = createBackbone(name, { init: false });
    const sd = m.stateDict();
    assert.deepEqual([...sd].map(([k, t]) => [k, t.shape]), keys[name], name);
    torch.dispose([...sd.values()]);
    m.dispose();
  }
});
