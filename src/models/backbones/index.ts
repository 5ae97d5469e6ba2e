export type { FeatureExtractor, ForwardOptions } from './types.js';
export { Backbone, fold, type Folded } from './backbone.js';
export { ResNet, resnet, resnet18, resnet50, wideResnet50_2, isResNetName, RESNET_NAMES, RESNET_LAYERS, type ResNetName, type ResNetLayer, type ResNetOptions } from './resnet.js';
export { VGG, vgg, isVggName, VGG_NAMES, VGG_CONFIGS, type VggName, type VggConfig, type VggOptions } from './vgg.js';
export { BACKBONE_NAMES, isBackboneName, createBackbone, backboneEntry, type BackboneName, type BackboneFor, type BackboneEntry } from './registry.js';
export { weightsInfo, torchHubCheckpointsDir, resolveWeights, fetchWeights, MissingWeightsError, KNOWN_WEIGHTS, type WeightsInfo, type ResolveOptions, type FetchOptions } from './weights.js';
export { loadBackbone, type BackboneSource, type LoadedBackbone } from './load.js';
