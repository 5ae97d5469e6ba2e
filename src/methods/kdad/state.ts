// What a fitted KDAD model saves: the cloner's state dict under the authors' key names
// (`features.0.weight`, `features.1.running_mean`, … as their Cloner_<class>_epoch_<e>.pth) and a
// recipe to rebuild the rest. The teacher is not saved: it is the ImageNet file (read again from
// model.teacher.weights / the hub cache at load time) or, for 'random', rebuilt from its seed.
import * as torch from '../../torch/index.js';
import type { Tensor } from '../../torch/index.js';
import type { KdadNets } from './fit.js';

export interface KdadMeta {
  method: 'kdad';
  student: 'A' | 'B';
  teacher: string;
  /** The teacher's weights file, or 'random'. */
  teacherWeights: string;
  teacherRandomSeed: number;
  /** Side of the networks' input and where the transforms ran. */
  inputSide: number;
  preprocessIn: 'pipeline' | 'method';
  [k: string]: unknown;
}

export function kdadState(n: KdadNets, teacherWeights: string): { tensors: Map<string, Tensor>; meta: KdadMeta } {
  const c = n.config;
  return {
    tensors: n.student.stateDict(),
    meta: {
      method: 'kdad', student: c.student, teacher: c.teacher.name, teacherWeights, teacherRandomSeed: c.teacher.randomSeed,
      inputSide: n.adapter.side, preprocessIn: n.adapter.mode,
    },
  };
}

/** Copies a saved cloner into `n.student` (eval mode); errors name the key and the config field. */
export function loadKdadState(n: KdadNets, tensors: Map<string, Tensor>, meta: Record<string, unknown>): void {
  const c = n.config;
  if (meta['student'] !== undefined && meta['student'] !== c.student) {
    throw new Error(`kdad.load: the model was trained with cloner '${String(meta['student'])}', the config says '${c.student}' (model.student)`);
  }
  if (meta['inputSide'] !== undefined && meta['inputSide'] !== n.adapter.side) {
    throw new Error(`kdad.load: the model was trained on ${String(meta['inputSide'])}-pixel inputs, the config gives ${n.adapter.side} (model.imageSize / model.cropSize)`);
  }
  if (![...tensors.keys()].some((k) => k.startsWith('features.'))) {
    throw new Error(`kdad.load: the saved state has no cloner weights (features.*); keys: ${[...tensors.keys()].slice(0, 5).join(', ')}`);
  }
  try {
    torch.tidy(() => n.student.loadStateDict(tensors));
  } catch (e) {
    throw new Error(`kdad.load: the saved cloner does not fit cloner '${c.student}' (model.student): ${(e as Error).message}`);
  }
  n.student.eval();
}
