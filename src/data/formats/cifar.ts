/**
 * CIFAR-10 readers (https://www.cs.toronto.edu/~kriz/cifar.html).
 *
 * Binary version (`cifar-10-batches-bin/`): `data_batch_1.bin` … `data_batch_5.bin` and
 * `test_batch.bin`, each 10000 records of 3073 bytes: one label byte, then 3072 pixel bytes as
 * three 32×32 planes (R, G, B), row-major. The planes are already C×H×W, so records are copied as is.
 */
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { DatasetError } from '../dataset-error.js';
import type { LabeledImages } from './types.js';

export const CIFAR10_CLASSES = [
  'airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck',
] as const;

const SIDE = 32;
const PIXELS = 3 * SIDE * SIDE;
const RECORD = PIXELS + 1;

export type CifarSplit = 'train' | 'test';

/** File names of one split in the binary version. */
export function cifar10BinaryFiles(split: CifarSplit): string[] {
  return split === 'train' ? [1, 2, 3, 4, 5].map((i) => `data_batch_${i}.bin`) : ['test_batch.bin'];
}

/** File names of one split in the python version. */
export function cifar10PythonFiles(split: CifarSplit): string[] {
  return split === 'train' ? [1, 2, 3, 4, 5].map((i) => `data_batch_${i}`) : ['test_batch'];
}

/** Decodes one binary batch file's content. `name` is used in error messages. */
export function parseCifarBinary(bytes: Uint8Array, name = '<buffer>'): LabeledImages {
  if (bytes.length === 0 || bytes.length % RECORD !== 0) {
    throw new DatasetError(
      'bad-format',
      `${name}: size ${bytes.length} is not a multiple of the 3073-byte CIFAR-10 record; the file is truncated or not a CIFAR-10 binary batch`,
      name,
    );
  }
  const n = bytes.length / RECORD;
  const images = new Uint8Array(n * PIXELS);
  const labels = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const at = i * RECORD;
    const label = bytes[at]!;
    if (label > 9) throw new DatasetError('bad-format', `${name}: record ${i} has label ${label}, outside 0..9`, name);
    labels[i] = label;
    images.set(bytes.subarray(at + 1, at + RECORD), i * PIXELS);
  }
  return { images, labels, shape: [n, 3, SIDE, SIDE] };
}

/** Concatenates image sets of equal C×H×W. */
export function concatLabeledImages(parts: readonly LabeledImages[]): LabeledImages {
  if (parts.length === 0) throw new RangeError('concatLabeledImages needs at least one part');
  const [, c, h, w] = parts[0]!.shape;
  let n = 0;
  for (const p of parts) {
    if (p.shape[1] !== c || p.shape[2] !== h || p.shape[3] !== w) {
      throw new RangeError(`cannot concatenate images of shape [${p.shape.slice(1).join(', ')}] with [${c}, ${h}, ${w}]`);
    }
    n += p.shape[0];
  }
  const images = new Uint8Array(n * c * h * w);
  const labels = new Uint8Array(n);
  let at = 0;
  for (const p of parts) {
    images.set(p.images, at * c * h * w);
    labels.set(p.labels, at);
    at += p.shape[0];
  }
  return { images, labels, shape: [n, c, h, w] };
}

async function isDir(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

/**
 * Finds the folder holding a CIFAR-10 version: `root` itself, or `root/cifar-10-batches-bin`
 * (binary) / `root/cifar-10-batches-py` (python), as the official archives extract.
 * Returns undefined when the version is not there.
 */
export async function findCifar10Dir(root: string, version: 'binary' | 'python'): Promise<string | undefined> {
  const sub = version === 'binary' ? 'cifar-10-batches-bin' : 'cifar-10-batches-py';
  const probe = version === 'binary' ? 'test_batch.bin' : 'test_batch';
  for (const dir of [root, join(root, sub)]) {
    if ((await isDir(dir)) && (await isFile(join(dir, probe)))) return dir;
  }
  return undefined;
}

/** Reads one split of the binary version from `root` (see {@link findCifar10Dir}). */
export async function readCifar10Binary(root: string, split: CifarSplit): Promise<LabeledImages> {
  const dir = await findCifar10Dir(root, 'binary');
  if (dir === undefined) {
    throw new DatasetError(
      'not-found',
      `no CIFAR-10 binary version under ${root}: expected test_batch.bin in it or in ${join(root, 'cifar-10-batches-bin')}; download cifar-10-binary.tar.gz (see DATASET_SOURCES['cifar10-binary'])`,
      root,
    );
  }
  return readCifarBatches(dir, cifar10BinaryFiles(split), parseCifarBinary);
}

/** Reads and parses each batch file of a split, in order, and concatenates them. */
export async function readCifarBatches(dir: string, files: readonly string[], parse: (bytes: Uint8Array, path: string) => LabeledImages): Promise<LabeledImages> {
  const parts: LabeledImages[] = [];
  for (const file of files) {
    const path = join(dir, file);
    let bytes: Uint8Array;
    try {
      bytes = await readFile(path);
    } catch (e) {
      throw new DatasetError('not-found', `cannot read CIFAR-10 batch ${path}: ${(e as Error).message}`, path, { cause: e });
    }
    parts.push(parse(bytes, path));
  }
  return concatLabeledImages(parts);
}
