/**
 * Deep SVDD input preprocessing (Ruff et al., ICML 2018), as in the authors' PyTorch code
 * lukasruff/Deep-SVDD-PyTorch @ 1901612 (`src/datasets/preprocessing.py`, `mnist.py`, `cifar10.py`):
 *
 *   ToTensor (x / 255, float32) → global contrast normalisation with the L1 scale
 *   → Normalize([min], [max − min]) with per-normal-class constants, mapping the training data to [0, 1].
 *
 * All functions are pure and work on Float32Array; float32 rounding follows torch so results
 * match the reference to the last bit or two.
 */
import type { LabeledImages } from './formats/types.js';
import { DatasetError } from './dataset-error.js';

export type GcnScale = 'l1' | 'l2';

/**
 * Global contrast normalisation of ONE image (all C·H·W values together), like the authors'
 * `global_contrast_normalization(x, scale)`:
 *
 *   x ← x − mean(x);   l1: s = mean(|x|);   l2: s = sqrt(Σ x²) / n   (n, not √n, as in their code);   x ← x / s
 *
 * A constant image (s = 0) becomes all zeros, its centred values: the reference divides 0 by 0,
 * and the NaN image would make every score and metric of a run NaN (a blank frame in a folder is
 * enough). Sums are accumulated in float64, each stored value is rounded to float32.
 */
export function globalContrastNormalization(x: Float32Array, scale: GcnScale, out: Float32Array = new Float32Array(x.length)): Float32Array {
  const n = x.length;
  if (out.length !== n) throw new RangeError(`out has ${out.length} values, x has ${n}`);
  let sum = 0;
  for (let i = 0; i < n; i++) sum += x[i]!;
  const mean = Math.fround(sum / n);
  let acc = 0;
  for (let i = 0; i < n; i++) {
    const c = Math.fround(x[i]! - mean);
    out[i] = c;
    acc += scale === 'l1' ? Math.abs(c) : c * c;
  }
  const s = scale === 'l1' ? Math.fround(acc / n) : Math.fround(Math.fround(Math.sqrt(acc)) / n);
  if (s === 0) return out;
  for (let i = 0; i < n; i++) out[i] = out[i]! / s;
  return out;
}

/** GCN applied to each of the `count` images packed in `x` (count × perImage values). */
export function globalContrastNormalizationBatch(x: Float32Array, count: number, scale: GcnScale): Float32Array {
  if (count <= 0 || x.length % count !== 0) throw new RangeError(`${x.length} values cannot be split into ${count} images`);
  const per = x.length / count;
  const out = new Float32Array(x.length);
  for (let i = 0; i < count; i++) {
    globalContrastNormalization(x.subarray(i * per, (i + 1) * per), scale, out.subarray(i * per, (i + 1) * per));
  }
  return out;
}

/** torchvision's ToTensor on uint8 data: v / 255 in float32. Layout is kept (N×C×H×W in, N×C×H×W out). */
export function uint8ToUnitFloat(images: Uint8Array): Float32Array {
  const out = new Float32Array(images.length);
  for (let i = 0; i < images.length; i++) out[i] = images[i]! / 255;
  return out;
}

export interface MinMax {
  readonly min: number;
  readonly max: number;
}

/**
 * Pre-computed (min, max) after GCN-L1 of the training images of each normal class, copied from
 * lukasruff/Deep-SVDD-PyTorch @ 1901612: `src/datasets/mnist.py` and `src/datasets/cifar10.py`
 * (`min_max` lists; also transcribed in shared/reference/numbers.md §1.4). Index = normal class.
 * The authors ship no Fashion-MNIST constants: the `fashion-mnist` row is NOT theirs; Vigil computed
 * it with {@link computeGcnMinMax} on the Fashion-MNIST training set (Debian's `dataset-fashion-mnist`
 * copy), and test/data/dsvdd-preprocess.test.ts recomputes it with numpy.
 *
 * OpenOOD's DSVDD config uses mean −31.7975 / std 42.8907 for CIFAR-10 class 3, i.e. 3·min and
 * max − 3·min of these constants — a transcription error (openood-ad.md §2.2), not reproduced here.
 */
export const DSVDD_MIN_MAX: Readonly<Record<'mnist' | 'fashion-mnist' | 'cifar10', readonly MinMax[]>> = {
  mnist: [
    { min: -0.8826567065619495, max: 9.001545489292527 },
    { min: -0.6661464580883915, max: 20.108062262467364 },
    { min: -0.7820454743183202, max: 11.665100841080346 },
    { min: -0.7645772083211267, max: 12.895051191467457 },
    { min: -0.7253923114302238, max: 12.683235701611533 },
    { min: -0.7698501867861425, max: 13.103278415430502 },
    { min: -0.778418217980696, max: 10.457837397569108 },
    { min: -0.7129780970522351, max: 12.057777597673047 },
    { min: -0.8280402650205075, max: 10.581538445782988 },
    { min: -0.7369959242164307, max: 10.697039838804978 },
  ],
  'fashion-mnist': [
    { min: -2.681241274059402, max: 24.85430362654076 },
    { min: -2.5778569900667065, max: 11.169790850461185 },
    { min: -2.808170619096415, max: 19.1335447861101 },
    { min: -1.9533650940858016, max: 18.65672445982938 },
    { min: -2.610385595521578, max: 19.166683371755035 },
    { min: -1.2358520579808334, max: 28.463106120090533 },
    { min: -3.251605706467244, max: 24.19683257044134 },
    { min: -1.0814440191332957, max: 16.878819333852142 },
    { min: -3.6560979879310835, max: 11.350275327431575 },
    { min: -1.3859289039356704, max: 11.426653010271954 },
  ],
  cifar10: [
    { min: -28.94083453598571, max: 13.802961825439636 },
    { min: -6.681770233365245, max: 9.158067708230273 },
    { min: -34.924463588638204, max: 14.419298165027628 },
    { min: -10.599172931391799, max: 11.093187820377565 },
    { min: -11.945022995801637, max: 10.628045447867583 },
    { min: -9.691969487694928, max: 8.948326776180823 },
    { min: -9.174940012342555, max: 13.847014686472365 },
    { min: -6.876682005899029, max: 12.282371383343161 },
    { min: -15.603507135507172, max: 15.2464923804279 },
    { min: -6.132882973622672, max: 8.046098172351265 },
  ],
};

/**
 * Computes the min-max constants the way the authors did: GCN (scale `l1` by default) of every
 * given image, then the smallest and largest value over all images and pixels. Pass the training
 * images of the normal class only. The published constants are float64 values that are not
 * float32-representable, so the authors computed in float64; so does this function
 * (the original Theano code's `rescale_to_unit_interval` likewise takes np.min/np.max of the GCN'd train set).
 */
export function computeGcnMinMax(images: Uint8Array, count: number, scale: GcnScale = 'l1'): MinMax {
  if (count <= 0 || images.length % count !== 0) throw new RangeError(`${images.length} values cannot be split into ${count} images`);
  const per = images.length / count;
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < count; i++) {
    const base = i * per;
    let sum = 0;
    for (let k = 0; k < per; k++) sum += images[base + k]! / 255;
    const mean = sum / per;
    let acc = 0;
    let lo = Infinity;
    let hi = -Infinity;
    for (let k = 0; k < per; k++) {
      const c = images[base + k]! / 255 - mean;
      acc += scale === 'l1' ? Math.abs(c) : c * c;
      if (c < lo) lo = c;
      if (c > hi) hi = c;
    }
    const s = scale === 'l1' ? acc / per : Math.sqrt(acc) / per;
    // A constant image (s = 0) is all zeros after GCN and does not widen the range; otherwise the
    // extremes of the scaled image are the scaled extremes.
    if (s === 0) {
      if (0 < min) min = 0;
      if (0 > max) max = 0;
      continue;
    }
    if (lo / s < min) min = lo / s;
    if (hi / s > max) max = hi / s;
  }
  return { min, max };
}

/**
 * torchvision `Normalize([min], [max − min])`: (x − min) / (max − min), with both constants
 * rounded to float32 first, as torch does. In place when `out === x`.
 */
export function minMaxScale(x: Float32Array, range: MinMax, out: Float32Array = new Float32Array(x.length)): Float32Array {
  const lo = Math.fround(range.min);
  const width = Math.fround(range.max - range.min);
  for (let i = 0; i < x.length; i++) out[i] = Math.fround(x[i]! - lo) / width;
  return out;
}

/**
 * The full Deep SVDD input pipeline for a stack of uint8 images: ToTensor, GCN-L1, min-max with
 * `range` (e.g. `DSVDD_MIN_MAX.cifar10[normalClass]`). Returns N×C×H×W float32.
 */
export function dsvddPreprocess(set: Pick<LabeledImages, 'images' | 'shape'>, range: MinMax): Float32Array {
  const n = set.shape[0];
  if (set.images.length !== set.shape.reduce((a, b) => a * b, 1)) {
    throw new DatasetError('bad-option', `images hold ${set.images.length} values but shape is [${set.shape.join(', ')}]`);
  }
  const x = globalContrastNormalizationBatch(uint8ToUnitFloat(set.images), n, 'l1');
  return minMaxScale(x, range, x);
}
