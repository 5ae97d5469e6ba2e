// Optimiser trajectories against torch.optim (PyTorch 1.13) from identical initial weights and
// gradients, with learning-rate schedules; resume through saveState/loadState; group handling.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as torch from '../../../src/torch/index.js';
import type { Tensor } from '../../../src/torch/index.js';
import { optim } from '../../../src/torch/index.js';
import { assertClose, cleanup, hold, runPython } from './helpers.js';

const SHAPES = [[4, 3], [4], [2, 2, 3]];
const STEPS = 8;

type Sched = { type: 'MultiStepLR'; milestones: number[]; gamma: number } | { type: 'StepLR'; step_size: number; gamma: number }
  | { type: 'CosineAnnealingLR'; T_max: number; eta_min: number };

interface OptCase {
  name: string;
  opt: 'Adam' | 'AdamW' | 'SGD';
  kw: Record<string, unknown>;
  groups: number[][];
  groupKw: Record<string, unknown>[];
  make: (groups: optim.GroupInput<optim.ParamGroup>[]) => optim.Optimizer<optim.ParamGroup>;
  sched: Sched;
}

const multi: Sched = { type: 'MultiStepLR', milestones: [2, 4], gamma: 0.1 };
const one = [[0, 1, 2]];
const cases: OptCase[] = [
  { name: 'Adam weightDecay 1e-2', opt: 'Adam', kw: { lr: 0.05, weight_decay: 1e-2 }, groups: one, groupKw: [{}],
    make: (g) => new optim.Adam(g, { lr: 0.05, weightDecay: 1e-2 }), sched: multi },
  { name: 'Adam amsgrad, betas', opt: 'Adam', kw: { lr: 0.05, betas: [0.8, 0.99], amsgrad: true, eps: 1e-6 }, groups: one, groupKw: [{}],
    make: (g) => new optim.Adam(g, { lr: 0.05, betas: [0.8, 0.99], amsgrad: true, eps: 1e-6 }), sched: multi },
  { name: 'Adam amsgrad + weightDecay, maximize', opt: 'Adam', kw: { lr: 0.02, weight_decay: 0.1, amsgrad: true, maximize: true }, groups: one, groupKw: [{}],
    make: (g) => new optim.Adam(g, { lr: 0.02, weightDecay: 0.1, amsgrad: true, maximize: true }), sched: multi },
  { name: 'AdamW default weightDecay', opt: 'AdamW', kw: { lr: 0.05 }, groups: one, groupKw: [{}],
    make: (g) => new optim.AdamW(g, { lr: 0.05 }), sched: multi },
  { name: 'AdamW amsgrad weightDecay 0.3', opt: 'AdamW', kw: { lr: 0.05, weight_decay: 0.3, amsgrad: true }, groups: one, groupKw: [{}],
    make: (g) => new optim.AdamW(g, { lr: 0.05, weightDecay: 0.3, amsgrad: true }), sched: multi },
  { name: 'SGD momentum + nesterov + weightDecay', opt: 'SGD', kw: { lr: 0.1, momentum: 0.9, nesterov: true, weight_decay: 5e-4 }, groups: one, groupKw: [{}],
    make: (g) => new optim.SGD(g, { lr: 0.1, momentum: 0.9, nesterov: true, weightDecay: 5e-4 }), sched: multi },
  { name: 'SGD momentum + dampening', opt: 'SGD', kw: { lr: 0.1, momentum: 0.8, dampening: 0.3 }, groups: one, groupKw: [{}],
    make: (g) => new optim.SGD(g, { lr: 0.1, momentum: 0.8, dampening: 0.3 }), sched: multi },
  { name: 'SGD plain, StepLR', opt: 'SGD', kw: { lr: 0.2 }, groups: one, groupKw: [{}],
    make: (g) => new optim.SGD(g, { lr: 0.2 }), sched: { type: 'StepLR', step_size: 3, gamma: 0.5 } },
  { name: 'Adam two groups (per-group lr and weightDecay), MultiStepLR repeated milestone', opt: 'Adam', kw: { lr: 0.05 }, groups: [[0, 2], [1]],
    groupKw: [{}, { lr: 0.2, weight_decay: 0.01 }],
    make: (g) => new optim.Adam(g.map((x, i) => (i === 1 ? { ...x, lr: 0.2, weightDecay: 0.01 } : x)), { lr: 0.05 }),
    sched: { type: 'MultiStepLR', milestones: [3, 3, 5], gamma: 0.5 } },
  { name: 'SGD momentum, CosineAnnealingLR past tMax', opt: 'SGD', kw: { lr: 0.1, momentum: 0.9 }, groups: one, groupKw: [{}],
    make: (g) => new optim.SGD(g, { lr: 0.1, momentum: 0.9 }), sched: { type: 'CosineAnnealingLR', T_max: 3, eta_min: 0.01 } },
  // fused: our one-pass update against PyTorch's op-by-op Adam (the same trajectory to rounding);
  // with amsgrad the fused option falls back to the op-by-op path.
  { name: 'Adam fused, weightDecay 1e-2, betas', opt: 'Adam', kw: { lr: 0.05, weight_decay: 1e-2, betas: [0.8, 0.99] }, groups: one, groupKw: [{}],
    make: (g) => new optim.Adam(g, { lr: 0.05, weightDecay: 1e-2, betas: [0.8, 0.99], fused: true }), sched: multi },
  { name: 'AdamW fused, weightDecay 0.3', opt: 'AdamW', kw: { lr: 0.05, weight_decay: 0.3 }, groups: one, groupKw: [{}],
    make: (g) => new optim.AdamW(g, { lr: 0.05, weightDecay: 0.3, fused: true }), sched: multi },
  { name: 'Adam fused + amsgrad (op-by-op fallback), two groups', opt: 'Adam', kw: { lr: 0.05, amsgrad: true }, groups: [[0, 2], [1]],
    groupKw: [{}, { lr: 0.2 }],
    make: (g) => new optim.Adam(g.map((x, i) => (i === 1 ? { ...x, lr: 0.2 } : x)), { lr: 0.05, amsgrad: true, fused: true }), sched: multi },
];

function makeScheduler(s: Sched, opt: optim.Optimizer<optim.ParamGroup>): optim.LRScheduler {
  switch (s.type) {
    case 'MultiStepLR': return new optim.MultiStepLR(opt, { milestones: s.milestones, gamma: s.gamma });
    case 'StepLR': return new optim.StepLR(opt, { stepSize: s.step_size, gamma: s.gamma });
    case 'CosineAnnealingLR': return new optim.CosineAnnealingLR(opt, { tMax: s.T_max, etaMin: s.eta_min });
  }
}

// ---- shared inputs ----------------------------------------------------------------------
torch.manualSeed(7);
const inputs = new Map<string, Tensor>();
SHAPES.forEach((s, j) => inputs.set(`p${j}`, torch.keep(torch.randn(s))));
for (let s = 0; s < STEPS; s++) SHAPES.forEach((sh, j) => inputs.set(`g${s}.${j}`, torch.keep(torch.randn(sh))));

function freshParams(): Tensor[] {
  return SHAPES.map((_, j) => torch.keep(inputs.get(`p${j}`)!.clone()).requiresGrad_());
}

function lossStep(params: Tensor[], s: number): void {
  torch.tidy(() => {
    let loss: Tensor | null = null;
    params.forEach((p, j) => {
      const term = p.mul(inputs.get(`g${s}.${j}`)!).sum().add(p.mul(p).sum().mul(0.05));
      loss = loss === null ? term : loss.add(term);
    });
    loss!.backward();
  });
}

/** Runs `steps` steps; returns the parameters after each step and the lrs each step used. */
function run(c: OptCase, params: Tensor[], opt: optim.Optimizer<optim.ParamGroup>, sched: optim.LRScheduler, from: number, to: number,
  traj: Map<string, Tensor>, lrs: number[][]): void {
  for (let s = from; s < to; s++) {
    opt.zeroGrad();
    lossStep(params, s);
    opt.step();
    lrs.push(opt.paramGroups.map((g) => g.lr));
    sched.step();
    params.forEach((p, j) => traj.set(`s${s}.p${j}`, hold(p)));
  }
}

const ours: Map<string, Tensor>[] = [];
const ourLrs: number[][][] = [];
for (const c of cases) {
  const params = freshParams();
  const opt = c.make(c.groups.map((g) => ({ params: g.map((j) => params[j]!) })));
  const sched = makeScheduler(c.sched, opt);
  const traj = new Map<string, Tensor>();
  const lrs: number[][] = [];
  run(c, params, opt, sched, 0, STEPS, traj, lrs);
  ours.push(traj);
  ourLrs.push(lrs);
  opt.dispose();
  torch.dispose(params);
}

const py = runPython('optim.py', inputs, { numParams: SHAPES.length, steps: STEPS, cases: cases.map((c) => ({ opt: c.opt, kw: c.kw, groups: c.groups, groupKw: c.groupKw, sched: c.sched })) });
const pyLrs = (py.json as { lrs: number[][][] }).lrs;

for (const [i, c] of cases.entries()) {
  test(`trajectory over ${STEPS} steps matches torch.optim: ${c.name}`, () => {
    ourLrs[i]!.forEach((lr, s) => lr.forEach((v, g) => {
      const ref = pyLrs[i]![s]![g]!;
      assert.ok(Math.abs(v - ref) <= 1e-12 * Math.abs(ref), `step ${s} group ${g}: lr ${v} vs ${ref}`);
    }));
    // Compare the displacement from the initial weights too: relative to the weights themselves
    // an error in the update would hide below the tolerance.
    for (let s = 0; s < STEPS; s++) {
      for (let j = 0; j < SHAPES.length; j++) {
        const a = ours[i]!.get(`s${s}.p${j}`)!, b = py.tensors.get(`c${i}.s${s}.p${j}`)!;
        assertClose(a, b, `step ${s} param ${j}`);
        torch.tidy(() => assertClose(a.sub(inputs.get(`p${j}`)!), b.sub(inputs.get(`p${j}`)!), `step ${s} param ${j} − initial`));
      }
    }
  });
}

test('schedules actually change the lr (milestones, step size, cosine)', () => {
  const lr0 = ourLrs[0]!.map((l) => l[0]!);
  assert.ok(Math.abs(lr0[1]! / lr0[2]! - 10) < 1e-9 && Math.abs(lr0[3]! / lr0[4]! - 10) < 1e-9 && lr0[0] === lr0[1], `MultiStepLR ${lr0}`);
  const cos = ourLrs[9]!.map((l) => l[0]!);
  assert.ok(Math.abs(cos[3]! - 0.01) < 1e-12 && cos[6]! > 0.09, `cosine reaches etaMin at tMax and climbs back: ${cos}`);
});

function resumeCase(make: (p: Tensor[]) => optim.Optimizer<optim.ParamGroup>): void {
  const c = cases[0]!;
  const dir = mkdtempSync(join(tmpdir(), 'vigil-optim-'));
  try {
    const a = freshParams();
    const optA = make(a);
    const schedA = new optim.MultiStepLR(optA, { milestones: [2, 4], gamma: 0.1 });
    const trajA = new Map<string, Tensor>();
    run(c, a, optA, schedA, 0, 6, trajA, []);

    const b = freshParams();
    const optB = make(b);
    const schedB = new optim.MultiStepLR(optB, { milestones: [2, 4], gamma: 0.1 });
    const trajB = new Map<string, Tensor>();
    run(c, b, optB, schedB, 0, 3, trajB, []);
    optB.saveState(join(dir, 'opt.safetensors'));
    const schedState = JSON.parse(JSON.stringify(schedB.stateDict())) as optim.SchedulerState;
    const paramCopies = b.map((p) => torch.keep(p.detach().clone()));

    // A new process would rebuild everything and load the files.
    const r = paramCopies.map((p) => torch.keep(p.clone()).requiresGrad_());
    const optR = make(r);
    const schedR = new optim.MultiStepLR(optR, { milestones: [2, 4], gamma: 0.1 });
    optR.loadState(join(dir, 'opt.safetensors'));
    schedR.loadStateDict(schedState);
    assert.deepEqual(schedR.getLastLr(), schedB.getLastLr());
    run(c, r, optR, schedR, 3, 6, trajB, []);
    for (let s = 3; s < 6; s++) {
      for (let j = 0; j < SHAPES.length; j++) assert.deepEqual(trajB.get(`s${s}.p${j}`)!.toArray(), trajA.get(`s${s}.p${j}`)!.toArray(), `step ${s} param ${j}`);
    }
    for (const o of [optA, optB, optR]) o.dispose();
    torch.dispose([a, b, r, paramCopies, [...trajA.values()], [...trajB.values()]]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('resume: 3 steps, saveState + scheduler state, reload into fresh objects, 3 more = 6 uninterrupted (Adam amsgrad)', () => {
  resumeCase((p) => new optim.Adam(p, { lr: 0.05, amsgrad: true, weightDecay: 1e-2 }));
});

test('resume: SGD momentum/nesterov', () => {
  resumeCase((p) => new optim.SGD(p, { lr: 0.1, momentum: 0.9, nesterov: true }));
});

test('stateDict names state by parameter index; groups are JSON with defaults filled in', () => {
  const p = freshParams();
  const opt = new optim.Adam([{ params: [p[0]!, p[1]!] }, { params: [p[2]!], lr: 0.5 }], { lr: 0.01, amsgrad: true });
  lossStep(p, 0);
  opt.step();
  torch.tidy(() => {
    const sd = opt.stateDict();
    assert.deepEqual([...sd.state.keys()].sort(), ['0', '1', '2'].flatMap((i) => ['exp_avg', 'exp_avg_sq', 'max_exp_avg_sq', 'step'].map((k) => `${i}.${k}`)).sort());
    assert.equal(sd.state.get('2.step')!.item(), 1);
    assert.deepEqual(JSON.parse(JSON.stringify(sd.groups)), [
      { lr: 0.01, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0, amsgrad: true, maximize: false, fused: false, params: [0, 1] },
      { lr: 0.5, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0, amsgrad: true, maximize: false, fused: false, params: [2] },
    ]);
  });
  const other = new optim.Adam([p[0]!, p[1]!, p[2]!]);
  assert.throws(() => torch.tidy(() => other.loadStateDict(opt.stateDict())), /loaded state dict has 2 parameter groups, the optimizer has 1/);
  opt.setLr(0.25, 1);
  assert.equal(opt.paramGroups[1]!.lr, 0.25);
  opt.setLr(0.125);
  assert.deepEqual(opt.paramGroups.map((g) => g.lr), [0.125, 0.125]);
  opt.dispose(); other.dispose();
  torch.dispose(p);
});

test('zeroGrad zeroes gradients (PyTorch 1.13 default) or drops them', () => {
  const p = freshParams();
  const opt = new optim.SGD(p, { lr: 0.1 });
  lossStep(p, 0);
  opt.zeroGrad();
  torch.tidy(() => { for (const t of p) assert.ok(t.grad!.abs().max().item() === 0); });
  opt.zeroGrad(true);
  for (const t of p) assert.equal(t.grad, null);
  torch.dispose(p);
});

test('constructor checks like torch.optim', () => {
  const p = freshParams();
  assert.throws(() => new optim.SGD(p), /didn't specify a value of required optimization parameter lr/);
  assert.throws(() => new optim.SGD(p, { lr: 0.1, nesterov: true }), /Nesterov momentum requires a momentum and zero dampening/);
  assert.throws(() => new optim.Adam(p, { lr: -1 }), /invalid learning rate: -1/);
  assert.throws(() => new optim.Adam(p, { betas: [1, 0.9] }), /invalid beta parameter at index 0/);
  assert.throws(() => new optim.Adam([]), /empty parameter list/);
  assert.throws(() => new optim.Adam([{ params: [p[0]!] }, { params: [p[0]!] }]), /more than one parameter group/);
  assert.throws(() => torch.tidy(() => new optim.Adam([p[0]!.mul(2)])), /non-leaf/);
  assert.equal(new optim.AdamW(p).paramGroups[0]!.weightDecay, 1e-2);
  assert.throws(() => new optim.MultiStepLR(new optim.SGD(p, { lr: 1 }), { milestones: [1], lastEpoch: 3 }), /initialLr' is not specified in paramGroups\[0\]/);
  torch.dispose(p);
});

test('cleanup', () => {
  cleanup(py);
  torch.dispose([...inputs.values(), ...ours.flatMap((m) => [...m.values()])]);
});
