// DRAEM (Zavrtanik, Kristan, Skočaj, ICCV 2021) as a Vigil method, following the authors' code
// (VitjanZ/DRAEM @ 2dbf673), not OpenOOD's port (batch 2, no replacement, test-set model selection).
// Images enter as the pipeline makes them (RGB in [0, 1], resized to imageSize by bilinear
// interpolation without antialiasing, as cv2.resize INTER_LINEAR); the networks see BGR, as the
// authors' cv2.imread gives, so their released checkpoints score correctly (model.initFrom).
import { resolve } from 'node:path';
import * as torch from '../../torch/index.js';
import type { Tensor } from '../../torch/index.js';
import { MethodInputError, type CreateOptions, type Detector, type FitContext, type MethodDefinition, type ScoreResult, type TrainData } from '../types.js';
import { stagesToRun } from '../components/index.js';
import { DRAEM_DEFAULTS, draemSchema, resolveDraemConfig, scoreWindowOf, type DraemConfig } from './config.js';
import { checkpointPaths, loadCheckpoints } from './checkpoint.js';
import { fitDraem } from './fit.js';
import { buildNetworks, type DraemNetworks } from './networks.js';
import { score } from './score.js';
import { openAnomalySource } from './source.js';

export * from './config.js';
export { buildNetworks, ReconstructiveSubNetwork, DiscriminativeSubNetwork, type DraemNetworks } from './networks.js';
export { draemLoss, ssim, focalLoss } from './loss.js';
export { score as scoreDraem, anomalyMaps, imageScores } from './score.js';
export { checkpointPaths, checkpointWidths, loadCheckpoints } from './checkpoint.js';
export { synthesize, synthesizeBatch } from './synthesis.js';
export { fitDraem, draemStep } from './fit.js';

type Shape3 = readonly [number, number, number];
const PREFIXES = ['reconstructive.', 'discriminative.'] as const;

/** The anomaly source as the loader workers get it: 'procedural' or an absolute folder. */
export function anomalySourceSpec(config: Pick<DraemConfig, 'anomalySource'>): string {
  return config.anomalySource === 'procedural' ? 'procedural' : resolve(config.anomalySource);
}

export class DraemDetector implements Detector {
  readonly method = 'draem';
  readonly nets: DraemNetworks;
  /** Absolute base path of the authors' checkpoints the networks were loaded from (state().meta). */
  initFrom: string | null = null;
  #fitted = false;

  constructor(readonly config: DraemConfig, imageShape: Shape3, readonly device = 'cpu') {
    checkShape(config, imageShape);
    this.nets = buildNetworks({ reconstructiveWidth: config.reconstructiveWidth, discriminativeWidth: config.discriminativeWidth, channelsLast: config.channelsLast, convolution: config.convolution });
    if (device !== 'cpu') {
      this.nets.reconstructive.to(device);
      this.nets.discriminative.to(device);
    }
  }

  /** Loads model.initFrom (the authors' .pckl pair); errors name the file and the first mismatched key. */
  loadInitFrom(): void {
    const base = resolve(this.config.initFrom!);
    const paths = checkpointPaths(base);
    try {
      loadCheckpoints(this.nets, paths);
    } catch (e) {
      throw new MethodInputError(`model.initFrom: ${(e as Error).message}`);
    }
    this.initFrom = paths.reconstructive.replace(/\.pckl$/, '');
    this.#eval();
    this.#fitted = true;
  }

  async fit(data: TrainData, ctx: FitContext): Promise<void> {
    checkShape(this.config, data.imageShape);
    if (this.initFrom) {
      ctx.log(`draem: networks loaded from the authors' checkpoints ${this.initFrom}{,_seg}.pckl (model.initFrom); no training`);
      return;
    }
    stagesToRun(ctx, 'draem', ['train']); // rejects a checkpoint of another method's stage
    const spec = anomalySourceSpec(this.config);
    let description: string;
    try {
      description = (await openAnomalySource(spec)).description;
    } catch (e) {
      throw new MethodInputError(`model.anomalySource: ${(e as Error).message}`);
    }
    ctx.log(`draem: anomaly source ${description}`);
    if (spec === 'procedural') {
      ctx.log("draem: the paper's numbers need DTD as the anomaly source: vigil datasets download dtd <dir>, then --set model.anomalySource=<dir>/dtd/images");
    }
    const c = this.config;
    ctx.log(`draem: G base width ${c.reconstructiveWidth}, D base width ${c.discriminativeWidth}, ${c.imageSize}², ${c.train.epochs} epochs of ${Math.ceil(data.size / c.train.batchSize)} batches (${c.train.batchSize}, drawn with replacement)`);
    if (c.convolution === 'winograd' && !torch.nn.F.winogradAvailable()) {
      ctx.log("draem: model.convolution 'winograd': this build or CPU has no oneDNN Winograd kernels (libdnnl-dev at build time, AVX-512); the convolutions run libtorch's direct kernels");
    }
    await fitDraem(this.nets, data, this.config, ctx);
    this.#fitted = true;
  }

  /** Image score = max of the 21×21 (scoreWindow) average-pooled anomaly map; map = softmax(D(·))[:, 1]. */
  score(images: Tensor): ScoreResult {
    if (!this.#fitted) throw new Error('draem: score() before fit() or load()');
    this.#eval();
    // RGB → BGR: the channel order the networks were trained in (cv2.imread's).
    const r = torch.tidy(() => score(this.nets, images.flip([1]), scoreWindowOf(this.config)));
    return { scores: r.scores, maps: r.maps };
  }

  /** Tensors `reconstructive.<key>` and `discriminative.<key>` with the authors' key names. */
  state(): { tensors: Map<string, Tensor>; meta: Record<string, unknown> } {
    if (!this.#fitted) throw new Error('draem: state() before fit() or load()');
    const tensors = new Map<string, Tensor>();
    for (const [prefix, m] of [[PREFIXES[0], this.nets.reconstructive], [PREFIXES[1], this.nets.discriminative]] as const) {
      for (const [k, v] of m.stateDict()) tensors.set(prefix + k, v);
    }
    const c = this.config;
    const meta: Record<string, unknown> = {
      method: 'draem', reconstructiveWidth: c.reconstructiveWidth, discriminativeWidth: c.discriminativeWidth, imageSize: c.imageSize, scoreWindow: scoreWindowOf(c), channelOrder: 'bgr',
    };
    if (this.initFrom) meta.initFrom = this.initFrom;
    else meta.anomalySource = anomalySourceSpec(c);
    return { tensors, meta };
  }

  /** Restores what state() saved. */
  loadState(tensors: Map<string, Tensor>, meta: Record<string, unknown>): void {
    const split = PREFIXES.map((p) => new Map([...tensors].filter(([k]) => k.startsWith(p)).map(([k, v]) => [k.slice(p.length), v])));
    const nets = [this.nets.reconstructive, this.nets.discriminative];
    PREFIXES.forEach((p, i) => {
      try {
        nets[i]!.loadStateDict(split[i]!);
      } catch (e) {
        throw new Error(`draem: cannot load the saved ${nets[i]!.constructor.name} ('${p}*' tensors; model.reconstructiveWidth ${this.config.reconstructiveWidth}, model.discriminativeWidth ${this.config.discriminativeWidth}): ${(e as Error).message}`);
      }
    });
    if (typeof meta.initFrom === 'string') this.initFrom = meta.initFrom;
    this.#eval();
    this.#fitted = true;
  }

  #eval(): void {
    this.nets.reconstructive.eval();
    this.nets.discriminative.eval();
  }

  dispose(): void {
    this.nets.reconstructive.dispose();
    this.nets.discriminative.dispose();
  }
}

function checkShape(config: DraemConfig, got: Shape3): void {
  const s = config.imageSize;
  if (got[0] !== 3 || got[1] !== s || got[2] !== s) {
    throw new MethodInputError(`draem takes 3×${s}×${s} images (model.imageSize ${s}), the data has ${got.join('×')}; leave preprocess.transforms unset (DRAEM brings its own resize) or set model.imageSize to match`);
  }
}

function withDetector(config: unknown, imageShape: Shape3, options: CreateOptions | undefined, then: (d: DraemDetector) => void): DraemDetector {
  const d = new DraemDetector(resolveDraemConfig(config), imageShape, options?.device ?? 'cpu');
  try {
    then(d);
  } catch (e) {
    d.dispose();
    throw e;
  }
  return d;
}

export const draem: MethodDefinition<DraemConfig> = {
  name: 'draem',
  description: 'DRAEM (Zavrtanik et al., ICCV 2021): a reconstructive and a discriminative U-Net trained on synthetic anomalies (Perlin masks, augmented textures); map = anomaly softmax, score = max of its 21×21 mean',
  schema: draemSchema,
  defaults: DRAEM_DEFAULTS,
  inputs(config) {
    const c = resolveDraemConfig(config);
    return {
      mode: 'rgb',
      transforms: [{ op: 'resize', size: [c.imageSize, c.imageSize], interpolation: 'bilinear', antialias: false }],
      ...(c.initFrom ? {} : {
        trainAugment: { module: new URL('./synthesis.js', import.meta.url).href, export: 'synthesize', options: { anomalySource: anomalySourceSpec(c) } },
      }),
    };
  },
  create(config, imageShape, options) {
    return withDetector(config, imageShape, options, (d) => { if (d.config.initFrom) d.loadInitFrom(); });
  },
  load(config, imageShape, state, options) {
    return withDetector(config, imageShape, options, (d) => d.loadState(state.tensors, state.meta));
  },
};
