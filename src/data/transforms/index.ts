export { resize, outputSize, type Interpolation, type ResizeOptions, type ResizeSize } from './resize.js';
export { centerCrop, randomCrop, crop, horizontalFlip, randomHorizontalFlip, randomCropWindow, roundHalfEven, type CropSize } from './geometry.js';
export { normalize, IMAGENET_MEAN, IMAGENET_STD } from './normalize.js';
export { toGray, toRgb } from '../image/colour.js';
export { applyPipeline, parsePipeline, deterministicPrefix, isRandomOp, type TransformSpec, type Sample } from './pipeline.js';
