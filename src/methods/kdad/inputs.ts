// From the pipeline's images to the networks' inputs, and maps back. Image files arrive already
// transformed by the data loader (kdadTransforms via inputs()); the in-memory one-class sets
// (F-MNIST, MNIST, CIFAR-10) arrive as their raw 28×28 / 32×32 arrays in [0, 1], so the detector
// applies the authors' transforms itself: PIL-exact resize of the 8-bit image (torchvision's Resize
// on a PIL image), centre crop, grey → 3 channels (the authors' X.repeat(1, 3, 1, 1)), normalise.
import * as torch from '../../torch/index.js';
import type { Tensor } from '../../torch/index.js';
import { mulberry32 } from '../../data/random.js';
import { applyPipeline, roundHalfEven, type TransformSpec } from '../../data/transforms/index.js';
import { MethodInputError } from '../types.js';
import { inputSide, kdadTransforms, type KdadConfig } from './config.js';

type Shape3 = readonly [number, number, number];

export class InputAdapter {
  readonly mode: 'pipeline' | 'method';
  /** Side of the square images the networks see. */
  readonly side: number;
  readonly #transforms: TransformSpec[];

  constructor(readonly config: KdadConfig, readonly imageShape: Shape3) {
    this.side = inputSide(config);
    const [c, h, w] = imageShape;
    const transformed = c === 3 && h === this.side && w === this.side;
    this.mode = config.preprocessIn === 'auto' ? (transformed ? 'pipeline' : 'method') : config.preprocessIn;
    if (this.mode === 'pipeline' && !transformed) {
      throw new MethodInputError(`kdad: the images are ${imageShape.join('×')}, the networks take 3×${this.side}×${this.side} (model.imageSize ${config.imageSize}${config.cropSize !== null ? `, model.cropSize ${config.cropSize}` : ''}); set model.preprocessIn=method (or auto) to let the method resize them, or fix preprocess.transforms`);
    }
    if (c !== 1 && c !== 3) throw new MethodInputError(`kdad: images must have 1 or 3 channels, got ${c}`);
    const t = kdadTransforms(config);
    // Grey → RGB after the geometric ops and before a per-channel normalisation.
    const geometric = t.filter((s) => s.op !== 'normalize');
    this.#transforms = c === 1 ? [...geometric, { op: 'toRgb' }, ...t.filter((s) => s.op === 'normalize')] : t;
  }

  /** N×3×side×side images in `dtype` on the images' device. */
  prepare(images: Tensor, dtype: 'float32' | 'float64'): Tensor {
    const [n, c, h, w] = images.shape as [number, number, number, number];
    if (c !== this.imageShape[0] || h !== this.imageShape[1] || w !== this.imageShape[2]) {
      throw new MethodInputError(`kdad: expected images N×${this.imageShape.join('×')}, got [${images.shape.join(', ')}]`);
    }
    if (this.mode === 'pipeline') return images.dtype === dtype ? torch.alias(images) : images.to(dtype);
    const src = torch.tidy(() => images.to({ dtype: 'float32', device: 'cpu' }).contiguous().toTypedArray() as Float32Array);
    const per = c * h * w;
    const s = this.side;
    const out = new Float32Array(n * 3 * s * s);
    const rng = mulberry32(0); // unused: the eval transforms have no random op
    for (let i = 0; i < n; i++) {
      const image = { data: src.slice(i * per, (i + 1) * per), channels: c as 1 | 3, height: h, width: w };
      out.set(applyPipeline({ image }, this.#transforms, rng).image.data, i * 3 * s * s);
    }
    return torch.fromTypedArray(out, [n, 3, s, s], { dtype, device: images.device });
  }

  /** N×side×side maps → N×H×W at the images' size (the crop's border replicated, then resized). */
  mapsToImages(maps: Tensor): Tensor {
    if (this.mode === 'pipeline') return torch.alias(maps);
    const [, h, w] = this.imageShape;
    const r = this.config.imageSize;
    return torch.tidy(() => {
      let m = maps.unsqueeze(1);
      const crop = this.config.cropSize;
      if (crop !== null && crop < r) {
        const top = roundHalfEven((r - crop) / 2);
        m = torch.replication_pad2d(m, [top, r - crop - top, top, r - crop - top]);
      }
      if (m.shape[2] !== h || m.shape[3] !== w) m = torch.upsample_bilinear2d(m, [h, w], false, null);
      return m.squeeze(1);
    });
  }
}
