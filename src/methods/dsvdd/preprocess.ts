// The input preprocessing a preset expects, as one function over uint8 N×C×H×W images.
import { DSVDD_MIN_MAX, dsvddPreprocess, uint8ToUnitFloat } from '../../data/dsvdd-preprocess.js';
import type { OneClassDatasetName } from '../../data/oneclass.js';
import type { DsvddPreprocessing } from './config.js';

export type ImagePreprocessor = (set: { images: Uint8Array; shape: readonly [number, number, number, number] }) => Float32Array;

/**
 * 'gcn-l1-minmax': ToTensor → GCN-L1 → (x − min) / (max − min) with the constants of `normalClass`
 * (DSVDD_MIN_MAX; the same constants for train and test images, as the authors do).
 * 'unit': ToTensor only.
 */
export function preprocessFor(dataset: OneClassDatasetName, normalClass: number, mode: DsvddPreprocessing): ImagePreprocessor {
  if (mode === 'unit') return (set) => uint8ToUnitFloat(set.images);
  if (mode !== 'gcn-l1-minmax') throw new Error(`preprocessFor: unknown preprocessing ${JSON.stringify(mode)}; use 'gcn-l1-minmax' or 'unit'`);
  const table = DSVDD_MIN_MAX[dataset];
  const range = table?.[normalClass];
  if (!range) throw new Error(`preprocessFor: no min-max constants for ${dataset} class ${normalClass}; normalClass must be 0..9`);
  return (set) => dsvddPreprocess({ images: set.images, shape: [...set.shape] as [number, number, number, number] }, range);
}
