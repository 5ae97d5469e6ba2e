// torch.nn: `import { nn } from '…/torch/index.js'` then new nn.Conv2d(3, 64, 3, { padding: 1 }),
// nn.functional.interpolate(…) (also nn.F), nn.init.kaimingNormal_(…).
export { Module, zeroGrads, callForward, type LoadResult } from './module.js';
export { Conv2d, ConvTranspose2d, Linear, type Conv2dOptions, type ConvAlgorithm, type ConvTranspose2dOptions, type PaddingMode } from './layers/conv.js';
export { BatchNorm1d, BatchNorm2d, GroupNorm, type BatchNormOptions } from './layers/normalization.js';
export { MaxPool2d, AvgPool2d, AdaptiveAvgPool2d, Upsample, type UpsampleOptions } from './layers/pooling.js';
export { ReLU, LeakyReLU, ELU, GELU, Sigmoid, Tanh, Softmax, Dropout, Dropout2d, Identity, Flatten } from './layers/activation.js';
export { Sequential, ModuleList } from './layers/containers.js';
export * as init from './init.js';
export * as functional from './functional.js';
export * as F from './functional.js';
