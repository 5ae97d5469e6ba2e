/**
 * A decoded image in CHW layout with values in [0, 1] (ToTensor scaling: 8-bit / 255, 16-bit / 65535).
 * After `normalize` the values are no longer in [0, 1]; the layout stays CHW.
 */
export interface Image {
  data: Float32Array;
  channels: 1 | 3;
  height: number;
  width: number;
}

export type ColourMode = 'rgb' | 'gray';

/** Allocates a zero image. */
export function createImage(channels: 1 | 3, height: number, width: number): Image {
  checkSize(height, width, 'createImage');
  return { data: new Float32Array(channels * height * width), channels, height, width };
}

export function checkSize(height: number, width: number, where: string): void {
  if (!Number.isInteger(height) || !Number.isInteger(width) || height <= 0 || width <= 0) {
    throw new Error(`${where}: image size must be positive integers, got ${height}x${width}`);
  }
}

/** Throws when `img` is not a consistent Image (wrong channel count or data length). */
export function checkImage(img: Image, where: string): void {
  if (img.channels !== 1 && img.channels !== 3) {
    throw new Error(`${where}: channels must be 1 or 3, got ${String(img.channels)}`);
  }
  checkSize(img.height, img.width, where);
  const n = img.channels * img.height * img.width;
  if (!(img.data instanceof Float32Array) || img.data.length !== n) {
    throw new Error(`${where}: data must be a Float32Array of ${img.channels}x${img.height}x${img.width} = ${n} values`);
  }
}

/**
 * Quantises [0,1] floats to 8-bit the way an 8-bit decode followed by ToTensor would be undone:
 * round(v * 255), clipped. Exact inverse of k / 255 for every k in 0..255.
 */
export function toUint8(data: Float32Array): Uint8Array {
  const out = new Uint8Array(data.length);
  for (let i = 0; i < data.length; i++) {
    const v = Math.round(data[i]! * 255);
    out[i] = v < 0 ? 0 : v > 255 ? 255 : v;
  }
  return out;
}

export function fromUint8(bytes: Uint8Array): Float32Array {
  const out = new Float32Array(bytes.length);
  for (let i = 0; i < bytes.length; i++) out[i] = bytes[i]! / 255;
  return out;
}
