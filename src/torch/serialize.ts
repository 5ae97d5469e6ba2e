// Tensors ↔ files: our checkpoints are safetensors; torchvision/PyTorch `.pth` files are read (and
// written) by the pure-TypeScript readers in io/, which never run pickled code.
import { native } from './native.js';
import { Tensor } from './tensor.js';
import { dtypeCode } from './dtype.js';
import { readSafetensors, writeSafetensors, loadStateDictFile, writePth, sniffCheckpoint, type RawTensor, type LoadStateDictOptions } from './io/index.js';
import { closeSync, openSync, readSync } from 'node:fs';

/** A contiguous CPU copy of the tensor's bytes. */
export function toRaw(t: Tensor): RawTensor {
  return { dtype: t.dtype, shape: t.shape, data: new Uint8Array(native.toBuffer(t.native)) };
}

/** A new tensor holding a copy of a raw record's bytes. */
export function fromRaw(r: RawTensor, device?: string): Tensor {
  return new Tensor(native.fromBuffer(r.data, dtypeCode(r.dtype), r.shape, device));
}

export type TensorMap = Map<string, Tensor>;

function toRawMap(tensors: ReadonlyMap<string, Tensor> | Record<string, Tensor>): Map<string, RawTensor> {
  const entries = tensors instanceof Map ? [...tensors.entries()] : Object.entries(tensors);
  return new Map(entries.map(([k, t]) => [k, toRaw(t)]));
}

/** Writes tensors as safetensors (atomically), with string metadata in `__metadata__`. */
export function saveSafetensors(path: string, tensors: ReadonlyMap<string, Tensor> | Record<string, Tensor>, metadata?: Record<string, string>): void {
  writeSafetensors(path, toRawMap(tensors), metadata);
}

export function loadSafetensors(path: string, device?: string): { tensors: TensorMap; metadata: Record<string, string> } {
  const f = readSafetensors(path);
  return { tensors: new Map([...f.tensors].map(([k, r]) => [k, fromRaw(r, device)])), metadata: f.metadata };
}

/** Writes a state dict as a `.pth` file that `torch.load(path, weights_only=True)` reads. */
export function savePth(path: string, tensors: ReadonlyMap<string, Tensor> | Record<string, Tensor>): void {
  writePth(path, toRawMap(tensors));
}

/** Reads the state dict in a `.pth` file (zip, legacy or tar format) without running any pickled code. */
export function loadPth(path: string, options: LoadStateDictOptions & { device?: string } = {}): TensorMap {
  const raw = loadStateDictFile(path, options);
  return new Map([...raw].map(([k, r]) => [k, fromRaw(r, options.device)]));
}

/** Loads a state dict from safetensors or `.pth` (zip, legacy or tar), chosen by the file's first bytes. */
export function loadStateDict(path: string, device?: string): TensorMap {
  const head = new Uint8Array(512);
  const fd = openSync(path, 'r');
  let n: number;
  try { n = readSync(fd, head, 0, head.length, 0); } finally { closeSync(fd); }
  const kind = sniffCheckpoint(head.subarray(0, n));
  if (kind === 'safetensors') return loadSafetensors(path, device).tensors;
  if (kind === null) throw new Error(`${path}: not a checkpoint (neither safetensors nor a PyTorch .pth file)`);
  return loadPth(path, { device });
}
