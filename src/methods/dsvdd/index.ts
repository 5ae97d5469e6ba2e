// DCAE and Deep SVDD (Ruff et al., ICML 2018) as Vigil methods. fit() of Deep SVDD runs
// pretrain (DCAE) → encoder transfer → train, checkpointing every epoch and resuming mid-stage.
import * as torch from '../../torch/index.js';
import type { Tensor } from '../../torch/index.js';
import { MethodInputError, type Detector, type FitContext, type MethodDefinition, type ScoreResult, type TrainData } from '../types.js';
import { stagesToRun, trainStage } from '../components/index.js';
import {
  buildAutoencoder, buildNetwork, NETWORK_INPUT, transferEncoderWeights, type DsvddAutoencoder, type DsvddNet,
} from './networks.js';
import { DCAE_DEFAULTS, DSVDD_DEFAULTS, dcaeSchema, dsvddSchema, resolveDcaeConfig, resolveDsvddConfig, type AeLoss, type DcaeConfig, type DsvddConfig, type StageConfig } from './config.js';
import { loadPretrainedAutoencoder, type PretrainedAutoencoder } from './init-from.js';
import { aeLoss, asDtype, distToCenter, initCenter, radiusFromDistances, stageOptions, svddLoss } from './train.js';

export * from './networks.js';
export * from './config.js';
export * from './train.js';
export { loadPretrainedAutoencoder, type PretrainedAutoencoder } from './init-from.js';

type Shape3 = readonly [number, number, number];

function checkShape(network: string, expected: Shape3, got: Shape3): void {
  if (expected.some((d, i) => d !== got[i])) {
    throw new MethodInputError(`network '${network}' takes ${expected.join('×')} images, the data has ${got.join('×')}; pick the network for the dataset (mnist/fmnist 1×28×28, cifar10 3×32×32); for image folders set model.network and preprocess.size to match, e.g. --set model.network=cifar10 --set preprocess.size=32, or --set model.network=fmnist --set preprocess.size=28 --set preprocess.mode=gray`);
  }
}

/** Trains an autoencoder stage on the shared trainer (checkpoint prefix `model.`). */
async function trainAutoencoder(ae: DsvddAutoencoder, data: TrainData, s: StageConfig, loss: AeLoss, ctx: FitContext, stage: string): Promise<void> {
  const dtype = ae.parameters()[0]!.dtype;
  await trainStage({
    name: stage,
    ...stageOptions(s),
    modules: { model: ae },
    step: (b) => {
      const x = asDtype(b.images, dtype);
      return { loss: aeLoss(ae.forward(x), x, loss) };
    },
  }, data, ctx);
}

// ---- DCAE ----------------------------------------------------------------------------------------

class DcaeDetector implements Detector {
  readonly method = 'dcae';
  readonly ae: DsvddAutoencoder;

  constructor(readonly config: DcaeConfig, imageShape: Shape3) {
    checkShape(config.network, NETWORK_INPUT[config.network], imageShape);
    this.ae = buildAutoencoder(config.network, { fastDeconv: config.fastDeconv, channelsLast: config.channelsLast });
    if (config.dtype === 'float64') this.ae.to('float64');
  }

  async fit(data: TrainData, ctx: FitContext): Promise<void> {
    checkShape(this.config.network, NETWORK_INPUT[this.config.network], data.imageShape);
    stagesToRun(ctx, 'dcae', ['train']); // rejects a checkpoint of another stage
    await trainAutoencoder(this.ae, data, this.config.train, this.config.loss, ctx, 'train');
  }

  /** Score = per-image sum of squared reconstruction errors; map = the squared error per pixel (summed over channels). */
  score(images: Tensor): ScoreResult {
    this.ae.eval();
    return torch.tidy(() => torch.noGrad(() => {
      const x = asDtype(images, this.ae.parameters()[0]!.dtype);
      const err = this.ae.forward(x).sub(x).pow(2).sum([1]);
      const f32 = (t: Tensor): Float32Array => Float32Array.from(t.toTypedArray() as Float32Array | Float64Array);
      return { scores: f32(err.flatten(1).sum([1])), maps: f32(err) };
    }));
  }

  state(): { tensors: Map<string, Tensor>; meta: Record<string, unknown> } {
    return { tensors: this.ae.stateDict(), meta: { method: 'dcae', network: this.config.network } };
  }

  dispose(): void { this.ae.dispose(); }
}

export const dcae: MethodDefinition<DcaeConfig> = {
  name: 'dcae',
  description: 'Deep convolutional autoencoder (the Deep SVDD paper\'s DCAE baseline): score = per-image sum of squared reconstruction errors, map = squared error per pixel',
  schema: dcaeSchema,
  defaults: DCAE_DEFAULTS,
  // BatchNorm in training mode needs two images in a batch.
  minTrainImages: 2,
  create(config, imageShape) {
    return new DcaeDetector(resolveDcaeConfig(config), imageShape);
  },
  load(config, imageShape, state) {
    const d = new DcaeDetector(resolveDcaeConfig(config), imageShape);
    try {
      d.ae.loadStateDict(state.tensors);
    } catch (e) {
      d.dispose();
      throw new Error(`dcae: cannot load the saved weights into ${d.ae.constructor.name}: ${(e as Error).message}`);
    }
    d.ae.eval();
    return d;
  },
};

// ---- Deep SVDD -----------------------------------------------------------------------------------

class DsvddDetector implements Detector {
  readonly method = 'dsvdd';
  readonly net: DsvddNet;
  c: Tensor | null = null;
  R = 0;
  /** Absolute path of the autoencoder the network was initialised from (provenance, in state().meta). */
  initFromPath: string | null = null;
  /** The `initFrom` autoencoder, loaded by create() so that a bad path fails before training; freed by fit(). */
  pretrained: PretrainedAutoencoder | null = null;

  constructor(readonly config: DsvddConfig, imageShape: Shape3) {
    checkShape(config.network, NETWORK_INPUT[config.network], imageShape);
    this.net = buildNetwork(config.network, { channelsLast: config.channelsLast });
    if (config.dtype === 'float64') this.net.to('float64');
  }

  async fit(data: TrainData, ctx: FitContext): Promise<void> {
    const cfg = this.config;
    checkShape(cfg.network, NETWORK_INPUT[cfg.network], data.imageShape);
    const resumeTrain = !stagesToRun(ctx, 'dsvdd', ['pretrain', 'train']).includes('pretrain');
    const pre = cfg.initFrom && !resumeTrain ? this.pretrained ?? this.loadInitFrom() : null;
    if (this.pretrained && this.pretrained !== pre) this.pretrained.ae.dispose();
    this.pretrained = null;
    if (pre) {
      // The autoencoder was trained by an earlier run: no pretraining here.
      try {
        const keys = transferEncoderWeights(pre.ae, this.net);
        ctx.log(`initFrom: copied ${keys.length} encoder tensors (${keys.join(', ')}) from the ${pre.description} into ${this.net.constructor.name}; DCAE pretraining skipped`);
      } finally {
        pre.ae.dispose();
      }
    } else if (!resumeTrain && !cfg.initFrom && cfg.pretrain.epochs > 0) {
      const { loss, ...s } = cfg.pretrain;
      const ae = buildAutoencoder(cfg.network, { fastDeconv: cfg.fastDeconv, channelsLast: cfg.channelsLast });
      if (cfg.dtype === 'float64') ae.to('float64');
      try {
        await trainAutoencoder(ae, data, s, loss, ctx, 'pretrain');
        const keys = transferEncoderWeights(ae, this.net);
        ctx.log(`pretrain: copied ${keys.length} encoder tensors (${keys.join(', ')}) into ${this.net.constructor.name}`);
      } finally {
        ae.dispose();
      }
    }
    await this.#train(data, ctx);
  }

  /** The Deep SVDD stage: c (computed once, before training) and R are checkpointed with it. */
  async #train(data: TrainData, ctx: FitContext): Promise<void> {
    const cfg = this.config;
    const dtype = this.net.parameters()[0]!.dtype;
    this.c?.dispose();
    this.c = null;
    await trainStage({
      name: 'train',
      ...stageOptions(cfg.train),
      modules: { model: this.net },
      state: {
        init: async () => {
          this.c = await initCenter(this.net, data, cfg.train.batchSize, cfg.centerEps);
          this.R = 0;
        },
        save: () => ({ tensors: new Map([['c', this.c!]]), meta: { R: this.R } }),
        load: (st) => {
          const c = st.tensors.get('c');
          if (!c) throw new Error("dsvdd: resume state of stage 'train' has no tensor 'c'");
          this.c = torch.keep(torch.noGrad(() => c.to({ dtype, copy: true })));
          this.R = Number(st.meta.R ?? 0);
        },
      },
      step: (b, { epoch }) => {
        const c = this.c!;
        const d = distToCenter(this.net.forward(asDtype(b.images, c.dtype)), c);
        const loss = svddLoss(d, cfg.objective, this.R, cfg.nu);
        if (cfg.objective !== 'soft-boundary' || epoch < cfg.warmUpEpochs) return { loss };
        // The authors update R after the optimiser step, from the distances of the forward pass.
        return { loss, afterStep: () => { this.R = radiusFromDistances(d.detach().toTypedArray() as Float32Array | Float64Array, cfg.nu); } };
      },
      report: () => ({ R: this.R }),
    }, data, ctx);
  }

  score(images: Tensor): ScoreResult {
    if (!this.c) throw new Error('dsvdd: score() before fit() or load()');
    const c = this.c;
    this.net.eval();
    const r2 = this.config.objective === 'soft-boundary' ? this.R * this.R : 0;
    const s = torch.tidy(() => torch.noGrad(() => {
      const d = distToCenter(this.net.forward(asDtype(images, c.dtype)), c);
      return Float32Array.from((r2 === 0 ? d : d.sub(r2)).toTypedArray() as Float32Array | Float64Array);
    }));
    return { scores: s };
  }

  /** Tensors: the network's state dict with PyTorch key names, plus `c`; meta: R and the objective. */
  state(): { tensors: Map<string, Tensor>; meta: Record<string, unknown> } {
    if (!this.c) throw new Error('dsvdd: state() before fit() or load()');
    const tensors = this.net.stateDict();
    tensors.set('c', torch.noGrad(() => this.c!.detach()));
    const meta: Record<string, unknown> = { method: 'dsvdd', network: this.config.network, objective: this.config.objective, R: this.R };
    if (this.initFromPath) meta.initFrom = this.initFromPath;
    return { tensors, meta };
  }

  /** Loads and checks `config.initFrom` (throws naming the path and the problem). */
  loadInitFrom(): PretrainedAutoencoder {
    const cfg = this.config;
    if (!cfg.initFrom) throw new Error('dsvdd: loadInitFrom() without config.initFrom');
    const pre = loadPretrainedAutoencoder(cfg.initFrom, cfg.network, { fastDeconv: cfg.fastDeconv, channelsLast: cfg.channelsLast, dtype: cfg.dtype ?? 'float32' });
    this.initFromPath = pre.path;
    return pre;
  }

  dispose(): void {
    this.pretrained?.ae.dispose();
    this.pretrained = null;
    this.net.dispose();
    this.c?.dispose();
    this.c = null;
  }
}

export const dsvdd: MethodDefinition<DsvddConfig> = {
  name: 'dsvdd',
  description: 'Deep SVDD (Ruff et al., ICML 2018): one-class or soft-boundary hypersphere around the DCAE-pretrained LeNet features; score = squared distance to c (minus R² for soft-boundary)',
  schema: dsvddSchema,
  defaults: DSVDD_DEFAULTS,
  minTrainImages: 2,
  create(config, imageShape) {
    const d = new DsvddDetector(resolveDsvddConfig(config), imageShape);
    if (d.config.initFrom) {
      try {
        d.pretrained = d.loadInitFrom();
      } catch (e) {
        d.dispose();
        throw e;
      }
    }
    return d;
  },
  load(config, imageShape, state) {
    const d = new DsvddDetector(resolveDsvddConfig(config), imageShape);
    const c = state.tensors.get('c');
    if (!c) { d.dispose(); throw new Error("dsvdd: saved state has no tensor 'c' (the hypersphere center)"); }
    if (c.ndim !== 1 || c.shape[0] !== d.net.repDim) {
      d.dispose();
      throw new Error(`dsvdd: saved 'c' has shape [${c.shape.join(', ')}], network '${d.config.network}' needs [${d.net.repDim}]`);
    }
    const sd = new Map([...state.tensors].filter(([k]) => k !== 'c'));
    try {
      d.net.loadStateDict(sd);
    } catch (e) {
      d.dispose();
      throw new Error(`dsvdd: cannot load the saved weights into ${d.net.constructor.name}: ${(e as Error).message}`);
    }
    d.c = torch.keep(torch.noGrad(() => c.to({ dtype: d.net.parameters()[0]!.dtype, copy: true })));
    const R = state.meta.R ?? 0;
    if (typeof R !== 'number' || !Number.isFinite(R)) { d.dispose(); throw new Error(`dsvdd: saved meta.R must be a finite number, got ${JSON.stringify(R)}`); }
    d.R = R;
    if (typeof state.meta.initFrom === 'string') d.initFromPath = state.meta.initFrom;
    d.net.eval();
    return d;
  },
};
