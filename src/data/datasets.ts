// Barrel of the dataset layer: file formats, one-class benchmarks, MVTec AD / Folder sample
// lists, Deep SVDD preprocessing, downloads. (Image decoding and transforms are exported elsewhere.)
export { DatasetError, type DatasetErrorCode } from './dataset-error.js';
export type { LabeledImages } from './formats/types.js';
export { encodeIdx, isGzip, parseIdx, readIdx, readIdxImages, readIdxLabels, type IdxArray, type IdxDtype } from './formats/idx.js';
export {
  CIFAR10_CLASSES,
  cifar10BinaryFiles,
  cifar10PythonFiles,
  concatLabeledImages,
  findCifar10Dir,
  parseCifarBinary,
  readCifar10Binary,
  type CifarSplit,
} from './formats/cifar.js';
export { parseCifarPython, readCifar10, readCifar10Python } from './formats/cifar-python.js';
export {
  FASHION_MNIST_CLASSES,
  FASHION_MNIST_DEFAULT_ROOT,
  loadOneClass,
  makeOneClassSplit,
  readClassificationSplit,
  readMnistLike,
  type OneClassDataset,
  type OneClassDatasetName,
  type OneClassOptions,
  type OneClassSubset,
} from './oneclass.js';
export {
  DSVDD_MIN_MAX,
  computeGcnMinMax,
  dsvddPreprocess,
  globalContrastNormalization,
  globalContrastNormalizationBatch,
  minMaxScale,
  uint8ToUnitFloat,
  type GcnScale,
  type MinMax,
} from './dsvdd-preprocess.js';
export { DEFAULT_IMAGE_EXTENSIONS, type AnomalySample } from './samples.js';
export { MVTEC_CATEGORIES, listMvtecCategories, loadMvtec, type MvtecCategory, type MvtecDataset, type MvtecOptions } from './mvtec.js';
export { loadFolder, type FolderDataset, type FolderOptions } from './folder.js';
export { download, hashFile, type DownloadOptions, type DownloadProgress, type DownloadResult } from './download.js';
export { extractArchive, extractTarStream, type ExtractResult } from './extract.js';
export { DATASET_SOURCES, fetchDataset, type DatasetSource, type DatasetSourceId, type FetchOptions, type SourceFile } from './sources.js';
