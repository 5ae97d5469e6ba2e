// Building blocks shared by the methods: the resumable trainer and its optimisers and schedules,
// the scipy-style Gaussian smoothing of maps.
export { trainStage, stagesToRun, type Stage, type StageState, type StepInfo, type StepResult } from './trainer.js';
export {
  buildOptimizer, buildSchedule, type AdamConfig, type SgdConfig, type OptimizerConfig, type MultiStepConfig, type ParamGroupInput,
} from './optimizers.js';
export { gaussianFilter2d, gaussianKernel1d, reflectIndices } from './gaussian.js';
