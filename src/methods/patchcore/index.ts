// PatchCore (Roth et al., "Towards Total Recall in Industrial Anomaly Detection", CVPR 2022), as
// the authors' code (amazon-science/patchcore-inspection) computes it: ImageNet backbone features
// of layer2+layer3, 3×3 neighbourhood aggregation, adaptive pooling to 1024 dims, approximate
// greedy coreset (10%), squared-L2 nearest-neighbour patch scores, image score = max patch score,
// maps resized to the input and Gaussian-smoothed (σ=4). See README.md in this folder.
import * as torch from '../../torch/index.js';
import type { Tensor } from '../../torch/index.js';
import { loadBackbone, type ResNet, type ResNetLayer } from '../../models/backbones/index.js';
import { PATCHCORE_DEFAULTS, patchcoreSchema, patchcoreTransforms, resolvePatchCoreConfig, type PatchCoreConfig } from './config.js';
import { MethodInputError, type Detector, type FitContext, type MethodDefinition, type ScoreResult, type TrainData } from '../types.js';
import { EmbedPlan } from './features.js';
import { greedyCoresetIndices } from './coreset.js';
import { knnDistances, KnnIndex } from './knn.js';
import { anomalyMaps } from './segment.js';

export * from './config.js';
export { EmbedPlan } from './features.js';
export { greedyCoresetIndices, randomProjection, sampleWithoutReplacement, type CoresetOptions, type CoresetMethod } from './coreset.js';
export { knnDistances, KnnIndex, type KnnOptions, type KnnIndexOptions } from './knn.js';
export { anomalyMaps, gaussianFilter2d, gaussianKernel1d, reflectIndices } from './segment.js';

export class PatchCoreDetector implements Detector {
  readonly method = 'patchcore';
  readonly config: PatchCoreConfig;
  readonly backbone: ResNet;
  readonly weightsSource: string;
  readonly plan: EmbedPlan;
  readonly imageShape: readonly [number, number, number];
  /** Layers as configured; the first one sets the patch grid (as in the authors' code). */
  readonly layers: ResNetLayer[];
  #bank: Tensor | null = null;
  #bankNorms: Tensor | null = null;
  #index: KnnIndex | null = null;
  #grid: [number, number] | null = null;

  constructor(config: PatchCoreConfig, imageShape: readonly [number, number, number]) {
    this.config = config;
    this.imageShape = imageShape;
    if (imageShape[0] !== 3) throw new MethodInputError(`patchcore: images must have 3 channels (RGB, ImageNet-normalised), got ${imageShape[0]}`);
    if (config.backbone.weights === 'random') {
      process.emitWarning(`patchcore: backbone ${config.backbone.name} uses random weights (model.backbone.weights = 'random'), not ImageNet features: fine for tests, timing and the demo's synthetic defects, weak on real ones`, 'PatchCoreWarning');
    }
    const { model, weights } = loadBackbone({ name: config.backbone.name, weights: config.backbone.weights, randomSeed: config.backbone.randomSeed, fuse: true });
    this.backbone = model;
    this.weightsSource = weights;
    this.layers = [...config.layers];
    this.plan = new EmbedPlan({ channels: this.layers.map((l) => model.channels[l]), patchSize: config.patchSize, pretrainEmbedDim: config.pretrainEmbedDim, embedDim: config.embedDim });
  }

  get memoryBank(): Tensor | null { return this.#bank; }

  /** (N·h·w)×embedDim patch embeddings and the patch grid. */
  embed(images: Tensor): { embeddings: Tensor; grid: [number, number] } {
    return torch.noGrad(() => torch.tidy(() => {
      const feats = this.backbone.forward(images, this.layers);
      return this.plan.embed(this.layers.map((l) => feats.get(l)!), this.config.patchStride);
    }));
  }

  #setBank(bank: Tensor): void {
    torch.dispose([this.#bank, this.#bankNorms]);
    this.#index?.dispose();
    this.#index = null;
    // fp16 banks are stored rounded but searched in fp32 (CPU half matmul is slow).
    const b = this.config.memoryBank.dtype === 'float16' ? torch.tidy(() => bank.to('float16').to('float32')) : bank.to('float32');
    this.#bank = torch.keep(b);
    this.#bankNorms = torch.keep(torch.tidy(() => b.mul(b).sum(1)));
    // Large banks get the pruned exact search (same neighbours, a fraction of the multiply-adds).
    if (this.config.knn.prune && b.shape[0]! >= 4096) this.#index = new KnnIndex(b, this.#bankNorms);
  }

  async fit(data: TrainData, ctx: FitContext): Promise<void> {
    const [C, H, W] = data.imageShape;
    if (C !== this.imageShape[0] || H !== this.imageShape[1] || W !== this.imageShape[2]) {
      throw new Error(`patchcore.fit: training images are ${C}×${H}×${W}, the detector was created for ${this.imageShape.join('×')}`);
    }
    if (data.size < 1) throw new Error('patchcore.fit: no training images');
    const bs = this.config.batchSize;
    let all: Tensor | null = null;
    let row = 0;
    let done = 0;
    try {
      for await (const batch of data.epoch({ epoch: 0, batchSize: bs, shuffle: false })) {
        ctx.signal?.throwIfAborted();
        const { embeddings, grid } = this.embed(batch.images);
        if (all === null) this.#checkBankSize(data.size, grid);
        if (all === null) {
          // One preallocated buffer: no second copy of the features at concatenation.
          all = torch.keep(torch.empty([data.size * grid[0] * grid[1], this.config.embedDim]));
          this.#grid = grid;
        }
        const n = embeddings.shape[0]!;
        if (row + n > all.shape[0]!) throw new Error(`patchcore.fit: TrainData yielded more than its size (${data.size}) images`);
        torch.tidy(() => { all!.narrow(0, row, n).copy_(embeddings); });
        embeddings.dispose();
        row += n;
        done += batch.images.shape[0]!;
        ctx.progress('features', done, data.size);
        await new Promise((r) => setImmediate(r));
      }
      if (all === null || row === 0) throw new Error('patchcore.fit: TrainData yielded no images');
      const feats: Tensor = row === all.shape[0] ? all : torch.keep(all.narrow(0, 0, row));
      if (feats !== all) { all.dispose(); all = feats; }
      ctx.log(`patchcore: ${row} patch features of ${this.config.embedDim} dims from ${done} image${done === 1 ? '' : 's'}`);
      const { method, ratio, projectionDim, startingPoints } = this.config.coreset;
      let bank: Tensor;
      if (method === 'none' || ratio >= 1) {
        bank = all;
        all = null;
      } else {
        const idx = await greedyCoresetIndices(feats, {
          method, ratio, projectionDim, startingPoints, seed: ctx.seed,
          onProgress: (d, t) => ctx.progress('coreset', d, t), signal: ctx.signal,
        });
        bank = torch.tidy(() => torch.index_select(feats, 0, torch.tensor(Array.from(idx), { dtype: 'int64' })));
      }
      this.#setBank(bank);
      bank.dispose();
      ctx.log(`patchcore: memory bank ${this.#bank!.shape[0]} × ${this.#bank!.shape[1]}`);
    } finally {
      if (all) all.dispose();
    }
  }

  /** The memory bank the data will give must hold knn.k rows: say so now, not after the coreset. */
  #checkBankSize(images: number, grid: [number, number]): void {
    const patches = images * grid[0] * grid[1];
    const { method, ratio } = this.config.coreset;
    const bank = method === 'none' || ratio >= 1 ? patches : Math.floor(patches * ratio);
    const what = `${images} training image${images === 1 ? '' : 's'} × ${grid[0]}×${grid[1]} patches${method === 'none' || ratio >= 1 ? '' : ` × model.coreset.ratio ${ratio}`}`;
    if (bank < 1) throw new MethodInputError(`patchcore: the memory bank would be empty (${what} = ${patches * ratio} rows); raise model.coreset.ratio or add training images`);
    if (bank < this.config.knn.k) throw new MethodInputError(`patchcore: model.knn.k = ${this.config.knn.k} neighbours, but the memory bank will hold ${bank} rows (${what}); lower model.knn.k, raise model.coreset.ratio or add training images`);
  }

  /** Q×k squared L2 distances of patch embeddings to their nearest memory-bank rows, ascending. */
  nearest(embeddings: Tensor): Tensor {
    if (!this.#bank) throw new Error('patchcore: the detector is not fitted (call fit() or load a saved model)');
    return this.#index ? this.#index.search(embeddings, this.config.knn.k) : knnDistances(embeddings, this.#bank, { k: this.config.knn.k, bankNorms: this.#bankNorms! });
  }

  /** Per-patch scores (N×h×w): mean of the k smallest squared L2 distances (faiss IndexFlatL2). */
  patchScores(images: Tensor): Tensor {
    if (!this.#bank) throw new Error('patchcore: the detector is not fitted (call fit() or load a saved model)');
    return torch.tidy(() => {
      const { embeddings, grid } = this.embed(images);
      const d = this.nearest(embeddings);
      return d.mean(1).reshape([images.shape[0]!, grid[0], grid[1]]);
    });
  }

  score(images: Tensor): ScoreResult {
    return torch.noGrad(() => torch.tidy(() => {
      const ps = this.patchScores(images);
      const N = images.shape[0]!;
      const scores = ps.reshape([N, -1]).amax(1).toTypedArray() as Float32Array;
      const maps = anomalyMaps(ps, [images.shape[2]!, images.shape[3]!], this.config.smoothing).toTypedArray() as Float32Array;
      return { scores, maps };
    }));
  }

  state(): { tensors: Map<string, Tensor>; meta: Record<string, unknown> } {
    if (!this.#bank) throw new Error('patchcore.state: the detector is not fitted');
    const bank = this.config.memoryBank.dtype === 'float16' ? this.#bank.to('float16') : torch.alias(this.#bank);
    return {
      tensors: new Map([['memory_bank', bank]]),
      meta: {
        method: 'patchcore',
        backbone: this.config.backbone.name,
        weights: this.weightsSource,
        layers: this.layers,
        grid: this.#grid,
        embedDim: this.config.embedDim,
        bankSize: this.#bank.shape[0],
      },
    };
  }

  /** Restores a memory bank saved by state(). */
  loadBank(tensors: Map<string, Tensor>, meta: Record<string, unknown>): void {
    const bank = tensors.get('memory_bank');
    if (!bank) throw new Error("patchcore.load: the saved state has no 'memory_bank' tensor");
    if (bank.ndim !== 2 || bank.shape[1] !== this.config.embedDim) {
      throw new Error(`patchcore.load: 'memory_bank' is [${bank.shape.join(', ')}], expected [N, ${this.config.embedDim}] (model.embedDim)`);
    }
    if (meta['backbone'] !== undefined && meta['backbone'] !== this.config.backbone.name) {
      throw new Error(`patchcore.load: the model was fitted with backbone ${String(meta['backbone'])}, the config says ${this.config.backbone.name} (model.backbone.name)`);
    }
    if (Array.isArray(meta['grid'])) this.#grid = meta['grid'] as [number, number];
    this.#setBank(bank);
  }

  dispose(): void {
    torch.dispose([this.#bank, this.#bankNorms]);
    this.#bank = null;
    this.#bankNorms = null;
    this.#index?.dispose();
    this.#index = null;
    this.plan.dispose();
    this.backbone.dispose();
  }
}

export const patchcore: MethodDefinition<PatchCoreConfig> = {
  name: 'patchcore',
  description: 'PatchCore (Roth et al., CVPR 2022): coreset memory bank of pretrained patch features, nearest-neighbour scoring',
  schema: patchcoreSchema,
  defaults: PATCHCORE_DEFAULTS,
  inputs: (config) => ({ mode: 'rgb', transforms: patchcoreTransforms(config) }),
  create(config, imageShape) {
    return new PatchCoreDetector(resolvePatchCoreConfig(config), imageShape);
  },
  load(config, imageShape, state) {
    const d = new PatchCoreDetector(resolvePatchCoreConfig(config), imageShape);
    try {
      d.loadBank(state.tensors, state.meta);
    } catch (e) {
      d.dispose();
      throw e;
    }
    return d;
  },
};
