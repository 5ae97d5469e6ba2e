// What an uploaded body holds before any pixel is decoded: the format from its magic bytes (only
// the decoders Vigil trusts: no SVG, GIF, HEIF…) and the pixel count from its header, so that a
// decompression bomb is refused before it is inflated.
import sharp from 'sharp';

export type ImageFormat = 'png' | 'jpeg' | 'bmp' | 'tiff' | 'webp';

export const IMAGE_TYPES: Record<ImageFormat, string> = {
  png: 'image/png', jpeg: 'image/jpeg', bmp: 'image/bmp', tiff: 'image/tiff', webp: 'image/webp',
};

/** Content types accepted for a raw image body or a multipart part. */
export const ACCEPTED_TYPES = new Set([...Object.values(IMAGE_TYPES), 'image/x-ms-bmp', 'image/jpg', 'application/octet-stream']);

export function sniffFormat(b: Uint8Array): ImageFormat | null {
  const at = (i: number, ...v: number[]): boolean => v.every((x, k) => b[i + k] === x);
  if (at(0, 0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a)) return 'png';
  if (at(0, 0xff, 0xd8, 0xff)) return 'jpeg';
  if (at(0, 0x42, 0x4d) && b.length >= 26) return 'bmp';
  if (at(0, 0x49, 0x49, 0x2a, 0x00) || at(0, 0x4d, 0x4d, 0x00, 0x2a)) return 'tiff';
  if (at(0, 0x52, 0x49, 0x46, 0x46) && at(8, 0x57, 0x45, 0x42, 0x50)) return 'webp';
  return null;
}

/** What the first bytes look like, for the 415 message. */
export function describeBytes(b: Uint8Array): string {
  const head = Buffer.from(b.subarray(0, 64)).toString('latin1');
  if (/^\s*(<\?xml|<svg)/i.test(head)) return 'SVG/XML (vector images are not accepted)';
  if (head.startsWith('GIF8')) return 'GIF';
  if (/^\s*[{[]/.test(head)) return 'JSON text';
  if (/^\s*<(!doctype|html)/i.test(head)) return 'HTML';
  if (b.length >= 12 && head.slice(4, 8) === 'ftyp') return 'an ISO media file (HEIF/AVIF/MP4)';
  if (b.length === 0) return 'an empty body';
  return `bytes ${Buffer.from(b.subarray(0, 4)).toString('hex')}…, not a known image signature`;
}

export interface ImageProbe { format: ImageFormat; width: number; height: number }

export class ProbeError extends Error {}

/** Format and size from the header only. Throws ProbeError when the header is unreadable. */
export async function probeImage(b: Uint8Array, format: ImageFormat): Promise<ImageProbe> {
  if (format === 'bmp') {
    const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
    const headerSize = v.getUint32(14, true);
    const core = headerSize === 12;
    const width = core ? v.getUint16(18, true) : v.getInt32(18, true);
    const height = Math.abs(core ? v.getInt16(20, true) : v.getInt32(22, true));
    if (!(width > 0 && height > 0)) throw new ProbeError(`BMP header gives ${width}×${height} pixels`);
    return { format, width, height };
  }
  if (format === 'png') {
    // IHDR is the first chunk: width and height right after its type.
    if (b.length < 24 || Buffer.from(b.subarray(12, 16)).toString('latin1') !== 'IHDR') throw new ProbeError('no IHDR chunk after the signature');
    const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
    return { format, width: v.getUint32(16), height: v.getUint32(20) };
  }
  if (format === 'jpeg') return { format, ...jpegSize(b) };
  let meta: sharp.Metadata;
  try {
    // metadata() reads the header; limitInputPixels is off so that the size check below, not
    // libvips, names the limit.
    meta = await sharp(b, { limitInputPixels: false }).metadata();
  } catch (e) {
    throw new ProbeError((e as Error).message.split('\n')[0] ?? 'unreadable header');
  }
  if (!meta.width || !meta.height) throw new ProbeError('the header gives no image size');
  return { format, width: meta.width, height: meta.height };
}

/** Width and height from the first SOFn marker segment. */
function jpegSize(b: Uint8Array): { width: number; height: number } {
  let i = 2;
  while (i + 9 < b.length) {
    if (b[i] !== 0xff) throw new ProbeError(`no JPEG marker at byte ${i}`);
    const marker = b[i + 1]!;
    if (marker === 0xff) { i++; continue; }
    if (marker === 0xd8 || marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) { i += 2; continue; }
    const len = (b[i + 2]! << 8) | b[i + 3]!;
    // SOF0–SOF15 except DHT (C4), JPG (C8) and DAC (CC).
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      const height = (b[i + 5]! << 8) | b[i + 6]!;
      const width = (b[i + 7]! << 8) | b[i + 8]!;
      if (!(width > 0 && height > 0)) throw new ProbeError(`the frame header gives ${width}×${height} pixels`);
      return { width, height };
    }
    if (marker === 0xda || len < 2) break;
    i += 2 + len;
  }
  throw new ProbeError('no frame header (SOF marker) before the image data');
}
