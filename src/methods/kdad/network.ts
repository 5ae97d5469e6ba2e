// KDAD's two networks (Salehi et al., "Multiresolution Knowledge Distillation for Anomaly
// Detection", CVPR 2021; authors' models/network.py):
//   source (teacher): torchvision VGG16 `features`, ImageNet weights, frozen; 13 outputs at the
//     features indices 1, 4, 6, 9, 11, 13, 16, 18, 20, 23, 25, 27, 30;
//   cloner (student): a VGG of config 'B' (or 'A', VGG16-sized), 3×3 convs without bias,
//     Xavier-uniform weights, BatchNorm only where the next config entry is not 'M'; its 13 outputs
//     at the module indices 2, 5, 8, …, 38, which match the teacher's output for output.
// Both configs have the same layer pattern as VGG16, so output k of either network has the
// teacher's spatial size; the loss uses outputs 3, 6, 9, 12 (the four pools after pool1), the
// score 6, 9, 12.
import * as torch from '../../torch/index.js';
import type { Tensor } from '../../torch/index.js';
import { loadBackbone, VGG, type VggConfig } from '../../models/backbones/index.js';
import { MethodInputError } from '../types.js';
import type { KdadConfig } from './config.js';

export const TEACHER_TAPS = ['1', '4', '6', '9', '11', '13', '16', '18', '20', '23', '25', '27', '30'] as const;
export const STUDENT_TAPS = ['2', '5', '8', '11', '14', '17', '20', '23', '26', '29', '32', '35', '38'] as const;

/** Outputs (0-based, of the 13) in the training loss. */
export const LOSS_OUTPUTS = [3, 6, 9, 12] as const;
/** Outputs in the test score and the gradient maps (output 3 is left out at test time). */
export const SCORE_OUTPUTS = [6, 9, 12] as const;

/** models/network.py `cfg`: 'A' is VGG16's layout; 'B' keeps each stage's last width, 16 elsewhere. */
export const CLONER_CONFIGS: Record<'A' | 'B', VggConfig> = {
  A: [64, 64, 'M', 128, 128, 'M', 256, 256, 256, 'M', 512, 512, 512, 'M', 512, 512, 512, 'M'],
  B: [16, 16, 'M', 16, 128, 'M', 16, 16, 256, 'M', 16, 16, 512, 'M', 16, 16, 512, 'M'],
};

export function teacherTaps(outputs: readonly number[]): string[] {
  return outputs.map((k) => TEACHER_TAPS[k]!);
}

export function studentTaps(outputs: readonly number[]): string[] {
  return outputs.map((k) => STUDENT_TAPS[k]!);
}

/** A fresh cloner in train mode, initialised from libtorch's global generator (seed it first). */
export function buildCloner(kind: 'A' | 'B'): VGG {
  return new VGG(CLONER_CONFIGS[kind], { batchNorm: 'notBeforePool', bias: false, init: 'xavierUniform', name: `cloner-${kind}` });
}

/**
 * The frozen teacher. Missing ImageNet weights raise PatchCore's MissingWeightsError (file, folders
 * searched, fetch command, URL) naming model.teacher.weights; a file that is not VGG16 raises a
 * MethodInputError naming the offending keys.
 */
export function loadTeacher(t: KdadConfig['teacher']): { model: VGG; weights: string } {
  try {
    const { model, weights } = loadBackbone({ name: t.name, weights: t.weights, randomSeed: t.randomSeed, fuse: false });
    return { model, weights };
  } catch (e) {
    const err = e as Error;
    err.message = err.message.replaceAll('model.backbone.weights', 'model.teacher.weights');
    if (err.name === 'MissingWeightsError') throw err;
    if (/does not exist|is not a file|not .* weights|not a checkpoint/.test(err.message)) throw new MethodInputError(`kdad teacher: ${err.message}`);
    throw err;
  }
}

/** Outputs of `taps`, in order; `grad` records autograd (student training, input gradients). */
export function forwardTaps(net: VGG, x: Tensor, taps: readonly string[], grad: boolean): Tensor[] {
  const m = net.forward(x, taps, { grad });
  return taps.map((t) => m.get(t)!);
}

/** Casts images to the networks' dtype (a no-op handle when it already matches). */
export function asDtype(x: Tensor, dtype: 'float32' | 'float64'): Tensor {
  return x.dtype === dtype ? torch.alias(x) : x.to(dtype);
}
