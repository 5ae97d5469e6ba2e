// The tensor API: `import * as torch from './torch/index.js'` then torch.conv2d(x, w, { padding: 1 }).
export { Tensor, type BackwardOptions } from './tensor.js';
export * from './ops.generated.js';
export { tensor, fromTypedArray, type CreateOptions } from './creation.js';
export { tidy, keep, dispose } from './scope.js';
export { memory, resetPeakMemory, emptyCache, setCacheLimit, manualSeed, setNumThreads, getNumThreads, backendInfo, cudaAvailable, type MemoryInfo } from './engine.js';
export { noGrad, enableGrad, isGradEnabled, setGradEnabled, autocast, type AutocastDtype, type AutocastOptions } from './autograd.js';
export * as autograd from './autograd.js';
export { DTYPES, itemSize, isFloatingPoint, type DType, type MemoryFormat, type AnyTypedArray } from './dtype.js';
export { toRaw, fromRaw, saveSafetensors, loadSafetensors, savePth, loadPth, loadStateDict, type TensorMap } from './serialize.js';
export { TorchWorker, reportProgress, type TorchWorkerOptions } from './worker.js';
export * as nn from './nn/index.js';
export * as optim from './optim/index.js';
