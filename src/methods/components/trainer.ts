// The shared, resumable trainer: a method's fit() runs one or more stages (Deep SVDD: 'pretrain'
// then 'train'), each epochs × batches of one optimiser over the stage's modules.
//
//   await trainStage({
//     name: 'train', epochs: 100, batchSize: 32, modules: { model: net },
//     optimizer: { type: 'adam', lr: 1e-4 }, schedule: { milestones: [80, 90], gamma: 0.2 },
//     step: (b) => ({ loss: lossOf(net.forward(b.images), b.images) }),
//   }, data, ctx);
//
// Per epoch e (0-based): libtorch is re-seeded from (ctx.seed, stage, e), so dropout, noise or
// synthesis drawn with torch's RNG inside step() is the same in a resumed run; the modules are put
// in train() mode; data.epoch({ epoch: e, batchSize, shuffle, sampling, augment }) is iterated.
// Per batch: one macrotask yield (a SIGINT handler can run even when the data is in memory and
// never awaits I/O), `ctx.signal?.throwIfAborted()`, then inside one tidy: optimizer.zeroGrad(),
// step() (under autocast with stage.autocast), loss.backward(), optimizer.step(), afterStep(). At the end of the epoch the schedule
// steps, ctx.progress(stage, e + 1, epochs, { loss, <parts>, lr, <report()>, seconds }) reports
// the mean of every value over the epoch's batches, and ctx.checkpoint() receives:
//   tensors  `<module key>.<state-dict key>` per module, `optim.<param index>.<field>` (moments),
//            plus the stage state's own tensors (Deep SVDD's `c`);
//   meta     { stage, epoch: e + 1, optimGroups, scheduler, ...the stage state's meta }.
// When ctx.resume.meta.stage is this stage, all of that is restored and training continues at
// epoch ctx.resume.meta.epoch; otherwise state.init() runs first. After the last epoch the modules
// are in eval() mode and libtorch is re-seeded from (ctx.seed, stage, epochs), so what follows the
// stage draws the same numbers whether or not the run was resumed. The optimiser is freed.
import * as torch from '../../torch/index.js';
import type { Tensor, nn, optim } from '../../torch/index.js';
import { deriveSeed } from '../../data/random.js';
import type { EpochOptions, FitContext, ImageBatch, Sampling, TrainData, TrainingState } from '../types.js';
import { buildOptimizer, buildSchedule, type MultiStepConfig, type OptimizerConfig } from './optimizers.js';

/** What step() returns for one batch. Tensors are freed by the trainer's tidy. */
export interface StepResult {
  /** The scalar to minimise; the trainer calls backward() and the optimiser's step(). */
  loss: Tensor;
  /** Further named scalars to report as epoch means (e.g. the terms of a composite loss). */
  parts?: Record<string, Tensor | number>;
  /** Runs after the optimiser step, still inside the batch's tidy (Deep SVDD's radius update). */
  afterStep?(): void;
}

export interface StepInfo {
  stage: string;
  /** 0-based epoch and batch index within it. */
  epoch: number;
  batch: number;
}

/** Resumable state a stage keeps besides its modules and optimiser. */
export interface StageState {
  /** Fresh start (not resuming this stage): compute the state, e.g. Deep SVDD's center c. */
  init?(): void | Promise<void>;
  /** Checkpointed with every epoch; tensor keys must not collide with module prefixes or `optim.`. */
  save(): { tensors?: Map<string, Tensor>; meta?: Record<string, unknown> };
  /** Resuming this stage: read back what save() wrote (the checkpoint's tensors stay the caller's). */
  load(state: TrainingState): void;
}

export interface Stage {
  name: string;
  epochs: number;
  batchSize: number;
  /** The modules trained, keyed by checkpoint prefix; one parameter group each, in this order. */
  modules: Record<string, nn.Module>;
  optimizer: OptimizerConfig;
  /** Stepped at the end of every epoch; none = constant lr. */
  schedule?: MultiStepConfig;
  /** How batches are drawn (default 'shuffle'); see EpochOptions.sampling. */
  sampling?: Sampling;
  /** Ask the data side for train-time augmentation (EpochOptions.augment). */
  augment?: boolean;
  state?: StageState;
  /**
   * Mixed precision: step() (the forward pass and loss) runs under autocast in this dtype on the
   * modules' device; weights, gradients, optimiser state and backward() stay as they are.
   * Default null: everything in float32.
   */
  autocast?: torch.AutocastDtype | null;
  step(batch: ImageBatch, info: StepInfo): StepResult;
  /** Extra values for the epoch's progress report (Deep SVDD's R). */
  report?(): Record<string, number>;
}

const OPTIM = 'optim.';

/** The stages of `stages` still to run: all of them, or from the one ctx.resume names. */
export function stagesToRun(ctx: FitContext, method: string, stages: readonly string[]): string[] {
  const at = ctx.resume ? stages.indexOf(ctx.resume.meta.stage) : 0;
  if (at < 0) throw new Error(`${method}: cannot resume from stage '${ctx.resume!.meta.stage}'; expected ${stages.map((s) => `'${s}'`).join(' or ')}`);
  return stages.slice(at);
}

/** Runs one stage (see the top of this file). */
export async function trainStage(stage: Stage, data: TrainData, ctx: FitContext): Promise<void> {
  const { name, epochs } = stage;
  const modules = Object.entries(stage.modules);
  const opt = buildOptimizer(modules.map(([, m]) => ({ params: m.parameters() })), stage.optimizer);
  try {
    const sched = stage.schedule ? buildSchedule(opt, stage.schedule) : null;
    let start = 0;
    if (ctx.resume?.meta.stage === name) {
      start = ctx.resume.meta.epoch;
      if (!Number.isInteger(start) || start < 0 || start > epochs) throw new Error(`${name}: cannot resume after epoch ${start} of ${epochs}`);
      restore(ctx.resume, stage, opt, sched);
      ctx.log(`${name}: resuming after epoch ${start}/${epochs}`);
    } else {
      await stage.state?.init?.();
    }
    const sampling = stage.sampling ?? 'shuffle';
    const first = Object.values(stage.modules)[0]?.parameters()[0];
    const autocastDevice = first !== undefined && first.device.startsWith('cuda') ? 'cuda' : 'cpu';
    for (let e = start; e < epochs; e++) {
      const t0 = performance.now();
      torch.manualSeed(deriveSeed(ctx.seed, 'trainer', name, e));
      for (const [, m] of modules) m.train();
      const sums = new Map<string, number>();
      let batches = 0;
      const options: EpochOptions = { epoch: e, batchSize: stage.batchSize, shuffle: sampling !== 'sequential', sampling, augment: stage.augment ?? false };
      for await (const b of data.epoch(options)) {
        await new Promise<void>((r) => setImmediate(r));
        ctx.signal?.throwIfAborted();
        const values = torch.tidy(() => {
          opt.zeroGrad();
          const info = { stage: name, epoch: e, batch: batches };
          const dtype = stage.autocast ?? null;
          const out = dtype === null ? stage.step(b, info) : torch.autocast({ device: autocastDevice, dtype }, () => stage.step(b, info));
          out.loss.backward();
          opt.step();
          out.afterStep?.();
          const v: Array<[string, number]> = [['loss', out.loss.item()]];
          for (const [k, x] of Object.entries(out.parts ?? {})) v.push([k, typeof x === 'number' ? x : x.item()]);
          return v;
        });
        for (const [k, x] of values) sums.set(k, (sums.get(k) ?? 0) + x);
        batches++;
      }
      sched?.step();
      const means = Object.fromEntries([...sums].map(([k, s]) => [k, s / Math.max(batches, 1)]));
      // loss first (0 for an epoch without batches), then the parts in step()'s order.
      ctx.progress(name, e + 1, epochs, { loss: 0, ...means, lr: opt.paramGroups[0]!.lr, ...stage.report?.(), seconds: (performance.now() - t0) / 1000 });
      if (ctx.checkpoint) emit(ctx.checkpoint, pack(stage, opt, sched, e + 1));
    }
  } finally {
    opt.dispose();
  }
  for (const [, m] of modules) m.eval();
  torch.manualSeed(deriveSeed(ctx.seed, 'trainer', name, epochs));
}

/** The stage's checkpoint; its tensors are new handles, freed by emit(). */
function pack(stage: Stage, opt: optim.Optimizer, sched: optim.MultiStepLR | null, epoch: number): TrainingState {
  const tensors = new Map<string, Tensor>();
  for (const [prefix, m] of Object.entries(stage.modules)) for (const [k, v] of m.stateDict()) tensors.set(`${prefix}.${k}`, v);
  const osd = opt.stateDict();
  for (const [k, v] of osd.state) tensors.set(OPTIM + k, v);
  const own = stage.state?.save() ?? {};
  for (const [k, v] of own.tensors ?? []) {
    if (tensors.has(k) || k.startsWith(OPTIM) || Object.keys(stage.modules).some((p) => k.startsWith(`${p}.`))) {
      for (const t of tensors.values()) t.dispose();
      throw new Error(`${stage.name}: stage state tensor '${k}' collides with a module or optimiser key`);
    }
    tensors.set(k, torch.noGrad(() => v.detach()));
  }
  return { tensors, meta: { ...own.meta, stage: stage.name, epoch, optimGroups: osd.groups, scheduler: sched?.stateDict() ?? null } };
}

function emit(checkpoint: (s: TrainingState) => void, st: TrainingState): void {
  try {
    checkpoint(st);
  } finally {
    for (const t of st.tensors.values()) t.dispose();
  }
}

function restore(st: TrainingState, stage: Stage, opt: optim.Optimizer, sched: optim.MultiStepLR | null): void {
  const meta = st.meta;
  const groups = meta.optimGroups as optim.OptimizerStateDict['groups'] | undefined;
  if (!Array.isArray(groups) || (sched !== null && (typeof meta.scheduler !== 'object' || meta.scheduler === null))) {
    throw new Error(`resume state (stage '${meta.stage}'): meta.optimGroups / meta.scheduler missing; the checkpoint was not written by this method`);
  }
  const byPrefix = new Map(Object.keys(stage.modules).map((p) => [p, new Map<string, Tensor>()]));
  const optState = new Map<string, Tensor>();
  for (const [k, v] of st.tensors) {
    if (k.startsWith(OPTIM)) { optState.set(k.slice(OPTIM.length), v); continue; }
    const dot = k.indexOf('.');
    byPrefix.get(dot > 0 ? k.slice(0, dot) : '')?.set(k.slice(dot + 1), v);
  }
  for (const [p, m] of Object.entries(stage.modules)) m.loadStateDict(byPrefix.get(p)!);
  opt.loadStateDict({ state: optState, groups });
  if (sched) sched.loadStateDict(meta.scheduler as optim.SchedulerState);
  stage.state?.load(st);
}
