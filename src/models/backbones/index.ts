export { ResNet, resnet, resnet18, resnet50, wideResnet50_2, isResNetName, RESNET_NAMES, RESNET_LAYERS, type ResNetName, type ResNetLayer, type ResNetOptions } from './resnet.js';
export { weightsInfo, torchHubCheckpointsDir, resolveWeights, fetchWeights, MissingWeightsError, KNOWN_WEIGHTS, type WeightsInfo, type ResolveOptions, type FetchOptions } from './weights.js';
export { loadBackbone, type BackboneSource } from './load.js';
