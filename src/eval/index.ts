// Public API of the evaluation layer: ranking metrics on typed arrays, no tensors.
export type { BinaryMetrics, OperatingPoint, OperatingPointOptions, ScoreArray } from './ranking.js';
export {
  auroc,
  averagePrecision,
  binaryMetrics,
  f1Max,
  precisionRecallCurve,
  rocCurve,
  tnrAtTpr,
  tprAtFpr,
  type PrCurve,
  type RocCurve,
} from './curves.js';
export { labelComponents, type Components } from './components.js';
export {
  PixelMetricAccumulator,
  aupro,
  pixelMetrics,
  type MaskSet,
  type PixelMetricOptions,
  type PixelMetrics,
  type ScoreMaps,
} from './pixel.js';
export { quantile } from './quantile.js';
