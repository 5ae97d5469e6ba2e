// torch.optim: optimisers and learning-rate schedules.
export { Optimizer, type ParamGroup, type ParamsInput, type GroupInput, type ParamState, type OptimizerStateDict } from './optimizer.js';
export { SGD, type SGDGroup, type SGDOptions } from './sgd.js';
export { Adam, AdamW, type AdamGroup, type AdamOptions } from './adam.js';
export { LRScheduler, StepLR, MultiStepLR, CosineAnnealingLR, type SchedulerState } from './lr_scheduler.js';
export * as lrScheduler from './lr_scheduler.js';
