import { readFile, writeFile, rename, unlink } from 'node:fs/promises';
import { writeFileSync, renameSync, unlinkSync } from 'node:fs';
import { dirname, basename, join } from 'node:path';
import sharp from 'sharp';
import { decodeBmp, isBmp, type RawPixels } from './bmp.js';
import { lumaPil } from './colour.js';
import { encodePng } from './png.js';
import { toUint8, type ColourMode, type Image } from './types.js';
import { resize, type Interpolation } from '../transforms/resize.js';

export interface DecodeOptions {
  /** 'rgb' (default) gives 3 channels, 'gray' 1 channel (PIL `convert('L')` luma). */
  mode?: ColourMode;
  /** Name used in error messages (the file path when reading from disk). */
  name?: string;
  /**
   * Decode an image of more pixels than this at a reduced size of at most this many (aspect ratio
   * kept, antialiased). libvips shrinks on load where the format allows and streams otherwise, so
   * a huge image is never held in memory at full size. Default: no limit. BMP is not reduced.
   */
  maxPixels?: number;
  /** With maxPixels: the shorter side is never reduced below this. */
  minSide?: number;
}

export class UnreadableImageError extends Error {
  constructor(readonly file: string, reason: string) {
    super(`${file} is not a readable image (${reason}); check that the file is a complete PNG/JPEG/TIFF/WebP/BMP`);
    this.name = 'UnreadableImageError';
  }
}

/**
 * Decodes PNG/JPEG/TIFF/WebP (through sharp) or BMP (own decoder) into a CHW float Image.
 * 8-bit samples are divided by 255 and 16-bit samples by 65535 (ToTensor convention). Alpha is
 * dropped (not composited), as PIL's `convert('RGB')` does. Truncated or corrupt data → UnreadableImageError.
 */
export async function decodeImage(bytes: Uint8Array, opts: DecodeOptions = {}): Promise<Image> {
  const name = opts.name ?? '<buffer>';
  let raw: RawPixels;
  try {
    raw = isBmp(bytes) ? decodeBmp(bytes) : await decodeWithSharp(bytes, opts);
  } catch (e) {
    throw new UnreadableImageError(name, (e as Error).message.split('\n')[0] ?? 'decode failed');
  }
  return rawToImage(raw, opts.mode ?? 'rgb');
}

export async function readImage(path: string, opts: Omit<DecodeOptions, 'name'> = {}): Promise<Image> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (e) {
    throw new Error(`cannot read image file ${path}: ${(e as Error).message}`);
  }
  return decodeImage(bytes, { ...opts, name: path });
}

/** The size an image of w×h is decoded at (see DecodeOptions.maxPixels and minSide). */
export function reducedSize(width: number, height: number, o: Pick<DecodeOptions, 'maxPixels' | 'minSide'>): { width: number; height: number } {
  if (o.maxPixels === undefined || width * height <= o.maxPixels) return { width, height };
  const f = Math.max(Math.sqrt(o.maxPixels / (width * height)), (o.minSide ?? 1) / Math.min(width, height));
  if (f >= 1) return { width, height };
  return { width: Math.max(1, Math.round(width * f)), height: Math.max(1, Math.round(height * f)) };
}

async function decodeWithSharp(bytes: Uint8Array, limit: Pick<DecodeOptions, 'maxPixels' | 'minSide'>): Promise<RawPixels> {
  // failOn 'warning' makes truncated JPEG/PNG data an error, as PIL does by default.
  const meta = await sharp(bytes, { failOn: 'warning' }).metadata();
  const sixteen = meta.depth === 'ushort';
  let pipeline = sharp(bytes, { failOn: 'warning' });
  const size = reducedSize(meta.width ?? 0, meta.height ?? 0, limit);
  if (size.width !== meta.width || size.height !== meta.height) pipeline = pipeline.resize(size.width, size.height, { fit: 'fill' });
  // Without an explicit 16-bit colourspace libvips converts to 8-bit sRGB before the cast to ushort.
  if (sixteen) pipeline = pipeline.toColourspace((meta.channels ?? 3) <= 2 ? 'grey16' : 'rgb16').raw({ depth: 'ushort' });
  else pipeline = pipeline.raw();
  const { data, info } = await pipeline.toBuffer({ resolveWithObject: true });
  const channels = info.channels as 1 | 2 | 3 | 4;
  if (sixteen) {
    const u16 = new Uint16Array(data.buffer, data.byteOffset, data.byteLength / 2);
    return { data: u16, channels, height: info.height, width: info.width, bitDepth: 16 };
  }
  return { data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), channels, height: info.height, width: info.width, bitDepth: 8 };
}

function rawToImage(raw: RawPixels, mode: ColourMode): Image {
  const { width, height, channels } = raw;
  const n = width * height;
  const colour = channels >= 3;
  const scale = raw.bitDepth === 16 ? 65535 : 255;
  const src = raw.data;
  if (mode === 'gray') {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      const p = i * channels;
      if (!colour) out[i] = src[p]! / scale;
      else if (raw.bitDepth === 8) out[i] = lumaPil(src[p]!, src[p + 1]!, src[p + 2]!) / 255;
      // 16-bit: PIL has no 16-bit RGB→L path; use the same luma weights in float.
      else out[i] = (src[p]! * 0.299 + src[p + 1]! * 0.587 + src[p + 2]! * 0.114) / 65535;
    }
    return { data: out, channels: 1, height, width };
  }
  const out = new Float32Array(3 * n);
  for (let i = 0; i < n; i++) {
    const p = i * channels;
    for (let c = 0; c < 3; c++) out[c * n + i] = src[p + (colour ? c : 0)]! / scale;
  }
  return { data: out, channels: 3, height, width };
}

export interface ReadMaskOptions {
  /**
   * Resize a mask whose size differs from the expected one instead of throwing.
   * 'nearest' (anomalib's choice for masks) keeps the mask binary; 'bilinear' is PIL bilinear,
   * what OpenOOD's PatchCore and DRAEM evaluators used (combined with threshold 254 it
   * reproduces their "only pixels exactly 1.0 are positive" truncation).
   */
  resize?: false | 'nearest' | 'bilinear';
  /** A pixel is positive when its 8-bit gray value is > threshold. Default 127 (> 0.5 after ToTensor). */
  threshold?: number;
  /** As DecodeOptions.maxPixels / minSide: a mask of a huge image is reduced as its image is. */
  maxPixels?: number;
  minSide?: number;
}

/**
 * Reads a ground-truth mask as gray and binarises it to 0/1 (row-major H×W).
 * MVTec masks are 0/255 PNGs, so any threshold in 0..254 gives the same result without resizing.
 */
export async function readMask(path: string, expectedWidth: number, expectedHeight: number, opts: ReadMaskOptions = {}): Promise<Uint8Array> {
  let img = await readImage(path, { mode: 'gray', ...(opts.maxPixels !== undefined ? { maxPixels: opts.maxPixels, minSide: opts.minSide ?? 1 } : {}) });
  if (img.width !== expectedWidth || img.height !== expectedHeight) {
    if (!opts.resize) {
      throw new Error(
        `mask ${path} is ${img.width}x${img.height} but the image is ${expectedWidth}x${expectedHeight}; ` +
          `fix the mask or pass { resize: 'nearest' } to resize it`,
      );
    }
    const interpolation: Interpolation = opts.resize;
    img = resize(img, [expectedHeight, expectedWidth], { interpolation });
  }
  const threshold = opts.threshold ?? 127;
  const q = toUint8(img.data);
  const out = new Uint8Array(q.length);
  for (let i = 0; i < q.length; i++) out[i] = q[i]! > threshold ? 1 : 0;
  return out;
}

/** 8-bit pixels for writing: an Image (values clipped to [0,1]) or raw HWC bytes with explicit size. */
export type PngSource = Image | { data: Uint8Array; channels: 1 | 3; height: number; width: number };

/** Encodes to PNG bytes. Image data is CHW float; raw Uint8Array data is HWC (interleaved). */
export function encodeImagePng(src: PngSource): Buffer {
  const { channels, height, width } = src;
  let hwc: Uint8Array;
  if (src.data instanceof Float32Array) {
    const q = toUint8(src.data);
    const n = height * width;
    hwc = new Uint8Array(n * channels);
    for (let c = 0; c < channels; c++) for (let i = 0; i < n; i++) hwc[i * channels + c] = q[c * n + i]!;
  } else {
    hwc = src.data;
  }
  return encodePng(hwc, width, height, channels);
}

/** Writes a PNG atomically (temp file in the same directory, then rename). */
export async function writePng(path: string, src: PngSource): Promise<void> {
  const tmp = tempName(path);
  try {
    await writeFile(tmp, encodeImagePng(src));
    await rename(tmp, path);
  } catch (e) {
    await unlink(tmp).catch(() => undefined);
    throw new Error(`cannot write PNG ${path}: ${(e as Error).message}`);
  }
}

export function writePngSync(path: string, src: PngSource): void {
  writeFileAtomicSync(path, encodeImagePng(src));
}

export function writeFileAtomicSync(path: string, bytes: Uint8Array): void {
  const tmp = tempName(path);
  try {
    writeFileSync(tmp, bytes);
    renameSync(tmp, path);
  } catch (e) {
    try {
      unlinkSync(tmp);
    } catch {
      // temp file was never created
    }
    throw new Error(`cannot write ${path}: ${(e as Error).message}`);
  }
}

function tempName(path: string): string {
  return join(dirname(path), `.${basename(path)}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`);
}

