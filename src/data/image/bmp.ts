/**
 * Minimal BMP decoder: sharp's prebuilt libvips has no BMP loader.
 * Supports BITMAPCOREHEADER / INFOHEADER / V4 / V5, 1-, 4-, 8-bit paletted, 16-bit (555 or
 * bitfields), 24-bit and 32-bit (BI_RGB or BI_BITFIELDS), bottom-up and top-down. RLE and
 * embedded JPEG/PNG are refused with a clear error.
 */

export interface RawPixels {
  /** Interleaved (HWC) 8- or 16-bit samples. */
  data: Uint8Array | Uint16Array;
  channels: 1 | 2 | 3 | 4;
  height: number;
  width: number;
  bitDepth: 8 | 16;
}

export class BmpError extends Error {}

export function isBmp(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x42 && bytes[1] === 0x4d;
}

/** Decodes to 8-bit RGB (alpha dropped; BMP alpha is rarely meaningful). */
export function decodeBmp(bytes: Uint8Array): RawPixels {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const need = (n: number, what: string): void => {
    if (n > bytes.length) throw new BmpError(`truncated BMP (${what} needs ${n} bytes, file has ${bytes.length})`);
  };
  need(26, 'header');
  const pixelOffset = view.getUint32(10, true);
  const headerSize = view.getUint32(14, true);
  let width: number;
  let rawHeight: number;
  let bpp: number;
  let compression = 0;
  let colorsUsed = 0;
  let paletteEntrySize = 4;
  if (headerSize === 12) {
    width = view.getUint16(18, true);
    rawHeight = view.getInt16(20, true);
    bpp = view.getUint16(24, true);
    paletteEntrySize = 3;
  } else if (headerSize >= 40) {
    need(14 + 40, 'info header');
    width = view.getInt32(18, true);
    rawHeight = view.getInt32(22, true);
    bpp = view.getUint16(28, true);
    compression = view.getUint32(30, true);
    colorsUsed = view.getUint32(46, true);
  } else {
    throw new BmpError(`unsupported BMP header size ${headerSize}`);
  }
  const topDown = rawHeight < 0;
  const height = Math.abs(rawHeight);
  if (width <= 0 || height <= 0 || width > 1 << 15 || height > 1 << 15) {
    throw new BmpError(`invalid BMP dimensions ${width}x${height}`);
  }
  // Channel masks: BI_BITFIELDS (3) stores them after the 40-byte header (or inside V4/V5).
  let masks: [number, number, number] | null = null;
  if (compression === 3 || compression === 6) {
    need(14 + 40 + 12, 'bitfield masks');
    masks = [view.getUint32(54, true), view.getUint32(58, true), view.getUint32(62, true)];
  } else if (compression !== 0) {
    throw new BmpError(`BMP compression ${compression} (RLE/JPEG/PNG) is not supported; re-save as uncompressed BMP or PNG`);
  }
  if (bpp === 16 && masks === null) masks = [0x7c00, 0x03e0, 0x001f];

  let palette: Uint8Array | null = null;
  if (bpp <= 8) {
    if (![1, 4, 8].includes(bpp)) throw new BmpError(`unsupported BMP bit depth ${bpp}`);
    const n = colorsUsed > 0 ? colorsUsed : 1 << bpp;
    const palStart = 14 + headerSize + (compression === 3 && headerSize === 40 ? 12 : 0);
    need(palStart + n * paletteEntrySize, 'palette');
    palette = new Uint8Array(n * 3);
    for (let i = 0; i < n; i++) {
      const o = palStart + i * paletteEntrySize;
      palette[i * 3] = bytes[o + 2]!;
      palette[i * 3 + 1] = bytes[o + 1]!;
      palette[i * 3 + 2] = bytes[o]!;
    }
  } else if (![16, 24, 32].includes(bpp)) {
    throw new BmpError(`unsupported BMP bit depth ${bpp}`);
  }

  const stride = Math.floor((width * bpp + 31) / 32) * 4;
  need(pixelOffset + stride * (height - 1) + Math.ceil((width * bpp) / 8), 'pixel data');
  const out = new Uint8Array(width * height * 3);
  const shifts = masks?.map(maskShift);
  for (let y = 0; y < height; y++) {
    const row = pixelOffset + (topDown ? y : height - 1 - y) * stride;
    let o = y * width * 3;
    for (let x = 0; x < width; x++, o += 3) {
      if (palette !== null) {
        const bitPos = x * bpp;
        const byte = bytes[row + (bitPos >> 3)]!;
        const idx = bpp === 8 ? byte : (byte >> (8 - bpp - (bitPos & 7))) & ((1 << bpp) - 1);
        if (idx * 3 >= palette.length) throw new BmpError(`palette index ${idx} out of range`);
        out[o] = palette[idx * 3]!;
        out[o + 1] = palette[idx * 3 + 1]!;
        out[o + 2] = palette[idx * 3 + 2]!;
      } else if (bpp === 24 || (bpp === 32 && masks === null)) {
        const p = row + x * (bpp >> 3);
        out[o] = bytes[p + 2]!;
        out[o + 1] = bytes[p + 1]!;
        out[o + 2] = bytes[p]!;
      } else {
        const p = row + x * (bpp >> 3);
        const v = bpp === 16 ? view.getUint16(p, true) : view.getUint32(p, true);
        for (let c = 0; c < 3; c++) out[o + c] = extract(v, masks![c]!, shifts![c]!);
      }
    }
  }
  return { data: out, channels: 3, height, width, bitDepth: 8 };
}

function maskShift(mask: number): { shift: number; bits: number } {
  if (mask === 0) return { shift: 0, bits: 0 };
  let shift = 0;
  while (((mask >>> shift) & 1) === 0) shift++;
  let bits = 0;
  while (((mask >>> (shift + bits)) & 1) === 1) bits++;
  return { shift, bits };
}

// Scales an n-bit field to 8 bits the way PIL does for 5/6-bit fields (bit replication ≈ v·255/max).
function extract(v: number, mask: number, s: { shift: number; bits: number }): number {
  if (s.bits === 0) return 0;
  const f = (v & mask) >>> s.shift;
  const max = 2 ** s.bits - 1;
  return s.bits === 8 ? f : Math.round((f * 255) / max);
}
