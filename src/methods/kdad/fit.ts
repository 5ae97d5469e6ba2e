// KDAD training (authors' train.py) on the shared trainer: Adam(lr) over the cloner's parameters
// only, no weight decay, no schedule; per batch the loss of loss.ts between the cloner's and the
// teacher's outputs 3, 6, 9, 12; the cloner in train mode (batch statistics), the teacher frozen.
// The authors' loop runs `range(num_epochs + 1)` epochs but evaluates and checkpoints at epoch
// indices that are multiples of 10 / 50, so their reported models (epoch 200 of a 201-epoch config)
// have trained `num_epochs` epochs: model.train.epochs is that number.
//
// The smart path (cache.ts): without augmentation the teacher's outputs are computed once per
// image before the first epoch, and each step runs the cloner alone.
import type { Tensor } from '../../torch/index.js';
import type { VGG } from '../../models/backbones/index.js';
import { stagesToRun, trainStage } from '../components/index.js';
import type { FitContext, ImageBatch, TrainData } from '../types.js';
import { augmentationOn, type KdadConfig } from './config.js';
import { fillCache, planCache, tapShapes, TeacherCache } from './cache.js';
import type { InputAdapter } from './inputs.js';
import { kdLoss } from './loss.js';
import { forwardTaps, LOSS_OUTPUTS, studentTaps, teacherTaps } from './network.js';

export interface KdadNets {
  config: KdadConfig;
  teacher: VGG;
  student: VGG;
  adapter: InputAdapter;
  device: string;
}

const MB = 2 ** 20;

/** The images a step trains on: the augmented ones when augmentation is on. */
function trainingImages(b: ImageBatch, augment: boolean): Tensor {
  if (!augment) return b.images;
  const a = b.extra?.['augmented'];
  if (!a) throw new Error('kdad: augmentation is on (model.augment) but the batch has no augmented images; the training data must run the method\'s trainAugment (the pipeline does)');
  return a;
}

/** Builds the teacher cache as configured, or returns null (teacher every step); logs the choice. */
export async function prepareCache(n: KdadNets, data: TrainData, ctx: FitContext): Promise<TeacherCache | null> {
  const c = n.config;
  const taps = teacherTaps(LOSS_OUTPUTS);
  const shapes = tapShapes(n.teacher, taps, n.adapter.side);
  const per = shapes.reduce((a, [ch, h, w]) => a + ch * h * w, 0);
  const bytes = data.size * per * (c.featureCacheDtype === 'float16' ? 2 : 4);
  const plan = planCache(c, bytes, n.device, augmentationOn(c));
  if (!plan.mode) {
    ctx.log(`kdad: the teacher runs every step (${plan.why})`);
    return null;
  }
  const cache = new TeacherCache(plan.mode, data.size, shapes, c.featureCacheDtype, n.device, c.featureCacheDir);
  ctx.log(`kdad: teacher outputs cached ${plan.mode === 'memory' ? 'in memory' : 'on disk'}, ${(bytes / MB).toFixed(1)} MB ${c.featureCacheDtype} (${data.size} images × ${per} values; ${plan.why})`);
  const t0 = performance.now();
  await fillCache(cache, data, { teacher: n.teacher, taps, shapes, prepare: (x) => n.adapter.prepare(x, c.dtype), batchSize: c.train.batchSize }, ctx);
  ctx.log(`kdad: teacher cache filled in ${((performance.now() - t0) / 1000).toFixed(2)} s`);
  return cache;
}

export async function fitKdad(n: KdadNets, data: TrainData, ctx: FitContext): Promise<void> {
  stagesToRun(ctx, 'kdad', ['train']); // rejects a checkpoint of another method's stage
  const c = n.config;
  const augment = augmentationOn(c);
  const tTaps = teacherTaps(LOSS_OUTPUTS);
  const sTaps = studentTaps(LOSS_OUTPUTS);
  const cache = await prepareCache(n, data, ctx);
  try {
    await trainStage({
      name: 'train',
      epochs: c.train.epochs,
      batchSize: c.train.batchSize,
      modules: { student: n.student },
      optimizer: { type: 'adam', lr: c.train.lr },
      augment,
      step: (b) => {
        const x = n.adapter.prepare(trainingImages(b, augment), c.dtype);
        const t = cache && b.indices ? cache.get(b.indices, b.images, c.dtype) : forwardTaps(n.teacher, x, tTaps, false);
        const s = forwardTaps(n.student, x, sTaps, true);
        const { loss, direction, mse } = kdLoss(s, t, c);
        return { loss, parts: { direction, mse } };
      },
    }, data, ctx);
  } finally {
    cache?.dispose();
  }
}
