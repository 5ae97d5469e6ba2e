// KDAD (Salehi et al., "Multiresolution Knowledge Distillation for Anomaly Detection", CVPR 2021)
// as the authors' code (rohban-lab/Knowledge_Distillation_AD) computes it: a small VGG (the cloner)
// is trained to reproduce a frozen ImageNet VGG16's activations at four depths, in direction
// (1 − cos) and magnitude (λ·MSE); an image's anomaly score is the same discrepancy at three depths,
// and its anomaly map the gradient of that score w.r.t. the image (vanilla, SmoothGrad or guided
// backprop), in grayscale, Gaussian-smoothed. See README.md in this folder.
import type { Tensor } from '../../torch/index.js';
import type { VGG } from '../../models/backbones/index.js';
import type { CreateOptions, Detector, FitContext, MethodDefinition, ScoreResult, TrainData } from '../types.js';
import { augmentationOn, KDAD_DEFAULTS, kdadSchema, kdadTransforms, resolveKdadConfig, type KdadConfig } from './config.js';
import { fitKdad, type KdadNets } from './fit.js';
import { InputAdapter } from './inputs.js';
import type { MapOptions } from './localize.js';
import { buildCloner, loadTeacher } from './network.js';
import { scoreImages } from './score.js';
import { kdadState, loadKdadState } from './state.js';

export * from './config.js';
export * from './network.js';
export * from './loss.js';
export { inputGradients, guidedGradients, toGrayscale, minMax, smoothGradGray, gradientMaps, type MapNets, type MapOptions, type Localization } from './localize.js';
export { InputAdapter } from './inputs.js';
export { TeacherCache, planCache, tapShapes, fillCache, type CacheMode } from './cache.js';
export { fitKdad, prepareCache, type KdadNets } from './fit.js';
export { detectionScores, scoreImages } from './score.js';
export { kdadState, loadKdadState, type KdadMeta } from './state.js';
export { kdadAugment, augmentSpecs, type KdadAugmentOptions } from './augment.js';

type Shape3 = readonly [number, number, number];

export class KdadDetector implements Detector, KdadNets {
  readonly method = 'kdad';
  readonly teacher: VGG;
  readonly student: VGG;
  readonly adapter: InputAdapter;
  readonly device: string;
  /** Where the teacher's weights came from ('random' when untrained). */
  readonly teacherWeights: string;
  #fitted = false;

  constructor(readonly config: KdadConfig, imageShape: Shape3, options: CreateOptions = {}) {
    this.adapter = new InputAdapter(config, imageShape);
    this.device = options.device ?? 'cpu';
    // The cloner first: a 'random' teacher re-seeds libtorch's generator with its own seed.
    this.student = buildCloner(config.student);
    try {
      const t = loadTeacher(config.teacher);
      this.teacher = t.model;
      this.teacherWeights = t.weights;
    } catch (e) {
      this.student.dispose();
      throw e;
    }
    if (config.teacher.weights === 'random') {
      process.emitWarning(`kdad: the teacher (${config.teacher.name}) has random weights (model.teacher.weights = 'random'); results are meaningless beyond tests and timing`, 'KdadWarning');
    }
    for (const m of [this.student, this.teacher]) {
      if (config.dtype === 'float64') m.to('float64');
      if (this.device !== 'cpu') m.to(this.device);
    }
  }

  get fitted(): boolean { return this.#fitted; }

  async fit(data: TrainData, ctx: FitContext): Promise<void> {
    await fitKdad(this, data, ctx);
    this.#fitted = true;
  }

  score(images: Tensor): ScoreResult {
    return scoreImages(this, images);
  }

  /** score() with SmoothGrad's standard normal draws supplied (parity tests). */
  scoreWithNoise(images: Tensor, noise: NonNullable<MapOptions['noise']>): ScoreResult {
    return scoreImages(this, images, noise);
  }

  state(): { tensors: Map<string, Tensor>; meta: Record<string, unknown> } {
    if (!this.#fitted) throw new Error('kdad.state: the detector is not fitted (call fit() or load a saved model)');
    return kdadState(this, this.teacherWeights);
  }

  load(tensors: Map<string, Tensor>, meta: Record<string, unknown>): void {
    loadKdadState(this, tensors, meta);
    this.#fitted = true;
  }

  dispose(): void {
    this.student.dispose();
    this.teacher.dispose();
  }
}

export const kdad: MethodDefinition<KdadConfig> = {
  name: 'kdad',
  description: 'KDAD (Salehi et al., CVPR 2021): a small VGG cloner distils a frozen ImageNet VGG16 at four depths; score = cosine + λ·MSE discrepancy, maps = input gradients (gbp/SmoothGrad/vanilla)',
  schema: kdadSchema,
  defaults: KDAD_DEFAULTS,
  inputs: (config) => ({
    mode: 'rgb',
    transforms: kdadTransforms(config),
    ...(augmentationOn(config) ? {
      trainAugment: { module: new URL('./augment.js', import.meta.url).href, export: 'kdadAugment', options: { ...config.augment } },
    } : {}),
  }),
  create(config, imageShape, options) {
    return new KdadDetector(resolveKdadConfig(config), imageShape, options);
  },
  load(config, imageShape, state, options) {
    const d = new KdadDetector(resolveKdadConfig(config), imageShape, options);
    try {
      d.load(state.tensors, state.meta);
    } catch (e) {
      d.dispose();
      throw e;
    }
    return d;
  },
};
