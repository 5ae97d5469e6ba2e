/**
 * CIFAR-10 python version (`cifar-10-batches-py/`): `data_batch_1` … `data_batch_5`, `test_batch`,
 * each a Python 2 pickle of a dict with `data` (uint8 numpy array, N×3072, R/G/B planes) and
 * `labels` (list of ints). Read with the restricted unpickler: numpy arrays are allowed, nothing
 * else is imported or run.
 */
import { unpickle, isRawTensor, type PyValue } from '../../torch/io/index.js';
import { DatasetError } from '../dataset-error.js';
import { cifar10PythonFiles, findCifar10Dir, readCifar10Binary, readCifarBatches, type CifarSplit } from './cifar.js';
import type { LabeledImages } from './types.js';

/** dict lookup that accepts a str key (Python 2 files read as latin1) or a bytes key (files re-saved by Python 3). */
function field(dict: Map<PyValue, PyValue>, name: string): PyValue | undefined {
  if (dict.has(name)) return dict.get(name);
  for (const [k, v] of dict) {
    if (k instanceof Uint8Array && Buffer.from(k).toString('latin1') === name) return v;
  }
  return undefined;
}

/** Decodes one python-version batch file's content. `name` is used in error messages. */
export function parseCifarPython(bytes: Uint8Array, name = '<buffer>'): LabeledImages {
  let value: PyValue;
  try {
    value = unpickle(bytes, { allow: 'numpy', source: name });
  } catch (e) {
    throw new DatasetError('bad-format', `${name}: not a readable CIFAR-10 python batch: ${(e as Error).message}`, name, { cause: e });
  }
  if (!(value instanceof Map)) throw new DatasetError('bad-format', `${name}: expected a pickled dict with 'data' and 'labels'`, name);
  const data = field(value, 'data');
  const labels = field(value, 'labels');
  if (!isRawTensor(data) || data.dtype !== 'uint8' || data.shape.length !== 2 || data.shape[1] !== 3072) {
    throw new DatasetError('bad-format', `${name}: 'data' must be a uint8 array of shape [N, 3072]`, name);
  }
  const n = data.shape[0]!;
  if (!Array.isArray(labels) || labels.length !== n) {
    throw new DatasetError('bad-format', `${name}: 'labels' must be a list of ${n} class ids`, name);
  }
  const out = new Uint8Array(n);
  labels.forEach((l, i) => {
    if (typeof l !== 'number' || !Number.isInteger(l) || l < 0 || l > 9) {
      throw new DatasetError('bad-format', `${name}: label ${i} is ${String(l)}, outside 0..9`, name);
    }
    out[i] = l;
  });
  return { images: new Uint8Array(data.data), labels: out, shape: [n, 3, 32, 32] };
}

/** Reads one split of the python version from `root` (the folder holding `cifar-10-batches-py`, or that folder). */
export async function readCifar10Python(root: string, split: CifarSplit): Promise<LabeledImages> {
  const dir = await findCifar10Dir(root, 'python');
  if (dir === undefined) {
    throw new DatasetError(
      'not-found',
      `no CIFAR-10 under ${root}: expected cifar-10-batches-bin/test_batch.bin or cifar-10-batches-py/test_batch (in it or below it); fetch one with fetchDataset('cifar10-binary', root)`,
      root,
    );
  }
  return readCifarBatches(dir, cifar10PythonFiles(split), parseCifarPython);
}

/** Reads CIFAR-10 from `root`, preferring the binary version and falling back to the python one. */
export async function readCifar10(root: string, split: CifarSplit): Promise<LabeledImages> {
  if ((await findCifar10Dir(root, 'binary')) !== undefined) return readCifar10Binary(root, split);
  return readCifar10Python(root, split);
}
