// Vigil's library API: the same operations as the CLI verbs, typed.
//
//   import { train, predict } from 'vigil';
//   const { runDir, metrics } = await train({ method: 'pixelstats', data: 'synth:./synth/woven' });
//   const { predictions } = await predict(runDir, ['part.png']);
export {
  train, test, predict, readManifest, expandInputs, VIGIL_VERSION, MODEL_FORMAT,
  type TrainOptions, type TrainResult, type TestOptions, type TestResult, type PredictOptions, type PredictResult,
  type Prediction, type RunMetrics, type ModelManifest, type ProgressEvent, type RunHooks,
} from './pipeline/run.js';
export { registerMethod, getMethod, listMethods, loadMethods, type MethodEntry } from './pipeline/registry.js';
export { resolveConfig, defaultConfig, configSchema, parseSet, deepMerge, CONFIGS_DIR, type VigilConfig, type ConfigLayers } from './pipeline/config.js';
export { parseDataSpec, type ParsedSpec, type Preprocessing } from './pipeline/data.js';
export { datasetInfo, type DatasetInfo } from './pipeline/info.js';
export { normalise, quantile, type Normalisation, type ThresholdInfo, type ThresholdRule } from './pipeline/threshold.js';
export { UserError, isUserError } from './pipeline/errors.js';
export { pixelstats, type PixelStatsConfig } from './methods/pixelstats/index.js';
export type { MethodDefinition, Detector, TrainData, FitContext, ScoreResult, ImageBatch, TrainingState } from './methods/types.js';
