// Vigil's library API: the same operations as the CLI verbs, typed.
//
//   import { train, predict } from 'vigil';
//   const { runDir, metrics } = await train({ method: 'pixelstats', data: 'synth:./synth/woven' });
//   const { predictions } = await predict(runDir, ['part.png']);
export { train, type TrainOptions, type TrainResult } from './pipeline/train.js';
export { test, type TestOptions, type TestResult } from './pipeline/test.js';
export { predict, Predictor, type PredictOptions, type PredictResult, type Prediction, type ImagePrediction, type Verdict } from './pipeline/predict.js';
export { readManifest, readRun, type Run } from './pipeline/run-dir.js';
export { expandInputs } from './pipeline/inputs.js';
export { VIGIL_VERSION, MODEL_FORMAT } from './pipeline/version.js';
export type { RunMetrics, ModelManifest, ProgressEvent, RunHooks } from './pipeline/types.js';
export { registerMethod, getMethod, listMethods, loadMethods, type AnyMethod } from './pipeline/registry.js';
export { resolveConfig, rootSchema, modelSchemaOf, parseWith, parseSet, deepMerge, CONFIGS_DIR, type VigilConfig, type ConfigLayers, type ResolvedConfig } from './pipeline/config.js';
export { parseDataSpec, type ParsedSpec, type Preprocessing } from './pipeline/data.js';
export { datasetInfo, type DatasetInfo } from './pipeline/info.js';
export { normalise, quantile, type Normalisation, type ThresholdInfo, type ThresholdRule } from './pipeline/threshold.js';
export { UserError, ConfigError, InterruptedError, isUserError, type ConfigIssue } from './pipeline/errors.js';
export { pixelstats, type PixelStatsConfig } from './methods/pixelstats/index.js';
export { MethodInputError } from './methods/types.js';
export * as components from './methods/components/index.js';
export type { AugmentInput, AugmentContext, AugmentOutput, AugmentFn } from './pipeline/augment.js';
export type { MethodDefinition, MethodInputs, TrainAugmentation, CreateOptions, Detector, TrainData, FitContext, ScoreResult, ImageBatch, TrainingState } from './methods/types.js';
