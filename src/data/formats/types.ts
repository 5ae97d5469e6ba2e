/** A stack of images in the layout the models take, plus one class id per image. */
export interface LabeledImages {
  /** uint8 pixels, N×C×H×W, row-major (channel planes, not interleaved). */
  readonly images: Uint8Array;
  /** Class id of each image (dataset-specific, e.g. 0..9). */
  readonly labels: Uint8Array;
  /** [N, C, H, W]. */
  readonly shape: readonly [number, number, number, number];
}
