// Anomaly maps as patchcore-inspection's RescaleSegmentor: patch scores resized (bilinear,
// align_corners=False) to the input size, then scipy.ndimage.gaussian_filter(sigma=4)
// (components/gaussian.ts).
import * as torch from '../../torch/index.js';
import type { Tensor } from '../../torch/index.js';
import { gaussianFilter2d } from '../components/gaussian.js';

export { gaussianFilter2d, gaussianKernel1d, reflectIndices } from '../components/gaussian.js';

/** N×h×w patch scores → N×H×W smoothed maps. */
export function anomalyMaps(patchScores: Tensor, size: [number, number], sigma = 4): Tensor {
  return torch.tidy(() => {
    const up = torch.upsample_bilinear2d(patchScores.unsqueeze(1), size, false, null).squeeze(1);
    return gaussianFilter2d(up, sigma);
  });
}
