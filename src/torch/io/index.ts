// Checkpoint formats in pure TypeScript: .pth (torch.save zip / legacy / tar), safetensors,
// restricted pickle, zip. No native addon involved.
export type { DType, RawTensor } from './types.js';
export { DTYPE_ITEMSIZE, checkRawTensor, contiguousStrides, isDType, isRawTensor, numelOf, stridedCopy, writeFileAtomic } from './types.js';
export type { ZipEntry, ZipWriteEntry } from './zip.js';
export { ZipReader, buildZip, crc32 } from './zip.js';
export type { GlobalTable, HasSetState, PickleGlobal, PyDict, PyValue, PyWritable, UnpickleOptions, UnpickleResult } from './pickle.js';
export { PickleWriter, PyFloat, PyGlobal, PyTuple, SETSTATE, basicGlobals, numpyGlobals, pickleDumps, unpickle, unpickleAt } from './pickle.js';
export type { CheckpointFormat, LoadStateDictOptions, PthValue, ReadPthOptions } from './pth.js';
export { STATE_DICT_KEYS, loadStateDictFile, readPth, serializePth, sniffCheckpoint, writePth } from './pth.js';
export type { SafetensorsFile } from './safetensors.js';
export { readSafetensors, serializeSafetensors, writeSafetensors } from './safetensors.js';
