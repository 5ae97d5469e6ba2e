export type { Image, ColourMode } from './types.js';
export { createImage, checkImage, toUint8, fromUint8 } from './types.js';
export {
  decodeImage,
  readImage,
  readMask,
  reducedSize,
  writePng,
  writePngSync,
  encodeImagePng,
  UnreadableImageError,
  type DecodeOptions,
  type ReadMaskOptions,
  type PngSource,
} from './decode.js';
export { decodeBmp, isBmp } from './bmp.js';
export { readImageSize } from './probe.js';
export { encodePng } from './png.js';
export { toGray, toRgb, lumaPil } from './colour.js';
